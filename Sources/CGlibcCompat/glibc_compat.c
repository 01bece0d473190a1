/* See include/CGlibcCompat.h: definitions that replace symbols whose newest
 * version (glibc 2.35/2.36, GCC 12's libstdc++) a glibc 2.34 / GCC 11 system
 * lacks.
 *
 * Guarantees:
 * - every reference to these names in the linked executable resolves to the
 *   definitions below (an executable's own definition wins over a shared
 *   library's), and these reference only symbol versions that glibc 2.34 and
 *   GCC 11's libstdc++ have;
 * - hypot/hypotf compute the same function as the 2.35 versions (which are
 *   faster and correctly rounded in more cases; results differ at most in
 *   the last bit);
 * - arc4random_buf fills the whole buffer from the kernel's random source
 *   (getrandom(2), blocking until it is seeded, retrying on EINTR) or aborts,
 *   as glibc's own does; it never returns partial or predictable bytes;
 * - condition_variable::wait is libstdc++'s own older entry point, same object
 *   layout (the 3.4.30 one differs only in how thread cancellation unwinds). */
#include "CGlibcCompat.h"

/* Compiled in only where scripts/release-binary asks for it (-Xcc
 * -DFB_GLIBC_COMPAT): the condition_variable entry point needs libstdc++ on
 * the link line, which only a --static-swift-stdlib link has, and debug
 * builds have no reason to differ from the system's own functions. */
#if defined(FB_GLIBC_COMPAT) && defined(__x86_64__) && defined(__linux__)
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

double fb_hypot_2_2_5(double, double);
float fb_hypotf_2_2_5(float, float);
void fb_condvar_wait_3_4_11(void *condition, void *lock);
__asm__(".symver fb_hypot_2_2_5,hypot@GLIBC_2.2.5");
__asm__(".symver fb_hypotf_2_2_5,hypotf@GLIBC_2.2.5");
__asm__(".symver fb_condvar_wait_3_4_11,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");

double hypot(double x, double y) { return fb_hypot_2_2_5(x, y); }
float hypotf(float x, float y) { return fb_hypotf_2_2_5(x, y); }

void arc4random_buf(void *buffer, size_t count) {
    unsigned char *next = buffer;
    while (count > 0) {
        ssize_t got = getrandom(next, count, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            abort();
        }
        next += got;
        count -= (size_t)got;
    }
}

/* std::condition_variable::wait(std::unique_lock<std::mutex>&), by its C++ name. */
void fb_condvar_wait(void *condition, void *lock)
    __asm__("_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE");
void fb_condvar_wait(void *condition, void *lock) { fb_condvar_wait_3_4_11(condition, lock); }

int fb_glibc_compat_enabled(void) { return 1; }
#else
int fb_glibc_compat_enabled(void) { return 0; }
#endif
