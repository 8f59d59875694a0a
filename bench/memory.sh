#!/usr/bin/env bash
# Resident memory of ringkv and of redis-server, each holding the same
# 1,000,000 keys ("k0".."k999999") of 100-byte values, filled over one
# pipelined connection. Prints both RSS figures and their ratio.
# Usage: bench/memory.sh [KEYS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
keys=${1:-1000000}
bench_prepare

ringkv_port=18092 redis_port=18093
cleanup() {
  kill "${ringkv_pid:-}" 2>/dev/null || true
  redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

ringkv_pid=$(start_ringkv $ringkv_port ringkv-memory)
ringkv_empty=$(rss_kib $ringkv_pid)
bench/seed.py $ringkv_port "$keys" 100 k > /dev/null
sleep 1  # let background work (table migration) settle
ringkv_full=$(rss_kib $ringkv_pid)

redis-server --port $redis_port --save '' --appendonly no --daemonize no --logfile "$bench_out/redis-memory.log" &
redis_pid=$!
wait_port $redis_port
redis_empty=$(rss_kib $redis_pid)
python3 - "$keys" <<'PY' | redis-cli -p $redis_port --pipe > /dev/null
import sys
value = "v" * 100
out = sys.stdout
for i in range(int(sys.argv[1])):
    key = f"k{i}"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n$100\r\n{value}\r\n")
PY
[[ $(redis-cli -p $redis_port dbsize) == "$keys" ]] || { echo "redis did not take every key" >&2; exit 1; }
redis_full=$(rss_kib $redis_pid)

printf '%-10s %14s %14s %16s\n' server "rss_empty_kib" "rss_full_kib" "bytes_per_key"
printf '%-10s %14s %14s %16s\n' ringkv "$ringkv_empty" "$ringkv_full" $(( (ringkv_full - ringkv_empty) * 1024 / keys ))
printf '%-10s %14s %14s %16s\n' redis "$redis_empty" "$redis_full" $(( (redis_full - redis_empty) * 1024 / keys ))
echo "RSS with $keys keys of 100 bytes: ringkv / redis = $(ratio "$ringkv_full" "$redis_full")"
