-- report.lua: wrk done() hook shared by every scenario of bench/run.sh; prints one
-- machine-readable "BENCH ..." line (requests/s, p99, error counts) that run.sh parses.
-- It defines no request()/response(), so loading it alone keeps wrk on its static fast path.

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    local sock = e.connect + e.read + e.write + e.timeout
    -- wrk counts a response as a status error when its HTTP status is above 399.
    io.write(string.format(
        "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
        "status_errors=%d socket_errors=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.status, sock, e.connect, e.read, e.write, e.timeout))
end
