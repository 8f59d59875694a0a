#!/usr/bin/env bash
# ringkv's steering under load, with ringkv-bench (closed loop unless said):
#  1. a fixed 50 ms delay on every GET, 500 connections: the ideal is
#     500 / 0.05 s = 10,000 req/s with p50 = 50 ms;
#  2. the same delay with 10,000 connections (the ideal 200,000 req/s is
#     more than this machine's load generator offers: see the CPU figures);
#  3. a seeded 10% status fault over 3,000 GETs on one connection, twice:
#     the 503 counts (the integration test checks the sequences are equal);
#  4. a limit of 1,000 req/s with burst 100 under a 4-connection flood for
#     SECONDS: accepted against 1,000 x SECONDS + 100;
#  5. CPU per GET with 20 rules that match no request against none, same
#     load (the peer is ringkv itself without rules, run alternately).
# Usage: bench/steering.sh [SECONDS]   (default 10 per run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
bench_prepare
ulimit -n "$(ulimit -Hn)"  # 10,000 connections on each side
port=18120
pid=$(start_ringkv $port ringkv-steering --connections-per-core 16384)
trap 'kill $pid 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port"
bench_run() { build/src/ringkv-bench --url "$url/v2" --quiet "$@"; }
pick() { awk -v k="\"$1\": " '{i = index($0, k); if (i) {print substr($0, i + length(k)) + 0; exit}}' "$2"; }
status_of() { awk -v k="\"$1\": " '/"status"/ {i = index($0, k); if (i) n = substr($0, i + length(k)) + 0} END {print n + 0}' "$2"; }
# timed_bench NAME ARGS...: ringkv-bench's own CPU (user + system) as well.
timed_bench() {
  local name=$1
  shift
  local TIMEFORMAT="%U %S"
  { time bench_run "$@" > /dev/null; } 2> "$bench_out/$name.time"
  awk -v n="$name" '{printf "ringkv-bench CPU: %.1f s user + system\n", $1 + $2}' "$bench_out/$name.time"
}
rules() { curl -sf -X PUT "$url/_ringkv/rules" -d "$1" > /dev/null; }
show() {  # show NAME JSON
  printf '%-34s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  errors %s\n' "$1" "$(pick throughput_rps "$2")" \
    "$(awk "BEGIN {print $(pick p50 "$2") / 1e6}")" "$(awk "BEGIN {print $(pick p99 "$2") / 1e6}")" "$(pick errors "$2")"
}
namespace=$(bench/seed.py $port 10000 64 k bench)
common=(--token bench --namespace "$namespace" --no-prefill --keys 10000)

echo "== 1. fixed 50 ms delay on every GET, 500 connections ($seconds s, 2 s warm-up)"
rules '[{"match":{"route":"get_key"},"latency":{"distribution":"fixed","ms":50}}]'
before=$(cpu_ticks $pid)
timed_bench delay-500 "${common[@]}" --threads 2 --connections 500 --duration "$seconds" --warmup 2 --json "$bench_out/delay-500.json"
after=$(cpu_ticks $pid)
show "500 connections, 50 ms" "$bench_out/delay-500.json"
echo "ringkv CPU: $(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN {printf "%.1f s", t / hz}') over the run"

echo "== 2. the same delay, 10,000 connections ($seconds s, 3 s warm-up)"
before=$(cpu_ticks $pid)
timed_bench delay-10k "${common[@]}" --threads 2 --connections 10000 --duration "$seconds" --warmup 3 --timeout 30 --json "$bench_out/delay-10k.json"
after=$(cpu_ticks $pid)
show "10,000 connections, 50 ms" "$bench_out/delay-10k.json"
echo "ringkv CPU: $(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN {printf "%.1f s", t / hz}') over the run (2 cores shared with the load generator)"

echo "== 3. seeded 10% status fault, 3,000 GETs on one connection, twice"
rule='[{"match":{"route":"get_key"},"probability":0.1,"seed":42,"fault":{"kind":"status","status":503}}]'
for run in 1 2; do
  rules "$rule"  # a fresh list: the same draws again
  bench_run "${common[@]}" --connections 1 --requests 3000 --json "$bench_out/seeded-$run.json" > /dev/null || true
  echo "run $run: $(status_of 503 "$bench_out/seeded-$run.json") of 3000 answered 503"
done

echo "== 4. 1,000 req/s, burst 100, 4-connection flood ($seconds s)"
rules '[{"match":{"route":"get_key"},"rate_limit":{"requests":1000,"per_ms":1000,"burst":100}}]'
bench_run "${common[@]}" --connections 4 --duration "$seconds" --json "$bench_out/limit.json" > /dev/null || true
accepted=$(( $(status_of 200 "$bench_out/limit.json") + $(status_of 404 "$bench_out/limit.json") ))
elapsed=$(pick seconds "$bench_out/limit.json")
awk -v a="$accepted" -v s="$elapsed" -v r="$(status_of 429 "$bench_out/limit.json")" \
  'BEGIN {ideal = 1000 * s + 100; printf "accepted %d, refused %d in %.2f s; ideal %.0f; accepted/ideal = %.3f\n", a, r, s, ideal, a / ideal}'

echo "== 5. CPU per GET: 20 rules matching nothing vs none (64 connections, $seconds s each, alternated 3 times)"
nomatch='['
for i in $(seq 20); do nomatch+="{\"match\":{\"token\":\"nobody-$i\",\"route\":\"get_key\"},\"fault\":{\"kind\":\"close\"}},"; done
nomatch="${nomatch%,}]"
for round in 1 2 3; do
  for mode in none rules; do
    if [[ $mode == none ]]; then curl -sf -X DELETE "$url/_ringkv/rules" > /dev/null; else rules "$nomatch"; fi
    before=$(cpu_ticks $pid)
    bench_run "${common[@]}" --connections 64 --duration "$seconds" --json "$bench_out/cpu-$mode-$round.json" > /dev/null
    after=$(cpu_ticks $pid)
    completed=$(pick requests "$bench_out/cpu-$mode-$round.json")
    awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$completed" -v m="$mode" -v r="$round" \
      'BEGIN {printf "round %d %-6s %10d GETs  %.2f us CPU per GET\n", r, m, n, t * 1e6 / hz / n}' | tee -a "$bench_out/cpu-per-get.txt"
  done
done
