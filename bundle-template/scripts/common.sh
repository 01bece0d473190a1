# Sourced by install.sh, verify.sh and export.sh (POSIX sh): locates the
# bundled binary and checks what a bare host can lack before running it.
# Set SCRIPT first.
#
# bin/frostbyte-bundle is self-contained: the Swift runtime, Foundation,
# libarchive, OpenSSL's libcrypto, libyaml and libzstd are inside it. It loads
# only libc, libm, libstdc++, libgcc_s and the loader, and needs glibc >= 2.34
# (RHEL 9, Ubuntu 22.04, Debian 12 and newer). So there is nothing to install
# for the program itself; each check_* below tests one thing the host itself
# must provide and, when it is missing, prints one sentence and exits 3
# (environment problem), before the program runs.
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${FROSTBYTE_BUNDLE_BIN:-$ROOT/bin/frostbyte-bundle}

# The floors, and why (docs/PORTABILITY.md says more):
#   glibc 2.34: the binary's highest versioned glibc symbol (checked at build).
#   kernel 4.18: above what the program needs (getrandom 3.17, glibc 2.34's
#     own floor 3.2) and what Docker Engine's overlay2 storage needs (4.0);
#     the oldest kernel of a distribution still supported with Docker Engine
#     (RHEL 8). Hosts older than that are not tested by anyone.
GLIBC_FLOOR=2.34
KERNEL_FLOOR=4.18

fail() { echo "$SCRIPT: $1" >&2; exit "${2:-3}"; }

# version_ge A B: true when dotted version A >= B (numeric fields, any count).
version_ge() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        na = split(a, x, "."); nb = split(b, y, ".")
        for (i = 1; i <= (na > nb ? na : nb); i++) {
            if (x[i] + 0 > y[i] + 0) exit 0
            if (x[i] + 0 < y[i] + 0) exit 1
        }
        exit 0 }'
}

check_architecture() {
    arch=$(uname -m)
    [ "$arch" = x86_64 ] \
        || fail "this host is $arch, but bin/frostbyte-bundle is built for x86_64 only; use an x86_64 host"
}

check_kernel() {
    release=$(uname -r)
    kernel=$(printf '%s\n' "$release" | sed -n 's/^\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
    [ -n "$kernel" ] && version_ge "$kernel" "$KERNEL_FLOOR" \
        || fail "the Linux kernel is $release, older than the $KERNEL_FLOOR that this bundle supports; use a newer host"
}

# The glibc version, from getconf (libc-bin, with every glibc), else ldd
# --version, else the loader itself; empty when none answers.
glibc_version() {
    v=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '$1 == "glibc" {print $2}') || v=""
    if [ -z "$v" ] && command -v ldd >/dev/null 2>&1; then
        v=$(ldd --version 2>/dev/null | sed -n '1s/.* \([0-9][0-9]*\.[0-9][0-9]*\)$/\1/p')
    fi
    if [ -z "$v" ] && [ -x /lib64/ld-linux-x86-64.so.2 ]; then
        v=$(/lib64/ld-linux-x86-64.so.2 --version 2>/dev/null \
            | sed -n '1s/.*version \([0-9][0-9]*\.[0-9][0-9]*\)\.$/\1/p')
    fi
    printf '%s\n' "$v"
}

check_glibc() {
    v=$(glibc_version)
    [ -n "$v" ] \
        || fail "cannot find the GNU C library (glibc) on this host (getconf, ldd and /lib64/ld-linux-x86-64.so.2 do not answer); bin/frostbyte-bundle needs glibc $GLIBC_FLOOR or newer"
    version_ge "$v" "$GLIBC_FLOOR" \
        || fail "this host has glibc $v, older than the $GLIBC_FLOOR that bin/frostbyte-bundle needs (RHEL 9, Ubuntu 22.04, Debian 12 or newer have it)"
}

check_binary() {
    [ -x "$BIN" ] \
        || fail "$BIN is missing or not executable; the bundle is incomplete (set FROSTBYTE_BUNDLE_BIN to use another copy)"
    out=$("$BIN" --version 2>&1) \
        || fail "$BIN does not start on this host: $(printf '%s\n' "$out" | head -n 1)"
}

check_docker() {
    command -v docker >/dev/null 2>&1 \
        || fail "the docker command is not installed; install Docker Engine (20.10 or newer) from your local media first"
}

check_compose() {
    v=$(docker compose version --short 2>/dev/null | sed 's/^v//') || v=""
    [ -n "$v" ] \
        || fail "docker compose (Compose v2) is not installed; install the docker-compose-plugin, 2.29 or newer, from your local media first"
}

# check_host [docker]: the checks every wrapper runs; with "docker", also
# Docker and Compose v2 (install and export; not verify --files).
check_host() {
    check_architecture
    check_kernel
    check_glibc
    check_binary
    if [ "${1:-}" = docker ]; then
        check_docker
        check_compose
    fi
}
