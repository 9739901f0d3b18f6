/* Valgrind client requests for the constant-time harness.
 *
 * The macros of <valgrind/memcheck.h> expand to a magic instruction sequence
 * that does nothing on a real CPU and talks to memcheck under valgrind, so
 * the harness also runs natively (where these calls are no-ops). */
#include <stddef.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

/* Marks bytes as undefined: memcheck then reports any branch, memory
 * address or system call argument that depends on them. */
void wgct_mark_secret(const void *addr, size_t len) {
    (void)VALGRIND_MAKE_MEM_UNDEFINED(addr, len);
}

/* Marks bytes as defined: declassifies a value that is allowed to be public. */
void wgct_mark_public(const void *addr, size_t len) {
    (void)VALGRIND_MAKE_MEM_DEFINED(addr, len);
}

/* Non-zero when running under valgrind. */
unsigned wgct_running_on_valgrind(void) {
    return (unsigned)RUNNING_ON_VALGRIND;
}

/* How many errors valgrind has reported so far (0 natively). */
unsigned wgct_error_count(void) {
    return (unsigned)VALGRIND_COUNT_ERRORS;
}
