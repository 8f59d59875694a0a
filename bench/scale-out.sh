#!/usr/bin/env bash
# Scale-out on one machine: three ringkv nodes (one thread each, named with
# --node-name) behind HAProxy on loopback, configured by
# dist/scale-out/haproxy.cfg, the file docs/scale-out.md explains (only its
# addresses are rewritten here); with --proxy nginx, behind nginx configured
# by dist/scale-out/nginx.conf. Every organization (bearer token) must live
# on one node.
#   1. the Telnyx Node SDK conformance test (tests/sdk) through the proxy,
#      three runs at once, each its own organization;
#   2. stickiness (bench/scale-out-check.py sticky): 60 organizations, every
#      route, fresh and shared connections, each answered by one node
#      (X-Ringkv-Node) that alone holds its namespaces;
#   3. the proxy's cost, measured (skipped with --check): ringkv-bench over
#      30 organizations straight at one node, then through the proxy to the
#      three; closed loop (requests/s, CPU per request of the proxy and of
#      the nodes) and open loop at a fixed rate (the latency the proxy adds);
#   4. a node stopped: its organizations answer 503 through HAProxy (502
#      through nginx), the others are served as before
#      (bench/scale-out-check.py down).
# Usage: bench/scale-out.sh [--check] [--proxy haproxy|nginx] [SECONDS]
#   --check   steps 1, 2 and 4 only (about 30 s); scripts/test runs this
#   SECONDS   length of each measured run in step 3 (default 10)
# The measurement takes /tmp/bench.lock so two benchmarks never overlap;
# its table goes to bench/out/scale-out-PROXY.txt.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$bench_root"

check_only=0
seconds=10
proxy=haproxy
usage() { echo "usage: bench/scale-out.sh [--check] [--proxy haproxy|nginx] [SECONDS]" >&2; exit 2; }
while (( $# > 0 )); do
  case "$1" in
    --check) check_only=1 ;;
    --proxy) proxy=${2:-}; shift; [[ "$proxy" == haproxy || "$proxy" == nginx ]] || usage ;;
    *[!0-9]*|'') usage ;;
    *) seconds=$1 ;;
  esac
  shift
done

scripts/install-deps --test
if [[ "$proxy" == nginx ]]; then scripts/install-deps --bench; fi
scripts/build build > /dev/null
if [[ ! -d tests/sdk/node_modules ]]; then
  (cd tests/sdk && npm ci --silent --no-audit --no-fund)
fi

work=$(mktemp -d "$bench_out/scale-out.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_node NAME: a ringkv node on a free port; sets node_port[NAME] and node_pid[NAME].
declare -A node_port node_pid
start_node() {
  local name=$1 line=""
  build/src/ringkv --port 0 --threads 1 --node-name "$name" > "$work/$name.log" 2>&1 &
  node_pid[$name]=$!
  pids+=("$!")
  for _ in $(seq 100); do
    line=$(head -1 "$work/$name.log")
    [[ "$line" == *listening* ]] && break
    sleep 0.1
  done
  [[ "$line" =~ :([0-9]+)\ \( ]] || { echo "node $name did not start: $(cat "$work/$name.log")" >&2; exit 1; }
  node_port[$name]=${BASH_REMATCH[1]}
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for name in node-1 node-2 node-3; do start_node "$name"; done
proxy_port=$(free_port)
# The configuration as shipped, its four loopback addresses rewritten.
rewrite() {
  sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$proxy_port/" \
      -e "s/127\.0\.0\.1:8081/127.0.0.1:${node_port[node-1]}/" \
      -e "s/127\.0\.0\.1:8082/127.0.0.1:${node_port[node-2]}/" \
      -e "s/127\.0\.0\.1:8083/127.0.0.1:${node_port[node-3]}/" "$1"
}
if [[ "$proxy" == haproxy ]]; then
  rewrite dist/scale-out/haproxy.cfg > "$work/haproxy.cfg"
  haproxy -c -q -f "$work/haproxy.cfg"
  haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
  down_status=503
else
  rewrite dist/scale-out/nginx.conf > "$work/ringkv-nginx.conf"
  # What Debian's /etc/nginx/nginx.conf provides around a conf.d file.
  cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  include $work/ringkv-nginx.conf;
}
CONF
  chmod 755 "$work"  # nginx's workers may run as nobody
  nginx -t -q -c "$work/nginx.conf" -p "$work"
  nginx -c "$work/nginx.conf" -p "$work" &
  down_status=502
fi
proxy_pid=$!
pids+=("$proxy_pid")
wait_port "$proxy_port"
echo "== three nodes (ports ${node_port[node-1]} ${node_port[node-2]} ${node_port[node-3]}) behind $proxy on port $proxy_port"

echo "== 1. Telnyx Node SDK conformance through the proxy, three organizations at once"
sdk_pids=()
for run in a b c; do
  RINGKV_URL="http://127.0.0.1:$proxy_port/v2" RINGKV_TOKEN="sdk-$run-$$" \
    node --test tests/sdk/conformance.test.mjs > "$work/sdk-$run.log" 2>&1 &
  sdk_pids+=("$!")
done
for index in 0 1 2; do
  run=$(echo a b c | cut -d' ' -f$((index + 1)))
  if ! wait "${sdk_pids[$index]}" || ! grep -q '^# fail 0' "$work/sdk-$run.log"; then
    echo "the SDK conformance test failed through the proxy (run $run):" >&2
    cat "$work/sdk-$run.log" >&2
    exit 1
  fi
  echo "run $run: $(grep -E '^# pass' "$work/sdk-$run.log"), # fail 0"
done

echo "== 2. every organization on one node"
bench/scale-out-check.py sticky "$proxy_port" node-1="${node_port[node-1]}" node-2="${node_port[node-2]}" \
  node-3="${node_port[node-3]}" > "$work/homes.txt"

if (( ! check_only )); then
  echo "== 3. the proxy's cost (${seconds} s per run; other work on this machine may be running)"
  exec 9> /tmp/bench.lock
  flock 9
  bench_flags=(--tokens 30 --connections 30 --keys 1000 --mix "get=90,put=10" --warmup 1 --duration "$seconds" --quiet)
  nodes=("${node_pid[node-1]}" "${node_pid[node-2]}" "${node_pid[node-3]}")
  # The proxy's processes: HAProxy is one (threads included); nginx, a
  # master and its workers.
  if [[ "$proxy" == haproxy ]]; then proxy_pids=("$proxy_pid"); else read -ra proxy_pids <<< "$(nginx_pids "$proxy_pid")"; fi
  # measure NAME URL: a ringkv-bench run (JSON in $work/NAME.json); the CPU
  # ticks the proxy and the nodes spent meanwhile in NAME.proxy, NAME.nodes.
  measure() {
    local name=$1 url=$2 proxy_before nodes_before
    proxy_before=$(cpu_ticks "${proxy_pids[@]}")
    nodes_before=$(cpu_ticks "${nodes[@]}")
    build/src/ringkv-bench --url "$url" "${bench_flags[@]}" ${rate_flag:-} --json "$work/$name.json" > "$work/$name.txt"
    echo $(($(cpu_ticks "${proxy_pids[@]}") - proxy_before)) > "$work/$name.proxy"
    echo $(($(cpu_ticks "${nodes[@]}") - nodes_before)) > "$work/$name.nodes"
  }
  field() { python3 -c "import json, sys; d = json.load(open('$1')); print($2)"; }
  direct="http://127.0.0.1:${node_port[node-1]}/v2"
  proxied="http://127.0.0.1:$proxy_port/v2"
  measure direct-closed "$direct"
  measure proxy-closed "$proxied"
  rate=$(field "$work/direct-closed.json" "int(d['throughput_rps'] * 0.25)")
  rate_flag="--rate $rate"
  measure direct-open "$direct" "${node_pid[node-1]}"
  measure proxy-open "$proxied" "$proxy_pid"
  flock -u 9

  us_per_request() {  # TICKS_FILE JSON
    awk -v t="$(cat "$1")" -v hz="$clk_tck" -v n="$(field "$2" "d['requests']")" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}'
  }
  ms() { field "$1" "'%.3f' % (d['latency_ns']['$2'] / 1e6)"; }
  {
    echo "ringkv-bench --tokens 30 --connections 30 --keys 1000 --mix get=90,put=10, ${seconds} s per run"
    printf '%-44s %12s %12s\n' "closed loop" "direct" "via $proxy"
    printf '%-44s %12s %12s\n' "requests/s" "$(field "$work/direct-closed.json" "round(d['throughput_rps'])")" \
      "$(field "$work/proxy-closed.json" "round(d['throughput_rps'])")"
    printf '%-44s %12s %12s\n' "ringkv CPU us/request (all nodes)" \
      "$(us_per_request "$work/direct-closed.nodes" "$work/direct-closed.json")" \
      "$(us_per_request "$work/proxy-closed.nodes" "$work/proxy-closed.json")"
    printf '%-44s %12s %12s\n' "$proxy CPU us/request" "-" \
      "$(us_per_request "$work/proxy-closed.proxy" "$work/proxy-closed.json")"
    printf '%-44s %12s %12s\n' "open loop at $rate req/s (25% of direct max)" "direct" "via $proxy"
    for p in p50 p99 p99.9; do
      printf '%-44s %12s %12s\n' "$p ms" "$(ms "$work/direct-open.json" "$p")" "$(ms "$work/proxy-open.json" "$p")"
    done
    printf '%-44s %12s %12s\n' "errors" "$(field "$work/direct-open.json" "d['errors']")" \
      "$(field "$work/proxy-open.json" "d['errors']")"
  } | tee "$bench_out/scale-out-$proxy.txt"
fi

echo "== 4. node-3 stopped: its organizations fail loud, the others are served"
kill "${node_pid[node-3]}"
wait "${node_pid[node-3]}" || true
bench/scale-out-check.py down "$proxy_port" node-3 "$down_status" < "$work/homes.txt"
echo "scale-out: all checks passed"
