#!/usr/bin/env bash
# Starts a server on a fresh SQLite database holding the spec's example community and runs the
# JS client tests in tests/client against it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null 2>&1 || { echo "node is required for the client tests" >&2; exit 1; }

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
bin=target/debug/community-gateway
cargo build --quiet --bin community-gateway
export DATABASE_URL="sqlite://$work/client.db?mode=rwc"
"$bin" import tests/fixtures/example-community.json
JWT_SECRET=client-test-secret-0123456789 "$bin" serve --bind "127.0.0.1:$port" --no-demo >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
BASE_URL="http://127.0.0.1:$port" tests/client/run.sh
