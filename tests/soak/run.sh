#!/usr/bin/env bash
# Soak test: sustained mixed REST / GraphQL load on a release server, checking for errors and
# for memory growth.
#
#   tests/soak/run.sh              # 60 s of load; prints the figures
#   tests/soak/run.sh --record     # the same, and writes them to tests/soak/RESULTS.md
#
# Builds the release binary, seeds a fresh SQLite database
# (`seed --users 20000 --avg-degree 20 --seed 3`), starts the server on a free loopback port,
# then runs wrk with tests/soak/mixed.lua (256 connections) for SOAK_SECONDS while sampling the
# server's RSS (VmRSS in /proc/PID/status) every 2 s. Passes when every response was a 200
# without GraphQL errors (no 4xx, no 5xx, no socket error or timeout), the server logged no panic
# or internal error, and RSS is stable after warm-up: the largest sample of the last third is at
# most SOAK_RSS_TOLERANCE (1.15) times the largest of the first third.
#
# Environment: SOAK_SECONDS (60), SOAK_CONNECTIONS (256), SOAK_THREADS (the number of cores),
# SOAK_USERS (20000), SOAK_AVG_DEGREE (20), SOAK_RSS_TOLERANCE (1.15).
# Only 127.0.0.1 traffic; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

RECORD=0
if [ "${1:-}" = "--record" ]; then RECORD=1; fi
SECONDS_OF_LOAD="${SOAK_SECONDS:-60}"
CONNECTIONS="${SOAK_CONNECTIONS:-256}"
THREADS="${SOAK_THREADS:-$(nproc)}"
USERS="${SOAK_USERS:-20000}"
AVG_DEGREE="${SOAK_AVG_DEGREE:-20}"
TOLERANCE="${SOAK_RSS_TOLERANCE:-1.15}"
SECRET="soak-secret-0123456789abcdef"
OUT="$ROOT/target/soak"

step() { printf '\n== %s\n' "$*"; }

if ! command -v wrk >/dev/null 2>&1; then
    step "installing wrk (Debian package)"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is missing: apt-get install wrk" >&2
        exit 1
    fi
fi

step "build (release)"
cargo build --release --quiet --bin community-gateway
BIN="$ROOT/target/release/community-gateway"

WORK=$(mktemp -d)
SERVER_PID=""
SAMPLER_PID=""
stop() {
    local pid=$1
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
cleanup() {
    stop "$SAMPLER_PID"
    stop "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"

step "seed a fresh SQLite database ($USERS users, average degree $AVG_DEGREE)"
export DATABASE_URL="sqlite://$WORK/soak.db?mode=rwc"
export JWT_SECRET="$SECRET"
SEED_START=$(date +%s.%N)
"$BIN" seed --users "$USERS" --avg-degree "$AVG_DEGREE" --seed 3 >"$WORK/seed.log" 2>&1
SEED_SECONDS=$(echo "$(date +%s.%N) - $SEED_START" | bc)
tail -n 1 "$WORK/seed.log"
printf 'seeded in %.1f s\n' "$SEED_SECONDS"

step "start the server"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
RUST_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" --no-demo >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null
echo "serving on $BASE (pid $SERVER_PID)"

# 64 viewers with JWTs, spread over the ids.
for i in $(seq 1 64); do
    "$BIN" token --user $(((i * 7919) % USERS + 1)) --ttl 2h
done >"$WORK/tokens.txt"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
IDLE_RSS=$(rss_kb)

step "load: ${SECONDS_OF_LOAD}s, $CONNECTIONS connections, $THREADS wrk threads"
(
    start=$(date +%s)
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        echo "$(($(date +%s) - start)) $(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")"
        sleep 2
    done
) >"$OUT/rss.txt" &
SAMPLER_PID=$!
SOAK_TOKENS="$WORK/tokens.txt" SOAK_USERS="$USERS" \
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_OF_LOAD}s" --timeout 10s --latency \
    -s "$ROOT/tests/soak/mixed.lua" "$BASE" | tee "$OUT/wrk.txt"
stop "$SAMPLER_PID"
SAMPLER_PID=""
sleep 2
AFTER_RSS=$(rss_kb)

step "checks"
FAILED=0
SOAK_LINE=$(grep '^SOAK ' "$OUT/wrk.txt" || true)
if [ -z "$SOAK_LINE" ]; then
    echo "FAIL: wrk printed no summary" >&2
    exit 1
fi
field() { echo "$SOAK_LINE" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
for key in gql_errors s4xx s5xx other connect_errors read_errors write_errors timeouts status_errors; do
    if [ "$(field "$key")" != 0 ]; then
        echo "FAIL: $key = $(field "$key")"
        FAILED=1
    fi
done
if [ "$(field ok)" = 0 ]; then
    echo "FAIL: no successful response"
    FAILED=1
fi
if grep -E "panicked|request failed" "$WORK/server.log" >/dev/null; then
    echo "FAIL: the server logged errors:"
    grep -E "panicked|request failed" "$WORK/server.log" | head -5
    FAILED=1
fi
kill -0 "$SERVER_PID" 2>/dev/null || { echo "FAIL: the server died"; FAILED=1; }

# RSS: thirds of the samples taken under load.
read -r N FIRST_MAX LAST_MAX MIN_RSS MAX_RSS < <(awk '{ v[NR] = $2 } END {
    n = NR; t = int(n / 3); if (t < 1) t = 1
    fm = 0; for (i = 1; i <= t; i++) if (v[i] > fm) fm = v[i]
    lm = 0; for (i = n - t + 1; i <= n; i++) if (v[i] > lm) lm = v[i]
    mn = v[1]; mx = 0; for (i = 1; i <= n; i++) { if (v[i] < mn) mn = v[i]; if (v[i] > mx) mx = v[i] }
    print n, fm, lm, mn, mx }' "$OUT/rss.txt")
RATIO=$(echo "scale=3; $LAST_MAX / $FIRST_MAX" | bc)
echo "RSS samples: $N (every 2 s); idle before load ${IDLE_RSS} KiB; under load min ${MIN_RSS} / max ${MAX_RSS} KiB"
echo "RSS first-third max ${FIRST_MAX} KiB, last-third max ${LAST_MAX} KiB, ratio $RATIO (limit $TOLERANCE); 2 s after load ${AFTER_RSS} KiB"
if [ "$N" -lt 3 ]; then
    echo "FAIL: too few RSS samples ($N)"
    FAILED=1
elif [ "$(echo "$LAST_MAX <= $FIRST_MAX * $TOLERANCE" | bc)" != 1 ]; then
    echo "FAIL: RSS grew: last-third max $LAST_MAX KiB > $TOLERANCE x first-third max $FIRST_MAX KiB"
    FAILED=1
fi
echo "$SOAK_LINE"

VERDICT=PASS
[ "$FAILED" = 0 ] || VERDICT=FAIL
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
{
    echo "# Soak results"
    echo
    echo "Produced by \`tests/soak/run.sh --record\` (SOAK_SECONDS=$SECONDS_OF_LOAD)."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u +%Y-%m-%dT%H:%M:%SZ) |"
    echo "| machine | $(nproc) cores ($CPU), $MEM RAM, Linux $(uname -r) |"
    echo "| build | \`cargo build --release\`, $(rustc --version) |"
    echo "| community | \`seed --users $USERS --avg-degree $AVG_DEGREE --seed 3\` on SQLite (seeded in $(printf '%.1f' "$SEED_SECONDS") s) |"
    echo "| server | \`serve --no-demo\`, defaults (pool 16), \`RUST_LOG=warn\` |"
    echo "| load | \`wrk -t $THREADS -c $CONNECTIONS -d ${SECONDS_OF_LOAD}s --timeout 10s -s tests/soak/mixed.lua\` ($(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)), same machine |"
    echo "| mix | $(field rest_sent) REST / $(field graphql_sent) GraphQL requests sent; half with a JWT |"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| requests completed | $(field requests) in $(field seconds) s: **$(field rps) req/s** |"
    echo "| 200 without errors | $(field ok) |"
    echo "| GraphQL errors / 4xx / 5xx / other | $(field gql_errors) / $(field s4xx) / $(field s5xx) / $(field other) |"
    echo "| socket errors (connect/read/write) / timeouts | $(field connect_errors)/$(field read_errors)/$(field write_errors) / $(field timeouts) |"
    echo "| latency p50 / p90 / p99 / max | $(field p50_ms) / $(field p90_ms) / $(field p99_ms) / $(field max_ms) ms |"
    echo "| RSS idle before load | $((IDLE_RSS / 1024)) MiB |"
    echo "| RSS under load min / max | $((MIN_RSS / 1024)) / $((MAX_RSS / 1024)) MiB ($N samples, every 2 s) |"
    echo "| RSS first-third max / last-third max | $((FIRST_MAX / 1024)) / $((LAST_MAX / 1024)) MiB, ratio $RATIO (limit $TOLERANCE) |"
    echo "| RSS 2 s after load | $((AFTER_RSS / 1024)) MiB |"
    echo "| verdict | **$VERDICT** |"
    echo
    echo "RSS samples (seconds since load start, KiB):"
    echo
    echo '```'
    tr '\n' ';' <"$OUT/rss.txt" | sed 's/;$/\n/; s/;/  /g'
    echo '```'
} >"$OUT/RESULTS.md"
if [ "$RECORD" = 1 ]; then
    cp "$OUT/RESULTS.md" "$ROOT/tests/soak/RESULTS.md"
    echo "wrote tests/soak/RESULTS.md"
else
    echo "figures in target/soak/RESULTS.md (--record writes tests/soak/RESULTS.md)"
fi

echo
if [ "$FAILED" != 0 ]; then
    echo "soak: FAILED"
    exit 1
fi
echo "soak: passed"
