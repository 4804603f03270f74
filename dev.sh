#!/usr/bin/env bash
# Developer entry point.
#   ./dev.sh up       the whole system locally: local AWS stack, the three functions on http://127.0.0.1:3000; Ctrl-C stops all
#   ./dev.sh test     install and start the local stack, run every test, stop what it started
#   ./dev.sh bench    print the benchmark figures (ingest core, Pix core, DynamoDB capacity per record, cold start)
#   ./dev.sh stack start|stop|status|env
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

started_here=0
ensure_stack() {
  local/stack.sh install
  if ! local/stack.sh status | grep -q "DynamoDB Local: up" || ! local/stack.sh status | grep -q "moto: up"; then
    started_here=1
  fi
  local/stack.sh start
  eval "$(local/stack.sh env)"
}
cleanup() { if [[ $started_here == 1 ]]; then local/stack.sh stop; fi; }

case "${1:-}" in
  test)
    shift
    trap cleanup EXIT
    ensure_stack
    mkdir -p .local
    set +e
    cargo test --workspace "$@" 2>&1 | tee .local/test-output.log
    status=${PIPESTATUS[0]}
    set -e
    cleanup; trap - EXIT
    # One closing line for the whole run (cargo prints one per test binary).
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
         END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log
    exit "$status"
    ;;
  bench)
    shift
    trap cleanup EXIT
    ensure_stack
    cargo bench -p shared --bench ingest_core
    cargo bench -p shared --bench pix_core
    cargo bench -p integration-tests --bench ingest_capacity
    cargo build --release -p clearing-webhook -p reconciliation-api -p reprocessing-worker -p hello-lambda -p coldstart
    target/release/coldstart
    ;;
  up)
    trap cleanup EXIT
    ensure_stack
    echo "==> building the functions and the local runner (first time: a few minutes)"
    cargo build -p devstack
    echo "==> DynamoDB Local on 127.0.0.1:${DYNAMODB_PORT:-8000}, moto (SQS, EventBridge) on 127.0.0.1:${MOTO_PORT:-5000}"
    # Ctrl-C reaches the runner, which stops cleanly; the trap then stops the stack if this started it.
    target/debug/devstack up --port "${PORT:-3000}" --prefix local- || true
    ;;
  stack)
    shift
    local/stack.sh "$@"
    ;;
  *)
    echo "usage: ./dev.sh up | test [cargo test args] | bench | stack start|stop|status|env" >&2
    exit 2
    ;;
esac
