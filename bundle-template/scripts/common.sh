# Sourced by install.sh, verify.sh and export.sh: locates the bundled binary and
# checks that the host has the shared libraries it needs. Set SCRIPT first.
#
# The binary is a --static-swift-stdlib build: the Swift runtime is inside, but
# libarchive, OpenSSL, libyaml, libzstd and ICU are linked dynamically. For each
# library the loader cannot find, name the Debian package that provides it.
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${FROSTBYTE_BUNDLE_BIN:-$ROOT/bin/frostbyte-bundle}

fail() { echo "$SCRIPT: $1" >&2; exit "${2:-3}"; }

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
            libicu*.so.72) pkg=libicu72 ;;
            *) pkg="(unknown; run 'dpkg -S $lib' on a machine that has it)" ;;
        esac
        echo "$SCRIPT: missing shared library $lib: install Debian package $pkg" >&2
    done
    fail "frostbyte-bundle cannot run here until the packages above are installed (apt-get install from local media)"
}
