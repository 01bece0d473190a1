#!/bin/sh
# frostbyte-demo/postgres entrypoint: PostgreSQL 15 from Debian.
# Environment (same meaning as the official image):
#   POSTGRES_PASSWORD  required; password of POSTGRES_USER (scram-sha-256)
#   POSTGRES_USER      superuser name, default postgres
#   POSTGRES_DB        database created on first start, default POSTGRES_USER
#   PGDATA             data folder (a volume), default /var/lib/postgresql/data
# First start: initdb into PGDATA (must be empty), create POSTGRES_DB, allow
# password logins from any container address. Local (unix socket) logins
# inside the container are trusted, so `docker exec <c> psql -U <user>` works
# without a password. Runs as the postgres user (uid 999), never as root.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

log() { echo "postgres-entrypoint: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        log "POSTGRES_PASSWORD is empty; set it in the environment (.env)"
        exit 2
    fi
    log "initialising $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --no-locale --no-instructions >/dev/null
    rm -f "$pwfile"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # Single-user mode: no server, no socket, nothing listening yet.
        printf 'CREATE DATABASE "%s" OWNER "%s";\n' "$POSTGRES_DB" "$POSTGRES_USER" \
            | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    log "initialised"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -c jit=off "$@"
