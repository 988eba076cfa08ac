#!/usr/bin/env bash
# Footprint of `leitstand serve` beside Prometheus Alertmanager (Debian's
# prometheus-alertmanager), the closest peer that runs on this machine:
# binary size, start-up time to a ready endpoint, idle RSS, and requests per
# second on the health endpoint with wrk on loopback.
#
#   bench/footprint.sh [path/to/leitstand]     (default: target/release/leitstand)
#
# Needs: curl, wrk, prometheus-alertmanager (apt-get install wrk prometheus-alertmanager).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/leitstand}"
runs="${RUNS:-20}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Milliseconds from exec to the first 200 from URL.
time_to_ready() {
  local url=$1; shift
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 &
  local pid=$!
  until curl -fs -o /dev/null "$url"; do sleep 0.002; done
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 )) "$pid"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

rps() { wrk -t2 -c64 -d10s "$1" | awk '/Requests\/sec/ {printf "%d", $2}'; }

measure() { # name ready_url health_url cmd...
  local name=$1 ready=$2 health=$3; shift 3
  local times=() t pid
  for _ in $(seq "$runs"); do
    rm -rf "$work/data"; mkdir -p "$work/data"
    read -r t pid < <(time_to_ready "$ready" "$@")
    times+=("$t")
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work/data"; mkdir -p "$work/data"
  read -r t pid < <(time_to_ready "$ready" "$@")
  sleep 3
  local rss; rss=$(rss_kib "$pid")
  local r; r=$(rps "$health")
  local rss_after; rss_after=$(rss_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%s\tstart_ms_median=%s\tidle_rss_kib=%s\thealth_rps=%s\trss_after_load_kib=%s\n' \
    "$name" "$(printf '%s\n' "${times[@]}" | median)" "$rss" "$r" "$rss_after"
}

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "leitstand binary: $(stat -c %s "$bin") bytes"
am=$(command -v prometheus-alertmanager)
echo "alertmanager binary: $(stat -c %s "$am") bytes ($($am --version 2>&1 | head -1))"

measure leitstand "http://127.0.0.1:18080/readyz" "http://127.0.0.1:18080/healthz" \
  env LEITSTAND__LOG__LEVEL=warn "$bin" serve --listen 127.0.0.1:18080 --data-dir "$work/data"
printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' > "$work/am.yml"
measure alertmanager "http://127.0.0.1:19093/-/ready" "http://127.0.0.1:19093/-/healthy" \
  "$am" --config.file "$work/am.yml" --storage.path "$work/data" --web.listen-address 127.0.0.1:19093 \
  --cluster.listen-address= --log.level=warn
