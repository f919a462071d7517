-- wrk script of the lifecycle benchmark (bench/lifecycle): request/accept pairs.
--
-- Run with one connection per thread (wrk -t N -c N): a thread's calls then go out one at a
-- time, so the thread knows which call each response answers, and a pair's accept is sent
-- only after its request was answered. wrk's Lua API has no per-connection state, so with
-- several connections per thread the two calls of a pair could not be ordered.
--
-- Thread t (1-based) reads the file BENCH_PAIRS.t: pairs, one a line, tab-separated: A <tab> B
-- <tab> A's JWT <tab> B's JWT (one file per thread: wrk runs init() of every thread one after
-- the other while the threads already started send, so init must be quick). It uses its lines
-- in order, each pair once: A requests B (POST /api/v2/user/B/connection/request/ with A's token), then B
-- accepts A (POST /api/v2/user/A/connection/accept/ with B's token).
--
-- Answers are checked: request must be 200 {"connection_status":"sent_connection_request"},
-- accept 200 {"connection_status":"connected"}; anything else counts as bad (and a failed
-- request skips that pair's accept). Each call's latency is timed from the moment wrk asks
-- for it to its response (clock_gettime through LuaJIT's ffi). done() writes one JSON object
-- to BENCH_WRK_OUT: totals, bad answers (with the first few bodies), per-call latencies (us).

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } lc_timespec;
  int clock_gettime(int clk_id, lc_timespec *tp);
]]
local ts = ffi.new("lc_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local pairs_a, pairs_b, tok_a, tok_b = {}, {}, {}, {}
local n = 0
local next_pair = 0
local phase = "request" -- what the next call is
local inflight = nil -- what the call awaiting its response is
local started = 0
local host

-- Results, read by done() through thread:get.
requests_ok = 0
accepts_ok = 0
bad = 0
bad_bodies = ""
exhausted = 0
lat_request = {}
lat_accept = {}

local function split(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  local path = os.getenv("BENCH_PAIRS") .. "." .. tid
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    if #line > 0 then
      local p = split(line)
      n = n + 1
      pairs_a[n], pairs_b[n], tok_a[n], tok_b[n] = p[1], p[2], p[3], p[4]
    end
  end
  f:close()
  host = wrk.host .. ":" .. wrk.port
end

local function post(path, token)
  return wrk.format("POST", path, { ["Host"] = host, ["Authorization"] = "Bearer " .. token,
    ["Content-Length"] = "0" })
end

function request()
  if phase == "request" then
    next_pair = next_pair + 1
    if next_pair > n then
      exhausted = 1
      wrk.thread:stop()
      next_pair = n
    end
    inflight = "request"
    started = now_us()
    return post("/api/v2/user/" .. pairs_b[next_pair] .. "/connection/request/", tok_a[next_pair])
  else
    inflight = "accept"
    started = now_us()
    return post("/api/v2/user/" .. pairs_a[next_pair] .. "/connection/accept/", tok_b[next_pair])
  end
end

local function note_bad(status, body)
  bad = bad + 1
  if bad <= 5 then
    bad_bodies = bad_bodies .. inflight .. " " .. pairs_a[next_pair] .. "/" .. pairs_b[next_pair] ..
      ": " .. status .. " " .. string.sub(body or "", 1, 200) .. " | "
  end
end

function response(status, headers, body)
  if exhausted == 1 then return end -- the thread is stopping: no pair was left for this call
  local us = now_us() - started
  if inflight == "request" then
    lat_request[#lat_request + 1] = us
    if status == 200 and body == '{"connection_status":"sent_connection_request"}' then
      requests_ok = requests_ok + 1
      phase = "accept"
    else
      note_bad(status, body)
      phase = "request"
    end
  elseif inflight == "accept" then
    lat_accept[#lat_accept + 1] = us
    if status == 200 and body == '{"connection_status":"connected"}' then
      accepts_ok = accepts_ok + 1
    else
      note_bad(status, body)
    end
    phase = "request"
  end
  inflight = nil
end

local function join(values)
  local parts = {}
  for i, v in ipairs(values) do
    parts[i] = string.format("%d", math.floor(v))
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

function done(summary, latency, requests)
  local rq, ac, b, ex, bodies = 0, 0, 0, 0, ""
  local lr, la = {}, {}
  for _, t in ipairs(threads) do
    rq = rq + (t:get("requests_ok") or 0)
    ac = ac + (t:get("accepts_ok") or 0)
    b = b + (t:get("bad") or 0)
    ex = ex + (t:get("exhausted") or 0)
    bodies = bodies .. (t:get("bad_bodies") or "")
    for _, v in ipairs(t:get("lat_request") or {}) do lr[#lr + 1] = v end
    for _, v in ipairs(t:get("lat_accept") or {}) do la[#la + 1] = v end
  end
  local e = summary.errors
  local out = string.format(
    '{"calls": %d, "duration_us": %d, "requests_ok": %d, "accepts_ok": %d, "bad": %d, ' ..
    '"exhausted_threads": %d, "err_connect": %d, "err_read": %d, "err_write": %d, ' ..
    '"err_status": %d, "err_timeout": %d, "bad_bodies": "%s", "lat_request_us": %s, ' ..
    '"lat_accept_us": %s}\n',
    summary.requests, summary.duration, rq, ac, b, ex, e.connect, e.read, e.write, e.status,
    e.timeout, bodies:gsub('\\', '\\\\'):gsub('"', '\\"'), join(lr), join(la))
  local f = assert(io.open(os.getenv("BENCH_WRK_OUT"), "w"))
  f:write(out)
  f:close()
end
