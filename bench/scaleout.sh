#!/usr/bin/env bash
# The scale-out benchmark: R1 with the reads on a PostgreSQL primary and on a hot standby
# (cache on and off), and one against two gateways behind HAProxy, in one run.
#
#   bench/scaleout.sh [--users N] [--seconds S] [--connections C] [--write]
#
# --write records the table in bench/scaleout/RESULTS.md. Installs wrk, HAProxy and the
# PostgreSQL client from Debian when missing; the clusters are its own (initdb, pg_basebackup).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
exec python3 bench/lib/scaleout.py "$@"
