#!/usr/bin/env bash
# What an open connection costs ringkv in memory, by the requests it has
# sent: for each R, a fresh ringkv (--threads 2) and CONNECTIONS
# connections of ringkv-bench (closed loop, GET of 64-byte values) sending
# CONNECTIONS x R requests; prints ringkv's resident memory before, the
# most sampled meanwhile (every 50 ms) and the difference per connection.
# Usage: bench/connection-memory.sh [CONNECTIONS] [R...]   (default 2000; 1 10 50 100 250)
#        RINGKV_BINARY=path bench/connection-memory.sh   (another ringkv build)
#
# --silent [CONNECTIONS...] (default 2000): what a connection that sends
# nothing costs. For each count, a fresh ringkv (--threads 2, header and
# idle timeouts of 10 minutes, so that none is closed meanwhile); its
# resident memory with none open, then with CONNECTIONS connections open
# that have sent nothing (held by one python3 process), then with as many
# more that have sent one byte, "G" (the start of a request head: each has
# its 32 KiB read buffer, allocated at the first byte); each figure once
# /metrics counts them all open and 1 s has passed; and the differences per
# connection. (/metrics is asked before the first figure too, so that each
# figure follows the same requests.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
silent=0
if [[ ${1:-} == --silent ]]; then
  silent=1
  shift
  counts=("$@")
  (( ${#counts[@]} > 0 )) || counts=(2000)
fi
connections=${1:-2000}
shift || true
rounds=("$@")
(( ${#rounds[@]} > 0 )) || rounds=(1 10 50 100 250)
bench_prepare
if (( silent )); then
  most=$(printf '%s\n' "${counts[@]}" | sort -n | tail -n 1)
  raise_open_files $((2 * most + 1024))  # ringkv holds both sets
else
  raise_open_files $((connections + 1024))
fi
ringkv_binary=${RINGKV_BINARY:-}
port=18140
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null || true' EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# open_connections PORT: the connections ringkv holds open (every core's
# gauge in /metrics, the one asking included).
open_connections() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^ringkv_connections_open/ {n += $2} END {print n + 0}'
}

# settled_rss PID PORT OPEN: ringkv's resident KiB once /metrics counts OPEN
# connections besides its own (10 s at most) and 1 s has passed.
settled_rss() {
  local pid=$1 port=$2 open=$3
  for _ in $(seq 100); do
    (( $(open_connections "$port") >= open + 1 )) && break
    sleep 0.1
  done
  local now
  now=$(open_connections "$port")
  if (( now < open + 1 )); then
    echo "ringkv holds $((now - 1)) connections, short of $open" >&2
    return 1
  fi
  sleep 1
  rss_kib "$pid"
}

# hold_connections PORT COUNT BYTES READY: one process that opens COUNT
# connections, sends BYTES on each, writes READY, and holds them until killed.
hold_connections() {
  python3 - "$@" <<'PY' > /dev/null 2>> "$bench_out/connection-memory-holders.log" &
import signal, socket, sys
port, count, data, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
held = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    if data:
        s.sendall(data)
    held.append(s)
open(ready, "w").close()
signal.pause()
PY
  echo $!
}

wait_for_file() {
  for _ in $(seq 300); do
    [[ -e $1 ]] && return 0
    sleep 0.1
  done
  echo "$1 did not appear" >&2
  return 1
}

if (( silent )); then
  echo "== ${ringkv_binary:-build/src/ringkv} --threads 2, silent connections;" \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-12s %10s %14s %18s %16s %18s\n' "connections" "none KiB" "silent KiB" "KiB/silent conn" \
    "+1 byte KiB" "KiB/1-byte conn"
  holders=()
  trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; for h in "${holders[@]}"; do kill "$h" 2>/dev/null; done; true' EXIT
  for n in "${counts[@]}"; do
    pid=$(start_ringkv $port ringkv-connection-memory --threads 2 --connections-per-core $((2 * n + 16)) \
      --header-timeout-ms 600000 --idle-timeout-ms 600000)
    none=$(settled_rss "$pid" $port 0)
    rm -f "$bench_out/silent.ready" "$bench_out/one-byte.ready"
    holders=("$(hold_connections $port "$n" "" "$bench_out/silent.ready")")
    wait_for_file "$bench_out/silent.ready"
    with_silent=$(settled_rss "$pid" $port "$n")
    holders+=("$(hold_connections $port "$n" "G" "$bench_out/one-byte.ready")")
    wait_for_file "$bench_out/one-byte.ready"
    with_one_byte=$(settled_rss "$pid" $port $((2 * n)))
    printf '%-12s %10s %14s %18s %16s %18s\n' "$n" "$none" "$with_silent" \
      "$(awk -v a="$with_silent" -v b="$none" -v c="$n" 'BEGIN {printf "%.2f", (a - b) / c}')" \
      "$with_one_byte" \
      "$(awk -v a="$with_one_byte" -v b="$with_silent" -v c="$n" 'BEGIN {printf "%.2f", (a - b) / c}')"
    for h in "${holders[@]}"; do kill "$h" 2>/dev/null || true; done
    holders=()
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    pid=""
  done
  exit 0
fi

echo "== ${ringkv_binary:-build/src/ringkv} --threads 2, $connections connections;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %12s %12s %16s\n' "requests/connection" "idle KiB" "peak KiB" "KiB/connection"
for r in "${rounds[@]}"; do
  pid=$(start_ringkv $port ringkv-connection-memory --threads 2 --connections-per-core "$connections")
  namespace=$(bench/seed.py $port 10000 64 k bench)
  idle=$(rss_kib "$pid")
  build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$namespace" --no-prefill \
    --keys 10000 --threads 1 --connections "$connections" --requests $((connections * r)) \
    --json "$bench_out/connection-memory.json" --quiet > /dev/null &
  client=$!
  peak=$idle
  while kill -0 $client 2>/dev/null; do
    now=$(rss_kib "$pid")
    (( now > peak )) && peak=$now
    sleep 0.05
  done
  wait $client
  printf '%-22s %12s %12s %16s\n' "$r" "$idle" "$peak" \
    "$(awk -v p="$peak" -v i="$idle" -v c="$connections" 'BEGIN {printf "%.1f", (p - i) / c}')"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  pid=""
done
