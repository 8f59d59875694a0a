#!/usr/bin/env bash
# Instructions per GET, free of the machine's noise: ringkv --threads 1
# under valgrind --tool=callgrind serves GETs of 64-byte values (100 keys)
# on one connection, DEPTH requests per write (pipelined; 1: one request per
# round trip), first 10 batches and then 10 + BATCHES; the difference of
# the two runs' instruction counts divided by BATCHES x DEPTH is the cost
# of a GET, start-up and seeding left out. The loop's ticks follow wall
# time, which valgrind stretches, so repeat and compare ranges.
# Usage: bench/callgrind-get.sh [DEPTH] [BATCHES]   (default 16 and 1000)
#        RINGKV_BINARY=path bench/callgrind-get.sh   (another ringkv build)
#        CALLGRIND_KEEP=DIR: keeps each run's callgrind.out in DIR
#                            (callgrind_annotate gives the counts per function)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
depth=${1:-16}
batches=${2:-1000}
bench_prepare
binary=${RINGKV_BINARY:-build/src/ringkv}
port=18150
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null || true' EXIT

# instructions BATCHES: the whole run's instruction count.
instructions() {
  local out="$bench_out/callgrind.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" --threads 1 --port $port \
    > "$bench_out/callgrind-get.log" 2>&1 &
  pid=$!
  wait_port $port
  local namespace
  namespace=$(bench/seed.py $port 100 64 k)
  python3 - "$port" "$namespace" "$1" "$depth" <<'PY'
import socket
import sys
sys.path.insert(0, "bench")
from http_response import read_response
port, namespace, batches, depth = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sock = socket.create_connection(("127.0.0.1", port))
buffer = b""
for b in range(batches):
    sock.sendall(b"".join(
        f"GET /v2/storage/kvs/{namespace}/keys/k{(b * depth + i) % 100} HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer bench\r\n\r\n".encode() for i in range(depth)))
    for _ in range(depth):
        status, _, buffer = read_response(sock, buffer)
        if status != 200:
            raise SystemExit(f"HTTP {status}")
PY
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  [[ -n ${CALLGRIND_KEEP:-} ]] && cp "$out" "$CALLGRIND_KEEP/callgrind.out.$(basename "$binary").$depth.$1"
  awk '/^summary:/ {print $2}' "$out"
}

echo "== $binary --threads 1 under callgrind, GET 64 B, $depth per write;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
base=$(instructions 10)
total=$(instructions $((10 + batches)))
echo "instructions: $base (10 batches), $total ($((10 + batches)) batches);" \
  "per GET: $(awk -v t="$total" -v b="$base" -v n=$((batches * depth)) 'BEGIN {printf "%.1f", (t - b) / n}')"
