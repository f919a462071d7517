#!/usr/bin/env bash
# A/B of two server binaries on the same PostgreSQL database, in one run: R1 (REST page) and G1
# (the same page over GraphQL, every field) at one concurrency, rounds interleaved A, B, A, B...
# so the machine's noise falls on both. Prints req/s and p99 per round and the median ratios.
#
#   bench/compare.sh BINARY_A BINARY_B [DATABASE_URL]
#
# DATABASE_URL: a database holding a seeded community (default: a fresh one, seeded with
# `seed --users 100000 --avg-degree 40 --seed 1` by BINARY_A and dropped at the end).
# Settings: COMPARE_ROUNDS (5), COMPARE_SECONDS (10), COMPARE_CONNECTIONS (32).
set -euo pipefail
cd "$(dirname "$0")/.."

a=${1:?usage: bench/compare.sh BINARY_A BINARY_B [DATABASE_URL]}
b=${2:?usage: bench/compare.sh BINARY_A BINARY_B [DATABASE_URL]}
rounds=${COMPARE_ROUNDS:-5}
seconds=${COMPARE_SECONDS:-10}
connections=${COMPARE_CONNECTIONS:-32}
secret=compare-secret-0123456789
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n "${fresh:-}" ]]; then
    psql -q "${admin_url}" -c "DROP DATABASE IF EXISTS ${fresh} WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $# -ge 3 ]]; then
  url=$3
else
  admin_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  fresh=cg_compare_$$
  psql -q "$admin_url" -c "CREATE DATABASE ${fresh}" >/dev/null
  url=${admin_url%/*}/${fresh}
  echo "seeding 100k users / 2M connections into ${fresh}..."
  DATABASE_URL=$url JWT_SECRET=$secret "$a" seed --users 100000 --avg-degree 40 --seed 1 >/dev/null 2>&1
  psql -q "$url" -c "VACUUM ANALYZE" >/dev/null
fi

# T: the best-connected user; V: the user sharing most connections with T.
target=$(psql -At "$url" -c "SELECT user_id FROM connections GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT 1")
viewer=$(psql -At "$url" -c "SELECT v.user_id FROM connections c JOIN connections v ON v.friend_id = c.friend_id
  WHERE c.user_id = ${target} AND v.user_id <> ${target} GROUP BY v.user_id ORDER BY COUNT(*) DESC, v.user_id LIMIT 1")
token=$(DATABASE_URL=$url JWT_SECRET=$secret "$a" token --user "$viewer" --ttl 12h)
fields='id username realName avatar extId followingsCounter followersCounter postsCounter discussionsCounter pollsCounter connectionStatus categoriesCounter dateJoined bio location locationLatLng positionLatLng dateOfBirth description gender website cover tags { id name } reputation communityBadge regApproved deleted companyName companyRole'
printf 'GET\t/api/v2/user/%s/connections/\tBearer %s\t-\n' "$target" "$token" >"$work/R1"
printf 'POST\t/graphql\tBearer %s\t{"query":"{ user(id: \\"%s\\") { connections { count next previous results { %s } } } }"}\n' \
  "$token" "$target" "$fields" >"$work/G1"

start() { # binary, port
  DATABASE_URL=$url JWT_SECRET=$secret RUST_LOG=warn "$1" serve --no-demo --no-migrate --bind "127.0.0.1:$2" \
    >"$work/server-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "server $1 did not start" >&2; cat "$work/server-$2.log" >&2; exit 1
}
port_a=$((20000 + RANDOM % 10000)); port_b=$((port_a + 1))
start "$a" "$port_a"
start "$b" "$port_b"

run() { # port, scenario -> "rps p99_ms errors"
  BENCH_REQUESTS="$work/$2" BENCH_WRK_OUT="$work/out.json" \
    wrk -t2 -c"$connections" -d"${seconds}s" -s bench/lib/requests.lua "http://127.0.0.1:$1" >/dev/null
  python3 - "$work/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
errors = sum(r[k] for k in ("bad_status", "bad_graphql", "err_connect", "err_read", "err_timeout"))
rps = r["requests"] / (r["duration_us"] / 1e6)
print(f"{rps:.1f} {r['lat_p99_us'] / 1000:.1f} {errors}")
PY
}

echo "T=$target V=$viewer, c=$connections, ${seconds}s per run, $rounds rounds; A=$a B=$b"
for scenario in R1 G1; do run "$port_a" "$scenario" >/dev/null; run "$port_b" "$scenario" >/dev/null; done # warm-up
: >"$work/results"
for round in $(seq 1 "$rounds"); do
  for scenario in R1 G1; do
    for side in A B; do
      port=$port_a; [[ $side == B ]] && port=$port_b
      read -r rps p99 errors < <(run "$port" "$scenario")
      printf '%s %s %s %s %s %s\n' "$round" "$scenario" "$side" "$rps" "$p99" "$errors" | tee -a "$work/results"
    done
  done
done
python3 - "$work/results" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for scenario in ("R1", "G1"):
    ratios, a_rps, b_rps, a_p99, b_p99, errors = [], [], [], [], [], 0
    for r in sorted({row[0] for row in rows}):
        a = next(x for x in rows if x[0] == r and x[1] == scenario and x[2] == "A")
        b = next(x for x in rows if x[0] == r and x[1] == scenario and x[2] == "B")
        ratios.append(float(b[3]) / float(a[3]))
        a_rps.append(float(a[3])); b_rps.append(float(b[3]))
        a_p99.append(float(a[4])); b_p99.append(float(b[4]))
        errors += int(a[5]) + int(b[5])
    print(f"{scenario}: A {statistics.median(a_rps):.0f} req/s p99 {statistics.median(a_p99):.1f} ms | "
          f"B {statistics.median(b_rps):.0f} req/s p99 {statistics.median(b_p99):.1f} ms | "
          f"B/A median {statistics.median(ratios):.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratios)}) | errors {errors}")
EOF
