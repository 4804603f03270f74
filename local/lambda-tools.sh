#!/usr/bin/env bash
# The AWS Lambda tool chain, pinned, in .local/lambda-tools (a Python venv):
#   aws-sam-cli  (sam validate --lint, sam build, sam local invoke)
#   cargo-lambda (cargo lambda build / watch / invoke; installs the `cargo-lambda` binary)
# Usage: local/lambda-tools.sh install   (idempotent; prints nothing else)
#        local/lambda-tools.sh bin       (the folder to put first on PATH)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.local/lambda-tools"
SAM_CLI_VERSION=1.170.0
CARGO_LAMBDA_VERSION=1.9.2

die() { echo "local/lambda-tools.sh: $*" >&2; exit 1; }

installed() {
  [[ -f "$VENV/installed.txt" ]] &&
    [[ "$(cat "$VENV/installed.txt")" == "aws-sam-cli==$SAM_CLI_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION" ]] &&
    [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cargo-lambda" ]]
}

case "${1:-}" in
  install)
    installed && exit 0
    command -v python3 >/dev/null || die "python3 is missing: Python 3.9+, e.g. apt-get install python3 python3-venv"
    python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 has no venv/ensurepip: e.g. apt-get install python3-venv"
    echo "==> installing aws-sam-cli==$SAM_CLI_VERSION and cargo-lambda==$CARGO_LAMBDA_VERSION into .local/lambda-tools"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      "aws-sam-cli==$SAM_CLI_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION"
    echo "aws-sam-cli==$SAM_CLI_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION" >"$VENV/installed.txt"
    installed || die "pip ran but $VENV/bin has no sam or cargo-lambda"
    ;;
  bin)
    echo "$VENV/bin"
    ;;
  *)
    echo "usage: local/lambda-tools.sh install | bin" >&2
    exit 2
    ;;
esac
