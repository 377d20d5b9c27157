/* libfaketime 0.9.10 (Debian bookworm) with FAKETIME_DONT_FAKE_MONOTONIC=1 turns an absolute
 * clock_nanosleep on CLOCK_MONOTONIC into EINVAL, and CPython 3.11's time.sleep() makes exactly
 * that call. Monotonic time is not faked then, so such sleeps go straight to the C library;
 * every other clock goes on to libfaketime. Preload this before libfaketime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>

typedef int (*sleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    static sleep_fn libc_sleep, next_sleep;
    if (!libc_sleep) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        libc_sleep = (sleep_fn)dlsym(libc, "clock_nanosleep");
        next_sleep = (sleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return (clock == CLOCK_MONOTONIC ? libc_sleep : next_sleep)(clock, flags, req, rem);
}
