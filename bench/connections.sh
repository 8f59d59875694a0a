#!/usr/bin/env bash
# Is the rate at many connections set by the server or by the load
# generator? Closed-loop GETs of 64-byte values over CONNECTIONS
# connections, each load generator against each server, same cores:
#   servers: ringkv (2 threads), ringkv-canned (bench/canned.cc, 2 threads,
#            a canned 200 per request) and nginx (2 workers, a static 200);
#   clients: ringkv-bench (2 threads) and wrk (2 threads, bench/kv.lua).
# Prints requests/s, p50 and p99 (ringkv-bench's, from its histogram; wrk's
# own latency figures), errors, the CPU seconds of server and client, and
# the servers' memory: resident with no connection, the most seen during
# the run (sampled every 0.5 s) and the difference per connection.
# Usage: bench/connections.sh [SECONDS] [CONNECTIONS]   (default 10 s, 10,000)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
connections=${2:-10000}
bench_prepare
# Each process (server or client) holds every connection on its side.
raise_open_files $((connections + 1024))
# ringkv's bound of connections per core and nginx's per worker: the
# kernel spreads connections over the 2 listeners (SO_REUSEPORT) by a hash
# of their ports, about half each (a standard deviation of 50 at 10,000);
# 1,024 to spare covers the spread, and ringkv's open-file check (2
# threads x the bound) stays below the whole limit.
per_core=$((connections / 2 + 1024))
port=18130
keys=10000
trap stop_server EXIT

# Resident KiB of the processes given, together.
rss_kib() { local pid; for pid in "$@"; do awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'; }
# sample_rss FILE PIDS...: writes the largest rss_kib seen to FILE every 0.5 s until killed.
sample_rss() {
  local file=$1 most=0 now
  shift
  while true; do
    now=$(rss_kib "$@")
    (( now > most )) && { most=$now; echo "$most" > "$file"; }
    sleep 0.5
  done
}

idle_kib=0 peak_file=""
start() {
  namespace=00000000-0000-4000-8000-000000000000  # the floors answer any path
  start_server "$1" 2 $port $per_core
  [[ $1 == ringkv ]] && namespace=$(bench/seed.py $port $keys 64 k bench)
  idle_kib=$(rss_kib "${server_pids[@]}")
}

# Until no connection to the server is left but in TIME-WAIT (30 s at
# most): a client that exits leaves its connections for the server to
# close, and the next client must not find the server still holding them
# (its bound of connections per core would refuse some of the new ones).
wait_closed() {
  for _ in $(seq 300); do
    (( $(ss -Htn state connected exclude time-wait "( sport = :$port )" | wc -l) == 0 )) && return 0
    sleep 0.1
  done
  echo "   the server still holds connections 30 s after the client left" >&2
}

line() {  # line NAME RPS P50_MS P99_MS ERRORS SERVER_CPU_TICKS CLIENT_CPU_S PEAK_KIB
  printf '%-24s %9.0f %8s %8s %7s %9.1f %9.1f %9s %9s %8s\n' "$1" "$2" "$3" "$4" "$5" \
    "$(awk -v t="$6" -v hz="$clk_tck" 'BEGIN {print t / hz}')" "$7" "$idle_kib" "$8" \
    "$(awk -v p="$8" -v i="$idle_kib" -v c="$connections" 'BEGIN {printf "%.1f", (p - i) / c}')"
}

# measure SERVER CLIENT COMMAND...: runs the client command, timing it,
# counting the server's CPU ticks and sampling its memory meanwhile.
measure() {
  local times="$bench_out/connections-$1-$2.time" sampler server_name=$1
  peak_file="$bench_out/connections-$1-$2.rss"
  echo "$idle_kib" > "$peak_file"
  shift 2
  sample_rss "$peak_file" "${server_pids[@]}" &
  sampler=$!
  local TIMEFORMAT="%U %S"
  before=$(cpu_ticks "${server_pids[@]}")
  if ! { time "$@"; } 2> "$times"; then
    echo "   the client failed against $server_name:" >&2
    head -n -1 "$times" >&2
  fi
  after=$(cpu_ticks "${server_pids[@]}")
  kill $sampler
  wait $sampler 2>/dev/null || true
  wait_closed
  client_s=$(tail -n 1 "$times" | awk '{print $1 + $2}')
}

run_bench() {  # run_bench SERVER
  local json="$bench_out/connections-$1-bench.json"
  measure "$1" bench build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$namespace" \
    --no-prefill --keys $keys --threads 2 --connections "$connections" --duration "$seconds" --warmup 3 \
    --timeout 30 --json "$json" --quiet > /dev/null
  line "$1 / ringkv-bench" "$(json_number throughput_rps "$json")" \
    "$(awk -v n="$(json_number p50 "$json")" 'BEGIN {printf "%.1f", n / 1e6}')" \
    "$(awk -v n="$(json_number p99 "$json")" 'BEGIN {printf "%.1f", n / 1e6}')" \
    "$(json_number errors "$json")" $((after - before)) "$client_s" "$(cat "$peak_file")"
}

run_wrk_at() {  # run_wrk_at SERVER
  local out="$bench_out/connections-$1-wrk.txt"
  measure "$1" wrk wrk -t2 -c"$connections" -d"${seconds}s" --timeout 30s --latency -s bench/kv.lua \
    "http://127.0.0.1:$port" -- ringkv get $keys 64 1 "$namespace" > "$out"
  # wrk prints "50%    1.23ms" (or us / s) under --latency.
  to_ms() { awk -v p="$1" '$1 == p {v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
    printf "%.1f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1)}' "$out"; }
  # Errors: socket errors of every kind, and answers other than 2xx or 3xx.
  local errors
  errors=$(awk '/Socket errors/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10} /Non-2xx/ {e += $NF} END {print e + 0}' "$out")
  line "$1 / wrk" "$(awk '/Requests\/sec/ {print $2}' "$out")" "$(to_ms 50%)" "$(to_ms 99%)" "$errors" \
    $((after - before)) "$client_s" "$(cat "$peak_file")"
}

echo "== closed loop, $connections connections, GET 64 B, $seconds s per run; $(nproc) CPUs shared by server and client;"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg); memory: the servers' resident KiB"
printf '%-24s %9s %8s %8s %7s %9s %9s %9s %9s %8s\n' "server / client" "req/s" "p50 ms" "p99 ms" errors \
  "server s" "client s" "idle KiB" "peak KiB" "KiB/conn"
for server in ringkv canned nginx; do
  start $server
  run_bench $server
  run_wrk_at $server
  stop_server
  sleep 1
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
