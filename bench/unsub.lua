-- wrk: every request unsubscribes a different address, so no dedup window flatters anyone.
-- BENCH_PER_THREAD (when set): the first thread to get that many answers creates the file BENCH_DONE,
-- and bench/load.py then ends the run with SIGINT, so CPU per request is measured over about the same
-- work for every contender. wrk has no request count of its own: wrk.thread:stop() leaves its main
-- thread asleep for the whole -d, and signalling from here (os.execute) races with system(), which
-- ignores SIGINT in wrk while its shell runs.
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local counter = 0
local answered = 0
local stopping = false
local done_file = os.getenv("BENCH_DONE")
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
    local marker = io.open(done_file, "w")
    if marker then marker:close() end
  end
end
