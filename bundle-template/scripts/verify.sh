#!/bin/sh
# Verify: the installed stack (default) or this bundle's files.
#
#   scripts/verify.sh [--prefix DIR] [--evidence FILE] [--json]
#       health of every service (frostbyte-bundle status), then network
#       isolation with evidence (frostbyte-bundle check-isolation); needs root.
#   scripts/verify.sh --files [--trust PUB]... [--json]
#       every file of this extracted bundle against MANIFEST.json, SHA256SUMS
#       and the signature (frostbyte-bundle verify-bundle); no Docker needed.
#
# Exit status: 0 all checks passed, 1 a check failed, 2 bad input, 3 environment.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${FROSTBYTE_BUNDLE_BIN:-$ROOT/bin/frostbyte-bundle}

fail() { echo "verify.sh: $1" >&2; exit "${2:-3}"; }

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
        echo "verify.sh: missing shared library $lib: install Debian package $pkg" >&2
    done
    fail "frostbyte-bundle cannot run here until the packages above are installed"
}

check_libraries
if [ "${1:-}" = "--files" ]; then
    shift
    exec "$BIN" verify-bundle "$ROOT" "$@"
fi

# status and check-isolation share --prefix; --evidence belongs to the second.
prefix_args=""; iso_args=""; json=""
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || fail "--prefix needs a folder" 2; prefix_args="--prefix $2"; shift ;;
        --prefix=*) prefix_args="--prefix ${1#--prefix=}" ;;
        --evidence) [ $# -ge 2 ] || fail "--evidence needs a file" 2; iso_args="--evidence $2"; shift ;;
        --evidence=*) iso_args="--evidence ${1#--evidence=}" ;;
        --json) json=--json ;;
        *) fail "unknown option '$1' (see the comment at the top of $0)" 2 ;;
    esac
    shift
done

status=0
# shellcheck disable=SC2086 # the option strings are split on purpose
"$BIN" status $prefix_args $json || status=$?
# shellcheck disable=SC2086
"$BIN" check-isolation $prefix_args $iso_args $json || { s=$?; [ "$status" -ne 0 ] || status=$s; }
exit "$status"
