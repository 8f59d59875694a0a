# Shared helpers of the bench scripts (sourced, not run).
# Servers run on loopback only; every run is bounded in time.

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_out="$bench_root/bench/out"
mkdir -p "$bench_out"
clk_tck=$(getconf CLK_TCK)

# Installs the peers and the tools, builds ringkv, and works from the top.
bench_prepare() {
  cd "$bench_root"
  scripts/install-deps --bench
  RINGKV_BUILD_JOBS=2 scripts/build build  # at most two jobs: a two-core machine
}

# Commands that start servers run under this prefix (e.g. taskset -c 1):
# empty, the servers may run on every CPU.
server_prefix=()

# start_ringkv PORT NAME [ringkv flags...]: starts build/src/ringkv (or
# the binary $ringkv_binary names) on 127.0.0.1:PORT (log in
# bench/out/NAME.log), waits for it, prints its pid.
start_ringkv() {
  local port=$1 name=$2
  shift 2
  "${server_prefix[@]}" "${ringkv_binary:-$bench_root/build/src/ringkv}" --port "$port" "$@" > "$bench_out/$name.log" 2>&1 &
  local pid=$!
  wait_port "$port" >&2
  echo "$pid"
}

# raise_open_files N: raises this shell's open-file limit to N, so that
# each server and client started from it may hold N descriptors; fails
# naming the limits if the hard one is lower and may not be raised (that
# needs CAP_SYS_RESOURCE).
raise_open_files() {
  local needed=$1
  (( $(ulimit -Sn) >= needed )) && return 0
  if (( $(ulimit -Hn) >= needed )) && ulimit -Sn "$needed" 2>/dev/null; then return 0; fi
  ulimit -n "$needed" 2>/dev/null && return 0
  echo "the open-file limit is $(ulimit -Sn) (hard $(ulimit -Hn)), short of the $needed this run needs" \
    "in each server and client" >&2
  return 1
}

# CPU ticks (user+system) of every process given, all threads included.
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    if [[ -r /proc/$pid/stat ]]; then
      # Fields 14 and 15 after the command name, which may hold spaces.
      local fields
      fields=$(sed 's/^.*) //' "/proc/$pid/stat")
      total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
    fi
  done
  echo "$total"
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# run_wrk NAME URL PIDS... : runs wrk with $WRK_ARGS, prints "NAME rps cpu_us_per_request".
run_wrk() {
  local name=$1 url=$2
  shift 2
  local before after out rps requests
  before=$(cpu_ticks "$@")
  out=$(wrk "$url" $WRK_ARGS 2>&1)
  after=$(cpu_ticks "$@")
  echo "$out" > "$bench_out/wrk-$name.txt"
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  if [[ -z "$rps" || -z "$requests" || "$requests" == 0 ]]; then
    echo "wrk failed for $name:" >&2
    echo "$out" >&2
    return 1
  fi
  if echo "$out" | grep -q "Non-2xx"; then
    echo "warning: $name answered non-2xx: $(echo "$out" | grep Non-2xx)" >&2
  fi
  local cpu_us
  cpu_us=$(awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$requests" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
  echo "$name $rps $cpu_us"
}

# nginx_conf DIR PORT WORKERS CONNECTIONS LOCATION: writes DIR/nginx.conf,
# nginx on 127.0.0.1:PORT with WORKERS workers taking CONNECTIONS
# connections each (and the open files for them), no access log, keep-alive
# without limit, and LOCATION as its only location block.
nginx_conf() {
  local dir=$1 port=$2 workers=$3 connections=$4 location=$5
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
worker_rlimit_nofile $((connections * 2 + 1024));
pid $dir/nginx.pid;
error_log $dir/error.log crit;
events { worker_connections $connections; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port reuseport backlog=4096;
    $location
  }
}
CONF
}

# Starts nginx (2 workers, no access log) on PORT, answering /healthz with
# BODY; prints its master pid.
start_nginx() {
  local port=$1 body=$2 dir="$bench_out/nginx"
  nginx_conf "$dir" "$port" 2 4096 "location = /healthz { default_type application/json; return 200 '$body'; }"
  "${server_prefix[@]}" nginx -c "$dir/nginx.conf" -p "$dir" 2>"$dir/start.log"
  wait_port "$port"
  cat "$dir/nginx.pid"
}

nginx_pids() { pgrep -d ' ' -P "$1"; echo -n " $1"; }

stop_nginx() { nginx -c "$bench_out/nginx/nginx.conf" -p "$bench_out/nginx" -s stop 2>/dev/null || true; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# json_number KEY FILE: the number after the first "KEY": in FILE (the
# --json output of ringkv-bench).
json_number() { awk -v k="\"$1\": " '{i = index($0, k); if (i) {print substr($0, i + length(k)) + 0; exit}}' "$2"; }

# The servers that bench/tail.sh and bench/connections.sh compare: ringkv,
# and two floors that store nothing and answer every request with the same
# 200 and a 64-byte body (ringkv-canned, bench/canned.cc, and nginx).
floor_body=$(printf 'v%.0s' $(seq 64))
server_main_pid="" server_pids=()  # the process to signal; all of its processes

# start_server KIND THREADS PORT CONNECTIONS: starts KIND (ringkv, canned
# or nginx) with THREADS threads (nginx: workers) on 127.0.0.1:PORT, under
# server_prefix, taking CONNECTIONS connections per thread, waits for it
# and sets server_main_pid and server_pids (log or nginx's files in
# bench/out/KIND-PORT*).
start_server() {
  local kind=$1 threads=$2 port=$3 connections=$4
  case $kind in
    ringkv)
      server_main_pid=$(start_ringkv "$port" "ringkv-$port" --threads "$threads" --connections-per-core "$connections")
      server_pids=("$server_main_pid") ;;
    canned)
      "${server_prefix[@]}" "$bench_root/build/bench/ringkv-canned" --port "$port" --threads "$threads" \
        > "$bench_out/canned-$port.log" 2>&1 &
      server_main_pid=$!
      server_pids=("$server_main_pid")
      wait_port "$port" ;;
    nginx)
      local dir="$bench_out/nginx-$port"
      nginx_conf "$dir" "$port" "$threads" "$connections" \
        "location / { default_type application/octet-stream; return 200 '$floor_body'; }"
      "${server_prefix[@]}" nginx -c "$dir/nginx.conf" -p "$dir" 2>"$dir/start.log"
      wait_port "$port"
      server_main_pid=$(cat "$dir/nginx.pid")
      # shellcheck disable=SC2207  # pids: words
      server_pids=($(nginx_pids "$server_main_pid")) ;;
    *) echo "start_server: unknown server $kind" >&2; return 1 ;;
  esac
}

# stop_server: stops what start_server started (SIGTERM to the main
# process: nginx's master stops its workers, which it would replace if they
# were signalled themselves) and waits until every process of it is gone,
# so its port is free for the next.
stop_server() {
  (( ${#server_pids[@]} == 0 )) && return 0
  kill "$server_main_pid" 2>/dev/null || true
  # Not our children (started in a subshell, or daemons): poll, not wait.
  while kill -0 "${server_pids[@]}" 2>/dev/null; do sleep 0.1; done
  server_pids=()
}
