#!/usr/bin/env bash
# Code-size limits of the house style, checked by ./dev.sh lint:
#   - no production source file over 600 lines (tests, test files and benches excluded);
#   - no production function over 80 lines of code (clippy's too_many_lines; the limit is in clippy.toml).
# Prints the largest production file and the longest production function either way.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MAX_FILE_LINES=600

production_files() {
  git ls-files -- 'shared/src/*.rs' 'functions/*.rs' 'tools/*.rs' |
    grep -Ev '(^|/)tests?(/|\.rs$)|_tests\.rs$|/benches/|/examples/'
}

largest="$(production_files | xargs wc -l | grep -v ' total$' | sort -n | tail -1)"
echo "largest production file: ${largest##* } (${largest% *} lines)" | sed 's/(  */(/'
over="$(production_files | xargs wc -l | grep -v ' total$' | awk -v max="$MAX_FILE_LINES" '$1 > max')"
if [[ -n "$over" ]]; then
  echo "production files over $MAX_FILE_LINES lines:" >&2
  echo "$over" >&2
  exit 1
fi

# clippy counts a function's code lines (no blanks or comments). Run with a
# threshold of 1 it reports every function with its count: the longest is the figure.
MAX_FUNCTION_LINES="$(sed -n 's/^too-many-lines-threshold *= *//p' clippy.toml)"
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
echo 'too-many-lines-threshold = 1' >"$conf/clippy.toml"
counts="$(CLIPPY_CONF_DIR="$conf" cargo clippy --workspace --lib --bins --message-format short -- \
  -A clippy::all -W clippy::too_many_lines 2>&1 |
  sed -n 's/^\([^:]*:[0-9]*\):[0-9]*: warning: this function has too many lines (\([0-9]*\)\/[0-9]*).*/\2 \1/p' |
  sort -n)"
longest="$(tail -1 <<<"$counts")"
echo "longest production function: ${longest#* } (${longest%% *} lines of code)"
over="$(awk -v max="$MAX_FUNCTION_LINES" '$1 > max' <<<"$counts")"
if [[ -n "$over" ]]; then
  echo "production functions over $MAX_FUNCTION_LINES lines of code:" >&2
  echo "$over" >&2
  exit 1
fi
