/* The shared vectors through the C API: every valid token of
 * testdata/token-vectors.json verifies against its published verifier, every
 * invalid one is refused; every case of testdata/header-cases.json gives
 * exactly the expected status, body, challenge and principal, through both
 * wga_keyring_verify_headers and the per-profile value functions, and their
 * _ex forms, whose principal carries the token's scopes: a case's
 * required_scope is checked with wga_principal_has_scope once the token is
 * accepted, and a missing one answered with wga_scope_denial_for. */
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

/* Whether a verification's answer is the case's. `px` is NULL for the
 * functions whose principal has no scopes: the scope check needs them, so
 * there only authentication is compared (an insufficient_scope case is an
 * accepted token). */
static int case_matches(const struct hc_case *c, wga_status s, const wga_principal *p,
                        const wga_principal_ex *px) {
  int ok = 1;
  int denied = strcmp(c->expect, "insufficient_scope") == 0;
  wga_status want = WGA_OK;
  if (strcmp(c->expect, "missing") == 0) {
    want = c->mcp ? WGA_BEARER_MISSING : WGA_ACCESS_TOKEN_MISSING;
  } else if (strcmp(c->expect, "invalid") == 0) {
    want = c->mcp ? WGA_BEARER_INVALID : WGA_ACCESS_TOKEN_INVALID;
  }
  ok &= s == want;
  if (s == WGA_OK && want == WGA_OK) {
    ok &= c->status == (denied ? 403 : 200);
    ok &= strcmp(p->account, c->account) == 0 && p->account_len == strlen(c->account);
    ok &= strcmp(p->token_id, c->token_id) == 0;
    ok &= strcmp(p->name, c->token_name) == 0 && p->name_len == strlen(c->token_name);
    if (px != NULL) {
      /* principal.scopes is listed for restricted tokens only. */
      ok &= px->restricted == (c->scopes != NULL);
      ok &= opt_str_eq(px->restricted ? px->scopes : NULL, c->scopes);
      ok &= px->scopes_len == (c->scopes ? strlen(c->scopes) : 0);
      if (c->required_scope != NULL) {
        int held = wga_principal_has_scope(px, c->required_scope, strlen(c->required_scope));
        ok &= held == !denied;
        if (!held) {
          wga_scope_denial d;
          ok &= wga_scope_denial_for(c->mcp ? WGA_PROFILE_MCP : WGA_PROFILE_REST,
                                     c->required_scope, strlen(c->required_scope),
                                     &d) == WGA_OK;
          ok &= d.http_code == c->status;
          ok &= opt_str_eq(d.body, c->body) && d.body_len == strlen(c->body);
          ok &= opt_str_eq(d.has_www_authenticate ? d.www_authenticate : NULL,
                           c->www_authenticate);
        }
      } else {
        ok &= !denied;
      }
    }
  } else if (want != WGA_OK) {
    ok &= wga_status_http_code(s) == c->status;
    ok &= opt_str_eq(wga_status_body(s), c->body);
    ok &= opt_str_eq(wga_status_www_authenticate(s), c->www_authenticate);
  }
  return ok;
}

static void check_case(const struct hc_case *c, wga_status s, const wga_principal_ex *px,
                       int with_scopes, const char *via) {
  const wga_principal_ex *scoped = with_scopes ? px : NULL;
  int ok = case_matches(c, s, &px->principal, scoped);
  if (!ok) {
    fprintf(stderr, "case \"%s\" via %s: got status %u (%s), expected %s\n", c->name, via,
            (unsigned)s, wga_status_message(s), c->expect);
  }
  CHECK(ok);
  /* Positive controls: the comparison notices a wrong answer, and, where
   * the scopes are read, a scope check or a scope list that went wrong. */
  {
    struct hc_case flipped = *c;
    flipped.expect = strcmp(c->expect, "invalid") == 0 ? "missing" : "invalid";
    CHECK(!case_matches(&flipped, s, &px->principal, scoped));
    if (scoped != NULL && s == WGA_OK) {
      flipped = *c;
      flipped.expect = strcmp(c->expect, "ok") == 0 ? "insufficient_scope" : "ok";
      CHECK(!case_matches(&flipped, s, &px->principal, scoped));
      flipped = *c;
      flipped.scopes = c->scopes == NULL ? "" : NULL;
      CHECK(!case_matches(&flipped, s, &px->principal, scoped));
    }
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
    wga_record_extra extra, back;
    fill_record(&rec, r->id, r->account, r->name, r->verifier, r->created_at);
    rec.has_last_used_at = r->has_last_used_at != 0;
    rec.last_used_at = r->last_used_at;
    rec.has_rollover = r->has_rollover != 0;
    memcpy(rec.rollover_verifier, r->rollover_verifier, 32);
    rec.rollover_until = r->rollover_until;
    memset(&extra, 0, sizeof extra);
    if (r->scopes != NULL) {
      extra.restricted = true;
      extra.scopes_len = strlen(r->scopes);
      memcpy(extra.scopes, r->scopes, extra.scopes_len);
    }
    extra.has_expires_at = r->has_expires_at != 0;
    extra.expires_at = r->expires_at;
    extra.disabled = r->disabled != 0;
    if (r->description != NULL) {
      extra.has_description = true;
      extra.description_len = strlen(r->description);
      memcpy(extra.description, r->description, extra.description_len);
    }
    CHECK_STATUS(wga_keyring_add_ex(kr, &rec, &extra), WGA_OK);
    /* The record reads back as it went in. */
    memset(&back, 0xa5, sizeof back);
    CHECK_STATUS(wga_keyring_get_extra(kr, r->id, strlen(r->id), &back), WGA_OK);
    CHECK(back.restricted == extra.restricted && back.scopes_len == extra.scopes_len);
    CHECK(memcmp(back.scopes, extra.scopes, extra.scopes_len) == 0 &&
          back.scopes[back.scopes_len] == 0);
    CHECK(back.has_expires_at == extra.has_expires_at && back.expires_at == extra.expires_at);
    CHECK(back.disabled == extra.disabled && back.has_description == extra.has_description);
    CHECK(back.description_len == extra.description_len &&
          memcmp(back.description, extra.description, extra.description_len) == 0);
  }
  for (i = 0; i < HC_CASE_COUNT; i++) {
    const struct hc_case *c = &HC_CASES[i];
    const uint8_t *names[8], *values[8];
    size_t name_lens[8], value_lens[8];
    const uint8_t *picked[8];
    size_t picked_lens[8];
    size_t n = c->header_count, npicked = 0;
    wga_principal_ex px;
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
    memset(&px, 0, sizeof px);
    s = wga_keyring_verify_headers(kr, c->mcp ? WGA_PROFILE_MCP : WGA_PROFILE_REST, names,
                                   name_lens, values, value_lens, n, HC_NOW, &px.principal);
    check_case(c, s, &px, 0, "wga_keyring_verify_headers");
    memset(&px, 0, sizeof px);
    s = wga_keyring_verify_headers_ex(kr, c->mcp ? WGA_PROFILE_MCP : WGA_PROFILE_REST, names,
                                      name_lens, values, value_lens, n, HC_NOW, &px);
    check_case(c, s, &px, 1, "wga_keyring_verify_headers_ex");
    memset(&px, 0, sizeof px);
    if (c->mcp) {
      s = wga_keyring_verify_authorization(kr, picked, picked_lens, npicked, HC_NOW,
                                           &px.principal);
      check_case(c, s, &px, 0, "wga_keyring_verify_authorization");
      memset(&px, 0, sizeof px);
      s = wga_keyring_verify_authorization_ex(kr, picked, picked_lens, npicked, HC_NOW, &px);
      check_case(c, s, &px, 1, "wga_keyring_verify_authorization_ex");
    } else {
      s = wga_keyring_verify_access_token(kr, picked, picked_lens, npicked, HC_NOW,
                                          &px.principal);
      check_case(c, s, &px, 0, "wga_keyring_verify_access_token");
      memset(&px, 0, sizeof px);
      s = wga_keyring_verify_access_token_ex(kr, picked, picked_lens, npicked, HC_NOW, &px);
      check_case(c, s, &px, 1, "wga_keyring_verify_access_token_ex");
    }
  }
  wga_keyring_free(kr);
}

int main(void) {
  test_token_vectors();
  test_header_cases();
  return report("test_vectors");
}
