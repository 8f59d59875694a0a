#!/usr/bin/env bash
# ringkv --threads 1 against --threads 2 on the pipelined GET load of
# bench/kv.sh (wrk -t2 -c64, bench/kv.lua, 16 GETs of 64-byte values per
# write, uniformly random keys among 10,000), alternated for several rounds
# so that a disturbance of the machine hits both alike; each round also
# runs nginx's pipelined static 200 (bench/pipeline.lua), the peer of the
# 3x target. Every run is the same wrk invocation against a fresh server.
# Per run it prints requests/s, CPU microseconds per request of the server
# and of wrk, the machine's idle share during the run and the share every
# other process took (/proc/stat; a disturbed run shows itself), the
# server's context switches per 1,000 requests (slept: voluntary;
# preempted: involuntary, from /proc/PID/task/*/status), ringkv's
# cross-core messages and doorbells during the run (its /metrics), and how
# the connections were spread over its cores. Then the median of each
# configuration and the median of the per-round ratios.
# Usage: bench/pipeline-threads.sh [SECONDS] [ROUNDS]   (default 5 s, 5 rounds)
#   PIPE_PERF=1: also count, per ringkv thread, io_uring_enter calls, waits
#     in the kernel (io_uring_cqring_wait), receives that found no data
#     (io_uring_poll_arm) and completions, with perf stat (needs root or
#     kernel.perf_event_paranoid <= 0); a little CPU goes to perf.
#   RINGKV_FLAGS: extra flags for ringkv in both configurations.
#   PIPE_VALUE_BYTES: the values' size (default 64).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${1:-5}
rounds=${2:-5}
value_bytes=${PIPE_VALUE_BYTES:-64}
bench_prepare
keys=10000
nginx_port=18085 ringkv_port=18086
ringkv_pid=
cleanup() {
  stop_nginx
  [[ -n $ringkv_pid ]] && kill "$ringkv_pid" 2>/dev/null || true
}
trap cleanup EXIT
nginx_master=$(start_nginx $nginx_port '{"data":{"status":"online"}}')

# idle and total jiffies of the whole machine
machine_ticks() { awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
# voluntary and involuntary context switches, summed over every thread
switches() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v + 0, n + 0}'
}
# ringkv's cross-core messages and doorbells so far, summed over the cores,
# from one scrape of /metrics
cross_core() {
  curl -s "http://127.0.0.1:$ringkv_port/metrics" |
    awk '/^ringkv_cross_core_messages_total\{/ {m += $2} /^ringkv_cross_core_wakes_total\{/ {w += $2} END {print m + 0, w + 0}'
}
# connections accepted by each core, as "core0/core1/..."
accepted_per_core() {
  curl -s "http://127.0.0.1:$ringkv_port/metrics" |
    awk '/^ringkv_connections_accepted_total\{/ {printf "%s%d", sep, $2; sep = "/"}'
}

# measure NAME URL PIDS... : one wrk run with $WRK_ARGS; prints a result line
measure() {
  local name=$1 url=$2
  shift 2
  local wrk_cpu_file="$bench_out/pipeline-threads-wrk.time"
  read -r idle0 total0 < <(machine_ticks)
  read -r vol0 invol0 < <(switches "$@")
  local cpu0 cpu1 out
  cpu0=$(cpu_ticks "$@")
  out=$( { /usr/bin/time -f '%U %S' -o "$wrk_cpu_file" wrk "$url" $WRK_ARGS; } 2>&1)
  cpu1=$(cpu_ticks "$@")
  read -r vol1 invol1 < <(switches "$@")
  read -r idle1 total1 < <(machine_ticks)
  echo "$out" > "$bench_out/wrk-pipeline-threads-$name.txt"
  local rps requests
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  [[ -n $rps && -n $requests && $requests != 0 ]] || { echo "wrk failed for $name: $out" >&2; return 1; }
  if echo "$out" | grep -q "Non-2xx"; then echo "warning: $name answered non-2xx" >&2; fi
  awk -v name="$name" -v rps="$rps" -v n="$requests" -v t=$((cpu1 - cpu0)) -v hz="$clk_tck" \
      -v wrk="$(cat "$wrk_cpu_file")" -v idle=$((idle1 - idle0)) -v total=$((total1 - total0)) \
      -v vol=$((vol1 - vol0)) -v invol=$((invol1 - invol0)) 'BEGIN {
    split(wrk, w, " ")
    others = (total - idle - t - (w[1] + w[2]) * hz) / total
    printf "%-10s %10.0f %8.2f %8.2f %6.1f%% %6.1f%% %8.2f %8.2f", name, rps, t * 1e6 / hz / n, (w[1] + w[2]) * 1e6 / n,
      100 * idle / total, 100 * (others > 0 ? others : 0), vol * 1000 / n, invol * 1000 / n }'
}

# run_ringkv THREADS: a fresh ringkv with the keys, one measured run
run_ringkv() {
  local threads=$1
  ringkv_pid=$(start_ringkv $ringkv_port ringkv-pipeline-threads --threads "$threads" ${RINGKV_FLAGS:-})
  local namespace perf_pid= messages0 wakes0 messages1 wakes1 messages2 wakes2
  namespace=$(bench/seed.py $ringkv_port $keys "$value_bytes" k)
  # A scrape itself asks every core (messages, doorbells): two scrapes with
  # nothing between them give its own share, taken off the run's.
  read -r messages0 wakes0 < <(cross_core)
  read -r messages1 wakes1 < <(cross_core)
  if [[ -n ${PIPE_PERF:-} ]]; then
    perf stat --per-thread -p "$ringkv_pid" -x, -o "$bench_out/pipeline-threads-perf.csv" \
      -e syscalls:sys_enter_io_uring_enter,io_uring:io_uring_cqring_wait,io_uring:io_uring_poll_arm,io_uring:io_uring_complete \
      -- sleep $((seconds + 1)) &
    perf_pid=$!
    sleep 0.2
  fi
  WRK_ARGS="-t2 -c64 -d${seconds}s -s bench/kv.lua -- ringkv get $keys $value_bytes 16 $namespace"
  local line
  line=$(measure "ringkv-$threads" "http://127.0.0.1:$ringkv_port" "$ringkv_pid")
  read -r messages2 wakes2 < <(cross_core)
  local scrape_messages=$((messages1 - messages0)) scrape_wakes=$((wakes1 - wakes0))
  printf '%s %8d %8d %9s\n' "$line" $((messages2 - messages1 - scrape_messages)) \
    $((wakes2 - wakes1 - scrape_wakes)) "$(accepted_per_core)"
  if [[ -n $perf_pid ]]; then
    wait "$perf_pid"
    # per thread: enters, waits, empty receives, completions
    awk -F, '$1 != "" && $1 !~ /^#/ {split($4, e, ":"); v[$1, e[2]] = $2; threads[$1] = 1}
      END {for (t in threads) printf "    %s: io_uring_enter %d, waits %d, receives without data %d, completions %d\n",
             t, v[t, "sys_enter_io_uring_enter"], v[t, "io_uring_cqring_wait"], v[t, "io_uring_poll_arm"], v[t, "io_uring_complete"]}' \
      "$bench_out/pipeline-threads-perf.csv"
  fi
  kill "$ringkv_pid"
  # Not this shell's child (started in a subshell): wait for it to be gone,
  # so the next one can bind the port.
  while kill -0 "$ringkv_pid" 2>/dev/null; do sleep 0.05; done
  ringkv_pid=
}

uptime
printf '%-10s %10s %8s %8s %7s %7s %8s %8s %8s %8s %9s\n' run requests/s srv_us wrk_us idle others slept/1k preempt/1k messages doorbells conns/core
results=()
for ((round = 1; round <= rounds; round++)); do
  WRK_ARGS="-t2 -c64 -d${seconds}s -s bench/pipeline.lua"
  line=$(measure nginx "http://127.0.0.1:$nginx_port/healthz" $(nginx_pids "$nginx_master"))
  echo "$line"
  results+=("$round $line")
  for threads in 1 2; do
    run_ringkv "$threads" > "$bench_out/pipeline-threads-run.txt"  # not in a subshell: cleanup sees the pid
    cat "$bench_out/pipeline-threads-run.txt"
    results+=("$round $(head -1 "$bench_out/pipeline-threads-run.txt")")
  done
done
uptime

# medians over the rounds
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rps_of() { for r in "${results[@]}"; do read -r round name rps _ <<<"$r"; [[ $name == "$1" ]] && echo "$round $rps"; done; }
echo
for name in nginx ringkv-1 ringkv-2; do
  echo "$name: median $(rps_of "$name" | awk '{print $2}' | median) requests/s"
done
ratio_of() {  # per-round ratio of two runs' requests/s, then the median
  join <(rps_of "$1" | sort) <(rps_of "$2" | sort) | awk '{printf "%.3f\n", $2 / $3}' | median
}
echo "ringkv --threads 2 / --threads 1, median of the per-round ratios: $(ratio_of ringkv-2 ringkv-1)"
echo "ringkv --threads 2 / nginx pipelined, median of the per-round ratios: $(ratio_of ringkv-2 nginx)"
echo "ringkv --threads 1 / nginx pipelined, median of the per-round ratios: $(ratio_of ringkv-1 nginx)"
