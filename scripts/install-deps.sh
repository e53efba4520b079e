#!/usr/bin/env bash
# Installs the Debian 12 packages minihttps needs, and only those that are missing.
# Idempotent and quiet when everything is present.  Usage:
#   scripts/install-deps.sh            build + test dependencies (docs/ARCHITECTURE.md §4)
#   scripts/install-deps.sh --bench    also the benchmark peers (nginx, wrk, ...)
#   scripts/install-deps.sh --fuzz     also clang's libFuzzer runtime
set -euo pipefail

packages=(
  g++ cmake ninja-build make ccache pkg-config
  libboost1.81-dev libsodium-dev libssl-dev libspdlog-dev
  googletest libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev libbenchmark-dev
  python3 python3-cryptography openssl coreutils
  help2man clang-format-14
  libhiredis-dev redis-server
  chromium chromium-driver python3-selenium fonts-liberation
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(nginx wrk curl procps time util-linux linux-perf valgrind python3-cryptography haproxy) ;;
    --fuzz)  packages+=(clang libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
# Node.js + npm run the independent RFC 9421 implementation in the interop tests.
# The base image may already carry a Node.js with its own npm; only add Debian's if none is there.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
