#!/usr/bin/env bash
# Monitoring benchmark (docs/benchmarks.md, "Monitoring probes and rules"):
#
# 1. HTTP checks per second against a local nginx, 16 at a time:
#    Debian's prometheus-blackbox-exporter driven by wrk (16 connections
#    calling /probe?module=http_2xx&target=…) and `leitstand-bench probes`
#    (16 concurrent probes through the real probe engine), in the same run,
#    against a keep-alive target and against one that closes every
#    connection. nginx's request counter (stub_status) checks how many
#    requests each prober really sent.
# 2. `leitstand-bench idle-probes` (RSS per configured, idle probe).
# 3. `leitstand-bench rules` (the default rule pack over synthetic series).
#
#   bench/probes.sh [path/to/leitstand]      (default: target/release/leitstand)
#
# Environment: DURATION (seconds per probe run, default 10), ROUNDS (probe
# runs per peer and target, alternating, default 1). Loopback only; every
# step is bounded by `timeout`; everything started is stopped on exit.
# Needs: nginx, prometheus-blackbox-exporter, wrk, curl
# (apt-get install nginx prometheus-blackbox-exporter wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/leitstand}"
bench="${BENCH_BIN:-$(dirname "$bin")/leitstand-bench}"
[ -x "$bench" ] || cargo build --release --locked -p leitstand-bench
dur="${DURATION:-10}"
rounds="${ROUNDS:-1}"
bb_port=18415
keep=http://127.0.0.1:18481/
close=http://127.0.0.1:18482/
status=http://127.0.0.1:18483/status

# shellcheck source=bench/lib.sh
. bench/lib.sh

# CPU ticks (user + system) of a process and its children's threads.
ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
# Busy and total ticks of the whole machine.
machine() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
served() { curl -fs "$status" | awk 'NR == 3 {print $3}'; }
hz=$(getconf CLK_TCK)
pct() { awk -v t="$1" -v s="$2" -v hz="$hz" 'BEGIN {printf "%.0f", 100 * t / hz / s}'; }

# Target.
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
printf '<!doctype html><title>Portal</title><p>Portal up.</p>\n' >"$work/nginx/html/index.html"
chmod -R a+rX "$work"
nginx -p "$work/nginx" -c "$PWD/bench/nginx.conf" &
nginx_master=$!
started+=("$nginx_master")
# Peer.
prometheus-blackbox-exporter --config.file=bench/blackbox.yml \
  --web.listen-address="127.0.0.1:$bb_port" --log.level=warn >"$work/blackbox.log" 2>&1 &
bb=$!
started+=("$bb")
for _ in $(seq 100); do
  curl -fs -o /dev/null "$keep" && curl -fs -o /dev/null "http://127.0.0.1:$bb_port/metrics" && break
  sleep 0.1
done
nginx_pids() { echo "$nginx_master" $(ps -o pid= --ppid "$nginx_master"); }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "peers: $(prometheus-blackbox-exporter --version 2>&1 | head -1); $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); leitstand $("$bin" --version | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
for target in "$keep" "$close"; do
  probe=$(curl -fs "http://127.0.0.1:$bb_port/probe?module=http_2xx&target=$target" | awk '/^probe_success / {print $2}')
  [ "$probe" = 1 ] || { echo "blackbox_exporter cannot probe $target (probe_success=$probe)" >&2; exit 1; }
done

summary=()
# run NAME TARGET: one timed run of a peer, with CPU shares and nginx's count.
run() {
  local name=$1 target=$2 out="$work/out" pid_cpu
  local n0 b0 t0 n1 b1 t1 s0 s1 busy0 total0 busy1 total1 rate checks
  s0=$(served)
  read -r busy0 total0 < <(machine)
  n0=$(ticks $(nginx_pids))
  t0=$(date +%s.%N)
  if [ "$name" = blackbox ]; then
    b0=$(ticks "$bb")
    timeout $((dur + 20)) wrk -t2 -c16 -d"${dur}s" \
      "http://127.0.0.1:$bb_port/probe?module=http_2xx&target=$target" >"$out" &
    local wrk_pid=$! w
    # wrk's own CPU, read just before it ends (its /proc entry goes with it).
    sleep "$(awk -v d="$dur" 'BEGIN {print d - 0.3}')"
    w=$(ticks "$wrk_pid" $(ps -o pid= --ppid "$wrk_pid"))
    wait "$wrk_pid"
    b1=$(ticks "$bb")
    rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$out")
    checks=$(awk '/requests in/ {print $1}' "$out")
    pid_cpu="blackbox_exporter $(pct $((b1 - b0)) "$dur") %, wrk $(pct "$w" "$dur") %"
  else
    timeout $((dur + 30)) "$bench" probes --url "$target" --concurrency 16 --duration "${dur}s" >"$out"
    rate=$(awk '/^rate:/ {print $2}' "$out")
    checks=$(awk '/^checks:/ {print $2}' "$out")
    pid_cpu="leitstand $(awk '/^cpu:/ {print $6}' "$out" | tr -d '(') %"
  fi
  t1=$(date +%s.%N)
  n1=$(ticks $(nginx_pids))
  read -r busy1 total1 < <(machine)
  s1=$(served)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  local busy
  busy=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN {printf "%.0f", 100 * b / t}')
  local line
  line=$(printf '%-9s %-6s %7s checks/s  (%s checks; nginx served %s; CPU: %s, nginx %s %%; machine busy %s %% of 2 cores)' \
    "$name" "$([ "$target" = "$keep" ] && echo keep || echo close)" "$rate" "$checks" "$((s1 - s0 - 1))" \
    "$pid_cpu" "$(pct $((n1 - n0)) "$secs")" "$busy")
  echo "$line"
  [ "$name" = blackbox ] || grep -E '^(checks|first failure|latency)' "$out" | sed 's/^/    /'
  summary+=("$line")
}

echo
echo "== HTTP checks, 16 concurrent, ${dur} s each"
for target in "$keep" "$close"; do
  for _ in $(seq "$rounds"); do
    run blackbox "$target"
    run leitstand "$target"
  done
done
kill "$bb" "$nginx_master" 2>/dev/null || true
wait "$bb" "$nginx_master" 2>/dev/null || true
started=()

echo
echo "== Idle probes"
for count in 10000 50000; do
  timeout 120 "$bench" idle-probes --count "$count" | sed 's/^/  /'
done

echo
echo "== Rules"
for series in 10000 100000; do
  timeout 300 "$bench" rules --series "$series" --duration 10s | sed 's/^/  /'
done

echo
echo "== Summary (HTTP checks)"
printf '%s\n' "${summary[@]}"
