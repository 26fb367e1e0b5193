-- wrk script for bench/api_bench.sh: POSTs the pre-signed form bodies of the
-- file named by $BODIES, each once, in order; when they run out the thread
-- stops (a replayed nonce would be refused and measure the wrong thing).
-- done() prints one JSON line with the rate and the latency percentiles.
-- Run with one thread (-t1): the bodies are not split between threads.

local bodies = {}
local next_body = 1
local exhausted = false

function init(args)
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
end

function request()
  if next_body > #bodies then
    exhausted = true
    wrk.thread:stop()
    return wrk.format("GET", "/")
  end
  local body = bodies[next_body]
  next_body = next_body + 1
  return wrk.format("POST", "/", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"failed":%d,"non2xx":%d,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    summary.requests, secs, summary.requests / secs, failed, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
