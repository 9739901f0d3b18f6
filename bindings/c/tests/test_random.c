/* Random and mutated input through every verify entry point (a small,
 * deterministic fuzz run that also goes under ASan/UBSan and valgrind):
 * nothing crashes, every status is one the function documents, and a REST
 * value is accepted exactly when, trimmed of spaces and tabs, it is the
 * created token (an oracle independent of the library). Each input is then
 * verified again with the keyring unavailable: a "missing" answer stays,
 * an accepted or refused token becomes WGA_STORE_UNAVAILABLE, except where
 * the header is malformed whatever the store holds (two token headers; in
 * MCP, the Bearer scheme with no token), which stays invalid. */
#include <stdint.h>

#include "check.h"

#define ITERATIONS 20000
#define NOW 1790000000ULL
#define MAX_VALUE 300

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void) {
  /* xorshift64*: deterministic, so a failure can be replayed. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t below(size_t n) { return (size_t)(next_random() % n); }

/* Fills `out` with a random candidate value; returns its length. */
static size_t make_value(uint8_t *out, const char *token, size_t token_len) {
  static const uint8_t interesting[] = {' ', '\t', '\0', '\r', '\n', 0x80, 0xff, '=',
                                        '+', '/', '-', '_', 'A', 'a', '0'};
  size_t len = 0, i, n;
  switch (below(5)) {
    case 0: /* random bytes */
      len = below(MAX_VALUE);
      for (i = 0; i < len; i++) {
        out[i] = (uint8_t)next_random();
      }
      return len;
    case 1: /* the token, untouched, with random spaces and tabs around */
    case 2: /* the token with a few mutations */
    default: {
      size_t lead = below(4), trail = below(4);
      for (i = 0; i < lead; i++) {
        out[len++] = below(2) ? ' ' : '\t';
      }
      if (below(4) == 0) {
        memcpy(out + len, "Bearer ", 7);
        len += 7;
      }
      memcpy(out + len, token, token_len);
      n = below(3) == 0 ? 0 : 1 + below(3);
      for (i = 0; i < n; i++) {
        size_t at = len + below(token_len);
        out[at] = below(2) ? interesting[below(sizeof interesting)] : (uint8_t)next_random();
      }
      len += token_len;
      if (below(6) == 0) {
        len -= below(token_len); /* truncated */
      }
      for (i = 0; i < trail; i++) {
        out[len++] = below(2) ? ' ' : '\t';
      }
      return len;
    }
  }
}

/* The oracle for one REST value: accepted iff the trimmed value is the token. */
static int rest_should_accept(const uint8_t *v, size_t len, const char *token, size_t tlen) {
  size_t start = 0, end = len;
  while (start < end && (v[start] == ' ' || v[start] == '\t')) {
    start++;
  }
  while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
    end--;
  }
  return end - start == tlen && memcmp(v + start, token, tlen) == 0;
}

/* Whether one Authorization value is malformed whatever the store holds:
 * after trimming spaces and tabs, the scheme "Bearer" (any case) followed by
 * nothing, by spaces only, or by a tab. */
static int mcp_malformed(const uint8_t *v, size_t len) {
  static const char scheme[] = "bearer";
  size_t start = 0, end = len, i;
  while (start < end && (v[start] == ' ' || v[start] == '\t')) {
    start++;
  }
  while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
    end--;
  }
  if (end - start < 6) {
    return 0;
  }
  for (i = 0; i < 6; i++) {
    uint8_t c = v[start + i];
    if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != scheme[i]) {
      return 0;
    }
  }
  start += 6;
  if (start == end || v[start] == '\t') {
    return 1;
  }
  if (v[start] != ' ') {
    return 0; /* another scheme: missing, not malformed */
  }
  while (start < end && v[start] == ' ') {
    start++;
  }
  return start == end;
}

/* The answer with the keyring unavailable, from the answer with it
 * available: `malformed` says the value is invalid whatever the store holds
 * (-1: not known, either invalid answer is accepted). */
static int unavailable_answer_ok(wga_status available, wga_status unavailable, int malformed) {
  switch (available) {
    case WGA_ACCESS_TOKEN_MISSING:
    case WGA_BEARER_MISSING:
      return unavailable == available;
    case WGA_OK:
      return unavailable == WGA_STORE_UNAVAILABLE;
    case WGA_ACCESS_TOKEN_INVALID:
    case WGA_BEARER_INVALID:
      if (malformed < 0) {
        return unavailable == available || unavailable == WGA_STORE_UNAVAILABLE;
      }
      return unavailable == (malformed ? available : WGA_STORE_UNAVAILABLE);
    default:
      return 0;
  }
}

int main(int argc, char **argv) {
  /* Iterations: ITERATIONS, or argv[1] (fewer under valgrind). */
  int iterations = argc > 1 ? atoi(argv[1]) : ITERATIONS;
  wga_keyring *kr = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  size_t token_len = 0;
  wga_record rec;
  static uint8_t values[3][MAX_VALUE + 16];
  const uint8_t *ptrs[3];
  size_t lens[3];
  const uint8_t *names[3];
  size_t name_lens[3];
  static const char *const header_names[] = {"Access-Token", "authorization", "Host",
                                             "ACCESS-TOKEN", "Authorization"};
  unsigned long accepted = 0, wrong = 0, bad_status = 0;
  unsigned long unavailable = 0, kept_missing = 0, kept_invalid = 0, unavailable_wrong = 0;
  int iter;

  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  CHECK_STATUS(wga_keyring_create(kr, "acct_fuzz", 9, "fuzz", 4, NOW, token, sizeof token,
                                  &token_len, &rec),
               WGA_OK);

  for (iter = 0; iter < iterations; iter++) {
    size_t count = below(8) == 0 ? 2 : 1, i;
    wga_principal p;
    wga_status s, rest, mcp, pairs, bare, again;
    uint32_t profile;
    int expect_ok, mcp_bad;
    for (i = 0; i < count; i++) {
      lens[i] = make_value(values[i], token, token_len);
      ptrs[i] = values[i];
      names[i] = (const uint8_t *)header_names[below(5)];
      name_lens[i] = strlen((const char *)names[i]);
    }

    s = rest = wga_keyring_verify_access_token(kr, ptrs, lens, count, NOW, &p);
    expect_ok = count == 1 && rest_should_accept(ptrs[0], lens[0], token, token_len);
    if (s == WGA_OK) {
      accepted++;
      if (strcmp(p.token_id, rec.id) != 0) {
        wrong++;
      }
    } else if (s != WGA_ACCESS_TOKEN_MISSING && s != WGA_ACCESS_TOKEN_INVALID) {
      bad_status++;
    }
    if ((s == WGA_OK) != expect_ok) {
      fprintf(stderr, "iteration %d: REST verdict %u disagrees with the oracle\n", iter,
              (unsigned)s);
      wrong++;
    }

    s = mcp = wga_keyring_verify_authorization(kr, ptrs, lens, count, NOW, NULL);
    if (s != WGA_OK && s != WGA_BEARER_MISSING && s != WGA_BEARER_INVALID) {
      bad_status++;
    }
    profile = (uint32_t)below(2);
    s = pairs = wga_keyring_verify_headers(kr, profile, names, name_lens, ptrs, lens, count,
                                           NOW, &p);
    if (s != WGA_OK && s != WGA_ACCESS_TOKEN_MISSING && s != WGA_ACCESS_TOKEN_INVALID &&
        s != WGA_BEARER_MISSING && s != WGA_BEARER_INVALID) {
      bad_status++;
    }
    s = bare = wga_keyring_verify_token(kr, ptrs[0], lens[0], NOW, &p);
    if (s != WGA_OK && s != WGA_INVALID_TOKEN) {
      bad_status++;
    }
    if ((s == WGA_OK) != (lens[0] == token_len && memcmp(ptrs[0], token, token_len) == 0)) {
      fprintf(stderr, "iteration %d: bare-token verdict %u is wrong\n", iter, (unsigned)s);
      wrong++;
    }

    /* The same input with the keyring unavailable. */
    CHECK_STATUS(wga_keyring_set_available(kr, false), WGA_OK);
    mcp_bad = count == 2 || mcp_malformed(ptrs[0], lens[0]);
    again = wga_keyring_verify_access_token(kr, ptrs, lens, count, NOW, &p);
    if (!unavailable_answer_ok(rest, again, count == 2)) {
      fprintf(stderr, "iteration %d: REST %u became %u when unavailable\n", iter,
              (unsigned)rest, (unsigned)again);
      unavailable_wrong++;
    }
    unavailable += again == WGA_STORE_UNAVAILABLE;
    kept_missing += again == WGA_ACCESS_TOKEN_MISSING;
    kept_invalid += again == WGA_ACCESS_TOKEN_INVALID;
    again = wga_keyring_verify_authorization(kr, ptrs, lens, count, NOW, NULL);
    if (!unavailable_answer_ok(mcp, again, mcp_bad)) {
      fprintf(stderr, "iteration %d: MCP %u became %u when unavailable\n", iter,
              (unsigned)mcp, (unsigned)again);
      unavailable_wrong++;
    }
    kept_missing += again == WGA_BEARER_MISSING;
    kept_invalid += again == WGA_BEARER_INVALID;
    again = wga_keyring_verify_headers(kr, profile, names, name_lens, ptrs, lens, count, NOW,
                                       &p);
    if (!unavailable_answer_ok(pairs, again, -1)) {
      fprintf(stderr, "iteration %d: header pairs %u became %u when unavailable\n", iter,
              (unsigned)pairs, (unsigned)again);
      unavailable_wrong++;
    }
    again = wga_keyring_verify_token(kr, ptrs[0], lens[0], NOW, &p);
    if (again != WGA_STORE_UNAVAILABLE) {
      fprintf(stderr, "iteration %d: bare token %u became %u when unavailable\n", iter,
              (unsigned)bare, (unsigned)again);
      unavailable_wrong++;
    }
    CHECK_STATUS(wga_keyring_set_available(kr, true), WGA_OK);
  }
  printf("%d iterations, %lu REST values accepted\n", iterations, accepted);
  CHECK(iterations > 0);
  CHECK(accepted > 0); /* the generator does produce valid values */
  CHECK(accepted < (unsigned long)iterations);
  CHECK(wrong == 0);
  CHECK(bad_status == 0);
  printf("unavailable: %lu REST tokens answered 503; %lu missing and %lu invalid kept\n",
         unavailable, kept_missing, kept_invalid);
  /* Positive controls: each kind of unavailable answer did occur. */
  CHECK(unavailable > 0 && kept_missing > 0 && kept_invalid > 0);
  CHECK(unavailable_wrong == 0);
  wga_keyring_free(kr);
  return report("test_random");
}
