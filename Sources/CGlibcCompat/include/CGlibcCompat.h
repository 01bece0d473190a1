#ifndef CGlibcCompat_H
#define CGlibcCompat_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
/* Keeps the release executable loadable on glibc 2.34 and GCC 11's libstdc++
 * (RHEL 9; Ubuntu 22.04 and Debian 12 have newer ones).
 *
 * The build machine (Debian 12) has glibc 2.36 and GCC 12's libstdc++. Code
 * linked against them records the newest version of a symbol, and the loader
 * of an older system refuses the whole binary when one recorded version is
 * missing, even for a function that is never called. glibc_compat.c defines
 * these functions in the executable itself, so nothing refers to the new
 * versions any more:
 *
 *   hypot, hypotf     GLIBC_2.35 (static Foundation)      -> GLIBC_2.2.5
 *   arc4random_buf    GLIBC_2.36 (libarchive.a's          -> getrandom(2),
 *                     archive_random.o)                      GLIBC_2.25
 *   std::condition_variable::wait(unique_lock<mutex>&)    -> GLIBCXX_3.4.11
 *                     GLIBCXX_3.4.30 (static _FoundationICU)
 *
 * Only scripts/release-binary compiles them in (-Xcc -DFB_GLIBC_COMPAT);
 * `swift build` and the tests get an empty target. SwiftPM wants a public
 * header folder for a C target; it also carries fb_punch_hole below. */

/* 1 when the definitions are compiled into this build, else 0. */
int fb_glibc_compat_enabled(void);

/* fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (GLIBC_2.10), which
 * Swift's Glibc module does not export: frees the blocks of a byte range (for
 * FileDescriptorIO.punchHole). 0, or -1 with errno. */
static inline int fb_punch_hole(int fd, long long offset, long long length) {
    return fallocate(fd, 0x02 /* PUNCH_HOLE */ | 0x01 /* KEEP_SIZE */, (off_t)offset, (off_t)length);
}
#endif
