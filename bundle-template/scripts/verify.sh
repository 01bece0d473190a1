#!/bin/sh
# Verify: the installed stack (default) or this bundle's files.
#
#   scripts/verify.sh [--prefix DIR] [--evidence FILE] [--json]
#       health of every service (frostbyte-bundle status), then network
#       isolation with evidence (frostbyte-bundle check-isolation); needs root.
#   scripts/verify.sh --files [--trust PUB]... [--json]
#       every file of this extracted bundle against MANIFEST.json, SHA256SUMS
#       and the signature (frostbyte-bundle verify-bundle); no Docker needed.
#       In an installed release, whose images are in the engine, everything
#       but images/ (verify-bundle --installed).
#
# Exit status: 0 all checks passed, 1 a check failed, 2 bad input, 3 environment
# (also before anything runs: not x86_64, kernel or glibc too old; see
# common.sh). --files needs no Docker.
set -eu
SCRIPT=verify.sh
. "$(dirname -- "$0")/common.sh"

check_host
if [ "${1:-}" = "--files" ]; then
    shift
    # An installed release (<prefix>/releases/<bundle_id>/) has no images/: install
    # removed it once the engine held the images, whose IDs it checked.
    physical=$(cd -- "$ROOT" && pwd -P)
    if [ ! -e "$ROOT/images" ] && [ "$(basename -- "$(dirname -- "$physical")")" = releases ]; then
        exec "$BIN" verify-bundle "$ROOT" --installed "$@"
    fi
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
