-- wrk script for bench/bench_verify_concurrent.py: POST /v1/verify with the bodies of XACTHUC_BENCH_BODIES (one JSON
-- body a line) in turn, and one summary line for the bench to read.
local bodies = {}
for line in io.lines(os.getenv("XACTHUC_BENCH_BODIES")) do
  bodies[#bodies + 1] = line
end
local i = 0
local headers = { ["Content-Type"] = "application/json" }

request = function()
  i = i + 1
  return wrk.format("POST", "/v1/verify", headers, bodies[(i % #bodies) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "XACTHUC_WRK %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
