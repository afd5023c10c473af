#!/usr/bin/env bash
# Install PostgreSQL from Debian's packages when it is missing, start a throwaway server for the
# tests (trust authentication, localhost only, fsync off) and print its SQLAlchemy URL on stdout.
# Idempotent: a server already running in the folder is reused. Never runs the server as root:
# as root the cluster belongs to the 'postgres' user the Debian package creates.
#   AFIS_PG_DIR   data folder (default /tmp/afis-postgres)
#   AFIS_PG_PORT  port (default 55432)
# Stop it with: pg_ctl -D "$AFIS_PG_DIR" stop   (as the owner of the folder)
set -euo pipefail
DIR="${AFIS_PG_DIR:-/tmp/afis-postgres}"
PORT="${AFIS_PG_PORT:-55432}"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN="$(find_bin)"
if [ -z "$BIN" ]; then
    bash "$(dirname "$0")/apt-install.sh" start-postgres postgresql >&2
    BIN="$(find_bin)"
fi

if [ "$(id -u)" = 0 ]; then
    as_owner() { su postgres -s /bin/sh -c "$1"; }
else
    as_owner() { sh -c "$1"; }
fi

if ! as_owner "'$BIN/pg_ctl' -D '$DIR' status" >/dev/null 2>&1; then
    if [ ! -f "$DIR/PG_VERSION" ]; then
        mkdir -p "$DIR"
        if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
        chmod 700 "$DIR"
        as_owner "'$BIN/initdb' -D '$DIR' -A trust -U postgres -E UTF8" >/dev/null
    fi
    as_owner "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -o \
        \"-p $PORT -k '$DIR' -c listen_addresses=localhost -c fsync=off -c full_page_writes=off\" \
        start" >&2
fi

if ! as_owner "'$BIN/psql' -h localhost -p $PORT -U postgres -tAc \
        \"SELECT 1 FROM pg_database WHERE datname = 'afis_test'\"" | grep -q 1; then
    as_owner "'$BIN/createdb' -h localhost -p $PORT -U postgres afis_test"
fi
echo "postgresql+psycopg://postgres@localhost:$PORT/afis_test"
