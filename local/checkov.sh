#!/usr/bin/env bash
# checkov, pinned, in its own Python venv (.local/checkov): the infrastructure
# policy checks CI runs on template.yaml.
# Usage: local/checkov.sh install   (idempotent; prints nothing else once installed)
#        local/checkov.sh run [checkov args]   checks template.yaml, prints the
#                                              passed/failed/skipped counts; fails on any failed check
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.local/checkov"
CHECKOV_VERSION=3.3.30

die() { echo "local/checkov.sh: $*" >&2; exit 1; }

installed() {
  [[ -f "$VENV/installed.txt" ]] &&
    [[ "$(cat "$VENV/installed.txt")" == "checkov==$CHECKOV_VERSION" ]] &&
    [[ -x "$VENV/bin/checkov" ]]
}

install() {
  installed && return 0
  command -v python3 >/dev/null || die "python3 is missing: Python 3.9+, e.g. apt-get install python3 python3-venv"
  python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 has no venv/ensurepip: e.g. apt-get install python3-venv"
  echo "==> installing checkov==$CHECKOV_VERSION into .local/checkov"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  echo "checkov==$CHECKOV_VERSION" >"$VENV/installed.txt"
  installed || die "pip ran but $VENV/bin has no checkov"
}

case "${1:-}" in
  install)
    install
    ;;
  run)
    shift
    install
    cd "$ROOT"
    report="$(mktemp)"
    trap 'rm -f "$report"' EXIT
    status=0
    # --skip-download: nothing is fetched from the vendor's platform (guidelines,
    # severities), so the result depends only on the pinned version and the template.
    # The CLI report names every failed check and where; the JSON one gives the counts.
    "$VENV/bin/checkov" --quiet --compact --skip-download --framework cloudformation \
      --file template.yaml --output cli --output json --output-file-path "console,$report" "$@" || status=$?
    "$VENV/bin/python" - "$report" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for report in data if isinstance(data, list) else [data]:
    s = report.get("summary", {})
    print(f"checkov {s.get('checkov_version', '')} on template.yaml ({report.get('check_type')}): "
          f"passed {s.get('passed', 0)}, failed {s.get('failed', 0)}, skipped {s.get('skipped', 0)}")
PY
    exit "$status"
    ;;
  *)
    echo "usage: local/checkov.sh install | run [checkov args]" >&2
    exit 2
    ;;
esac
