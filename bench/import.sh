#!/usr/bin/env bash
# Times `community-gateway import` of a 100,000-user community with 2,000,000 connections
# (4,000,000 directed rows) into a fresh PostgreSQL database (issue 2: target < 30 s).
#
#   bench/import.sh                      # 3 runs into fresh databases, then 1 replacing run
#   PG=postgres://user@host:5432 RUNS=5 bench/import.sh
#
# Needs psql and a PostgreSQL server where the user may create databases. The data file is
# made once by `seed` (deterministic: same seed, same file) + `export`, and kept in $WORK.
set -euo pipefail
shopt -s inherit_errexit

PG=${PG:-postgres://postgres@127.0.0.1:5432}
USERS=${USERS:-100000}
AVG_DEGREE=${AVG_DEGREE:-40}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
WORK=${WORK:-${TMPDIR:-/tmp}/community-import-bench}
FILE="$WORK/community-${USERS}u-${AVG_DEGREE}d-s${SEED}.json"
SEED_DB=cg_bench_seed
BENCH_DB=cg_bench_import

cd "$(dirname "$0")/.."
mkdir -p "$WORK"

echo "== machine"
echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:  $(nproc)"
free -g | sed 's/^/free:   /'
echo "rustc:  $(rustc -V)"
echo "psql:   $(psql --version)"
echo "server: $(psql "$PG/postgres" -Atc 'SHOW server_version')"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews the times)"

echo "== build"
cargo build --release --quiet
BIN=target/release/community-gateway

recreate() {
    psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
}

if [[ ! -s "$FILE" ]]; then
    echo "== generate $FILE"
    recreate "$SEED_DB"
    DATABASE_URL="$PG/$SEED_DB" "$BIN" seed --users "$USERS" --avg-degree "$AVG_DEGREE" --seed "$SEED"
    DATABASE_URL="$PG/$SEED_DB" "$BIN" export "$FILE"
    psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $SEED_DB WITH (FORCE)"
fi
ls -l "$FILE"

# Wall-clock seconds of one `import` (the whole process: read, parse, validate, load, commit).
timed_import() {
    local start end
    start=$(date +%s%N)
    DATABASE_URL="$PG/$BENCH_DB" "$BIN" import "$FILE"
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.2f\n", ns / 1e9 }'
}

echo "== import into a fresh, migrated database ($RUNS runs)"
times=()
for run in $(seq "$RUNS"); do
    recreate "$BENCH_DB"
    DATABASE_URL="$PG/$BENCH_DB" "$BIN" migrate >/dev/null 2>&1
    psql "$PG/$BENCH_DB" -q -c CHECKPOINT
    t=$(timed_import)
    times+=("$t")
    echo "run $run: ${t} s"
done

echo "== import replacing the same community (TRUNCATE path)"
psql "$PG/$BENCH_DB" -q -c CHECKPOINT
echo "replace: $(timed_import) s"

echo "== check"
psql "$PG/$BENCH_DB" -Atc "SELECT 'users ' || count(*) FROM users UNION ALL SELECT 'connection rows ' || count(*) FROM connections"
DATABASE_URL="$PG/$BENCH_DB" "$BIN" export "$WORK/re-export.json"
cmp "$FILE" "$WORK/re-export.json" && echo "export after import is byte-identical to the file"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "== fresh-database import times (s): $(echo $sorted) ; median $(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)"
