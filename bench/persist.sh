#!/usr/bin/env bash
# --data-dir, measured against Redis's own persistence in the same run:
#  1. PUT of 1 KiB values (wrk, 128 connections, 10,000 random keys):
#     ringkv in memory, --log everysec, --log always; Redis (behind webdis)
#     with appendonly no, appendfsync everysec, appendfsync always. For
#     ringkv --log always, the fsyncs per second and writes per fsync (from
#     the counters ringkv prints at exit).
#  2. Restart of 1M keys x 100 B: seconds from exec to a served request,
#     and the CPU time ringkv took until then, from a snapshot and from the
#     log alone (after kill -9), with 2 threads and with 1; Redis loading
#     the same keys from its RDB file.
#  3. p50/p99/p99.9 of an open-loop load (ringkv-bench --rate, 90% GET /
#     10% PUT on the 1M keys) at half of the closed-loop maximum, in
#     windows that alternate: quiet, then with snapshots written back to
#     back (persist_rounds rounds, default 4, of max(SECONDS, 25) s
#     windows; each window's p99, the pooled percentiles of each kind and
#     the median of what each round's snapshots added to its p99), with
#     the machine's busy cores and the CPU the host stole meanwhile (client
#     and server share the cores; the virtual disk's I/O shows as steal),
#     how long each core's loop spent freezing its keys at the last cut,
#     and a snapshot taken under the closed-loop maximum (the part writer
#     runs at idle priority: how long it takes when no CPU is idle). The
#     snapshots are paced (--snapshot-mb-per-s, default 16).
# Usage: bench/persist.sh [SECONDS] [put] [restart] [snapshot]
#   SECONDS: per measured run (default 10); sections: default all three.
#   ringkv_binary=PATH runs that ringkv instead of build/src/ringkv (an
#   older build, for a before/after in one session).
#   persist_flags="FLAGS" adds flags to the server of the snapshot section
#   (e.g. "--snapshot-mb-per-s 0": unpaced).
# The data directories live under bench/out (on this machine's disk).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
shift || true
sections="${*:-put restart snapshot}"
bench_prepare

keys=10000
port=18091 redis_port=18093 webdis_port=18094
# persist_data=DIR puts the measured server's data directory elsewhere (a
# tmpfs: the same runs without the virtual disk's writes).
data="${persist_data:-$bench_out/persist-data}"
cleanup() {
  kill "${ringkv_pid:-}" "${webdis_pid:-}" "${load_pid:-}" "${sampler_pid:-}" 2>/dev/null || true
  redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT

results=()
record() { results+=("$1 $2"); printf '%-34s %s\n' "$1" "$2"; }
value_of() { for r in "${results[@]}"; do read -r n v <<<"$r"; [[ $n == "$1" ]] && echo "$v"; done; }

# Stops ringkv with SIGTERM (its last snapshot included), or SIGKILL when
# given, and waits until it is gone (it is not this shell's child).
stop_ringkv() {
  kill "${1:--TERM}" "$ringkv_pid"
  while kill -0 "$ringkv_pid" 2>/dev/null; do sleep 0.05; done
}

# --- 1. PUT throughput -------------------------------------------------------
put_run() {  # NAME [ringkv flags...]
  local name=$1
  shift
  rm -rf "$data"
  ringkv_pid=$(start_ringkv $port "$name" "$@")
  local namespace
  namespace=$(bench/seed.py $port $keys 1024 k)
  WRK_ARGS="-t2 -c128 -d${seconds}s -s bench/kv.lua -- ringkv put $keys 1024 1 $namespace"
  local line
  line=$(run_wrk "$name" http://127.0.0.1:$port "$ringkv_pid")
  stop_ringkv
  read -r _ rps cpu <<<"$line"
  record "$name-rps" "$rps"
  record "$name-cpu-us" "$cpu"
}
printf '%-34s %s\n' "measurement" "value"
if [[ " $sections " == *" put "* ]]; then
  put_run ringkv-memory --threads 2
  put_run ringkv-everysec --threads 2 --data-dir "$data" --log everysec
  put_run ringkv-always --threads 2 --data-dir "$data" --log always
  # fsyncs and records of the always run, from its exit lines (the shutdown
  # snapshot's own fsyncs are not log fsyncs and are not counted there).
  read -r records fsyncs < <(awk '/log: / {r += $5; f += $9} END {print r, f}' "$bench_out/ringkv-always.log")
  record ringkv-always-fsyncs-per-s "$(awk -v f="$fsyncs" -v s="$seconds" 'BEGIN {printf "%.0f", f / s}')"
  record ringkv-always-writes-per-fsync "$(awk -v r="$records" -v f="$fsyncs" 'BEGIN {printf "%.1f", r / f}')"

  redis_run() {  # NAME [redis-server options...]
    local name=$1
    shift
    rm -rf "$data" && mkdir -p "$data"
    redis-server --port $redis_port --dir "$data" --save '' --daemonize no --logfile "$bench_out/redis.log" "$@" &
    wait_port $redis_port
    cat > "$bench_out/webdis.json" <<CONF
{"redis_host": "127.0.0.1", "redis_port": $redis_port, "http_host": "127.0.0.1", "http_port": $webdis_port,
 "threads": 2, "pool_size": 16, "daemonize": false, "database": 0, "verbosity": 0,
 "logfile": "$bench_out/webdis.log"}
CONF
    webdis "$bench_out/webdis.json" &
    webdis_pid=$!
    wait_port $webdis_port
    WRK_ARGS="-t2 -c128 -d${seconds}s -s bench/kv.lua -- webdis put $keys 1024 1"
    local line
    line=$(run_wrk "$name" http://127.0.0.1:$webdis_port "$webdis_pid" "$(redis-cli -p $redis_port info server | awk -F: '/process_id/ {print $2+0}')")
    kill "$webdis_pid"
    redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
    sleep 0.3
    read -r _ rps _ <<<"$line"
    record "$name-rps" "$rps"
  }
  redis_run redis-memory --appendonly no
  redis_run redis-everysec --appendonly yes --appendfsync everysec
  redis_run redis-always --appendonly yes --appendfsync always
fi

# --- 2. Restart of 1M keys x 100 B ------------------------------------------
big=1000000
big_log="$bench_out/persist-1m-log" big_snapshot="$bench_out/persist-1m-snapshot"
# Seconds from exec to the first answered request, into $served_s, and the
# CPU time (user+sys, every thread) ringkv used until then, into $served_cpu_s
# (not run in a subshell: it sets $ringkv_pid).
time_to_serve() {  # NAME [ringkv flags...]
  local name=$1
  shift
  local start end ticks
  start=$(date +%s.%N)
  "${ringkv_binary:-$bench_root/build/src/ringkv}" --port "$port" "$@" > "$bench_out/$name.log" 2>&1 &
  ringkv_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$ringkv_pid" 2>/dev/null || { echo "ringkv did not start: $(cat "$bench_out/$name.log")" >&2; exit 1; }
    sleep 0.005
  done
  end=$(date +%s.%N)
  ticks=$(cpu_ticks "$ringkv_pid")
  served_s=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')
  served_cpu_s=$(awk -v t="$ticks" -v hz="$clk_tck" 'BEGIN {printf "%.2f", t / hz}')
}
# 1M keys written through the log (kill -9: no snapshot) into $big_log, and
# the snapshot of the same into $big_snapshot; the namespace id in
# $big_namespace. Each restart below starts from a fresh copy of either.
make_big_state() {
  rm -rf "$big_log" "$big_snapshot" "$data"
  ringkv_pid=$(start_ringkv $port ringkv-fill --threads 2 --data-dir "$big_log" --log everysec)
  big_namespace=$(bench/seed.py $port 0 100 k)
  build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$big_namespace" --keys $big \
    --value-size 100 --requests 1 --quiet --connections 16 --pipeline 16 > /dev/null
  sleep 1.2  # the everysec fsync
  stop_ringkv -KILL
  cp -a "$big_log" "$big_snapshot"
  ringkv_pid=$(start_ringkv $port ringkv-make-snapshot --threads 2 --data-dir "$big_snapshot")
  stop_ringkv  # SIGTERM: a snapshot of the 1M keys, the logs before it removed
}
restart_from() {  # NAME DIR THREADS
  rm -rf "$data" && cp -a "$2" "$data"
  time_to_serve "$1" --threads "$3" --data-dir "$data"
  stop_ringkv -KILL
  record "$1-s" "$served_s"
  record "$1-cpu-s" "$served_cpu_s"
}
if [[ " $sections " == *" restart "* ]]; then
  make_big_state
  record snapshot-1M-bytes "$(du -cb "$big_snapshot"/snapshot-* | awk 'END {print $1}')"
  for threads in 2 1; do
    restart_from restart-1M-from-snapshot-t$threads "$big_snapshot" $threads
    grep -h "restored" "$bench_out/restart-1M-from-snapshot-t$threads.log" || true
    restart_from restart-1M-from-log-t$threads "$big_log" $threads
  done

  # Redis: the same 1M keys x 100 B, loaded from its RDB file.
  redis_data="$bench_out/persist-redis"
  rm -rf "$redis_data" && mkdir -p "$redis_data"
  redis-server --port $redis_port --dir "$redis_data" --save '' --appendonly no --daemonize no --logfile "$bench_out/redis.log" \
    --enable-debug-command local &
  wait_port $redis_port
  redis-cli -p $redis_port debug populate $big k 100 >/dev/null
  redis-cli -p $redis_port save >/dev/null
  redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
  sleep 0.3
  start=$(date +%s.%N)
  redis-server --port $redis_port --dir "$redis_data" --save '' --appendonly no --daemonize no --logfile "$bench_out/redis.log" &
  until [[ "$(redis-cli -p $redis_port ping 2>/dev/null)" == PONG ]]; do sleep 0.01; done
  for _ in $(seq 3000); do  # 30 s at most
    [[ "$(redis-cli -p $redis_port dbsize 2>/dev/null)" == "$big" ]] && break
    sleep 0.01
  done
  record redis-restart-1M-from-rdb-s "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')"
  redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1 || true
fi

# --- 3. p99 at half load, quiet and with snapshots, in alternated windows ---
load() {  # JSON [ringkv-bench flags...]
  local json=$1
  shift
  build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench --namespace "$big_namespace" --keys $big \
    --no-prefill --value-size 100 --mix get=90,put=10 --connections 32 --quiet --json "$json" "$@" > /dev/null
}
cpu_line() { head -1 /proc/stat; }
# "BUSY STEAL" over windows: each argument a file of /proc/stat "cpu" lines
# in pairs (before, after a window); the cores busy (of all, iowait counted
# idle) and the % stolen by the host, over the windows' sum.
cpu_over() {
  python3 -c "
import sys
d = [0] * 8
for path in sys.argv[2:]:
    lines = [[int(x) for x in l.split()[1:9]] for l in open(path)]
    for a, b in zip(lines[0::2], lines[1::2]):
        d = [t + y - x for t, x, y in zip(d, a, b)]
total = sum(d)
print(f'{(total - d[3] - d[4]) / total * int(sys.argv[1]):.2f} {100 * d[7] / total:.1f}')" "$(nproc)" "$@"
}
# Latency percentiles (us) of one run's JSON, or of several pooled: their
# histograms summed bucket by bucket, each percentile the top of its bucket.
pooled_us() {  # PERCENTILE JSON...
  python3 -c "
import json, sys
q = {'p50': 0.5, 'p99': 0.99, 'p99.9': 0.999}[sys.argv[1]]
buckets = {}
for path in sys.argv[2:]:
    for low, high, count in json.load(open(path))['histogram']['buckets']:
        buckets[high] = buckets.get(high, 0) + count
total, seen = sum(buckets.values()), 0
for high in sorted(buckets):
    seen += buckets[high]
    if seen >= q * total:
        print(round(high / 1000, 1))
        break" "$@"
}
latency_us() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['latency_ns'][sys.argv[2]] / 1000, 1))" "$1" "$2"; }
rps_of() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['throughput_rps']))" "$1"; }
# One window of the open-loop load, with its CPU lines appended to CPU_FILE;
# with "snapshots", snapshots back to back from 0.5 s in until the load
# ends (the one then in flight is let finish before the next window).
window() {  # JSON CPU_FILE [snapshots]
  local json=$1 cpu_file=$2 answer
  load "$json" --rate $half --duration "$window_s" --warmup 1 &
  load_pid=$!
  (sleep 1.5; cpu_line >> "$cpu_file"; sleep $((window_s - 1)); cpu_line >> "$cpu_file") &
  sampler_pid=$!
  if [[ ${3:-} == snapshots ]]; then
    sleep 0.5
    while kill -0 "$load_pid" 2>/dev/null; do
      answer=$(curl -s -X POST http://127.0.0.1:$port/_ringkv/snapshot)
      if [[ "$answer" == *'"ms"'* ]]; then
        snapshot_ms+=("$(echo "$answer" | sed 's/.*"ms":\([0-9.]*\).*/\1/')")
        last_snapshot=$answer
      fi
    done
  fi
  wait "$load_pid" "$sampler_pid"
  load_pid= sampler_pid=
  # The removal of the generations before the last snapshot goes on after
  # its answer: over before the next window, which it would otherwise
  # count as quiet.
  while older_files_left; do sleep 0.1; done
}
# Whether $data holds a file of a generation before its newest snapshot's
# (the logs after a snapshot carry the next generation's number). The
# generations are 16 hex digits: compared as strings.
older_files_left() {
  ls "$data" | awk -F- '/^(snapshot|log)-[0-9a-f]/ {
      g[NR] = substr($2, 1, 16) ""
      if ($0 ~ /^snapshot-[0-9a-f]+\.rkv$/ && g[NR] > newest) newest = g[NR]
    }
    END {for (i in g) if (g[i] < newest) exit 0; exit 1}'
}
if [[ " $sections " == *" snapshot "* ]]; then
  [[ -n "${big_namespace:-}" ]] || make_big_state  # unless the restarts just made it
  rm -rf "$data" && cp -a "$big_snapshot" "$data"
  read -ra extra_flags <<<"${persist_flags:-}"
  time_to_serve ringkv-snapshot-load --threads 2 --data-dir "$data" "${extra_flags[@]}"
  load "$bench_out/persist-max.json" --duration 5
  half=$(( $(rps_of "$bench_out/persist-max.json") / 2 ))
  record load-max-rps "$(rps_of "$bench_out/persist-max.json")"
  # One snapshot before the rounds, not measured: the copied state's
  # writeback and removal would otherwise land in round 1 (which came out
  # 2-36 ms off in runs by hand).
  curl -s -X POST http://127.0.0.1:$port/_ringkv/snapshot > /dev/null
  while older_files_left; do sleep 0.1; done
  # Quiet and snapshot windows alternate, so that both sample the same
  # moments of the machine: its quiet p99 alone moves by milliseconds
  # between runs minutes apart. A window spans two snapshots or more, and
  # so the removal of the files before each (which goes on while the next
  # is written).
  window_s=$(( seconds > 25 ? seconds : 25 ))
  rounds=${persist_rounds:-4}
  snapshot_ms=() added_us=() last_snapshot=
  rm -f "$bench_out"/persist-quiet-*.json "$bench_out"/persist-snapshots-*.json "$bench_out"/persist-*.cpu
  for ((round = 1; round <= rounds; round++)); do
    window "$bench_out/persist-quiet-$round.json" "$bench_out/persist-quiet.cpu"
    window "$bench_out/persist-snapshots-$round.json" "$bench_out/persist-snapshots.cpu" snapshots
    quiet_p99=$(latency_us "$bench_out/persist-quiet-$round.json" p99)
    snapshots_p99=$(latency_us "$bench_out/persist-snapshots-$round.json" p99)
    record "round-$round-p99-quiet/snapshots-us" "$quiet_p99/$snapshots_p99"
    added_us+=("$(awk -v a="$quiet_p99" -v b="$snapshots_p99" 'BEGIN {printf "%.1f", b - a}')")
  done
  quiet_files=("$bench_out"/persist-quiet-*.json)
  snapshot_files=("$bench_out"/persist-snapshots-*.json)
  for p in p50 p99 p99.9; do record "$p-half-load-us" "$(pooled_us $p "${quiet_files[@]}")"; done
  for p in p50 p99 p99.9; do record "$p-half-load-with-snapshots-us" "$(pooled_us $p "${snapshot_files[@]}")"; done
  record p99-added-per-round-median-us "$(printf '%s\n' "${added_us[@]}" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')"
  read -r busy steal <<<"$(cpu_over "$bench_out/persist-quiet.cpu")"
  record half-load-busy-cores "$busy"
  record half-load-steal-pct "$steal"
  read -r busy steal <<<"$(cpu_over "$bench_out/persist-snapshots.cpu")"
  record snapshots-busy-cores "$busy"
  record snapshots-steal-pct "$steal"
  record snapshots-taken "${#snapshot_ms[@]}"
  record snapshot-median-ms "$(printf '%s\n' "${snapshot_ms[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
  record last-snapshot "$last_snapshot"
  metrics=$(curl -s http://127.0.0.1:$port/metrics)
  record last-freeze-ms-per-core "$(echo "$metrics" | awk '/^ringkv_snapshot_last_freeze_seconds/ {printf "%s%.2f", sep, $2 * 1000; sep = ","}')"
  # One snapshot under the closed-loop maximum (no CPU left idle).
  load "$bench_out/persist-max-snapshot.json" --duration $((seconds + 10)) &
  load_pid=$!
  sleep 1
  answer=$(curl -s -m $((seconds + 20)) -X POST http://127.0.0.1:$port/_ringkv/snapshot)
  wait "$load_pid"
  load_pid=
  record max-load-snapshot-ms "$(echo "$answer" | sed -n 's/.*"ms":\([0-9.]*\).*/\1/p')"
  record max-load-with-snapshot-rps "$(rps_of "$bench_out/persist-max-snapshot.json")"
  stop_ringkv -KILL
fi

echo
if [[ " $sections " == *" put "* ]]; then
    echo "PUT 1 KiB, --log everysec / in memory = $(ratio "$(value_of ringkv-everysec-rps)" "$(value_of ringkv-memory-rps)")"
    echo "PUT 1 KiB, --log always / in memory = $(ratio "$(value_of ringkv-always-rps)" "$(value_of ringkv-memory-rps)")"
    echo "PUT 1 KiB, ringkv / redis, everysec = $(ratio "$(value_of ringkv-everysec-rps)" "$(value_of redis-everysec-rps)"), always = $(ratio "$(value_of ringkv-always-rps)" "$(value_of redis-always-rps)")"
fi
if [[ " $sections " == *" restart "* ]]; then
  echo "restart of 1M x 100 B, 2 threads: $(value_of restart-1M-from-snapshot-t2-s) s from a snapshot ($(value_of restart-1M-from-snapshot-t2-cpu-s) s CPU), $(value_of restart-1M-from-log-t2-s) s from the log ($(value_of restart-1M-from-log-t2-cpu-s) s CPU); redis from its RDB $(value_of redis-restart-1M-from-rdb-s) s"
fi
if [[ " $sections " == *" snapshot "* ]]; then
  echo "p99 at half load, $rounds rounds of ${window_s} s windows pooled: $(value_of p99-half-load-us) us quiet, $(value_of p99-half-load-with-snapshots-us) us with snapshots written back to back; added per round, median: $(value_of p99-added-per-round-median-us) us"
  echo "the machine meanwhile: $(value_of half-load-busy-cores) / $(value_of snapshots-busy-cores) of $(nproc) cores busy, $(value_of half-load-steal-pct) / $(value_of snapshots-steal-pct) % stolen by the host"
  echo "freezing the keys at the cut: $(value_of last-freeze-ms-per-core) ms per core; a snapshot under the closed-loop maximum took $(value_of max-load-snapshot-ms) ms"
fi
