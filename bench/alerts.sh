#!/usr/bin/env bash
# Alerting benchmark (docs/benchmarks.md, "Alerting"): Leitstand and
# Debian's Prometheus Alertmanager 0.25 in the same run, each fresh, each
# driven by `leitstand-bench alerts` over `POST /api/v2/alerts` and
# notifying the bench's webhook receiver (one notification per alert:
# group_by ["..."], group_wait 0s):
#
# 1. ingest: ALERTS distinct alerts, 8 clients × 100 per request; the
#    server's RSS at 10 k and at ALERTS active alerts once notified;
# 2. latency: single new alerts one at a time, 200/s for 10 s, from the
#    sent time to the webhook; every notification counted.
#
#   bench/alerts.sh [path/to/leitstand]      (default: target/release/leitstand, built here)
#
# Environment: ALERTS (default 100000), CLIENTS (8), PER_REQUEST (100),
# RATE (200), LATENCY (10s); ONLY=leitstand skips Alertmanager (for profiling,
# not for figures: those come from one run of both); KEEP_LOG=FILE keeps
# Leitstand's server log. Loopback only; everything started is stopped
# on exit. Needs: prometheus-alertmanager, curl, sqlite3
# (apt-get install prometheus-alertmanager curl sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${1:-}" ]; then
  cargo build --release --locked -p leitstand -p leitstand-bench
fi
bin="${1:-target/release/leitstand}"
bench="${BENCH_BIN:-$(dirname "$bin")/leitstand-bench}"
alerts="${ALERTS:-100000}"
clients="${CLIENTS:-8}"
per_request="${PER_REQUEST:-100}"
rate="${RATE:-200}"
latency="${LATENCY:-10s}"
am=/usr/bin/prometheus-alertmanager
ls_port=18090
am_port=19093
hook_port=19095
hook="http://127.0.0.1:$hook_port/hook"

# shellcheck source=bench/lib.sh
. bench/lib.sh

wait_ready() { # url pid log
  for _ in $(seq 300); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited:" >&2; tail -20 "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "not ready: $1" >&2; tail -20 "$3" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; started=(); }
bench() { # pid target [token]
  local pid=$1 target=$2
  LEITSTAND_BENCH_TOKEN="${3:-}" timeout 900 "$bench" alerts --target "$target" --pid "$pid" \
    --alerts "$alerts" --clients "$clients" --per-request "$per_request" --rate "$rate" \
    --latency-duration "$latency" --receiver-port "$hook_port"
}
hz=$(getconf CLK_TCK)
cpu_s() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$hz" '{printf "%.1f", ($12 + $13) / hz}'; }
# CPU seconds per thread name of a process (threads still alive), largest first.
threads() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s\t%s\n' "$(cat "$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done | awk -F'\t' -v hz="$hz" '{s[$1] += $2; n[$1]++} END {for (k in s) printf "%.1f s %s (%d)\n", s[k] / hz, k, n[k]}' |
    sort -rn | head -8 | paste -sd';' | sed 's/;/; /g'
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "peers: $($am --version 2>&1 | head -1); leitstand $("$bin" --version | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ', uncommitted changes'))"

# Leitstand: SQLite in a fresh data directory, one webhook channel for every audience.
mkdir -p "$work/leitstand"
cat >"$work/leitstand.toml" <<EOF
[server]
listen = "127.0.0.1:$ls_port"
data_dir = "$work/leitstand"

[log]
level = "warn"

[alerting]
group_wait = "0s"
group_by = ["..."]

[[alerting.channels]]
id = "bench-hook"
kind = "webhook"
url = "$hook"

[alerting.audiences.devops]
channels = ["bench-hook"]
[alerting.audiences.on_call]
channels = ["bench-hook"]
[alerting.audiences.development]
channels = ["bench-hook"]
[alerting.audiences.management]
channels = ["bench-hook"]
EOF
LEITSTAND_ADMIN_PASSWORD="bench-pw-$RANDOM-$RANDOM-$RANDOM" "$bin" --config "$work/leitstand.toml" serve \
  >"$work/leitstand.log" 2>&1 &
ls_pid=$!
started+=("$ls_pid")
wait_ready "http://127.0.0.1:$ls_port/readyz" "$ls_pid" "$work/leitstand.log"
token=$("$bin" --config "$work/leitstand.toml" token create --user admin --scope ingest --name bench)

echo
echo "== Leitstand (pid $ls_pid)"
bench "$ls_pid" "http://127.0.0.1:$ls_port" "$token" | tee "$work/leitstand.out"
db="$work/leitstand/leitstand.db"
echo "  stored: $(sqlite3 "$db" "SELECT count(*) FROM alerts WHERE status = 'firing'") firing alerts," \
  "$(sqlite3 "$db" "SELECT count(*) FROM notifications") notifications" \
  "($(sqlite3 "$db" "SELECT status || ' ' || count(*) FROM notifications GROUP BY status" | paste -sd, -))," \
  "$(sqlite3 "$db" "SELECT count(*) FROM notification_attempts") delivery attempts;" \
  "$(sqlite3 "$db" "SELECT count(*) FROM audit_log_events") audit events;" \
  "data directory $(du -sh "$work/leitstand" | cut -f1); CPU time of the process $(cpu_s "$ls_pid") s"
echo "  CPU per thread: $(threads "$ls_pid")"
echo "  log lines at warn and above: $(wc -l <"$work/leitstand.log")"
jq -rR 'fromjson? | "\(.level) \(.message) \(.summary // "")"' "$work/leitstand.log" | sort | uniq -c | sort -rn |
  head -5 | sed 's/^/    /' || true
stop "$ls_pid"; [ -n "${KEEP_LOG:-}" ] && cp "$work/leitstand.log" "$KEEP_LOG"

[ "${ONLY:-}" = leitstand ] && exit 0

# Alertmanager: in memory (snapshots every 15 min), one webhook receiver.
cat >"$work/am.yml" <<EOF
route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: $hook
        send_resolved: false
EOF
"$am" --config.file="$work/am.yml" --storage.path="$work/am" --web.listen-address="127.0.0.1:$am_port" \
  --cluster.listen-address= --log.level=warn >"$work/am.log" 2>&1 &
am_pid=$!
started+=("$am_pid")
wait_ready "http://127.0.0.1:$am_port/-/ready" "$am_pid" "$work/am.log"

echo
echo "== Alertmanager (pid $am_pid)"
bench "$am_pid" "http://127.0.0.1:$am_port" | tee "$work/am.out"
echo "  held: $(curl -fs "http://127.0.0.1:$am_port/api/v2/alerts?silenced=false&inhibited=false" | jq length) active alerts;" \
  "CPU time of the process $(cpu_s "$am_pid") s"
echo "  CPU per thread: $(threads "$am_pid")"
echo "  log lines at warn and above: $(wc -l <"$work/am.log")"
grep -v '^$' "$work/am.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /' || true
stop "$am_pid"

echo
echo "== Summary"
echo "| measure | Leitstand | Alertmanager 0.25 |"
echo "|---|---|---|"
paste -d'\t' <(grep '^| ' "$work/leitstand.out" | tail -n +2) <(grep '^| ' "$work/am.out" | tail -n +2) |
  awk -F'\t' '{ split($2, b, " [|] "); print $1 " " b[2] }'
