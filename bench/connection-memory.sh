#!/usr/bin/env bash
# What an open connection costs ringkv in memory, by the requests it has
# sent: for each R, a fresh ringkv (--threads 2) and CONNECTIONS
# connections of ringkv-bench (closed loop, GET of 64-byte values) sending
# CONNECTIONS x R requests; prints ringkv's resident memory before, the
# most sampled meanwhile (every 50 ms) and the difference per connection.
# Usage: bench/connection-memory.sh [CONNECTIONS] [R...]   (default 2000; 1 10 50 100 250)
#        RINGKV_BINARY=path bench/connection-memory.sh   (another ringkv build)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
connections=${1:-2000}
shift || true
rounds=("$@")
(( ${#rounds[@]} > 0 )) || rounds=(1 10 50 100 250)
bench_prepare
raise_open_files $((connections + 1024))
ringkv_binary=${RINGKV_BINARY:-}
port=18140
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null || true' EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

echo "== ${ringkv_binary:-build/src/ringkv} --threads 2, $connections connections;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %12s %12s %16s\n' "requests/connection" "idle KiB" "peak KiB" "KiB/connection"
for r in "${rounds[@]}"; do
  pid=$(start_ringkv $port ringkv-connection-memory --threads 2 --connections-per-core "$connections")
  namespace=$(bench/seed.py $port 10000 64 k bench)
  idle=$(rss_kib "$pid")
  build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$namespace" --no-prefill \
    --keys 10000 --threads 1 --connections "$connections" --requests $((connections * r)) \
    --json "$bench_out/connection-memory.json" --quiet > /dev/null &
  client=$!
  peak=$idle
  while kill -0 $client 2>/dev/null; do
    now=$(rss_kib "$pid")
    (( now > peak )) && peak=$now
    sleep 0.05
  done
  wait $client
  printf '%-22s %12s %12s %16s\n' "$r" "$idle" "$peak" \
    "$(awk -v p="$peak" -v i="$idle" -v c="$connections" 'BEGIN {printf "%.1f", (p - i) / c}')"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  pid=""
done
