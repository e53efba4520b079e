#!/usr/bin/env bash
# make bench: microbenchmarks of the core next to `openssl speed`, then minihttpsd against nginx
# (HTTPS, TLS 1.3) and the crypto limits, all in the same run (bench/peer.py). Prints the tables
# and writes them to bench/results/latest.md. BENCH_MICRO_ONLY=1 skips the peer part;
# BENCH_SECONDS sets the length of each load run (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=build/bench/bench/core_bench

echo "bench: core microbenchmarks (1 core)..." >&2
taskset -c 0 "$bin" --benchmark_format=json --benchmark_min_time=0.5 > "$tmp/core.json" 2>/dev/null
echo "bench: openssl speed (1 core)..." >&2
taskset -c 0 openssl speed -elapsed -seconds 2 -bytes 16384 -evp aes-128-cbc > "$tmp/aes" 2>/dev/null
taskset -c 0 openssl speed -elapsed -seconds 2 -bytes 16384 -hmac sha256 > "$tmp/hmac" 2>/dev/null
taskset -c 0 openssl speed -elapsed -seconds 2 rsa2048 rsa3072 > "$tmp/rsa" 2>/dev/null

{
  echo "# minihttps benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo
  echo "## Core primitives vs openssl speed"
  echo
  python3 bench/micro_table.py "$tmp/core.json" "$tmp/aes" "$tmp/hmac" "$tmp/rsa"
  if [ "${BENCH_MICRO_ONLY:-0}" != 1 ]; then
    python3 bench/peer.py build/bench "$tmp/core.json" "$tmp/aes" "$tmp/hmac"
    # BENCH_ONLY picks peer scenarios; the store and chat parts run with it only when named.
    if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,store,* ]]; then
      python3 bench/store.py build/bench
    fi
    if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,page,* ]]; then
      echo
      echo "## The browser page's downloads"
      echo
      /usr/bin/python3 bench/page.py build/bench 256 3  # Debian's python3 has python3-selenium
    fi
    if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,chat,* ]]; then
      echo
      echo "## Chat relay"
      echo
      bench/chat.sh build/bench 20000 256 | sed 's/^/    /'
    fi
  fi
} | tee "$out/latest.md"
