#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the console's browser tests, from
# the system packages (`chromium`, `chromium-driver`), installed when missing.
#
#   local/browser.sh install   install them if missing (apt-get; needs root or password-less sudo)
#   local/browser.sh check     exit 0 when both are on PATH, else say what is missing
set -euo pipefail

die() { echo "local/browser.sh: $*" >&2; exit 1; }

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    die "$1 needs root: run as root or with password-less sudo, or install chromium and chromium-driver yourself"
  fi
}

missing() {
  local out=()
  command -v chromium >/dev/null 2>&1 || out+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || out+=(chromium-driver)
  echo "${out[*]:-}"
}

case "${1:-install}" in
  install)
    need="$(missing)"
    [[ -z "$need" ]] && exit 0
    command -v apt-get >/dev/null 2>&1 || die "missing $need: install Chromium and its driver from your system's packages"
    echo "==> installing $need from the system packages (apt-get)"
    as_root apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    [[ -z "$(missing)" ]] || die "apt-get ran but $(missing) is still missing"
    ;;
  check)
    need="$(missing)"
    [[ -z "$need" ]] || die "missing $need (local/browser.sh install)"
    ;;
  *) die "usage: local/browser.sh install|check" ;;
esac
