#!/usr/bin/env bash
# ringkv's key-value routes against two peers, on loopback, in one run:
#   nginx answering a static 200 (the floor: no storage at all), and
#   webdis + redis-server (an HTTP front to a real in-memory store).
# Loads (wrk, 128 connections, uniformly random keys among 10,000):
#   GET of a 64-byte value (and of ringkv's /healthz, the same request
#   with no key, and with Zipfian keys), PUT of a 1 KiB value, a 90/10
#   GET/PUT mix, and GET pipelined 16 deep (64 connections) against
#   nginx's pipelined 200, and PUT of 1 KiB pipelined 16 deep (ringkv and
#   webdis + Redis).
# Prints requests/s and server CPU microseconds per request (user+sys of
# the servers' threads from /proc; webdis and redis counted together).
# Usage: bench/kv.sh [SECONDS]   (default 10 per run)
#        RINGKV_FLAGS="--threads 1" bench/kv.sh   (extra flags for ringkv)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
bench_prepare

keys=10000
nginx_port=18081 ringkv_port=18082 redis_port=18083 webdis_port=18084
cleanup() {
  stop_nginx
  kill "${ringkv_pid:-}" "${webdis_pid:-}" 2>/dev/null || true
  redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT

nginx_master=$(start_nginx $nginx_port '{"data":{"status":"online"}}')
ringkv_pid=$(start_ringkv $ringkv_port ringkv-kv ${RINGKV_FLAGS:-})
redis-server --port $redis_port --save '' --appendonly no --daemonize no --logfile "$bench_out/redis.log" &
redis_pid=$!
cat > "$bench_out/webdis.json" <<CONF
{"redis_host": "127.0.0.1", "redis_port": $redis_port, "http_host": "127.0.0.1", "http_port": $webdis_port,
 "threads": 2, "pool_size": 16, "daemonize": false, "database": 0, "verbosity": 0,
 "logfile": "$bench_out/webdis.log"}
CONF
wait_port $redis_port
webdis "$bench_out/webdis.json" &
webdis_pid=$!
wait_port $webdis_port

# The same keys in both stores: 64-byte values to GET. ringkv's write loads
# (PUT, the 90/10 mix) go to a second namespace with the same keys, so the
# GET loads after them (pipelined GET) still read 64-byte values, not the
# 1 KiB ones the PUTs left. (webdis's GET loads all run before its PUTs.)
namespace=$(bench/seed.py $ringkv_port $keys 64 k)
write_namespace=$(bench/seed.py --name bench-writes $ringkv_port $keys 64 k)
value64=$(printf 'v%.0s' $(seq 64))
for ((i = 0; i < keys; i++)); do echo "SET k$i $value64"; done | redis-cli -p $redis_port > /dev/null
[[ "$(curl -s http://127.0.0.1:$webdis_port/GET/k7)" == "{\"GET\":\"$value64\"}" ]] || { echo "webdis is not serving" >&2; exit 1; }

results=()
run() {  # run NAME URL [wrk args...] @ PIDS
  local name=$1 url=$2
  shift 2
  local args=()
  while [[ $1 != @ ]]; do args+=("$1"); shift; done
  shift
  WRK_ARGS="${args[*]}"
  results+=("$(run_wrk "$name" "$url" "$@")")
  printf '%-28s %12s %14s\n' ${results[-1]}
}
printf '%-28s %12s %14s\n' "run" "requests/s" "cpu_us/request"
plain="-t2 -c128 -d${seconds}s"
run nginx-static-200 http://127.0.0.1:$nginx_port/healthz $plain @ $(nginx_pids $nginx_master)
run ringkv-healthz http://127.0.0.1:$ringkv_port/healthz $plain @ $ringkv_pid
run ringkv-get-64B http://127.0.0.1:$ringkv_port $plain -s bench/kv.lua -- ringkv get $keys 64 1 $namespace @ $ringkv_pid
run ringkv-get-zipf http://127.0.0.1:$ringkv_port $plain -s bench/kv.lua -- ringkv zipf-get $keys 64 1 $namespace @ $ringkv_pid
run webdis-get-64B http://127.0.0.1:$webdis_port $plain -s bench/kv.lua -- webdis get $keys 64 1 @ $webdis_pid $redis_pid
run ringkv-put-1KiB http://127.0.0.1:$ringkv_port $plain -s bench/kv.lua -- ringkv put $keys 1024 1 $write_namespace @ $ringkv_pid
run webdis-put-1KiB http://127.0.0.1:$webdis_port $plain -s bench/kv.lua -- webdis put $keys 1024 1 @ $webdis_pid $redis_pid
run ringkv-mix-90-10 http://127.0.0.1:$ringkv_port $plain -s bench/kv.lua -- ringkv mix $keys 1024 1 $write_namespace @ $ringkv_pid
run webdis-mix-90-10 http://127.0.0.1:$webdis_port $plain -s bench/kv.lua -- webdis mix $keys 1024 1 @ $webdis_pid $redis_pid
piped="-t2 -c64 -d${seconds}s"
run nginx-static-pipeline16 http://127.0.0.1:$nginx_port/healthz $piped -s bench/pipeline.lua @ $(nginx_pids $nginx_master)
run ringkv-get-pipeline16 http://127.0.0.1:$ringkv_port $piped -s bench/kv.lua -- ringkv get $keys 64 16 $namespace @ $ringkv_pid
run ringkv-put-pipeline16 http://127.0.0.1:$ringkv_port $piped -s bench/kv.lua -- ringkv put $keys 1024 16 $write_namespace @ $ringkv_pid
run webdis-put-pipeline16 http://127.0.0.1:$webdis_port $piped -s bench/kv.lua -- webdis put $keys 1024 16 @ $webdis_pid $redis_pid

field() { for r in "${results[@]}"; do read -r n rps cpu <<<"$r"; [[ $n == "$1" ]] && { [[ $2 == rps ]] && echo "$rps" || echo "$cpu"; }; done; }
echo
echo "GET 64 B: ringkv cpu/request / nginx static = $(ratio "$(field ringkv-get-64B cpu)" "$(field nginx-static-200 cpu)")"
echo "GET 64 B: ringkv cpu/request / ringkv GET /healthz = $(ratio "$(field ringkv-get-64B cpu)" "$(field ringkv-healthz cpu)")"
echo "GET 64 B: zipfian (0.99) / uniform requests/s = $(ratio "$(field ringkv-get-zipf rps)" "$(field ringkv-get-64B rps)")"
echo "GET 64 B: ringkv / webdis+redis requests/s = $(ratio "$(field ringkv-get-64B rps)" "$(field webdis-get-64B rps)")"
echo "PUT 1 KiB: ringkv / webdis+redis requests/s = $(ratio "$(field ringkv-put-1KiB rps)" "$(field webdis-put-1KiB rps)")"
echo "90/10 mix: ringkv / webdis+redis requests/s = $(ratio "$(field ringkv-mix-90-10 rps)" "$(field webdis-mix-90-10 rps)")"
echo "pipelined 16: ringkv GET / nginx static requests/s = $(ratio "$(field ringkv-get-pipeline16 rps)" "$(field nginx-static-pipeline16 rps)")"
echo "pipelined 16: ringkv PUT 1 KiB / webdis+redis requests/s = $(ratio "$(field ringkv-put-pipeline16 rps)" "$(field webdis-put-pipeline16 rps)")"
echo "pipelined 16: ringkv PUT 1 KiB / nginx static requests/s = $(ratio "$(field ringkv-put-pipeline16 rps)" "$(field nginx-static-pipeline16 rps)")"
