#!/usr/bin/env bash
# Runs once, when the primary's data directory is first made (the postgres image runs the
# scripts in /docker-entrypoint-initdb.d as the postgres user, against a temporary server):
# the gateway's role and database, the streaming-replication role and slot, and the
# pg_hba.conf line that lets the replica connect for replication ("all" does not cover it).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=app_user="$APP_DB_USER" --set=app_password="$APP_DB_PASSWORD" \
  --set=repl_user="$REPLICATION_USER" --set=repl_password="$REPLICATION_PASSWORD" \
  --set=slot="$REPLICATION_SLOT" <<'SQL'
-- Not a superuser: it owns its database, so its migrations can create tables there.
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_user" OWNER :"app_user";
CREATE ROLE :"repl_user" WITH REPLICATION LOGIN PASSWORD :'repl_password';
-- A slot keeps the WAL the replica has not received yet (bounded by max_slot_wal_keep_size).
SELECT pg_create_physical_replication_slot(:'slot');
SQL

echo "host replication $REPLICATION_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
