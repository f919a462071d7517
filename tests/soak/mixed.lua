-- Mixed REST / GraphQL load for tests/soak/run.sh (wrk).
--
-- Each request is drawn at random: 60% the REST route (random user, page size, offset, and for
-- a signed-in viewer sometimes `mutual`), 40% GraphQL (one user's connections, a `users(ids:)`
-- batch with nested pages, or `me`). Half the requests carry a JWT (a file of tokens, one per
-- line, named by SOAK_TOKENS). Every answer must be a 200 without GraphQL `errors`: the
-- `response` hook counts the rest, and `done` prints one `SOAK key=value ...` line.

local users = tonumber(os.getenv("SOAK_USERS") or "20000")
local threads = {}

function setup(thread)
    thread:set("thread_no", #threads + 1)
    table.insert(threads, thread)
end

local tokens = {}

function init(args)
    math.randomseed(os.time() * 1000 + thread_no)
    local f = assert(io.open(assert(os.getenv("SOAK_TOKENS")), "r"))
    for line in f:lines() do
        if #line > 0 then
            tokens[#tokens + 1] = line
        end
    end
    f:close()
    ok, gql_errors, s4xx, s5xx, other = 0, 0, 0, 0, 0
    rest, graphql = 0, 0
end

local limits = { 5, 10, 20, 20, 50, 100 }

local user_query = 'query Q($id: ID!, $limit: Int, $offset: Int) { user(id: $id) { id username '
    .. 'connections(limit: $limit, offset: $offset) { count next previous '
    .. 'results { id username connectionStatus dateJoined tags { id name } } } } }'
local batch_query = 'query B($ids: [ID!]!) { users(ids: $ids) { id username '
    .. 'connections(limit: 5) { count results { id username connectionStatus } } } }'
local me_query = '{ me { id username connections(limit: 10, mutual: false) { count '
    .. 'results { id connectionStatus tags { name } } } } }'

local function gql(query, variables)
    return string.format('{"query":"%s","variables":%s}', query, variables)
end

function request()
    local headers = {}
    local signed_in = math.random() < 0.5
    if signed_in then
        headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
    end
    local id = math.random(users)
    local limit = limits[math.random(#limits)]
    if math.random() < 0.6 then
        rest = rest + 1
        local path = string.format("/api/v2/user/%d/connections/?limit=%d&offset=%d", id, limit,
            limit * math.random(0, 2))
        if signed_in and math.random() < 0.3 then
            path = path .. "&mutual=" .. math.random(0, 1)
        end
        return wrk.format("GET", path, headers)
    end
    graphql = graphql + 1
    headers["Content-Type"] = "application/json"
    local r = math.random()
    local body
    if r < 0.6 then
        body = gql(user_query, string.format('{"id":"%d","limit":%d,"offset":%d}', id, limit,
            limit * math.random(0, 2)))
    elseif r < 0.85 or not signed_in then
        local ids = {}
        for i = 1, 10 do
            ids[i] = string.format('"%d"', math.random(users))
        end
        body = gql(batch_query, '{"ids":[' .. table.concat(ids, ",") .. ']}')
    else
        body = gql(me_query, "{}")
    end
    return wrk.format("POST", "/graphql", headers, body)
end

function response(status, headers, body)
    if status == 200 then
        if body:find('"errors":', 1, true) then
            gql_errors = gql_errors + 1
        else
            ok = ok + 1
        end
    elseif status >= 500 then
        s5xx = s5xx + 1
    elseif status >= 400 then
        s4xx = s4xx + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local totals = { ok = 0, gql_errors = 0, s4xx = 0, s5xx = 0, other = 0, rest = 0, graphql = 0 }
    for _, thread in ipairs(threads) do
        for key, _ in pairs(totals) do
            totals[key] = totals[key] + (tonumber(thread:get(key)) or 0)
        end
    end
    local e = summary.errors
    io.write(string.format(
        "SOAK requests=%d seconds=%.1f rps=%.1f ok=%d gql_errors=%d s4xx=%d s5xx=%d other=%d "
            .. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d status_errors=%d "
            .. "rest_sent=%d graphql_sent=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        totals.ok, totals.gql_errors, totals.s4xx, totals.s5xx, totals.other,
        e.connect, e.read, e.write, e.timeout, e.status,
        totals.rest, totals.graphql,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
end
