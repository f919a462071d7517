#!/usr/bin/env bash
# Entrypoint of the streaming replica (runs as the postgres user). On the first start, an
# empty data directory is filled from the primary with pg_basebackup -R, which also writes
# standby.signal and primary_conninfo (and the slot's name), so the server starts as a
# standby of the primary. Later starts reuse the data directory and resume streaming.
set -euo pipefail
: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:?}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  export PGPASSWORD="$REPLICATION_PASSWORD"
  until pg_isready -q -h "$PRIMARY_HOST" -p "${PRIMARY_PORT:-5432}"; do
    echo "waiting for the primary at $PRIMARY_HOST"
    sleep 1
  done
  # On failure pg_basebackup removes what it copied, so the next start tries again afresh.
  pg_basebackup --host="$PRIMARY_HOST" --port="${PRIMARY_PORT:-5432}" \
    --username="$REPLICATION_USER" --pgdata="$PGDATA" \
    --write-recovery-conf --wal-method=stream --slot="$REPLICATION_SLOT" \
    --checkpoint=fast --no-password
  unset PGPASSWORD
fi

# Read-only queries while it replays the primary's WAL.
exec postgres -c hot_standby=on "$@"
