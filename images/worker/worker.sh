#!/bin/sh
# frostbyte-demo/worker: proves, by service name, that it reaches PostgreSQL
# and Redis, over and over.
# Each round:
#   PostgreSQL (host $PGHOST, default "postgres"): CREATE TABLE IF NOT EXISTS
#     worker_heartbeat, INSERT one row, read back the row count;
#   Redis (host $REDIS_HOST, default "redis"): SET frostbyte:worker:last to the
#     round's token, GET it back and compare.
# Its version (1.0.0 in worker:1.0, 1.1.0 in worker:1.1) is the file
# /usr/local/share/frostbyte-worker/VERSION of the image; it is logged at start
# and is the first field of every status line.
# Results: /tmp/status (one line, key=value) after every round, and /tmp/ok
# only while the last round succeeded against both; the healthcheck is
# `test -f /tmp/ok`. Each round is also logged on stdout and, when
# $WORKER_DATA (default /var/lib/worker, a volume) is writable, appended to
# $WORKER_DATA/rounds.log (last 100 rounds kept) with the latest status in
# $WORKER_DATA/status, and the version in $WORKER_DATA/version.
# Environment: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, REDIS_PASSWORD,
#   PGHOST, REDIS_HOST, WORKER_INTERVAL (seconds, default 5), WORKER_NAME,
#   WORKER_DATA.
set -u
: "${PGHOST:=postgres}" "${REDIS_HOST:=redis}" "${WORKER_INTERVAL:=5}"
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
: "${WORKER_NAME:=$(hostname)}" "${WORKER_DATA:=/var/lib/worker}"
export PGHOST PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB" \
       PGPASSWORD="${POSTGRES_PASSWORD:-}" PGCONNECT_TIMEOUT=3 \
       REDISCLI_AUTH="${REDIS_PASSWORD:-}"

version=$(cat /usr/local/share/frostbyte-worker/VERSION 2>/dev/null || echo unknown)
echo "worker: frostbyte-demo worker $version starting"
if [ -w "$WORKER_DATA" ]; then printf '%s\n' "$version" >"$WORKER_DATA/version"; fi

# PID 1 gets no default signal handlers: exit on TERM/INT ourselves, and
# sleep in the background so that the trap runs at once.
trap 'exit 0' TERM INT

round=0
while :; do
    round=$((round + 1))
    token="$WORKER_NAME-$round-$(date +%s)"
    pg=fail; rows=""; rd=fail; value=""
    rows=$(psql -X -q -A -t -v ON_ERROR_STOP=1 2>/tmp/pg.err <<SQL
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS worker_heartbeat (
    id     bigserial PRIMARY KEY,
    worker text NOT NULL,
    token  text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO worker_heartbeat (worker, token) VALUES ('$WORKER_NAME', '$token');
SELECT count(*) FROM worker_heartbeat;
SQL
    ) && [ -n "$rows" ] && pg=ok
    if redis-cli -h "$REDIS_HOST" SET frostbyte:worker:last "$token" 2>/tmp/redis.err | grep -qx OK; then
        value=$(redis-cli -h "$REDIS_HOST" GET frostbyte:worker:last 2>>/tmp/redis.err)
        [ "$value" = "$token" ] && rd=ok
    fi
    line="version=$version round=$round postgres=$pg heartbeat_rows=${rows:-0} redis=$rd token=$token"
    printf '%s\n' "$line" >/tmp/status.tmp && mv /tmp/status.tmp /tmp/status
    if [ "$pg" = ok ] && [ "$rd" = ok ]; then
        printf '%s\n' "$line" >/tmp/ok
    else
        rm -f /tmp/ok
        line="$line pg_error=\"$(tr '\n' ' ' </tmp/pg.err)\" redis_error=\"$(tr '\n' ' ' </tmp/redis.err)\""
    fi
    echo "worker: $line"
    if [ -w "$WORKER_DATA" ]; then
        printf '%s\n' "$line" >"$WORKER_DATA/status"
        { tail -n 99 "$WORKER_DATA/rounds.log" 2>/dev/null; printf '%s\n' "$line"; } >"$WORKER_DATA/rounds.tmp" \
            && mv "$WORKER_DATA/rounds.tmp" "$WORKER_DATA/rounds.log"
    fi
    sleep "$WORKER_INTERVAL" &
    wait $!
done
