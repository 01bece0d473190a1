# shellcheck shell=bash
# Shared helpers for the project's shell scripts (setup, make-demo-images,
# demo, test). Source it; it defines functions and a few variables and
# changes nothing on the machine by itself.
#
#   . "$(dirname "$0")/lib.sh"
#
# Variables it sets (all overridable from the environment):
#   FB_ROOT        repository root (the folder holding Package.swift)
#   FB_CACHE       download/rootfs cache, default /var/cache/frostbyte
#   FB_OUT         build outputs, default $FB_ROOT/out (gitignored)
#   FB_DOCKERD_LOG log file of a dockerd started by scripts/setup
#   DOCKER         the docker CLI that talks to the running engine
#                  (see fb_pick_docker; default: `docker` on PATH)

FB_ROOT=${FB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FB_CACHE=${FB_CACHE:-/var/cache/frostbyte}
FB_OUT=${FB_OUT:-$FB_ROOT/out}
FB_DOCKERD_LOG=${FB_DOCKERD_LOG:-/var/log/frostbyte-dockerd.log}
FB_COMPOSE_MIN=${FB_COMPOSE_MIN:-2.29.0}
DOCKER=${DOCKER:-docker}

# Messages go to stderr so that stdout stays free for results.
fb_log()  { printf '%s: %s\n' "${FB_SCRIPT:-${0##*/}}" "$*" >&2; }
fb_warn() { printf '%s: warning: %s\n' "${FB_SCRIPT:-${0##*/}}" "$*" >&2; }
# fb_die MESSAGE [STATUS]: print and exit (default status 3 = environment).
fb_die()  { printf '%s: error: %s\n' "${FB_SCRIPT:-${0##*/}}" "$1" >&2; exit "${2:-3}"; }

fb_need_root() {
    [ "$(id -u)" -eq 0 ] || fb_die "must run as root (it installs packages and drives dockerd); re-run with sudo"
}

fb_have() { command -v "$1" >/dev/null 2>&1; }

# fb_version_ge A B: true when dotted version A >= B (numeric fields only).
fb_version_ge() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# fb_missing_debs PKG...: print the packages that are not installed.
fb_missing_debs() {
    local p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        case $status in ii*) ;; *) printf '%s\n' "$p" ;; esac
    done
}

# fb_apt_install PKG...: install only what is missing; silent when nothing is.
fb_apt_install() {
    local missing
    missing=$(fb_missing_debs "$@")
    [ -z "$missing" ] && return 0
    fb_log "installing Debian packages:" $missing
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || fb_die "apt-get update failed; check the Debian mirror in /etc/apt/sources.list*"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null \
        || fb_die "apt-get install failed for: $missing"
}

# fb_engine_version [CLI]: the server version the CLI reaches, or fail.
fb_engine_version() {
    "${1:-$DOCKER}" version --format '{{.Server.Version}}' 2>/dev/null
}

# fb_pick_docker: set DOCKER to a CLI that talks to the running engine.
# Prefers `docker` on PATH; falls back to /usr/bin/docker (Debian's client,
# same version as Debian's engine). Fails when none answers.
fb_pick_docker() {
    local c
    for c in "$DOCKER" docker /usr/bin/docker; do
        fb_have "$c" || continue
        if fb_engine_version "$c" >/dev/null; then DOCKER=$c; export DOCKER; return 0; fi
    done
    return 1
}

# fb_compose_version: Compose version reported by `$DOCKER compose` (no "v").
fb_compose_version() {
    "$DOCKER" compose version --short 2>/dev/null | sed 's/^v//'
}

# fb_compose ARGS...: run docker compose with the chosen CLI.
fb_compose() { "$DOCKER" compose "$@"; }

# fb_image_exists REF: true when the engine has an image with this reference.
fb_image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# fb_wait_healthy PROJECT TIMEOUT_SECONDS: wait until every container of a
# compose project is running and (if it has a healthcheck) healthy. Prints the
# state of each container on failure and returns 1.
fb_wait_healthy() {
    local project=$1 timeout=$2 start now ids states bad
    start=$(date +%s)
    while :; do
        ids=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project")
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            states=$("$DOCKER" inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)
            bad=$(printf '%s\n' "$states" | awk '$2!="running" || ($3!="healthy" && $3!="none")')
            [ -z "$bad" ] && return 0
        fi
        now=$(date +%s)
        if [ $((now - start)) -ge "$timeout" ]; then
            fb_warn "project $project not healthy after ${timeout}s:"
            printf '%s\n' "${states:-no containers}" >&2
            return 1
        fi
        sleep 1
    done
}

# fb_sha256 FILE: print the hex SHA-256 of a file.
fb_sha256() { sha256sum "$1" | cut -d' ' -f1; }
