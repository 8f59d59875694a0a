#!/usr/bin/env bash
# Where the tail comes from: the same load generator (ringkv-bench, one
# thread, 64 connections, GET of 64-byte values over 100,000 keys) against
# ringkv and against two floors that store nothing, on the same cores:
#   canned:  ringkv-canned (bench/canned.cc), an io_uring loop per core set
#            up like ringkv's (pinned, SO_REUSEPORT, DEFER_TASKRUN) that
#            answers every request with the same 64-byte 200: our own floor;
#   nginx:   nginx answering every path with a static 64-byte 200.
# For each server: a closed-loop run finds its maximum, then open-loop runs
# (latency measured from each request's due time, so a stall is charged in
# full) at 50% of that maximum and at one common rate for every server.
# Each run also prints the servers' context switches from /proc (slept:
# voluntary; preempted: involuntary), the CPU time of server and client,
# and the steal time of the virtual machine's CPUs (/proc/stat).
# Usage: bench/tail.sh [SECONDS] [COMMON_RATE]   (default 8 s, 20,000 req/s)
#   TAIL_SERVERS="ringkv-1 ringkv-2 canned-1 canned-2 nginx-1 nginx-2"
#     which servers (NAME-THREADS; nginx's threads are workers), in order;
#   TAIL_SERVER_CPUS=1 TAIL_CLIENT_CPU=0: run the servers and the client
#     under taskset on those CPUs (default: both on every CPU, the layout a
#     user gets by default; ringkv and ringkv-canned pin each thread to one
#     of the CPUs they may use, nginx and the client are not pinned);
#   TAIL_SCHED=1: during each 50% run, `perf sched record -a` (needs root or
#     kernel.perf_event_paranoid <= 0) and, per command name, how long its
#     threads waited from being made runnable (woken or preempted) to
#     running: the scheduling delay percentiles, and the CPU time of every
#     command on the machine in that window.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-8}
common_rate=${2:-20000}
servers=${TAIL_SERVERS:-ringkv-1 ringkv-2 canned-1 canned-2 nginx-1 nginx-2}
client_prefix=()
[[ -n ${TAIL_SERVER_CPUS:-} ]] && server_prefix=(taskset -c "$TAIL_SERVER_CPUS")
[[ -n ${TAIL_CLIENT_CPU:-} ]] && client_prefix=(taskset -c "$TAIL_CLIENT_CPU")
bench_prepare
port=18120
keys=100000
trap stop_server EXIT

# start NAME THREADS: starts the server, sets server_pids and namespace.
start() {
  namespace=00000000-0000-4000-8000-000000000000  # the floors answer any path
  start_server "$1" "$2" $port 4096
  [[ $1 == ringkv ]] && namespace=$(bench/seed.py $port $keys 64 k bench)
  return 0
}

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
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }  # user nice system irq softirq
# sched_report FILE: the scheduling delays from `perf sched timehist`, per
# command (its threads together), busiest first.
sched_report() {
  printf '   %-18s %9s %8s %8s %8s %8s %8s %9s\n' command delays "p50 ms" "p99 ms" "p99.9 ms" "max ms" ">1 ms" "cpu ms"
  # timehist --state: time, [cpu], task[tid/pid], wait, scheduling delay,
  # run time (ms), and how the run ended (R: preempted, so the next wait is
  # all queueing; otherwise the queueing is the delay from the wake-up).
  perf sched timehist --state -i "$1" 2>/dev/null | awk 'NR > 3 && NF >= 7 {
      thread = $3; for (i = 4; i <= NF - 4; ++i) thread = thread "_" $i
      task = thread; sub(/\[[0-9\/]+\]$/, "", task)
      queued = last[thread] == "R" ? $(NF - 3) : $(NF - 2)
      last[thread] = $NF
      print task, queued + 0, $(NF - 1) + 0
    }' | sort -k1,1 -k2,2g | awk '
    function flush() {
      if (task == "" || (cpu < 20 && task !~ /ringkv|nginx/)) return
      printf "   %-18s %9d %8.3f %8.3f %8.3f %8.3f %8d %9.1f\n", task, n, at(0.5), at(0.99), at(0.999), n ? d[n] : 0, over, cpu
    }
    function at(q,  i) { if (n == 0) return 0; i = int(n * q) + 1; return d[i > n ? n : i] }
    $1 != task { flush(); task = $1; n = 0; over = 0; cpu = 0 }
    { cpu += $3; if ($2 > 0) { d[++n] = $2; if ($2 > 1) ++over } }
    END { flush() }' | sort -k9,9gr
}

ms() { awk -v ns="$(json_number "$1" "$2")" 'BEGIN {printf "%.3f", ns / 1e6}'; }

# measure NAME RATE|max: one ringkv-bench run against the running server;
# prints a line and leaves the JSON in bench/out/tail-NAME.json.
measure() {
  local name=$1 rate=$2 json="$bench_out/tail-$1.json"
  local warmup=2 duration=$seconds
  [[ $rate == max ]] && warmup=1 duration=5
  local load=(--warmup $warmup --duration $duration)
  [[ $rate != max ]] && load+=(--rate "$rate")
  local before_sw before_cpu before_steal before_busy client_time="$bench_out/tail-$name.time"
  before_sw=$(switches "${server_pids[@]}")
  before_cpu=$(cpu_ticks "${server_pids[@]}")
  before_steal=$(steal_ticks)
  before_busy=$(busy_ticks)
  local TIMEFORMAT="%R %U %S" recorder=""
  if [[ ${TAIL_SCHED:-} == 1 && $rate != max && $name == *50% ]]; then
    # After the warm-up, for the measured run less a second of margin.
    (sleep 2; perf sched record -a -o "$bench_out/tail-$name.sched" -- sleep $((seconds - 1)) > /dev/null 2>&1) &
    recorder=$!
  fi
  { time "${client_prefix[@]}" build/src/ringkv-bench --url "http://127.0.0.1:$port/v2" --token bench \
      --namespace "$namespace" --no-prefill --keys $keys --mix get=100 --connections 64 --threads 1 \
      "${load[@]}" --json "$json" --quiet > /dev/null; } 2> "$client_time"
  local after_sw after_cpu after_steal after_busy
  after_sw=$(switches "${server_pids[@]}")
  after_cpu=$(cpu_ticks "${server_pids[@]}")
  after_steal=$(steal_ticks)
  after_busy=$(busy_ticks)
  read -r v0 n0 <<<"$before_sw"
  read -r v1 n1 <<<"$after_sw"
  read -r wall cuser csys < "$client_time"
  # CPU is counted over the warm-up too: per request of the whole run.
  local requests server_s others
  requests=$(awk -v n="$(json_number requests "$json")" -v w=$warmup -v d=$duration 'BEGIN {print n * (w + d) / d}')
  server_s=$(awk -v t=$((after_cpu - before_cpu)) -v hz="$clk_tck" 'BEGIN {print t / hz}')
  # Everyone else's share of the machine meanwhile (should be near 0%).
  others=$(awk -v b=$((after_busy - before_busy)) -v hz="$clk_tck" -v s="$server_s" -v u="$cuser" -v y="$csys" -v w="$wall" -v c="$(nproc)" \
    'BEGIN {o = (b / hz - s - u - y) / w / c * 100; printf "%.1f%%", o < 0 ? 0 : o}')
  printf '%-24s %9.0f %8s %8s %8s %8s %6s %9.2f %9.2f %8.0f %8.0f %6.1f%% %7s\n' \
    "$name" "$(json_number throughput_rps "$json")" "$(ms p50 "$json")" "$(ms p99 "$json")" "$(ms p99.9 "$json")" \
    "$(ms max "$json")" "$(json_number errors "$json")" \
    "$(awk -v s="$server_s" -v n="$requests" 'BEGIN {printf "%.2f", s * 1e6 / n}')" \
    "$(awk -v u="$cuser" -v s="$csys" -v n="$requests" 'BEGIN {printf "%.2f", (u + s) * 1e6 / n}')" \
    "$(awk -v a="$v0" -v b="$v1" -v w="$wall" 'BEGIN {print (b - a) / w}')" \
    "$(awk -v a="$n0" -v b="$n1" -v w="$wall" 'BEGIN {print (b - a) / w}')" \
    "$(awk -v a="$before_steal" -v b="$after_steal" -v hz="$clk_tck" -v w="$wall" -v c="$(nproc)" 'BEGIN {print (b - a) / hz / w / c * 100}')" \
    "$others"
  if [[ -n $recorder ]]; then
    wait "$recorder"
    sched_report "$bench_out/tail-$name.sched"
  fi
}

echo "== GET 64 B, 100,000 keys, 64 connections; open loop for $seconds s (+2 s warm-up) at 50% of each server's"
echo "   closed-loop maximum (5 s) and at $common_rate req/s; servers on CPUs ${TAIL_SERVER_CPUS:-all},"
echo "   client on ${TAIL_CLIENT_CPU:-all}; $(nproc) CPUs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   (cpu/r: microseconds of CPU per request, server's and client's; slept/preempt: the servers' context"
echo "   switches per second; steal: the hypervisor's; others: CPU used by every other process, of all CPUs)"
printf '%-24s %9s %8s %8s %8s %8s %6s %9s %9s %8s %8s %7s %7s\n' run "req/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" errors \
  "srv cpu/r" "cli cpu/r" slept preempt steal others
for server in $servers; do
  kind=${server%-*} threads=${server##*-}
  start "$kind" "$threads"
  measure "$server-max" max
  half=$(awk -v r="$(json_number throughput_rps "$bench_out/tail-$server-max.json")" 'BEGIN {printf "%d", r / 2}')
  measure "$server-50%" "$half"
  measure "$server-at-$common_rate" "$common_rate"
  stop_server
  sleep 0.5
done
