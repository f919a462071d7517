#!/usr/bin/env bash
# The scan-resistance benchmark: the graph cache's hit rate for a hot set of 1,000 users while a
# crawler reads every user's page once (100,000 users), and the server's RSS against CACHE_MB.
#
#   bench/scan.sh [--users N] [--hot N] [--cache-mb auto|MB] [--write] [--help for the rest]
#
# Uses a fresh database on BENCH_PG_URL (default: the local PostgreSQL), dropped at the end.
# --write records the results in bench/scan/RESULTS.md. Installs the PostgreSQL client from
# Debian when missing. Python 3 standard library only.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v psql >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client
fi
exec python3 bench/lib/scan.py "$@"
