#!/usr/bin/env bash
# A TTL mass expiry under load: 1,000,000 keys set to expire in the same
# second while wrk GETs other keys at full speed. Compares wrk's latency
# (p50/p99/max) over a window that spans the expiry with a window without
# one, on the same server. A stall of a core would show as a max latency
# far above the baseline's. (The open-loop latency report with corrected
# percentiles is bench/latency.sh once ringkv-bench exists.)
# Usage: bench/expiry.sh [KEYS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
keys=${1:-1000000}
bench_prepare
port=18095
pid=$(start_ringkv $port ringkv-expiry)
trap 'kill $pid 2>/dev/null || true' EXIT
live=$(bench/seed.py $port 10000 64 k)

latency() {  # latency NAME: a 6-second wrk run with --latency
  wrk "http://127.0.0.1:$port" -t2 -c64 -d6s --latency -s bench/kv.lua -- ringkv get 10000 64 1 "$live" > "$bench_out/wrk-expiry-$1.txt"
  echo "$1: $(awk '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Latency/ && !m {max=$4; m=1} END {printf "req/s=%s p50=%s p99=%s max=%s", r, p50, p99, max}' "$bench_out/wrk-expiry-$1.txt")"
}
latency baseline
expire_at=$(( $(date +%s) + 45 ))  # the fill takes 15-25 s
bench/seed.py $port "$keys" 100 doomed bench "$expire_at" > /dev/null
echo "filled $keys keys expiring at $(date -d @$expire_at +%T); now $(date +%T)"
wait_s=$(( expire_at - $(date +%s) - 2 ))
(( wait_s > 0 )) && sleep $wait_s
latency during-expiry  # spans the expiry instant
sleep 1
rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
echo "RSS after the expiry: ${rss} KiB (freed items stay with the allocator for new keys; RSS does not shrink)"
