#!/usr/bin/env bash
# ringkv's latency report, with ringkv-bench:
#  0. validation: ringkv-bench closed loop against wrk, same 64 connections,
#     GET of 64-byte values (throughputs should agree within 10%), and the
#     server's CPU use while one ringkv-bench thread drives it;
#  1. the maximum throughput of a 90/10 GET/PUT mix over 100,000 keys
#     (closed loop, 64 connections);
#  2. open loop at 25%, 50% and 80% of that: p50/p99/p99.9, corrected for
#     coordinated omission; the 50% run is drawn to bench/out/latency-50.png;
#  3. the 50% load again while 1,000,000 keys expire in the same second.
# Layout: on a 2-core machine the server (--threads 1) and the load generator
# each get a core of their own (taskset), so neither waits for the other's
# CPU: a latency measured from due times would otherwise charge the client's
# own scheduling delays to the server. (Validation, step 0, uses the default
# layout: two server threads, the generators unpinned.)
# Usage: bench/latency.sh [SECONDS]   (default 20 per open-loop run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-20}
bench_prepare
port=18110
pid=$(start_ringkv $port ringkv-latency)
trap 'kill $pid 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port/v2"
# The load generator runs under this prefix: unpinned for the validation,
# on CPU 0 from step 1 on.
client_prefix=()
bench_run() { "${client_prefix[@]}" build/src/ringkv-bench --url "$url" --quiet "$@"; }
pick() { awk -v k="\"$1\": " '{i = index($0, k); if (i) {print substr($0, i + length(k)) + 0; exit}}' "$2"; }
show() {  # show NAME JSON
  printf '%-26s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  max %7.3f ms  errors %s\n' "$1" \
    "$(pick throughput_rps "$2")" "$(awk "BEGIN {print $(pick p50 "$2") / 1e6}")" "$(awk "BEGIN {print $(pick p99 "$2") / 1e6}")" \
    "$(awk "BEGIN {print $(pick p99.9 "$2") / 1e6}")" "$(awk "BEGIN {print $(pick max "$2") / 1e6}")" "$(pick errors "$2")"
}

echo "== 0. validation against wrk (GET 64 B, 10,000 keys, 64 connections, closed loop)"
namespace=$(bench/seed.py $port 10000 64 k bench)
WRK_ARGS="-t1 -c64 -d10s -s bench/kv.lua -- ringkv get 10000 64 1 $namespace"
read -r _ wrk1_rps _ <<<"$(run_wrk wrk-validation-1 "http://127.0.0.1:$port" $pid)"
WRK_ARGS="-t2 -c64 -d10s -s bench/kv.lua -- ringkv get 10000 64 1 $namespace"
read -r _ wrk_rps _ <<<"$(run_wrk wrk-validation-2 "http://127.0.0.1:$port" $pid)"
before=$(cpu_ticks $pid)
bench_run --token bench --namespace "$namespace" --no-prefill --threads 1 --connections 64 --duration 10 --json "$bench_out/validation.json" > /dev/null
after=$(cpu_ticks $pid)
bench_rps=$(pick throughput_rps "$bench_out/validation.json")
echo "wrk -t1: $wrk1_rps req/s; wrk -t2: $wrk_rps req/s; ringkv-bench --threads 1: $bench_rps req/s"
echo "ringkv-bench (1 thread) / wrk (2 threads) = $(ratio "$bench_rps" "$wrk_rps"); / wrk (1 thread) = $(ratio "$bench_rps" "$wrk1_rps")"
echo "ringkv CPU while one ringkv-bench thread drives it: $(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN {printf "%.0f%%", t / hz / 10 * 100}') of one core (of 2 cores shared with the load generator)"

kill $pid
wait $pid 2>/dev/null || true
server_prefix=(taskset -c 1) client_prefix=(taskset -c 0)
pid=$(start_ringkv $port ringkv-latency-1 --threads 1)

echo "== 1. maximum throughput, 90/10 GET/PUT, 100,000 keys, 64 connections (server on CPU 1, client on CPU 0)"
common=(--keys 100000 --mix get=90,put=10 --value-size 64 --connections 64 --threads 1)
bench_run "${common[@]}" --duration 10 --json "$bench_out/max.json" > /dev/null
max=$(pick throughput_rps "$bench_out/max.json")
show "closed loop (max)" "$bench_out/max.json"

echo "== 2. open loop at fractions of the maximum ($seconds s each, 2 s warm-up)"
namespace=$(bench/seed.py $port 100000 64 k bench)
for percent in 25 50 80; do
  rate=$(awk "BEGIN {print int($max * $percent / 100)}")
  plot=()
  [[ $percent == 50 ]] && plot=(--plot "$bench_out/latency-50.png")
  bench_run "${common[@]}" --token bench --namespace "$namespace" --no-prefill --rate "$rate" --warmup 2 \
    --duration "$seconds" --json "$bench_out/open-$percent.json" "${plot[@]}" > /dev/null
  show "$percent% ($rate req/s)" "$bench_out/open-$percent.json"
done

echo "== 3. 50% load while 1,000,000 keys expire in the same second"
expire_at=$(( $(date +%s) + 45 ))  # the fill takes 15-25 s
bench/seed.py $port 1000000 100 doomed bench "$expire_at" > /dev/null
rate=$(awk "BEGIN {print int($max / 2)}")
lead=$(( expire_at - $(date +%s) - 5 ))
(( lead > 0 )) && sleep "$lead"
echo "keys expire at $(date -d @$expire_at +%T); the run covers $(date +%T) + 12 s"
bench_run "${common[@]}" --token bench --namespace "$namespace" --no-prefill --rate "$rate" --warmup 1 \
  --duration 11 --json "$bench_out/expiry.json" --plot "$bench_out/latency-expiry.png" > /dev/null
show "50% during mass expiry" "$bench_out/expiry.json"
