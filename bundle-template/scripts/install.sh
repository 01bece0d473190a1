#!/bin/sh
# Install this bundle on this host (root, Docker Engine, Compose v2 >= 2.29).
#
#   scripts/install.sh [BUNDLE] [frostbyte-bundle install options...]
#
# BUNDLE defaults to the folder this script is in (an extracted bundle);
# pass the original <name>-<version>.tar.zst instead to verify it as shipped.
# Runs bin/frostbyte-bundle from the bundle, e.g.:
#   scripts/install.sh --trust /media/keys/release.pub
#   scripts/install.sh ../demo-1.0.0.tar.zst --allow-unsigned --prefix /opt/frostbyte
# Exit status: that of frostbyte-bundle (0 ok, 1 check failed, 2 bad input,
# 3 environment: not root, no docker or Compose v2, unsupported host).
set -eu
SCRIPT=install.sh
. "$(dirname -- "$0")/common.sh"

check_host docker
if [ $# -gt 0 ] && [ -e "$1" ]; then
    bundle=$1; shift
else
    bundle=$ROOT
fi
exec "$BIN" install "$bundle" "$@"
