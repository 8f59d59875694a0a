#!/usr/bin/env bash
# What the pipelined write batches gain. PUT of 1 KiB values pipelined 16
# deep (wrk, 2 threads, 64 connections, bench/kv.lua, keys drawn uniformly
# from 10,000: bench/kv.sh's ringkv-put-pipeline16 load) on this build's
# ringkv and on another ringkv binary, e.g. one built from the commit before
# the batches, both with --threads 2, taking turns for ROUNDS rounds (the
# order swapped every round).
# Prints requests/s, the server's CPU microseconds per PUT (user+sys from
# /proc) and, from the difference of /metrics before and after each run
# (all cores together), the cross-core messages and doorbells per PUT
# (ringkv_cross_core_messages_total, ringkv_cross_core_wakes_total).
# Usage: bench/write-batch.sh OTHER_RINGKV [SECONDS] [ROUNDS]   (default 10 s, 3 rounds)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
other=$(realpath "$1")
seconds=${2:-10}
rounds=${3:-3}
bench_prepare

keys=10000
declare -A port=([this]=18191 [other]=18192) binary=([this]="$bench_root/build/src/ringkv" [other]="$other")
declare -A pid namespace
trap 'kill "${pid[@]}" 2>/dev/null || true' EXIT
for build in this other; do
  pid[$build]=$(ringkv_binary=${binary[$build]} start_ringkv "${port[$build]}" "ringkv-write-batch-$build" --threads 2)
  namespace[$build]=$(bench/seed.py "${port[$build]}" $keys 64 k)
done

# metric PORT NAME: the sum over every core of the counter NAME in /metrics.
metric() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" 'index($1, n "{") == 1 || $1 == n {s += $2} END {printf "%.0f", s}'
}
per_put() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.3f", (b - a) / n}'; }

echo "== PUT 1 KiB pipelined 16 deep, 64 connections, $seconds s a run, $rounds rounds; this build: $("${binary[this]}" --version)"
echo "   against $other; $(nproc) CPUs shared with wrk; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-6s %12s %12s %14s %14s\n' round build "requests/s" "cpu_us/PUT" "messages/PUT" "doorbells/PUT"
WRK_ARGS="-t2 -c64 -d${seconds}s -s bench/kv.lua"
for ((round = 1; round <= rounds; round++)); do
  order=(this other)
  (( round % 2 == 0 )) && order=(other this)  # neither build always runs first
  for build in "${order[@]}"; do
    p=${port[$build]}
    messages=$(metric "$p" ringkv_cross_core_messages_total)
    wakes=$(metric "$p" ringkv_cross_core_wakes_total)
    read -r _ rps cpu_us < <(WRK_ARGS="$WRK_ARGS -- ringkv put $keys 1024 16 ${namespace[$build]}" \
      run_wrk "write-batch-$build" "http://127.0.0.1:$p" "${pid[$build]}")
    requests=$(awk '/requests in/ {print $1}' "$bench_out/wrk-write-batch-$build.txt")
    printf '%-7s %-6s %12s %12s %14s %14s\n' "$round" "$build" "$rps" "$cpu_us" \
      "$(per_put "$messages" "$(metric "$p" ringkv_cross_core_messages_total)" "$requests")" \
      "$(per_put "$wakes" "$(metric "$p" ringkv_cross_core_wakes_total)" "$requests")"
  done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
