#!/usr/bin/env bash
# The cursor-page benchmark: a page of a 100,000-connection hub at the start and 50,000 deep,
# by cursor (friends(after:)) and by offset, with the graph cache on and off, in one run.
#
#   bench/relay.sh [--users N] [--depth D] [--seconds S] [--connections C] [--write]
#
# Uses a fresh database on BENCH_PG_URL (default: the local PostgreSQL), dropped at the end.
# --write records the table in bench/relay/RESULTS.md. Installs wrk and the PostgreSQL client
# from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
exec python3 bench/lib/relay.py "$@"
