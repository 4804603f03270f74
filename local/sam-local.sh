#!/usr/bin/env bash
# `sam local` over the local stack: the template's functions run in Docker
# under the Lambda Runtime Interface Emulator SAM CLI ships, on a base image
# made from this machine's own files (no registry image is pulled).
#
#   local/sam-local.sh start-api [sam args]             sam local start-api on 127.0.0.1:$SAM_PORT (3001)
#   local/sam-local.sh invoke FUNCTION EVENT [sam args] sam local invoke FUNCTION -e EVENT
#   local/sam-local.sh docker        Docker from the system packages if missing; dockerd started if not
#                                    running. Last line: `dockerd started` or `dockerd running`
#   local/sam-local.sh docker-stop   stop the dockerd this script started (its pid file), if it runs
#   local/sam-local.sh image         build the base image if it is not there; prints its name
#   local/sam-local.sh gateway       the address the function containers reach this machine at
#
# start-api and invoke need the local stack running (./dev.sh sam-local and
# ./dev.sh sam-invoke start it); they build the functions (debug, the binaries
# the tests use), provision the template's resources (prefix SAM_PREFIX,
# default local-), write .local/sam-local/ (template pointing at the binaries,
# --env-vars file) with `devstack-sam`, and relay the stack's loopback-only
# ports to the containers' bridge. On exit they stop what they started (the
# relay, and dockerd if they started it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN="$ROOT/.local/run"
LOGS="$ROOT/.local/logs"
DIR="$ROOT/.local/sam-local"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SAM_PORT="${SAM_PORT:-3001}"
SAM_PREFIX="${SAM_PREFIX:-local-}"
BASE_REPO=lambda-local-base
export SAM_CLI_TELEMETRY=0

die() { echo "local/sam-local.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------ Docker

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    die "$1 needs root: run as root or with password-less sudo, or install Docker and busybox-static yourself"
  fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]}: install Docker Engine and busybox from your system's packages"
  echo "==> installing ${missing[*]} from the system packages (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  command -v dockerd >/dev/null 2>&1 && command -v busybox >/dev/null 2>&1 ||
    die "apt-get ran but dockerd or busybox is still missing"
}

docker_answers() { docker info >/dev/null 2>&1; }

# The pid in the pid file if it is a live dockerd (guards against reused pids).
our_dockerd() {
  local pid
  [[ -f "$RUN/dockerd.pid" ]] || return 1
  pid="$(cat "$RUN/dockerd.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == dockerd ]] || return 1
  echo "$pid"
}

# Installs Docker if missing and starts dockerd if nothing answers; sets
# DOCKERD_STARTED=1 when this call started it.
DOCKERD_STARTED=0
ensure_docker() {
  install_packages
  command -v docker >/dev/null 2>&1 || die "the docker command is missing (it comes with docker.io)"
  docker_answers && return 0
  mkdir -p "$RUN" "$LOGS"
  echo "==> starting dockerd (log .local/logs/dockerd.log)"
  # Its own session: a Ctrl-C in this terminal reaches SAM, not the daemon;
  # the EXIT trap stops it once SAM has removed its containers.
  (as_root setsid dockerd) >"$LOGS/dockerd.log" 2>&1 </dev/null &
  local launcher=$!
  local deadline=$((SECONDS + 60))
  until docker_answers; do
    if ! kill -0 "$launcher" 2>/dev/null; then
      tail -n 20 "$LOGS/dockerd.log" >&2 || true
      die "dockerd exited during start-up (log above: .local/logs/dockerd.log)"
    fi
    ((SECONDS < deadline)) || die "dockerd did not answer within 60 s (.local/logs/dockerd.log)"
    sleep 0.5
  done
  pgrep -n -x dockerd >"$RUN/dockerd.pid" || true
  DOCKERD_STARTED=1
}

stop_dockerd() {
  local pid i
  pid="$(our_dockerd)" || { rm -f "$RUN/dockerd.pid"; return 0; }
  as_root kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    ps -p "$pid" >/dev/null 2>&1 || break
    sleep 0.5
  done
  rm -f "$RUN/dockerd.pid"
  echo "stopped dockerd (pid $pid)" >&2
}

# The address containers on Docker's default bridge reach this machine at.
gateway() {
  local gw bridge
  gw="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
  if [[ -z "$gw" ]]; then
    bridge="$(docker network inspect bridge --format '{{index .Options "com.docker.network.bridge.name"}}')"
    gw="$(ip -4 -o addr show "$bridge" 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')"
  fi
  [[ -n "$gw" ]] || die "cannot find the address of Docker's bridge (docker network inspect bridge)"
  echo "$gw"
}

# ------------------------------------------------------------------ base image

# The functions' cargo binaries, as the template names them (Metadata.BuildProperties.Binary).
binaries() { sed -n 's/^ *Binary: *//p' "$ROOT/template.yaml"; }

# Every shared object `ldd` names for a file (the dynamic loader included).
linked_files() { ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true; }

# FROM scratch: the dynamic loader and the libraries the functions link (ldd),
# and busybox for the `mv` and `chmod` of the Dockerfile SAM builds on top.
# Named by a hash of its content and the SAM CLI version (whose emulator SAM
# adds), so a change of either gives a new image.
image() {
  local rootfs="$DIR/base-rootfs" bin file busybox hash name
  busybox="$(command -v busybox)" || die "busybox is missing (./local/sam-local.sh docker installs it)"
  rm -rf "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/var/task" "$rootfs/var/runtime" "$rootfs/opt" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  for bin in $(binaries); do
    [[ -x "$TARGET/debug/$bin" ]] || die "$TARGET/debug/$bin is not built (cargo build -p $bin)"
    for file in $(linked_files "$TARGET/debug/$bin") $(linked_files "$busybox"); do
      [[ -e "$rootfs$file" ]] && continue
      mkdir -p "$rootfs$(dirname "$file")"
      cp -L "$file" "$rootfs$file"
    done
  done
  cp -L "$busybox" "$rootfs/bin/busybox"
  for file in sh mv chmod cp rm mkdir ls cat; do ln -s busybox "$rootfs/bin/$file"; done
  hash="$( (cd "$rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum; "$("$ROOT/local/lambda-tools.sh" bin)/sam" --version) |
    sha256sum | cut -c1-12)"
  name="$BASE_REPO:$hash"
  if ! docker image inspect "$name" >/dev/null 2>&1; then
    echo "==> building the base image $name from this machine's files" >&2
    tar -C "$rootfs" -c . | docker import - "$name" >/dev/null
    # SAM names its invoke image after the base image's repository only and
    # reuses it while it exists: drop the one built on the previous base.
    docker image rm -f "$BASE_REPO:rapid-x86_64" >/dev/null 2>&1 || true
  fi
  echo "$name"
}

# ------------------------------------------------------------------ run

RELAY_PID=""
cleanup() {
  if [[ -n "$RELAY_PID" ]]; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=""
  fi
  if ((DOCKERD_STARTED)); then
    stop_dockerd || true
    DOCKERD_STARTED=0
  fi
}

# Everything start-api and invoke need; sets IMAGE and SAM_ARGS.
prepare() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local/lambda-tools.sh install
  PATH="$(local/lambda-tools.sh bin):$PATH"
  eval "$(local/stack.sh env)"
  ensure_docker
  echo "==> building the functions (debug) and the SAM helper"
  local packages=(-p devstack) bin gw
  for bin in $(binaries); do packages+=(-p "$bin"); done
  cargo build -q "${packages[@]}"
  IMAGE="$(image)"
  gw="$(gateway)"
  mkdir -p "$LOGS" "$DIR"
  # Relays the stack's loopback-only ports (moto: SQS, EventBridge, and Secrets
  # Manager, which the functions read at init) to the bridge address; a
  # port another run already relays, or that already answers there, is left alone.
  "$TARGET/debug/devstack-sam" relay --host "$gw" >"$LOGS/sam-relay.log" 2>&1 &
  RELAY_PID=$!
  local deadline=$((SECONDS + 20))
  until grep -q '^ready' "$LOGS/sam-relay.log" 2>/dev/null; do
    kill -0 "$RELAY_PID" 2>/dev/null || { cat "$LOGS/sam-relay.log" >&2; die "the relay did not start"; }
    ((SECONDS < deadline)) || die "the relay did not start within 20 s (.local/logs/sam-relay.log)"
    sleep 0.2
  done
  "$TARGET/debug/devstack-sam" --prefix "$SAM_PREFIX" --dir "$DIR" --endpoint-host "$gw" >/dev/null
  SAM_ARGS=(-t "$DIR/template.yaml" --env-vars "$DIR/env-vars.json" --invoke-image "$IMAGE" --skip-pull-image)
}


start_api() {
  prepare
  local token
  token="$("$TARGET/debug/devstack" token)"
  cat <<EOF

==> sam local start-api on http://127.0.0.1:$SAM_PORT (the template's routes, without the stage: SAM serves them so)
    functions   .local/sam-local/<Function>/bootstrap (target/debug), template .local/sam-local/template.yaml
    environment .local/sam-local/env-vars.json (prefix $SAM_PREFIX; the secrets' ARNs: their values,
                from local/local.env, are read from moto's Secrets Manager through the relay)
    base image  $IMAGE; containers reach the stack at $(gateway)
    dev token   $token
    SAM runs no SQS event source: hand the jobs the API queued to the worker with
      target/debug/devstack-sam sqs-event ReprocessingQueue > /tmp/jobs.json
      ./dev.sh sam-invoke ReprocessingWorkerFunction /tmp/jobs.json
    (or run ./dev.sh up beside this: its worker reads the same queues)
EOF
  local status=0
  # Warm containers: the first request to a function starts its container, later ones reuse it, as on Lambda.
  sam local start-api "${SAM_ARGS[@]}" --host 127.0.0.1 --port "$SAM_PORT" --warm-containers LAZY "$@" || status=$?
  exit "$status"
}

invoke() {
  (($# >= 2)) || die "usage: local/sam-local.sh invoke FUNCTION EVENT_FILE [sam args]"
  local function="$1" event="$2"
  shift 2
  [[ -f "$event" ]] || die "$event: no such file"
  prepare >&2
  local status=0
  sam local invoke "$function" -e "$event" "${SAM_ARGS[@]}" "$@" || status=$?
  exit "$status"
}

case "${1:-}" in
  start-api) shift; start_api "$@" ;;
  invoke) shift; invoke "$@" ;;
  docker)
    ensure_docker
    if ((DOCKERD_STARTED)); then echo "dockerd started"; else echo "dockerd running"; fi
    ;;
  docker-stop) stop_dockerd ;;
  image) PATH="$(local/lambda-tools.sh bin):$PATH"; local/lambda-tools.sh install; image ;;
  gateway) gateway ;;
  *)
    echo "usage: local/sam-local.sh start-api [sam args] | invoke FUNCTION EVENT_FILE [sam args] | docker | docker-stop | image | gateway" >&2
    exit 2
    ;;
esac
