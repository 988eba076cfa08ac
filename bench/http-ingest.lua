-- wrk script for scripts/bench-http: posts NDJSON batches of $BATCH audit
-- events (200 bytes each) to /api/v1/audit/events with the API token in
-- $TOKEN, and prints one line the script parses: requests, non-2xx
-- responses, socket errors, seconds, and latency p50/p99/max in ms.
--
--   BATCH=100 TOKEN=lst_... wrk -t2 -c16 -d10s -s bench/http-ingest.lua http://127.0.0.1:PORT

local batch = tonumber(os.getenv("BATCH") or "1")

-- One event of exactly 200 bytes (with its newline); the object varies.
local function event(i)
  local e = string.format('{"actor":"anna.schmidt","action":"order.create","object":"order:%07d",'
    .. '"outcome":"success","source_ip":"203.0.113.9","details":{"amount":"12.50","note":"', i)
  local tail = '"}}\n'
  return e .. string.rep("x", 200 - #e - #tail) .. tail
end

local events = {}
for i = 1, batch do events[i] = event(i) end

wrk.method = "POST"
wrk.path = "/api/v1/audit/events"
wrk.body = table.concat(events)
wrk.headers["authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["content-type"] = "application/x-ndjson"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d non2xx=%d socket_errors=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
