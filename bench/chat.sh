#!/usr/bin/env bash
# Chat relay throughput (issue 6): a real minihttpsd with the chat rate limit lifted, two clients
# connected with the real minihttps, then bench/chat_relay measures messages/s from A to B.
#   bench/chat.sh [BUILD_DIR] [MESSAGES] [WINDOW]      (BUILD_DIR built with -DMINIHTTPS_BENCH=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/bench}
messages=${2:-20000}
window=${3:-256}
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/www" "$tmp/keys" && chmod 700 "$tmp/keys"
"$build/src/minihttpsd" --listen 127.0.0.1:0 --root "$tmp/www" --keys "$tmp/keys" --no-access-log \
  --log-level warn --chat-rate 1000000 --chat-burst 1000000 > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/server.out")
for who in a b; do
  "$build/src/minihttps" --home "$tmp/$who" -q connect --server "$url" --name "bench-$who" --rsa-bits 2048
done
"$build/bench/chat_relay" "$url" "$tmp/a" "$tmp/b" "$messages" "$window"
