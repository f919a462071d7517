#!/usr/bin/env bash
# Readers during a re-import, on PostgreSQL: wrk drives R1 (a REST page, 16 connections) on a
# 100,000-user / 2,000,000-connection community while `import` replaces it with the same file.
# Prints wrk's summary for a window without import (baseline) and for a window holding the
# whole import, and how long the import and its swap took.
#
#   bench/import-under-load.sh [BINARY]     (default: target/release/community-gateway, built)
#
# Settings: PG (postgres://postgres@127.0.0.1:5432), CONNECTIONS (16), WORK (data file cache).
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-postgres://postgres@127.0.0.1:5432}
CONNECTIONS=${CONNECTIONS:-16}
WORK=${WORK:-${TMPDIR:-/tmp}/community-import-bench}
DB=cg_bench_under_load
SECRET=under-load-secret-0123456789
bin=${1:-}
if [[ -z "$bin" ]]; then
  cargo build --release --quiet --bin community-gateway
  bin=target/release/community-gateway
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
mkdir -p "$WORK"
url="$PG/$DB"
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
server=""
trap '[[ -n "$server" ]] && kill $server 2>/dev/null; psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

file="$WORK/community-100000u-40d-s1.json"
export DATABASE_URL=$url JWT_SECRET=$SECRET
"$bin" seed --users 100000 --avg-degree 40 --seed 1 >/dev/null 2>&1
[[ -s "$file" ]] || "$bin" export "$file" >/dev/null 2>&1
psql -q "$url" -c "VACUUM ANALYZE"
target=$(psql -At "$url" -c "SELECT user_id FROM connections GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT 1")
token=$("$bin" token --user 2 --ttl 1h)
port=$((30000 + RANDOM % 10000))
RUST_LOG=warn "$bin" serve --no-demo --bind "127.0.0.1:$port" >"$WORK/under-load-server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
page="http://127.0.0.1:$port/api/v2/user/$target/connections/"
wrk_run() { wrk -t2 -c"$CONNECTIONS" -d"$1s" --latency -H "Authorization: Bearer $token" "$page"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== baseline: R1 for 10 s, no import"
wrk_run 10 | grep -E "Latency|99%|Requests/sec|Non-2xx|Socket errors"
echo "== R1 for 40 s, with the import of the same file starting after 3 s"
wrk_run 40 >"$WORK/under-load-wrk.txt" &
wrk_pid=$!
sleep 3
started=$(date +%s.%N)
RUST_LOG=info "$bin" import "$file" 2>"$WORK/under-load-import.log" >/dev/null
finished=$(date +%s.%N)
wait $wrk_pid
grep -E "Latency|99%|Requests/sec|Non-2xx|Socket errors" "$WORK/under-load-wrk.txt"
echo "import: $(python3 -c "print(f'{$finished - $started:.1f} s')") (swap: $(grep -o 'swap=[^ ]*' "$WORK/under-load-import.log" | head -1))"
