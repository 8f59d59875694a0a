#!/usr/bin/env bash
# Where the tail comes from: the same open-loop load (ringkv-bench, GET of
# 64-byte values over 100,000 keys, 64 connections, latency from due times)
# against ringkv and against the floor, nginx answering every path with a
# static 200 of 64 bytes (no storage at all), on the same cores:
#   pinned:   server on CPU 1 (ringkv --threads 1, nginx 1 worker), client on CPU 0;
#   shared:   the default layout (ringkv --threads 2, nginx 2 workers, client
#             unpinned), where server and client compete for both cores.
# Each run also counts the server's context switches (voluntary: it slept;
# involuntary: the scheduler took the CPU away) from /proc.
# Usage: bench/tail.sh [SECONDS] [RATE]   (default 20 s per run, 50,000 req/s)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-20}
rate=${2:-50000}
bench_prepare
ringkv_port=18120 nginx_port=18121
keys=100000
value=$(printf 'v%.0s' $(seq 64))
nginx_dir="$bench_out/nginx-tail"
cleanup() {
  kill "${ringkv_pid:-}" 2>/dev/null || true
  nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" -s stop 2>/dev/null || true
}
trap cleanup EXIT

# nginx answering every path with 200 and the 64-byte value.
start_floor() {  # start_floor WORKERS CPU_PREFIX...
  local workers=$1
  shift
  mkdir -p "$nginx_dir"
  cat > "$nginx_dir/nginx.conf" <<CONF
worker_processes $workers;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log crit;
events { worker_connections 4096; }
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
    listen 127.0.0.1:$nginx_port reuseport;
    location / { default_type application/octet-stream; return 200 '$value'; }
  }
}
CONF
  "$@" nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir"
  wait_port $nginx_port
}
stop_floor() { nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" -s stop 2>/dev/null || true; sleep 0.5; }

# Voluntary and involuntary context switches of every thread of the pids.
switches() {
  local v=0 n=0 pid task
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do
      v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null || echo 0)))
      n=$((n + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null || echo 0)))
    done
  done
  echo "$v $n"
}

pick() { awk -v k="\"$1\": " '{i = index($0, k); if (i) {print substr($0, i + length(k)) + 0; exit}}' "$2"; }
measure() {  # measure NAME PORT CLIENT_PREFIX @ PIDS...
  local name=$1 port=$2
  shift 2
  local client=()
  while [[ $1 != @ ]]; do client+=("$1"); shift; done
  shift
  local before after json="$bench_out/tail-$name.json"
  before=$(switches "$@")
  "${client[@]}" build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$namespace" \
    --no-prefill --keys $keys --mix get=100 --connections 64 --threads 1 --rate "$rate" --warmup 2 \
    --duration "$seconds" --json "$json" --quiet > /dev/null
  after=$(switches "$@")
  read -r v0 n0 <<<"$before"
  read -r v1 n1 <<<"$after"
  printf '%-18s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  p99.9 %6.3f ms  max %6.3f ms  errors %s  switches/s: %6.0f slept, %6.0f preempted\n' \
    "$name" "$(pick throughput_rps "$json")" "$(awk "BEGIN {print $(pick p50 "$json") / 1e6}")" \
    "$(awk "BEGIN {print $(pick p99 "$json") / 1e6}")" "$(awk "BEGIN {print $(pick p99.9 "$json") / 1e6}")" \
    "$(awk "BEGIN {print $(pick max "$json") / 1e6}")" "$(pick errors "$json")" \
    "$(awk "BEGIN {print ($v1 - $v0) / ($seconds + 2)}")" "$(awk "BEGIN {print ($n1 - $n0) / ($seconds + 2)}")"
}

echo "== GET 64 B, 100,000 keys, 64 connections, open loop at $rate req/s, $seconds s (+2 s warm-up) each"
echo "-- pinned: server on CPU 1, client on CPU 0"
ringkv_pid=$(taskset -c 1 bash -c "source bench/lib.sh; start_ringkv $ringkv_port ringkv-tail-1 --threads 1")
namespace=$(bench/seed.py $ringkv_port $keys 64 k bench)
measure ringkv-1-thread $ringkv_port taskset -c 0 @ "$ringkv_pid"
kill "$ringkv_pid"; wait "$ringkv_pid" 2>/dev/null || true
start_floor 1 taskset -c 1
measure nginx-1-worker $nginx_port taskset -c 0 @ $(nginx_pids "$(cat "$nginx_dir/nginx.pid")")
stop_floor

echo "-- shared: the default layout, every process on both cores"
ringkv_pid=$(start_ringkv $ringkv_port ringkv-tail-2 --threads 2)
namespace=$(bench/seed.py $ringkv_port $keys 64 k bench)
measure ringkv-2-threads $ringkv_port @ "$ringkv_pid"
kill "$ringkv_pid"; wait "$ringkv_pid" 2>/dev/null || true
start_floor 2
measure nginx-2-workers $nginx_port @ $(nginx_pids "$(cat "$nginx_dir/nginx.pid")")
stop_floor
