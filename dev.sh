#!/usr/bin/env bash
# Developer entry point.
#   ./dev.sh up       the whole system locally: local AWS stack, the three functions on http://127.0.0.1:3000/v1; Ctrl-C stops all
#   ./dev.sh test     install and start the local stack (and the pinned Lambda tools), run every test (extra arguments go to cargo test), stop what it started
#   ./dev.sh lint     cargo fmt --check, cargo clippy on every target (warnings as errors), code-size limits
#   ./dev.sh bench    print the benchmark figures (the clearing day through the ingest core, Pix core, DynamoDB capacity per record, cold start)
#   ./dev.sh bench-console   the console's queue at 10,000 pending messages: API time, DynamoDB calls and read units per view
#   ./dev.sh bench-console-ui   the console's queue page at 10,000 pending messages in headless Chromium: first render, next page (extra args to cargo bench, e.g. --profile dev)
#   ./dev.sh lambda   each function through its real main and the Lambda runtime client: `cargo lambda watch`
#                     on 127.0.0.1:9000 over the local stack (then `./dev.sh invoke FUNCTION EVENT_FILE`)
#   ./dev.sh invoke FUNCTION EVENT_FILE   `cargo lambda invoke FUNCTION --data-file EVENT_FILE` (needs `lambda`)
#   ./dev.sh sam      `sam validate --lint` and `sam build` of template.yaml (pinned aws-sam-cli, cargo-lambda)
#   ./dev.sh checkov  checkov (pinned) on template.yaml: fails on any failed check; prints passed/failed/skipped
#   ./dev.sh sam-local   `sam local start-api` over the template on 127.0.0.1:3001, the functions in Docker
#                        on the local stack (installs Docker from the system packages if missing); Ctrl-C stops all
#   ./dev.sh sam-invoke FUNCTION EVENT_FILE   `sam local invoke FUNCTION -e EVENT_FILE`, same image and environment
#   ./dev.sh sam-bench   `sam local start-api` first and warm request latency beside `./dev.sh up`'s front
#   ./dev.sh soak [--records N] [--seed S]   the fault soak: the whole system on its own DynamoDB Local (:8107)
#                     and moto (:5107) while they fail; last line `soak: ... lost 0, duplicated 0, unannounced 0`
#   ./dev.sh stack install|start|stop|status|env
# Ports: DYNAMODB_PORT (8000), MOTO_PORT (5000), PORT (3000, the HTTP API of `up`), LAMBDA_PORT (9000),
# SAM_PORT (3001, `sam-local`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# The services this run started (only those are stopped on exit: a stack that
# was already up, e.g. for another terminal, is left running).
started=()
ensure_stack() {
  local/stack.sh install
  local svc
  for svc in dynamodb moto; do
    local/stack.sh running "$svc" || started+=("$svc")
  done
  local/stack.sh start
  eval "$(local/stack.sh env)"
}
cleanup() {
  if ((${#started[@]})); then
    local/stack.sh stop "${started[@]}" || true
    started=()
  fi
}
# Ctrl-C / kill: exit through the EXIT trap, which stops what this run started.
on_exit_traps() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

case "${1:-}" in
  test)
    shift
    on_exit_traps
    ensure_stack
    # The deployed-shape test transforms template.yaml with the pinned samtranslator.
    local/lambda-tools.sh install
    # The console's browser tests drive headless Chromium (system packages).
    local/browser.sh install
    mkdir -p .local
    # Every package, unless the arguments choose some (-p/--package).
    scope=(--workspace)
    for arg in "$@"; do
      case "$arg" in -p | -p* | --package | --package=*) scope=() ;; --) break ;; esac
    done
    set +e
    cargo test ${scope[@]+"${scope[@]}"} "$@" 2>&1 | tee .local/test-output.log
    status=${PIPESTATUS[0]}
    set -e
    cleanup
    # One closing line for the whole run (cargo prints one per test binary).
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
         END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log
    exit "$status"
    ;;
  lint)
    shift
    echo "==> cargo fmt --all --check"
    cargo fmt --all --check
    echo "==> cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
    echo "==> code size (files <= 600 lines, functions <= 80 lines of code)"
    local/code-size.sh
    ;;
  bench)
    shift
    on_exit_traps
    ensure_stack
    cargo bench -p shared --bench clearing_day
    cargo bench -p shared --bench pix_core
    cargo bench -p integration-tests --bench ingest_capacity
    # The hello-world on its own: built with the functions, cargo would unify
    # their dependency features into it and the baseline would not be bare.
    cargo build --release -p hello-lambda
    cargo build --release -p clearing-webhook -p reconciliation-api -p reprocessing-worker -p coldstart
    target/release/coldstart
    ;;
  bench-console)
    shift
    on_exit_traps
    ensure_stack
    # The dev profile: the figures are DynamoDB calls, read units and the API's
    # time against DynamoDB Local, which dominates it.
    cargo bench -p integration-tests --bench console_queue --profile dev
    ;;
  bench-console-ui)
    shift
    on_exit_traps
    ensure_stack
    local/browser.sh install
    cargo bench -p devstack --bench console_ui "$@"
    ;;
  up)
    shift
    on_exit_traps
    ensure_stack
    echo "==> building the functions and the local runner (first time: a few minutes)"
    cargo build -p devstack
    echo "==> DynamoDB Local on 127.0.0.1:${DYNAMODB_PORT:-8000}, moto (SQS, EventBridge) on 127.0.0.1:${MOTO_PORT:-5000}"
    echo "    environment for the functions, the AWS CLI and the tests: ./dev.sh stack env"
    # Ctrl-C reaches the runner, which stops cleanly; the EXIT trap then stops
    # what this run started (the stack's servers run in their own session, so
    # Ctrl-C does not reach them directly).
    status=0
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/devstack" up --port "${PORT:-3000}" --prefix local- "$@" || status=$?
    exit "$status"
    ;;
  lambda)
    shift
    on_exit_traps
    ensure_stack
    local/lambda-tools.sh install
    PATH="$(local/lambda-tools.sh bin):$PATH"
    echo "==> building the local provisioner (first time: a few minutes)"
    cargo build -p devstack
    mkdir -p .local
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/devstack" provision --prefix local- --env-file .local/lambda.env >/dev/null
    echo "==> cargo lambda watch on 127.0.0.1:${LAMBDA_PORT:-9000}: each function runs its real main (built on first invoke)"
    echo "    in another terminal, e.g.:"
    echo "      ./dev.sh invoke clearing-webhook events/clearing-webhook/clearing-seed.json"
    echo "      ./dev.sh invoke reconciliation-api events/reconciliation-api/reconcile-seed.json"
    echo "      ./dev.sh invoke reprocessing-worker events/reprocessing-worker/sqs-reprocessing-job.json"
    status=0
    cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${LAMBDA_PORT:-9000}" \
      --env-file .local/lambda.env "$@" || status=$?
    exit "$status"
    ;;
  invoke)
    shift
    (($# == 2)) || { echo "usage: ./dev.sh invoke FUNCTION EVENT_FILE   (with ./dev.sh lambda running)" >&2; exit 2; }
    local/lambda-tools.sh install
    PATH="$(local/lambda-tools.sh bin):$PATH"
    exec cargo lambda invoke "$1" --data-file "$2" --invoke-address 127.0.0.1 --invoke-port "${LAMBDA_PORT:-9000}"
    ;;
  sam)
    shift
    local/lambda-tools.sh install
    PATH="$(local/lambda-tools.sh bin):$PATH"
    export SAM_CLI_TELEMETRY=0
    echo "==> sam validate --lint"
    sam validate --lint
    echo "==> sam build (release builds of the five functions with cargo lambda; x86_64, see README)"
    # rust-cargolambda is a beta build method in SAM CLI.
    sam build --beta-features --build-dir .aws-sam/build "$@"
    for f in .aws-sam/build/*/bootstrap; do
      awk -v f="$f" -v b="$(stat -c %s "$f")" 'BEGIN { printf "    %-55s %5.1f MB\n", f, b / 1e6 }'
    done
    ;;
  checkov)
    shift
    exec local/checkov.sh run "$@"
    ;;
  sam-local | sam-invoke)
    command="$1"
    shift
    [[ $command == sam-local ]] || (($# >= 2)) ||
      { echo "usage: ./dev.sh sam-invoke FUNCTION EVENT_FILE [sam local invoke args]" >&2; exit 2; }
    on_exit_traps
    ensure_stack
    status=0
    if [[ $command == sam-local ]]; then
      local/sam-local.sh start-api "$@" || status=$?
    else
      local/sam-local.sh invoke "$@" || status=$?
    fi
    exit "$status"
    ;;
  sam-bench)
    shift
    on_exit_traps
    ensure_stack
    # The harness only sends HTTP requests to the debug functions `sam-local` runs: no optimized build.
    cargo bench -p devstack --bench sam_local --profile dev
    ;;
  soak)
    shift
    # Its own DynamoDB Local and moto (installed here, started by the soak on
    # ports 8107 / 5107, front 3107): the shared stack is never touched.
    local/stack.sh install >/dev/null
    cargo build -p devstack
    exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/devstack" soak "$@"
    ;;
  stack)
    shift
    exec local/stack.sh "$@"
    ;;
  *)
    echo "usage: ./dev.sh up | test [cargo test args] | lint | bench | bench-console | bench-console-ui | lambda | invoke FUNCTION EVENT_FILE | sam | checkov | sam-local | sam-invoke FUNCTION EVENT_FILE | sam-bench | soak [--records N] [--seed S] | stack install|start|stop|status|env" >&2
    exit 2
    ;;
esac
