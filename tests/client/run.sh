#!/usr/bin/env bash
# End-to-end client tests against running servers (every *.test.mjs here):
# - connections.test.mjs: GET /api/v2/user/{id}/connections/ through the official
#   @selfcommunity/api-services package;
# - lifecycle.test.mjs: the connection lifecycle routes (request, accept, reject, cancel_reject,
#   cancel_request, remove, mark_seen, is_connection, connection_status, the two request lists,
#   statuses) through the same package, acting on pairs among users 1, 2 and 7 only;
# - graphql-audit.test.mjs: the graphql-http GraphQL-over-HTTP audit of /graphql;
# - subscription.test.mjs: the connectionEvents subscription over WebSocket through the
#   graphql-ws library (every event kind, credentials, 4403, 4401), acting on pairs among
#   users 3, 4, 5 and 8 only;
# - graphql-client.test.mjs: Apollo Client with automatic persisted queries;
# - friends-pagination.test.mjs: Apollo Client's relayStylePagination cache scrolling
#   User.friends with fetchMore (forward, backward, across a connection made mid-scroll), on
#   FRIENDS_BASE_URL, a server of its own loaded with the friends community .ci/client.sh
#   writes; without it those tests are skipped;
# - playground.test.mjs: the GraphiQL playground in headless Chromium (/usr/bin/chromium,
#   or CHROMIUM_PATH), offline: a query, then a mutation that changes nothing (a retry);
#   writes docs/playground.png; and, on LIVE_BASE_URL (a server of its own), the
#   connectionEvents subscription in the playground; writes docs/playground-subscription.png.
# Expects BASE_URL (e.g. http://127.0.0.1:8080) to point at a running server
# loaded with tests/fixtures/example-community.json; the tests there only read.
# Tests that change data use a second server, LIFECYCLE_BASE_URL, loaded with the same file
# (node --test runs the files in parallel). They mint tokens with "$GATEWAY_BIN" token, so
# GATEWAY_BIN (the community-gateway binary) and JWT_SECRET (that server's secret) are needed
# too. Without LIFECYCLE_BASE_URL those tests are skipped, with a message saying so; they never
# fall back to BASE_URL, whose data the other tests assert. .ci/client.sh sets all of this up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

: "${BASE_URL:?BASE_URL must point at a running server, e.g. BASE_URL=http://127.0.0.1:8080}"
export BASE_URL

# (Re)install when node_modules is missing or was installed from another lockfile.
stamp=node_modules/.package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --include=dev --no-audit --no-fund
  echo "$want" > "$stamp"
fi

exec node --test ./*.test.mjs
