#!/bin/sh
# Export the installed stack's data (audit tables as CSV, a pg_dump, data
# folders: the bundle's exports) into one tarball with a SHA-256 manifest.
#
#   scripts/export.sh [OUT] [--prefix DIR] [--sign-key KEY]
#
# OUT defaults to ./frostbyte-export-<UTC time>.tar.zst in the current folder.
# Needs root (it runs commands inside the containers). Secrets are never
# exported. Exit status: that of frostbyte-bundle export, or 3 before it runs
# when the host cannot run it (not x86_64, kernel or glibc too old, no docker
# or Compose v2; see common.sh).
set -eu
SCRIPT=export.sh
. "$(dirname -- "$0")/common.sh"

check_host docker
case ${1:-} in
    ""|-*) out="$PWD/frostbyte-export-$(date -u +%Y%m%dT%H%M%SZ).tar.zst" ;;
    *) out=$1; shift ;;
esac
exec "$BIN" export -o "$out" "$@"
