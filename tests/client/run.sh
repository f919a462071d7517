#!/usr/bin/env bash
# End-to-end client tests against a running server (every *.test.mjs here):
# - connections.test.mjs: GET /api/v2/user/{id}/connections/ through the official
#   @selfcommunity/api-services package;
# - graphql-audit.test.mjs: the graphql-http GraphQL-over-HTTP audit of /graphql;
# - graphql-client.test.mjs: Apollo Client with automatic persisted queries;
# - playground.test.mjs: the GraphiQL playground in headless Chromium (/usr/bin/chromium,
#   or CHROMIUM_PATH), offline; writes docs/playground.png.
# Expects BASE_URL (e.g. http://127.0.0.1:8080) to point at a running server
# loaded with tests/fixtures/example-community.json.
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
