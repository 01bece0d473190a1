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
# 3 environment: not root, no docker, missing library).
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${FROSTBYTE_BUNDLE_BIN:-$ROOT/bin/frostbyte-bundle}

fail() { echo "install.sh: $1" >&2; exit "${2:-3}"; }

# The binary links libarchive, OpenSSL and libyaml dynamically; name the Debian
# package for each library the loader cannot find.
check_libraries() {
    [ -x "$BIN" ] || fail "$BIN is missing or not executable; the bundle is incomplete (set FROSTBYTE_BUNDLE_BIN to use another copy)"
    command -v ldd >/dev/null 2>&1 || return 0
    missing=$(ldd "$BIN" 2>/dev/null | awk '/not found/ {print $1}') || true
    [ -z "$missing" ] && return 0
    for lib in $missing; do
        case $lib in
            libarchive.so.*) pkg=libarchive13 ;;
            libssl.so.3|libcrypto.so.3) pkg=libssl3 ;;
            libyaml-0.so.*) pkg=libyaml-0-2 ;;
            libz.so.*) pkg=zlib1g ;;
            libzstd.so.*) pkg=libzstd1 ;;
            *) pkg="(unknown; run 'dpkg -S $lib' on a machine that has it)" ;;
        esac
        echo "install.sh: missing shared library $lib: install Debian package $pkg" >&2
    done
    fail "frostbyte-bundle cannot run here until the packages above are installed (apt-get install from local media)"
}

check_libraries
if [ $# -gt 0 ] && [ -e "$1" ]; then
    bundle=$1; shift
else
    bundle=$ROOT
fi
exec "$BIN" install "$bundle" "$@"
