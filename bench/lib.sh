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
  scripts/build build
}

# start_ringkv PORT NAME [ringkv flags...]: starts build/src/ringkv on
# 127.0.0.1:PORT (log in bench/out/NAME.log), waits for it, prints its pid.
start_ringkv() {
  local port=$1 name=$2
  shift 2
  "$bench_root/build/src/ringkv" --port "$port" "$@" > "$bench_out/$name.log" 2>&1 &
  local pid=$!
  wait_port "$port" >&2
  echo "$pid"
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

# Starts nginx (2 workers, no access log) on PORT, answering /healthz with
# BODY and any other path from the static root; prints its master pid.
start_nginx() {
  local port=$1 body=$2 dir="$bench_out/nginx"
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log crit;
events { worker_connections 4096; }
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
    listen 127.0.0.1:$port reuseport;
    location = /healthz { default_type application/json; return 200 '$body'; }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" 2>"$dir/start.log"
  wait_port "$port"
  cat "$dir/nginx.pid"
}

nginx_pids() { pgrep -d ' ' -P "$1"; echo -n " $1"; }

stop_nginx() { nginx -c "$bench_out/nginx/nginx.conf" -p "$bench_out/nginx" -s stop 2>/dev/null || true; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
