#!/bin/sh
# frostbyte-demo/gateway: busybox httpd serving /www on port 8080.
# GET /health answers 200 with {"status":"ok","service":"gateway"}.
# A shell as PID 1 forwards SIGTERM/SIGINT to httpd, so `docker stop` is quick
# (PID 1 gets no default signal handlers from the kernel).
httpd -f -v -p "${GATEWAY_PORT:-8080}" -h /www -c /etc/httpd.conf &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
wait "$pid"
trap - TERM INT
wait "$pid"
