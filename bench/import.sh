#!/usr/bin/env bash
# Times `community-gateway import` of a 100,000-user community with 2,000,000 connections
# (4,000,000 directed rows) into fresh databases on PostgreSQL (issue 2: target < 30 s),
# SQLite (a temporary file) and MariaDB/MySQL, then prints one summary table.
#
#   bench/import.sh                      # per backend: 3 runs into fresh databases
#   PG=postgres://user@host:5432 MYSQL=mysql://root@127.0.0.1:3306 RUNS=5 bench/import.sh
#   BACKENDS="sqlite mysql" bench/import.sh
#
# Needs psql and a PostgreSQL server where the user may create databases (the data file is
# made there), and the mariadb (or mysql) client for MariaDB/MySQL. On PostgreSQL a replacing
# run follows the fresh ones. The data file is made once by `seed` (deterministic: same seed,
# same file) + `export`, and kept in $WORK; every backend imports the same file.
set -euo pipefail
shopt -s inherit_errexit

PG=${PG:-postgres://postgres@127.0.0.1:5432}
MYSQL=${MYSQL:-mysql://root@127.0.0.1:3306}
BACKENDS=${BACKENDS:-postgres sqlite mysql}
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

# Wall-clock seconds of one `import` into $1 (the whole process: read, parse, validate,
# load, commit).
timed_import() {
    local start end
    start=$(date +%s%N)
    DATABASE_URL="$1" "$BIN" import "$FILE" >&2
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.2f\n", ns / 1e9 }'
}

# "min median max" of the numbers on stdin.
stats() {
    sort -n | awk '{a[NR]=$1} END {printf "%s %s %s", a[1], a[int((NR+1)/2)], a[NR]}'
}

summary=()

bench_postgres() {
    echo "== PostgreSQL: import into a fresh, migrated database ($RUNS runs)"
    times=()
    for run in $(seq "$RUNS"); do
        recreate "$BENCH_DB"
        DATABASE_URL="$PG/$BENCH_DB" "$BIN" migrate >/dev/null 2>&1
        psql "$PG/$BENCH_DB" -q -c CHECKPOINT
        t=$(timed_import "$PG/$BENCH_DB")
        times+=("$t")
        echo "run $run: ${t} s"
    done

    echo "== import replacing the same community (TRUNCATE path)"
    psql "$PG/$BENCH_DB" -q -c CHECKPOINT
    echo "replace: $(timed_import "$PG/$BENCH_DB") s"

    echo "== check"
    psql "$PG/$BENCH_DB" -Atc "SELECT 'users ' || count(*) FROM users UNION ALL SELECT 'connection rows ' || count(*) FROM connections"
    DATABASE_URL="$PG/$BENCH_DB" "$BIN" export "$WORK/re-export.json"
    cmp "$FILE" "$WORK/re-export.json" && echo "export after import is byte-identical to the file"

    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    echo "== fresh-database import times (s): $(echo $sorted) ; median $(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)"
    summary+=("postgres $(printf '%s\n' "${times[@]}" | stats)")
}

bench_sqlite() {
    echo "== SQLite: import into a fresh, migrated file ($RUNS runs)"
    local dir url times=() t
    dir=$(mktemp -d "$WORK/sqlite.XXXXXX")
    url="sqlite://$dir/bench.db"
    for run in $(seq "$RUNS"); do
        rm -f "$dir"/bench.db*
        DATABASE_URL="$url?mode=rwc" "$BIN" migrate >/dev/null 2>&1
        t=$(timed_import "$url")
        times+=("$t")
        echo "run $run: ${t} s"
    done
    DATABASE_URL="$url" "$BIN" export "$WORK/re-export.json"
    cmp "$FILE" "$WORK/re-export.json" && echo "export after import is byte-identical to the file"
    rm -rf "$dir"
    summary+=("sqlite $(printf '%s\n' "${times[@]}" | stats)")
}

bench_mysql() {
    echo "== MariaDB/MySQL: import into a fresh, migrated database ($RUNS runs)"
    local client host port user times=() t
    client=$(command -v mariadb || command -v mysql)
    # mysql://user@host:port, as the client's options.
    user=${MYSQL#mysql://}; user=${user%%@*}
    host=${MYSQL#*@}; port=${host##*:}; host=${host%%:*}
    my() { "$client" -u"$user" -h"$host" -P"$port" "$@"; }
    echo "server: $(my -N -e 'SELECT VERSION()')"
    for run in $(seq "$RUNS"); do
        my -e "DROP DATABASE IF EXISTS $BENCH_DB; CREATE DATABASE $BENCH_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        DATABASE_URL="$MYSQL/$BENCH_DB" "$BIN" migrate >/dev/null 2>&1
        t=$(timed_import "$MYSQL/$BENCH_DB")
        times+=("$t")
        echo "run $run: ${t} s"
    done
    echo "replace: $(timed_import "$MYSQL/$BENCH_DB") s"
    DATABASE_URL="$MYSQL/$BENCH_DB" "$BIN" export "$WORK/re-export.json"
    cmp "$FILE" "$WORK/re-export.json" && echo "export after import is byte-identical to the file"
    my -e "DROP DATABASE IF EXISTS $BENCH_DB"
    summary+=("mysql $(printf '%s\n' "${times[@]}" | stats)")
}

for backend in $BACKENDS; do
    "bench_$backend"
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== summary: fresh-database import, wall-clock seconds over $RUNS runs"
printf '%-10s %8s %8s %8s\n' backend min median max
for row in "${summary[@]}"; do
    # shellcheck disable=SC2086
    printf '%-10s %8s %8s %8s\n' $row
done
