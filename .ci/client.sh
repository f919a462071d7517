#!/usr/bin/env bash
# Starts a server on a fresh SQLite database holding the spec's example community and runs the
# JS client tests in tests/client against it: the SelfCommunity REST client, the GraphQL-over-HTTP
# audit, Apollo Client with persisted queries, and the GraphiQL playground in headless Chromium.
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
port=$((20000 + RANDOM % 20000))
bin=${CARGO_TARGET_DIR:-target}/debug/community-gateway
cargo build --quiet --bin community-gateway
export DATABASE_URL="sqlite://$work/client.db?mode=rwc"
"$bin" import tests/fixtures/example-community.json
JWT_SECRET=client-test-secret-0123456789 "$bin" serve --bind "127.0.0.1:$port" --no-demo >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
up=""
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then up=1; break; fi
  sleep 0.2
done
if [[ -z "$up" ]]; then
  echo "the server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
# CI keeps the committed screenshot as it is; run tests/client/run.sh by hand to refresh docs/.
export PLAYGROUND_SCREENSHOT="${PLAYGROUND_SCREENSHOT:-$work/playground.png}"
BASE_URL="http://127.0.0.1:$port" tests/client/run.sh
