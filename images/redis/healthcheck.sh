#!/bin/sh
# Healthy when redis answers PING after AUTH with REDIS_PASSWORD.
REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -qx PONG
