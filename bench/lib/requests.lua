-- wrk script of the serving benchmark (bench/run).
--
-- BENCH_REQUESTS names a file of requests, one a line, tab-separated:
--   METHOD <tab> PATH <tab> AUTHORIZATION or - <tab> BODY or -
-- Each request picks one line at random (a one-line file repeats the same request).
-- Responses are checked: a status outside 2xx counts as bad, and so does a 200 whose body
-- carries a GraphQL "errors" entry (for POST /graphql). done() writes one JSON object to
-- BENCH_WRK_OUT with the totals and the latency percentiles (microseconds).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
bad_status = 0
bad_graphql = 0
ok = 0
local check_body = false

local function split(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  local path = os.getenv("BENCH_REQUESTS")
  local f = assert(io.open(path, "r"), "cannot open BENCH_REQUESTS=" .. tostring(path))
  for line in f:lines() do
    if #line > 0 then
      local p = split(line)
      local headers = { ["Host"] = wrk.host .. ":" .. wrk.port }
      if p[3] ~= "-" then headers["Authorization"] = p[3] end
      local body = nil
      if p[4] ~= nil and p[4] ~= "-" then
        body = p[4]
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        check_body = true
      end
      n = n + 1
      reqs[n] = wrk.format(p[1], p[2], headers, body)
    end
  end
  f:close()
  assert(n > 0, "no requests in " .. path)
  math.randomseed(1000 + (id or 0))
end

function request()
  if n == 1 then return reqs[1] end
  return reqs[math.random(n)]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
  elseif check_body and body ~= nil and body:find('"errors"', 1, true) then
    bad_graphql = bad_graphql + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local bs, bg, okc = 0, 0, 0
  for _, t in ipairs(threads) do
    bs = bs + (t:get("bad_status") or 0)
    bg = bg + (t:get("bad_graphql") or 0)
    okc = okc + (t:get("ok") or 0)
  end
  local e = summary.errors
  local out = string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "ok": %d, "bad_status": %d, ' ..
    '"bad_graphql": %d, "err_connect": %d, "err_read": %d, "err_write": %d, ' ..
    '"err_status": %d, "err_timeout": %d, "lat_mean_us": %.1f, "lat_p50_us": %d, ' ..
    '"lat_p90_us": %d, "lat_p99_us": %d, "lat_max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, okc, bs, bg,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max)
  local path = os.getenv("BENCH_WRK_OUT")
  if path then
    local f = assert(io.open(path, "w"))
    f:write(out)
    f:close()
  else
    io.write(out)
  end
end
