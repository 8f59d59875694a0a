#!/usr/bin/env bash
# Is the rate at many connections set by the server or by the load
# generator? Closed-loop GETs of 64-byte values over CONNECTIONS
# connections, each load generator against each server, same cores:
#   servers: ringkv (2 threads), ringkv-canned (bench/canned.cc, 2 threads,
#            a canned 200 per request) and nginx (2 workers, a static 200);
#   clients: ringkv-bench (2 threads) and wrk (2 threads, bench/kv.lua).
# Prints requests/s, p50 and p99 (ringkv-bench's, from its histogram; wrk's
# own latency figures) and the CPU seconds of server and client.
# Usage: bench/connections.sh [SECONDS] [CONNECTIONS]   (default 10 s, 10,000)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
connections=${2:-10000}
bench_prepare
ulimit -n "$(ulimit -Hn)"  # the connections on each side
port=18130
keys=10000
value=$(printf 'v%.0s' $(seq 64))
nginx_dir="$bench_out/nginx-connections"
server_pids=()
cleanup() {
  nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" -s stop 2>/dev/null || true
  [[ ${#server_pids[@]} -gt 0 ]] && kill "${server_pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT

start_nginx_floor() {
  mkdir -p "$nginx_dir"
  cat > "$nginx_dir/nginx.conf" <<CONF
worker_processes 2;
worker_rlimit_nofile $((connections * 2 + 1024));
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log crit;
events { worker_connections $((connections + 1024)); }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $nginx_dir/body;
  proxy_temp_path $nginx_dir/proxy;
  fastcgi_temp_path $nginx_dir/fastcgi;
  uwsgi_temp_path $nginx_dir/uwsgi;
  scgi_temp_path $nginx_dir/scgi;
  server {
    listen 127.0.0.1:$port reuseport backlog=4096;
    location / { default_type application/octet-stream; return 200 '$value'; }
  }
}
CONF
  nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir"
  wait_port $port
  server_pids=($(nginx_pids "$(cat "$nginx_dir/nginx.pid")"))
}

start() {
  namespace=00000000-0000-4000-8000-000000000000  # the floors answer any path
  case $1 in
    ringkv)
      server_pids=($(start_ringkv $port ringkv-connections --threads 2 --connections-per-core $((connections + 1024))))
      namespace=$(bench/seed.py $port $keys 64 k bench) ;;
    canned)
      build/bench/ringkv-canned --port $port --threads 2 &
      server_pids=($!)
      wait_port $port ;;
    nginx) start_nginx_floor ;;
  esac
}
stop() {
  if [[ $1 == nginx ]]; then
    nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" -s stop 2>/dev/null || true
    sleep 0.5
  else
    kill "${server_pids[@]}" 2>/dev/null || true
    while kill -0 "${server_pids[@]}" 2>/dev/null; do sleep 0.1; done
  fi
  server_pids=()
  sleep 1  # let the closed connections leave TIME_WAIT's way
}

pick() { awk -v k="\"$1\": " '{i = index($0, k); if (i) {print substr($0, i + length(k)) + 0; exit}}' "$2"; }
line() {  # line NAME RPS P50_MS P99_MS SERVER_CPU_TICKS CLIENT_CPU_S
  printf '%-26s %10.0f %10s %10s %10.1f %10.1f\n' "$1" "$2" "$3" "$4" "$(awk -v t="$5" -v hz="$clk_tck" 'BEGIN {print t / hz}')" "$6"
}

run_bench() {  # run_bench SERVER
  local json="$bench_out/connections-$1-bench.json" times="$bench_out/connections-$1-bench.time" before after
  local TIMEFORMAT="%U %S"
  before=$(cpu_ticks "${server_pids[@]}")
  { time build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$namespace" \
      --no-prefill --keys $keys --threads 2 --connections "$connections" --duration "$seconds" --warmup 3 \
      --timeout 30 --json "$json" --quiet > /dev/null; } 2> "$times"
  after=$(cpu_ticks "${server_pids[@]}")
  line "$1 / ringkv-bench" "$(pick throughput_rps "$json")" \
    "$(awk -v n="$(pick p50 "$json")" 'BEGIN {printf "%.1f", n / 1e6}')" \
    "$(awk -v n="$(pick p99 "$json")" 'BEGIN {printf "%.1f", n / 1e6}')" \
    $((after - before)) "$(awk '{print $1 + $2}' "$times")"
}

run_wrk_at() {  # run_wrk_at SERVER
  local out="$bench_out/connections-$1-wrk.txt" times="$bench_out/connections-$1-wrk.time" before after
  local TIMEFORMAT="%U %S"
  before=$(cpu_ticks "${server_pids[@]}")
  { time wrk -t2 -c"$connections" -d"${seconds}s" --timeout 30s --latency -s bench/kv.lua "http://127.0.0.1:$port" \
      -- ringkv get $keys 64 1 "$namespace" > "$out"; } 2> "$times"
  after=$(cpu_ticks "${server_pids[@]}")
  # wrk prints "50%    1.23ms" (or us / s) under --latency.
  to_ms() { awk -v p="$1" '$1 == p {v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
    printf "%.1f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1)}' "$out"; }
  line "$1 / wrk" "$(awk '/Requests\/sec/ {print $2}' "$out")" "$(to_ms 50%)" "$(to_ms 99%)" \
    $((after - before)) "$(awk '{print $1 + $2}' "$times")"
}

echo "== closed loop, $connections connections, GET 64 B, $seconds s per run; $(nproc) CPUs shared by server and client;"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %10s %10s %10s %10s\n' "server / client" "req/s" "p50 ms" "p99 ms" "server s" "client s"
for server in ringkv canned nginx; do
  start $server
  run_bench $server
  run_wrk_at $server
  stop $server
done
