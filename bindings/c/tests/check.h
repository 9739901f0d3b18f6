/* A minimal check harness for the C tests: each CHECK counts as one check;
 * the program ends with "N passed, M failed" and exits non-zero on failure. */
#ifndef WGA_TEST_CHECK_H
#define WGA_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "whatsgate_auth.h"

static unsigned long checks_passed;
static unsigned long checks_failed;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) {                                                            \
      checks_passed++;                                                     \
    } else {                                                               \
      checks_failed++;                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
    }                                                                      \
  } while (0)

/* Compares statuses and prints both names on a mismatch. */
#define CHECK_STATUS(call, expected)                                       \
  do {                                                                     \
    wga_status got_ = (call);                                              \
    wga_status want_ = (expected);                                         \
    if (got_ == want_) {                                                   \
      checks_passed++;                                                     \
    } else {                                                               \
      checks_failed++;                                                     \
      fprintf(stderr, "%s:%d: %s gave %u (%s), expected %u (%s)\n",        \
              __FILE__, __LINE__, #call, (unsigned)got_,                   \
              wga_status_message(got_), (unsigned)want_,                   \
              wga_status_message(want_));                                  \
    }                                                                      \
  } while (0)

static inline int report(const char *suite) {
  printf("%s: %lu passed, %lu failed\n", suite, checks_passed, checks_failed);
  return checks_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Whether every byte of a region still holds `fill` (an out-parameter that
 * must not have been written). */
static inline int untouched(const void *p, size_t n, unsigned char fill) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i;
  for (i = 0; i < n; i++) {
    if (b[i] != fill) {
      return 0;
    }
  }
  return 1;
}

#endif /* WGA_TEST_CHECK_H */
