#!/usr/bin/env bash
# The server core against nginx, on loopback, in one run:
#   GET /healthz (28-byte JSON body) from both, with wrk,
#   1. 128 connections, one request at a time;
#   2. 64 connections, 16 requests pipelined per write.
# Prints requests/s and server CPU microseconds per request (user+sys of all
# server threads from /proc, before and after), and ringkv/nginx ratios.
# Usage: bench/http_core.sh [SECONDS]   (default 10 per run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
bench_prepare

body='{"data":{"status":"online"}}'
nginx_port=18081 ringkv_port=18082
trap 'stop_nginx; kill $ringkv_pid 2>/dev/null || true' EXIT
nginx_master=$(start_nginx $nginx_port "$body")
ringkv_pid=$(start_ringkv $ringkv_port ringkv-http-core)
[[ "$(curl -s http://127.0.0.1:$nginx_port/healthz)" == "$(curl -s http://127.0.0.1:$ringkv_port/healthz)" ]] \
  || { echo "the two bodies differ" >&2; exit 1; }

printf '%-28s %12s %14s\n' "run" "requests/s" "cpu_us/request"
results=()
WRK_ARGS="-t2 -c128 -d${seconds}s"
results+=("$(run_wrk nginx-128c http://127.0.0.1:$nginx_port/healthz $(nginx_pids $nginx_master))")
results+=("$(run_wrk ringkv-128c http://127.0.0.1:$ringkv_port/healthz $ringkv_pid)")
WRK_ARGS="-t2 -c64 -d${seconds}s -s bench/pipeline.lua"
results+=("$(run_wrk nginx-64c-pipeline16 "http://127.0.0.1:$nginx_port/healthz" $(nginx_pids $nginx_master))")
results+=("$(run_wrk ringkv-64c-pipeline16 "http://127.0.0.1:$ringkv_port/healthz" $ringkv_pid)")
for r in "${results[@]}"; do printf '%-28s %12s %14s\n' $r; done

read -r _ n_rps n_cpu <<<"${results[0]}"; read -r _ r_rps r_cpu <<<"${results[1]}"
read -r _ np_rps _ <<<"${results[2]}"; read -r _ rp_rps _ <<<"${results[3]}"
echo
echo "128 connections: ringkv/nginx requests/s = $(ratio "$r_rps" "$n_rps"), cpu per request = $(ratio "$r_cpu" "$n_cpu")"
echo "16-deep pipelining: ringkv/nginx requests/s = $(ratio "$rp_rps" "$np_rps")"
