# shellcheck shell=bash
# Sourced by scripts/release-binary (needs lib.sh loaded): man pages and shell
# completions for the release binary, written beside it in the dist folder.
#
# fb_release_docs BIN DIST SCRATCH
#   DIST/share/man/man1/frostbyte-bundle.1, frostbyte-bundle.<command>.1 ...
#       from swift-argument-parser's generate-manual plugin (multi-page). The
#       plugin builds the package itself; it gets its own scratch folder
#       (SCRATCH/manual) and the debug configuration, so it never touches
#       the release build and needs nothing beyond the local package copies
#       (works offline). The help text it reads is the same source as BIN's.
#   DIST/share/bash-completion/completions/frostbyte-bundle
#   DIST/share/zsh/site-functions/_frostbyte-bundle
#   DIST/share/fish/vendor_completions.d/frostbyte-bundle.fish
#       from BIN --generate-completion-script bash|zsh|fish.
# Everything is rewritten only when BIN is newer than the stamp file
# DIST/.frostbyte-docs (outside share/, so share/ can be copied whole), so
# a second run does nothing.
fb_release_docs() {
    local bin=$1 dist=$2 scratch=$3
    local share=$dist/share stamp=$dist/.frostbyte-docs
    [ -f "$stamp" ] && [ ! "$bin" -nt "$stamp" ] && return 0

    local tmp=$share.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/man/man1" "$tmp/bash-completion/completions" \
        "$tmp/zsh/site-functions" "$tmp/fish/vendor_completions.d"

    "$bin" --generate-completion-script bash >"$tmp/bash-completion/completions/frostbyte-bundle" \
        && "$bin" --generate-completion-script zsh >"$tmp/zsh/site-functions/_frostbyte-bundle" \
        && "$bin" --generate-completion-script fish >"$tmp/fish/vendor_completions.d/frostbyte-bundle.fish" \
        || fb_die "$bin --generate-completion-script failed" 1

    local manual=$scratch/manual
    fb_log "man pages: swift package plugin generate-manual (debug build in ${manual#"$FB_ROOT"/})"
    (cd "$FB_ROOT" && swift package --scratch-path "$manual" plugin generate-manual \
        --configuration debug --multi-page >&2) \
        || fb_die "swift package plugin generate-manual failed" 1
    local pages
    pages=$(find "$manual/plugins" -path '*GenerateManual*' -name 'frostbyte-bundle*.1' | sort)
    [ -n "$pages" ] || fb_die "generate-manual wrote no frostbyte-bundle*.1 under $manual/plugins" 1
    # shellcheck disable=SC2086 # one path per line, no spaces in them
    cp $pages "$tmp/man/man1/"

    touch "$stamp.tmp"
    rm -rf "$share"
    mv "$tmp" "$share"
    mv "$stamp.tmp" "$stamp"
}
