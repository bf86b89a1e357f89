#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages m2msec needs, only those missing. Idempotent.
# Usage: scripts/deps.sh [build|test|bench|fuzz]...   (default: build)
set -euo pipefail

build_pkgs=(gcc make cmake ninja-build pkg-config libgnutls28-dev libcjson-dev libsqlite3-dev
            libcoap3-dev gnutls-bin)
test_pkgs=(libcmocka-dev python3 curl openssl sqlite3 libcoap3-bin)
bench_pkgs=(wrk nginx-light)
fuzz_pkgs=(clang-14 libclang-rt-14-dev)

want=()
[ $# -eq 0 ] && set -- build
for set_name in "$@"; do
  case "$set_name" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    fuzz) want+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    *) echo "deps.sh: unknown set '$set_name'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
