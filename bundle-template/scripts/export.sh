#!/bin/sh
# Export the installed stack's data (audit tables as CSV, a pg_dump, data
# folders: the bundle's exports) into one tarball with a SHA-256 manifest.
#
#   scripts/export.sh [OUT] [--prefix DIR] [--sign-key KEY]
#
# OUT defaults to ./frostbyte-export-<UTC time>.tar.zst in the current folder.
# Needs root (it runs commands inside the containers). Secrets are never
# exported. Exit status: that of frostbyte-bundle export.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${FROSTBYTE_BUNDLE_BIN:-$ROOT/bin/frostbyte-bundle}

fail() { echo "export.sh: $1" >&2; exit "${2:-3}"; }

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
        echo "export.sh: missing shared library $lib: install Debian package $pkg" >&2
    done
    fail "frostbyte-bundle cannot run here until the packages above are installed"
}

check_libraries
case ${1:-} in
    ""|-*) out="$PWD/frostbyte-export-$(date -u +%Y%m%dT%H%M%SZ).tar.zst" ;;
    *) out=$1; shift ;;
esac
exec "$BIN" export -o "$out" "$@"
