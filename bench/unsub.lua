-- wrk: every request unsubscribes a different address, so no dedup window flatters anyone.
-- BENCH_PER_THREAD (when set): the first thread to get that many answers ends the run, so CPU per request
-- is measured over about the same work for every contender. wrk has no request count of its own, and
-- wrk.thread:stop() would leave its main thread asleep for the whole -d; SIGINT ends the run (and its
-- clock) within wrk's 100 ms stop check. The shell's parent ($PPID) is wrk.
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local counter = 0
local answered = 0
local stopping = false
local prefix = os.getenv("BENCH_PREFIX") or "r"
local limit = tonumber(os.getenv("BENCH_PER_THREAD") or "0")
request = function()
  counter = counter + 1
  local body = "email=" .. prefix .. "-" .. tid .. "-" .. counter .. "%40example.com"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
response = function(status, headers, body)
  answered = answered + 1
  if limit > 0 and answered >= limit and not stopping then
    stopping = true
    -- In the background and a little later: system() ignores SIGINT in wrk until the shell has returned.
    os.execute("(sleep 0.02; kill -INT $PPID) >/dev/null 2>&1 &")
  end
end
