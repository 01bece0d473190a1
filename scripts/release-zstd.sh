# shellcheck shell=bash
# Sourced by scripts/release-binary (needs lib.sh loaded): a multi-threaded
# static libzstd.
#
# Why: Debian's libzstd-dev ships libzstd.a compiled without ZSTD_MULTITHREAD
# (its pool.o is the single-threaded stub and zstd_compress.o has no ZSTDMT
# path), so `build` linked against it fails: ZSTD_c_nbWorkers is an
# "Unsupported parameter". The shared libzstd.so.1 is multi-threaded. So the
# release build compiles libzstd.a itself, with `make libzstd.a-mt` (upstream's
# own target: -DZSTD_MULTITHREAD), from Debian's source package of the same
# upstream version as the installed libzstd-dev (same compressor, so the same
# bytes for the same input as the shared library gives a debug build).
#
# fb_zstd_mt_archive: prints the path of that libzstd.a, building it once into
# $FB_CACHE/zstd-mt/<upstream version>/ (about 30 s on 2 cores). The source
# comes through apt-get with a private list folder and a deb-src entry of the
# machine's own Debian mirror; the machine's apt configuration is not changed.
fb_zstd_mt_archive() {
    local upstream base src lists sources opts dsc
    upstream=$(dpkg-query -W -f='${source:Upstream-Version}' libzstd-dev 2>/dev/null) \
        || fb_die "libzstd-dev is not installed (scripts/setup installs it)"
    base=$FB_CACHE/zstd-mt/$upstream
    if [ -f "$base/libzstd.a" ] && [ -f "$base/.frostbyte-zstd-mt" ]; then
        printf '%s\n' "$base/libzstd.a"
        return 0
    fi
    fb_have dpkg-source || fb_die "dpkg-source is missing (Debian package dpkg-dev)"
    fb_have make || fb_die "make is missing"

    fb_log "libzstd $upstream: building a multi-threaded libzstd.a from Debian's source package (once)"
    rm -rf "$base.tmp"
    mkdir -p "$base.tmp/apt/lists/partial" "$base.tmp/apt/cache/archives/partial" "$base.tmp/src"
    sources=$base.tmp/apt/sources.list
    # The deb-src twin of the machine's first Debian mirror line (lib.sh's mirror logic).
    local mirror
    mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    local suite
    suite=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-bookworm}")
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
        "${mirror:-http://deb.debian.org/debian}" "$suite" >"$sources"
    opts=(-o "Dir::Etc::SourceList=$sources" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$base.tmp/apt/lists" -o "Dir::Cache=$base.tmp/apt/cache"
          -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update >"$base.tmp/apt.log" 2>&1 \
        || fb_die "apt-get update of the deb-src list failed; see $base.tmp/apt.log"
    (cd "$base.tmp/src" && apt-get "${opts[@]}" source --download-only libzstd >>"$base.tmp/apt.log" 2>&1) \
        || fb_die "apt-get source libzstd failed; see $base.tmp/apt.log"
    dsc=$(ls "$base.tmp/src"/libzstd_*.dsc 2>/dev/null | head -n1)
    [ -n "$dsc" ] || fb_die "apt-get source libzstd fetched no .dsc; see $base.tmp/apt.log"
    case ${dsc##*/} in
        "libzstd_$upstream-"*) ;;
        *) fb_die "the source package ${dsc##*/} is not upstream version $upstream of the installed libzstd-dev" ;;
    esac
    dpkg-source -x "$dsc" "$base.tmp/src/libzstd" >>"$base.tmp/apt.log" 2>&1 \
        || fb_die "dpkg-source -x $dsc failed; see $base.tmp/apt.log"
    make -C "$base.tmp/src/libzstd/lib" -j"$(nproc)" libzstd.a-mt CFLAGS="-O2 -fPIC -g0" \
        >"$base.tmp/make.log" 2>&1 || fb_die "make libzstd.a-mt failed; see $base.tmp/make.log"
    grep -q ' T ZSTDMT_' < <(nm "$base.tmp/src/libzstd/lib/libzstd.a" 2>/dev/null) \
        || fb_die "the libzstd.a just built has no ZSTDMT_ code (not multi-threaded)"
    cp "$base.tmp/src/libzstd/lib/libzstd.a" "$base.tmp/libzstd.a"
    printf 'source: %s\nbuilt: make libzstd.a-mt\n' "${dsc##*/}" >"$base.tmp/.frostbyte-zstd-mt"
    rm -rf "$base.tmp/src" "$base.tmp/apt" "$base"
    mv "$base.tmp" "$base"
    printf '%s\n' "$base/libzstd.a"
}
