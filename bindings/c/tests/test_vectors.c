/* The shared vectors through the C API: every valid token of
 * testdata/token-vectors.json verifies against its published verifier, every
 * invalid one is refused; every case of testdata/header-cases.json gives
 * exactly the expected status, body, challenge and principal, through both
 * wga_keyring_verify_headers and the per-profile value functions. */
#include <stdint.h>

#include "check.h"
#include "vectors.h"

static void fill_record(wga_record *rec, const char *id, const char *account,
                        const char *name, const uint8_t verifier[32], uint64_t created_at) {
  memset(rec, 0, sizeof *rec);
  strcpy(rec->id, id);
  rec->account_len = strlen(account);
  memcpy(rec->account, account, rec->account_len);
  rec->name_len = strlen(name);
  memcpy(rec->name, name, rec->name_len);
  memcpy(rec->verifier, verifier, 32);
  rec->created_at = created_at;
}

static void test_token_vectors(void) {
  wga_keyring *kr = NULL;
  wga_principal p;
  size_t i;
  CHECK(TV_VALID_COUNT > 0 && TV_INVALID_COUNT > 0);
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  for (i = 0; i < TV_VALID_COUNT; i++) {
    wga_record rec;
    char name[32];
    snprintf(name, sizeof name, "vector %u", (unsigned)i);
    fill_record(&rec, TV_VALID[i].id, "acct_vectors", name, TV_VALID[i].verifier, 1);
    CHECK_STATUS(wga_keyring_add(kr, &rec), WGA_OK);
  }
  for (i = 0; i < TV_VALID_COUNT; i++) {
    const uint8_t *v = TV_VALID[i].token;
    size_t n = TV_VALID[i].token_len;
    memset(&p, 0, sizeof p);
    CHECK_STATUS(wga_keyring_verify_token(kr, v, n, 2, &p), WGA_OK);
    CHECK(strcmp(p.token_id, TV_VALID[i].id) == 0);
    CHECK(strcmp(p.account, "acct_vectors") == 0);
    CHECK_STATUS(wga_keyring_verify_access_token(kr, &v, &n, 1, 2, &p), WGA_OK);
    /* One byte less is refused (positive control for the checks below). */
    CHECK_STATUS(wga_keyring_verify_token(kr, v, n - 1, 2, &p), WGA_INVALID_TOKEN);
  }
  for (i = 0; i < TV_INVALID_COUNT; i++) {
    wga_status s = wga_keyring_verify_token(kr, TV_INVALID[i].token, TV_INVALID[i].token_len,
                                            2, &p);
    if (s != WGA_INVALID_TOKEN) {
      fprintf(stderr, "invalid vector accepted or mis-reported (%s): status %u\n",
              TV_INVALID[i].why, (unsigned)s);
    }
    CHECK(s == WGA_INVALID_TOKEN);
  }
  wga_keyring_free(kr);
}

static int name_is(const uint8_t *name, size_t len, const char *want) {
  size_t i;
  if (len != strlen(want)) {
    return 0;
  }
  for (i = 0; i < len; i++) {
    uint8_t c = name[i];
    if (c >= 'A' && c <= 'Z') {
      c = (uint8_t)(c - 'A' + 'a');
    }
    if (c != (uint8_t)want[i]) {
      return 0;
    }
  }
  return 1;
}

static int opt_str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

static int case_matches(const struct hc_case *c, wga_status s, const wga_principal *p) {
  int ok = 1;
  wga_status want = WGA_OK;
  if (strcmp(c->expect, "missing") == 0) {
    want = c->mcp ? WGA_BEARER_MISSING : WGA_ACCESS_TOKEN_MISSING;
  } else if (strcmp(c->expect, "invalid") == 0) {
    want = c->mcp ? WGA_BEARER_INVALID : WGA_ACCESS_TOKEN_INVALID;
  }
  ok &= s == want;
  if (s == WGA_OK && want == WGA_OK) {
    ok &= c->status == 200;
    ok &= strcmp(p->account, c->account) == 0 && p->account_len == strlen(c->account);
    ok &= strcmp(p->token_id, c->token_id) == 0;
    ok &= strcmp(p->name, c->token_name) == 0 && p->name_len == strlen(c->token_name);
  } else if (want != WGA_OK) {
    ok &= wga_status_http_code(s) == c->status;
    ok &= opt_str_eq(wga_status_body(s), c->body);
    ok &= opt_str_eq(wga_status_www_authenticate(s), c->www_authenticate);
  }
  return ok;
}

static void check_case(const struct hc_case *c, wga_status s, const wga_principal *p,
                       const char *via) {
  int ok = case_matches(c, s, p);
  if (!ok) {
    fprintf(stderr, "case \"%s\" via %s: got status %u (%s), expected %s\n", c->name, via,
            (unsigned)s, wga_status_message(s), c->expect);
  }
  CHECK(ok);
  /* Positive control: the comparison notices a wrong answer. */
  {
    struct hc_case flipped = *c;
    flipped.expect = strcmp(c->expect, "invalid") == 0 ? "missing" : "invalid";
    CHECK(!case_matches(&flipped, s, p));
  }
}

static void test_header_cases(void) {
  wga_keyring *kr = NULL;
  size_t i, j;
  CHECK(HC_CASE_COUNT > 0);
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  for (i = 0; i < HC_RECORD_COUNT; i++) {
    const struct hc_record *r = &HC_RECORDS[i];
    wga_record rec;
    fill_record(&rec, r->id, r->account, r->name, r->verifier, r->created_at);
    rec.has_last_used_at = r->has_last_used_at != 0;
    rec.last_used_at = r->last_used_at;
    rec.has_rollover = r->has_rollover != 0;
    memcpy(rec.rollover_verifier, r->rollover_verifier, 32);
    rec.rollover_until = r->rollover_until;
    CHECK_STATUS(wga_keyring_add(kr, &rec), WGA_OK);
  }
  for (i = 0; i < HC_CASE_COUNT; i++) {
    const struct hc_case *c = &HC_CASES[i];
    const uint8_t *names[8], *values[8];
    size_t name_lens[8], value_lens[8];
    const uint8_t *picked[8];
    size_t picked_lens[8];
    size_t n = c->header_count, npicked = 0;
    wga_principal p;
    wga_status s;
    CHECK(n <= 8);
    for (j = 0; j < n && j < 8; j++) {
      names[j] = c->headers[j].name;
      name_lens[j] = c->headers[j].name_len;
      values[j] = c->headers[j].value;
      value_lens[j] = c->headers[j].value_len;
      if (name_is(names[j], name_lens[j], c->mcp ? "authorization" : "access-token")) {
        picked[npicked] = values[j];
        picked_lens[npicked] = value_lens[j];
        npicked++;
      }
    }
    memset(&p, 0, sizeof p);
    s = wga_keyring_verify_headers(kr, c->mcp ? WGA_PROFILE_MCP : WGA_PROFILE_REST, names,
                                   name_lens, values, value_lens, n, HC_NOW, &p);
    check_case(c, s, &p, "wga_keyring_verify_headers");
    memset(&p, 0, sizeof p);
    if (c->mcp) {
      s = wga_keyring_verify_authorization(kr, picked, picked_lens, npicked, HC_NOW, &p);
      check_case(c, s, &p, "wga_keyring_verify_authorization");
    } else {
      s = wga_keyring_verify_access_token(kr, picked, picked_lens, npicked, HC_NOW, &p);
      check_case(c, s, &p, "wga_keyring_verify_access_token");
    }
  }
  wga_keyring_free(kr);
}

int main(void) {
  test_token_vectors();
  test_header_cases();
  return report("test_vectors");
}
