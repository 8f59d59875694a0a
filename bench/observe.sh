#!/usr/bin/env bash
# What observing costs (docs/CONTROL.md, "Observing"), in one run:
#   ringkv --no-metrics          the same build with request timing off
#   ringkv                       metrics and stats on (the default; journal
#                                and Server-Timing off)
#   ringkv --journal 10000       the journal on as well
#   ringkv --server-timing       Server-Timing on (metrics on, no journal)
#   nginx                        a static 200: the outside peer
# Loads (wrk, 2 threads): GET of a 64-byte value over 128 connections, and
# pipelined 16 deep over 64. Prints server CPU microseconds per request
# (user+sys of its threads from /proc). The configurations take turns for
# ROUNDS rounds and the median of each is kept: other work on the machine
# moves single runs by a few per cent.
# Then the cost of one GET /metrics with every route's series present: CPU
# per scrape on an idle server (2,000 scrapes on one connection), and its
# time seen by a client while the server is under the GET load.
# Usage: bench/observe.sh [SECONDS] [ROUNDS]   (default 10 s per run, 3 rounds)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
rounds=${2:-3}
bench_prepare

keys=10000
nginx_port=18181
declare -A port=([off]=18182 [on]=18183 [journal]=18184 [timing]=18185)
declare -A flags=([off]="--no-metrics" [on]="" [journal]="--journal 10000" [timing]="--server-timing")
configs=(off on journal timing)
declare -A pid namespace
cleanup() {
  stop_nginx
  for c in "${configs[@]}"; do kill "${pid[$c]:-}" 2>/dev/null || true; done
}
trap cleanup EXIT

nginx_master=$(start_nginx $nginx_port '{"data":{"status":"online"}}')
for c in "${configs[@]}"; do
  # shellcheck disable=SC2086
  pid[$c]=$(start_ringkv "${port[$c]}" "ringkv-observe-$c" --threads 2 ${flags[$c]})
  namespace[$c]=$(bench/seed.py "${port[$c]}" $keys 64 k)
done

declare -A samples
plain="-t2 -c128 -d${seconds}s"
piped="-t2 -c64 -d${seconds}s"
measure() {  # measure LOAD CONFIG
  local load=$1 c=$2 args url result
  if [[ $c == nginx ]]; then
    url=http://127.0.0.1:$nginx_port/healthz
    if [[ $load == get ]]; then args="$plain"; else args="$piped -s bench/pipeline.lua"; fi
    WRK_ARGS="$args"
    result=$(run_wrk "nginx-$load" "$url" $(nginx_pids $nginx_master))
  else
    url=http://127.0.0.1:${port[$c]}
    local depth=1
    if [[ $load == get ]]; then args="$plain"; else args="$piped"; depth=16; fi
    WRK_ARGS="$args -s bench/kv.lua -- ringkv get $keys 64 $depth ${namespace[$c]}"
    result=$(run_wrk "ringkv-$c-$load" "$url" "${pid[$c]}")
  fi
  read -r _ rps cpu <<<"$result"
  samples[$load,$c]+="$cpu "
  samples[$load,$c,rps]+="$rps "
  printf '  round %d %-9s %-8s %12s req/s %8s us/request\n' "$round" "$load" "$c" "$rps" "$cpu"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "== CPU per request, $rounds rounds of ${seconds} s per configuration"
for ((round = 1; round <= rounds; round++)); do
  for load in get pipelined16; do
    for c in nginx "${configs[@]}"; do measure $load $c; done
  done
done

echo
printf '%-12s %-9s %12s %14s %12s\n' load config "requests/s" "cpu_us/request" "vs --no-metrics"
for load in get pipelined16; do
  off=$(echo "${samples[$load,off]}" | median)
  for c in nginx "${configs[@]}"; do
    cpu=$(echo "${samples[$load,$c]}" | median)
    rps=$(echo "${samples[$load,$c,rps]}" | median)
    printf '%-12s %-9s %12s %14s %12s\n' "$load" "$c" "$rps" "$cpu" "$(ratio "$cpu" "$off")"
  done
done

echo
echo "== GET /metrics: every route's series present"
# One request of every route (and a miss, and a bad path) on the metrics server.
p=${port[on]} ns=${namespace[on]} auth="Authorization: Bearer bench"
curl -s -o /dev/null -H "$auth" -X POST -d '{"name":"scrape"}' "http://127.0.0.1:$p/v2/storage/kvs"
curl -s -o /dev/null -H "$auth" "http://127.0.0.1:$p/v2/storage/kvs"
curl -s -o /dev/null -H "$auth" "http://127.0.0.1:$p/v2/storage/kvs/$ns"
curl -s -o /dev/null -H "$auth" -X PUT -d v "http://127.0.0.1:$p/v2/storage/kvs/$ns/keys/extra"
curl -s -o /dev/null -H "$auth" -X DELETE "http://127.0.0.1:$p/v2/storage/kvs/$ns/keys/extra"
curl -s -o /dev/null -H "$auth" "http://127.0.0.1:$p/v2/storage/kvs/$ns/keys?limit=5"
curl -s -o /dev/null -H "$auth" -X DELETE "http://127.0.0.1:$p/v2/storage/kvs/00000000-0000-4000-8000-000000000000"
for path in /healthz /nowhere /_ringkv/stats; do curl -s -o /dev/null "http://127.0.0.1:$p$path"; done

scrapes=2000
before=$(cpu_ticks "${pid[on]}")
read -r idle_p50 idle_p99 idle_max body_bytes <<<"$(bench/scrape.py "$p" /metrics $scrapes)"
after=$(cpu_ticks "${pid[on]}")
cpu_ms=$(awk -v t=$((after - before)) -v hz="$clk_tck" -v n=$scrapes 'BEGIN {printf "%.3f", t * 1e3 / hz / n}')
echo "idle server: $scrapes scrapes of $body_bytes bytes: ${cpu_ms} ms of CPU each (both cores together);" \
     "client time p50 ${idle_p50} ms, p99 ${idle_p99} ms, max ${idle_max} ms"

WRK_ARGS="$plain -s bench/kv.lua -- ringkv get $keys 64 1 $ns"
# shellcheck disable=SC2086
wrk "http://127.0.0.1:$p" $WRK_ARGS > "$bench_out/wrk-observe-scrape-load.txt" 2>&1 &
wrk_pid=$!
sleep 1
read -r load_p50 load_p99 load_max _ <<<"$(bench/scrape.py "$p" /metrics 200 20)"
wait $wrk_pid
echo "under the GET load (128 connections): 200 scrapes 20 ms apart: client time p50 ${load_p50} ms," \
     "p99 ${load_p99} ms, max ${load_max} ms"
