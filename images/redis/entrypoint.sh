#!/bin/sh
# frostbyte-demo/redis entrypoint: redis-server from Debian.
# Environment: REDIS_PASSWORD (required; clients must AUTH with it).
# Data (append-only file) in /data, a volume. Runs as the redis user.
set -eu
if [ -z "${REDIS_PASSWORD:-}" ]; then
    echo "redis-entrypoint: REDIS_PASSWORD is empty; set it in the environment (.env)" >&2
    exit 2
fi
# The password reaches redis-server as a config file on stdin, not in argv,
# so that it does not show in `ps` on the host. exec keeps redis as PID 1.
exec redis-server - --bind 0.0.0.0 --port 6379 --protected-mode no \
    --dir /data --appendonly yes --save '' "$@" <<CONF
requirepass "$REDIS_PASSWORD"
CONF
