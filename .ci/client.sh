#!/usr/bin/env bash
# Runs the JS client tests in tests/client against real servers: the SelfCommunity REST client,
# the connection lifecycle through that client, the connectionEvents subscription through
# graphql-ws, the GraphQL-over-HTTP audit, Apollo Client with persisted queries, Apollo Client's
# relayStylePagination over User.friends, and the GraphiQL playground in headless Chromium.
#
# Four servers are started, each on its own fresh SQLite database on a free port; the first
# three hold the spec's example community (tests/fixtures/example-community.json):
# - BASE_URL: read-only tests; they assert the example data, so nothing may change it;
# - LIFECYCLE_BASE_URL: tests that change connections (node --test runs files in parallel, so
#   they must not share a server with the read-only ones). Files sharing it keep to disjoint
#   users: lifecycle.test.mjs acts on pairs among users 1, 2 and 7 only, subscription.test.mjs
#   on pairs among users 3, 4, 5 and 8 only;
# - LIVE_BASE_URL: the playground's subscription test (it removes alice and bruno's connection);
# - FRIENDS_BASE_URL: friends-pagination.test.mjs, on a community written below (the example is
#   too small to page through): user 1 (hub) has 45 connections, to users 2-46, made in pairs
#   at the same instant (so that pages also split ties, which the id orders); user 2 is also
#   connected to users 3-12 (mutual connections for a viewer); users 47-50 have no connection
#   (the test connects one of them to hub while it scrolls).
# Also exported: GATEWAY_BIN (the built binary) and JWT_SECRET (the servers' secret), so a test
# can mint a token with `"$GATEWAY_BIN" token --user N --ttl 1h`. The servers stop on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null 2>&1 || { echo "node is required for the client tests" >&2; exit 1; }

# The playground test drives Debian's Chromium (headless); playwright never downloads a browser.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing chromium for the playground test"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi

work=$(mktemp -d)
bin=${CARGO_TARGET_DIR:-target}/debug/community-gateway
[[ $bin == /* ]] || bin="$PWD/$bin"
cargo build --quiet --bin community-gateway
export GATEWAY_BIN="$bin"
export JWT_SECRET=client-test-secret-0123456789

server_pids=()
stop_servers() {
  local pid
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM # so that the EXIT trap runs on these too

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME [FILE]: imports FILE (default: the example community) into a fresh SQLite
# database ($work/NAME.db), starts a server for it on a free port and waits until /healthz
# answers. Sets server_url; the server's pid joins server_pids (stopped on exit). A port taken
# between the probe and the bind is retried with another one.
start_server() {
  local name=$1 file=${2:-tests/fixtures/example-community.json} port pid attempt
  local db="sqlite://$work/$1.db?mode=rwc"
  DATABASE_URL="$db" "$bin" import "$file"
  for attempt in 1 2 3; do
    port=$(free_port)
    DATABASE_URL="$db" "$bin" serve --bind "127.0.0.1:$port" --no-demo >"$work/$name.log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    for _ in $(seq 1 100); do
      if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then
        server_url="http://127.0.0.1:$port"
        echo "$name server on $server_url"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    echo "the $name server did not start (attempt $attempt):" >&2
    cat "$work/$name.log" >&2
  done
  return 1
}

start_server main
export BASE_URL="$server_url"
start_server lifecycle
export LIFECYCLE_BASE_URL="$server_url"
start_server live
export LIVE_BASE_URL="$server_url"

# The friends community (see the header), in the data-file format (docs/data-file.md).
python3 - "$work/friends-community.json" <<'PY'
import json, sys
def user(i):
    return {"id": i, "username": "hub" if i == 1 else f"friend{i:02d}", "real_name": "",
            "avatar": None, "ext_id": None, "followings_counter": 0, "followers_counter": 0,
            "posts_counter": 0, "discussions_counter": 0, "polls_counter": 0,
            "categories_counter": 0, "date_joined": "2023-01-01T00:00:00Z", "bio": "",
            "location": "", "location_lat_lng": None, "position_lat_lng": None,
            "date_of_birth": None, "description": "", "gender": "Unspecified", "website": "",
            "cover": None, "reputation": 0, "community_badge": False, "reg_approved": True,
            "deleted": False, "company_name": "", "company_role": "", "tags": []}
at = lambda hour: f"2024-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"
connections = [{"users": [1, i], "connected_at": at(i // 2)} for i in range(2, 47)]
connections += [{"users": [2, i], "connected_at": at(100 + i)} for i in range(3, 13)]
community = {"settings": {}, "tags": [], "users": [user(i) for i in range(1, 51)],
             "connections": connections, "connection_requests": [], "access_tokens": []}
with open(sys.argv[1], "w") as f:
    json.dump(community, f, indent=1)
PY
start_server friends "$work/friends-community.json"
export FRIENDS_BASE_URL="$server_url"

# CI keeps the committed screenshot as it is; run tests/client/run.sh by hand to refresh docs/.
export PLAYGROUND_SCREENSHOT="${PLAYGROUND_SCREENSHOT:-$work/playground.png}"
export PLAYGROUND_LIVE_SCREENSHOT="${PLAYGROUND_LIVE_SCREENSHOT:-$work/playground-subscription.png}"
tests/client/run.sh
