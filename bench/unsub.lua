-- wrk: every request unsubscribes a different address, so no dedup window flatters anyone.
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local counter = 0
local prefix = os.getenv("BENCH_PREFIX") or "r"
request = function()
  counter = counter + 1
  local body = "email=" .. prefix .. "-" .. tid .. "-" .. counter .. "%40example.com"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
