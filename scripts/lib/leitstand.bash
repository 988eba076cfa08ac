# Shared by scripts/interop-go and scripts/bench-http (sourced, not run):
# start the binary at $LEITSTAND_BIN in a fresh temporary home, the way an
# operator would, with a write token for a `devops` service user.
#
#   leitstand_start        sets $bin, $work (the home, removed on exit),
#                          $url, $token and $server_pid; cds into $work;
#                          a second call replaces the first server and home
#   ingest N [TAG]         posts N events as one NDJSON batch, prints the
#                          last index
#   wait_checkpoint SIZE   waits until the published checkpoint covers SIZE
#   checkpoint_size        prints the published tree size
# Lines for its ./leitstand.toml can be given in the shell variable
# $leitstand_config (LEITSTAND_* environment variables are all unset).

leitstand_start() {
  bin=${bin:-$(realpath "${LEITSTAND_BIN:-target/debug/leitstand}")}
  local v
  for v in $(compgen -e | grep '^LEITSTAND' || true); do unset "$v"; done
  leitstand_stop
  [ -z "${work:-}" ] || rm -rf "$work"
  work=$(mktemp -d)
  trap 'leitstand_stop; rm -rf "$work"' EXIT
  cd "$work"
  printf '%s\n' "${leitstand_config:-}" > leitstand.toml
  "$bin" serve --listen 127.0.0.1:0 > serve.log 2>&1 &
  server_pid=$!
  local listen=""
  for _ in $(seq 100); do
    listen=$(sed -n 's/.*"message":"ready".*"listen":"\([^"]*\)".*/\1/p' serve.log)
    [ -n "$listen" ] && break
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  [ -n "$listen" ] || { cat serve.log >&2; echo "leitstand did not start" >&2; return 1; }
  url="http://$listen"
  # Management commands work on the installation serve made.
  "$bin" user add portal --role devops > /dev/null
  token=$("$bin" token create --user portal --scope write)
}

leitstand_stop() {
  [ -n "${server_pid:-}" ] || return 0
  kill "$server_pid" 2> /dev/null || true
  wait "$server_pid" 2> /dev/null || true
  server_pid=""
}

ingest() {
  local n=$1 tag=${2:-item}
  seq "$n" | awk -v tag="$tag" '{ printf "{\"actor\":\"anna.schmidt\",\"action\":\"order.create\",\"object\":\"%s:%d\",\"outcome\":\"success\",\"source_ip\":\"203.0.113.9\",\"details\":{\"amount\":\"%d.50\"}}\n", tag, $1, $1 }' |
    curl -fsS -H "authorization: Bearer $token" -H 'content-type: application/x-ndjson' \
      --data-binary @- "$url/api/v1/audit/events" |
    grep -o '"indexes":\[[0-9,]*\]' | grep -o '[0-9]*]' | tr -d ']'
}

checkpoint_size() { curl -fsS "$url/audit/log/checkpoint" | sed -n 2p; }

wait_checkpoint() {
  for _ in $(seq 100); do
    [ "$(checkpoint_size)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "no checkpoint covering $1 entries after 10 s" >&2
  return 1
}
