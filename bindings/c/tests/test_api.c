/* Every function of whatsgate_auth.h, with every error path: NULL arguments,
 * short buffers, invalid arguments, and out-parameters left untouched on
 * failure. */
#include <stdint.h>

#include "check.h"

#define NOW 1790000000ULL
#define FILL 0xAB

static const char ACCOUNT[] = "acct_42";
static const char NAME[] = "Production API";

static void test_version(void) {
  CHECK(wga_version() != NULL);
  CHECK(strcmp(wga_version(), WGA_VERSION) == 0);
  CHECK(WGA_VERSION_MAJOR >= 0 && WGA_VERSION_MINOR >= 0 && WGA_VERSION_PATCH >= 0);
}

static void test_status_strings(void) {
  static const wga_status all[] = {
      WGA_OK, WGA_NULL_PARAMETER, WGA_PANIC, WGA_BUFFER_TOO_SMALL,
      WGA_INVALID_ACCOUNT, WGA_INVALID_NAME, WGA_INVALID_TOKEN_ID,
      WGA_UNKNOWN_TOKEN, WGA_DUPLICATE_ID, WGA_DUPLICATE_NAME, WGA_RNG_FAILED,
      WGA_INDEX_OUT_OF_RANGE, WGA_INVALID_ARGUMENT, WGA_INVALID_TOKEN, WGA_INVALID_URL,
      WGA_STORE_ERROR, WGA_INVALID_STORE_URL, WGA_KEYRING_ATTACHED, WGA_KEYRING_NOT_ATTACHED,
      WGA_ACCESS_TOKEN_MISSING, WGA_ACCESS_TOKEN_INVALID, WGA_BEARER_MISSING,
      WGA_BEARER_INVALID, WGA_STORE_UNAVAILABLE};
  size_t i;
  /* Explicit, never-reused values. */
  CHECK(WGA_OK == 0 && WGA_NULL_PARAMETER == 1 && WGA_PANIC == 2);
  CHECK(WGA_ACCESS_TOKEN_MISSING == 100 && WGA_ACCESS_TOKEN_INVALID == 101);
  CHECK(WGA_BEARER_MISSING == 110 && WGA_BEARER_INVALID == 111);
  CHECK(WGA_STORE_UNAVAILABLE == 120);
  CHECK(sizeof all / sizeof all[0] == 24);
  CHECK(WGA_PROFILE_REST == 0 && WGA_PROFILE_MCP == 1);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    const char *m = wga_status_message(all[i]);
    CHECK(m != NULL && strlen(m) > 0 && strcmp(m, "unknown status") != 0);
  }
  CHECK(WGA_INVALID_TOKEN == 13 && WGA_INVALID_URL == 14);
  CHECK(WGA_STORE_ERROR == 15 && WGA_INVALID_STORE_URL == 16);
  CHECK(WGA_KEYRING_ATTACHED == 17 && WGA_KEYRING_NOT_ATTACHED == 18);
  CHECK(WGA_POLICY_REFUSED == 19 && WGA_INVALID_SCOPE == 20);
  CHECK(WGA_TOO_MANY_SCOPES == 21 && WGA_INVALID_DESCRIPTION == 22);
  CHECK(strcmp(wga_status_message(23), "unknown status") == 0);
  CHECK(strcmp(wga_status_message(121), "unknown status") == 0);
  CHECK(strcmp(wga_status_message(UINT32_MAX), "unknown status") == 0);

  CHECK(wga_status_http_code(WGA_ACCESS_TOKEN_MISSING) == 403);
  CHECK(wga_status_http_code(WGA_ACCESS_TOKEN_INVALID) == 403);
  CHECK(wga_status_http_code(WGA_BEARER_MISSING) == 401);
  CHECK(wga_status_http_code(WGA_BEARER_INVALID) == 401);
  CHECK(wga_status_http_code(WGA_STORE_UNAVAILABLE) == 503);
  CHECK(wga_status_http_code(WGA_OK) == 0);
  CHECK(wga_status_http_code(WGA_NULL_PARAMETER) == 0);
  CHECK(wga_status_http_code(999) == 0);

  CHECK(strcmp(wga_status_body(WGA_ACCESS_TOKEN_MISSING),
               "{\"message\": \"an Access-Token is required\"}") == 0);
  CHECK(strcmp(wga_status_body(WGA_ACCESS_TOKEN_INVALID),
               "{\"message\": \"invalid Access-Token\"}") == 0);
  CHECK(strcmp(wga_status_body(WGA_BEARER_MISSING),
               "{\"message\": \"a Bearer token is required\"}") == 0);
  CHECK(strcmp(wga_status_body(WGA_BEARER_INVALID),
               "{\"message\": \"invalid Bearer token\"}") == 0);
  CHECK(strcmp(wga_status_body(WGA_STORE_UNAVAILABLE),
               "{\"message\": \"the token store cannot be reached; retry later\"}") == 0);
  CHECK(wga_status_body(WGA_OK) == NULL);
  CHECK(wga_status_body(WGA_INVALID_TOKEN) == NULL);
  CHECK(wga_status_body(999) == NULL);

  CHECK(wga_status_www_authenticate(WGA_ACCESS_TOKEN_MISSING) == NULL);
  CHECK(wga_status_www_authenticate(WGA_ACCESS_TOKEN_INVALID) == NULL);
  CHECK(strcmp(wga_status_www_authenticate(WGA_BEARER_MISSING),
               "Bearer realm=\"whatsgate\"") == 0);
  CHECK(strcmp(wga_status_www_authenticate(WGA_BEARER_INVALID),
               "Bearer realm=\"whatsgate\", error=\"invalid_token\"") == 0);
  CHECK(wga_status_www_authenticate(WGA_STORE_UNAVAILABLE) == NULL);
  CHECK(wga_status_www_authenticate(WGA_OK) == NULL);
  CHECK(wga_status_www_authenticate(999) == NULL);

  /* Retry-After: only the 503 sends one (0 means none). */
  CHECK(wga_status_retry_after(WGA_STORE_UNAVAILABLE) == 1);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (all[i] != WGA_STORE_UNAVAILABLE) {
      CHECK(wga_status_retry_after(all[i]) == 0);
    }
  }
  CHECK(wga_status_retry_after(999) == 0);
  CHECK(wga_status_retry_after(UINT32_MAX) == 0);
}

static void test_challenge_with_resource_metadata(void) {
  static const char url[] = "https://api.example/.well-known/oauth-protected-resource";
  static const char want_invalid[] =
      "Bearer realm=\"whatsgate\", error=\"invalid_token\", "
      "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";
  static const char want_missing[] =
      "Bearer realm=\"whatsgate\", "
      "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";
  char buf[200];
  size_t len = 0;

  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, url, strlen(url), buf,
                                                sizeof buf, &len),
               WGA_OK);
  CHECK(strcmp(buf, want_invalid) == 0 && len == strlen(want_invalid));
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_MISSING, url, strlen(url), buf,
                                                sizeof buf, &len),
               WGA_OK);
  CHECK(strcmp(buf, want_missing) == 0 && len == strlen(want_missing));
  /* Exactly big enough, then one byte short. */
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_MISSING, url, strlen(url), buf,
                                                strlen(want_missing) + 1, &len),
               WGA_OK);
  memset(buf, FILL, sizeof buf);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_MISSING, url, strlen(url), buf,
                                                strlen(want_missing), &len),
               WGA_BUFFER_TOO_SMALL);
  CHECK(len == strlen(want_missing) + 1 && untouched(buf, sizeof buf, FILL));
  len = 7;
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_ACCESS_TOKEN_INVALID, url, strlen(url),
                                                buf, sizeof buf, &len),
               WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_OK, url, strlen(url), buf, sizeof buf,
                                                &len),
               WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_STORE_UNAVAILABLE, url, strlen(url), buf,
                                                sizeof buf, &len),
               WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, "a\"b", 3, buf,
                                                sizeof buf, &len),
               WGA_INVALID_URL);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, "a b", 3, buf,
                                                sizeof buf, &len),
               WGA_INVALID_URL);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, "", 0, buf, sizeof buf,
                                                &len),
               WGA_INVALID_URL);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, "\xc3\xa9", 2, buf,
                                                sizeof buf, &len),
               WGA_INVALID_URL);
  CHECK(len == 7 && untouched(buf, sizeof buf, FILL));
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, NULL, 3, buf,
                                                sizeof buf, &len),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, url, strlen(url), NULL,
                                                sizeof buf, &len),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_status_www_authenticate_with(WGA_BEARER_INVALID, url, strlen(url), buf,
                                                sizeof buf, NULL),
               WGA_NULL_PARAMETER);
}

static int is_hex16(const char *s) {
  size_t i;
  for (i = 0; i < 16; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return 0;
    }
  }
  return s[16] == '\0';
}

static void test_generate(void) {
  char token[WGA_TOKEN_BUFFER_LEN];
  char small[55];
  size_t len = 7;
  wga_record rec;

  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW,
                                  token, sizeof token, &len, &rec),
               WGA_OK);
  CHECK(len == 55 && strlen(token) == 55 && strncmp(token, "wgat_", 5) == 0);
  CHECK(is_hex16(rec.id));
  CHECK(rec.account_len == strlen(ACCOUNT) && strcmp(rec.account, ACCOUNT) == 0);
  CHECK(rec.name_len == strlen(NAME) && strcmp(rec.name, NAME) == 0);
  CHECK(rec.created_at == NOW && !rec.has_last_used_at && !rec.has_rollover);

  /* now = 0: the system clock. */
  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), 0,
                                  token, sizeof token, &len, &rec),
               WGA_OK);
  CHECK(rec.created_at > NOW - 100000000ULL);

  /* The generated record verifies the token once added to a keyring. */
  {
    wga_keyring *kr = NULL;
    wga_principal p;
    const uint8_t *v = (const uint8_t *)token;
    CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
    CHECK_STATUS(wga_keyring_add(kr, &rec), WGA_OK);
    CHECK_STATUS(wga_keyring_verify_access_token(kr, &v, &len, 1, NOW, &p), WGA_OK);
    CHECK(strcmp(p.token_id, rec.id) == 0 && strcmp(p.account, ACCOUNT) == 0);
    wga_keyring_free(kr);
  }

  /* Short buffer: the size needed, nothing else written. */
  memset(small, FILL, sizeof small);
  memset(&rec, FILL, sizeof rec);
  len = 0;
  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW,
                                  small, sizeof small, &len, &rec),
               WGA_BUFFER_TOO_SMALL);
  CHECK(len == 56);
  CHECK(untouched(small, sizeof small, FILL) && untouched(&rec, sizeof rec, FILL));
  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW,
                                  small, 0, &len, &rec),
               WGA_BUFFER_TOO_SMALL);
  CHECK(len == 56);

  /* Invalid labels. */
  len = 7;
  CHECK_STATUS(wga_generate_token("", 0, NAME, strlen(NAME), NOW, token, sizeof token,
                                  &len, &rec),
               WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_generate_token(" a", 2, NAME, strlen(NAME), NOW, token, sizeof token,
                                  &len, &rec),
               WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_generate_token("a\nb", 3, NAME, strlen(NAME), NOW, token,
                                  sizeof token, &len, &rec),
               WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_generate_token("\xff\xfe", 2, NAME, strlen(NAME), NOW, token,
                                  sizeof token, &len, &rec),
               WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), "   ", 3, NOW, token,
                                  sizeof token, &len, &rec),
               WGA_INVALID_NAME);
  {
    char long_name[66];
    memset(long_name, 'n', sizeof long_name);
    CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), long_name, 65, NOW,
                                    token, sizeof token, &len, &rec),
                 WGA_INVALID_NAME);
    CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), long_name, 64, NOW,
                                    token, sizeof token, &len, &rec),
                 WGA_OK);
    CHECK(rec.name_len == 64);
  }
  len = 7;
  memset(&rec, FILL, sizeof rec);
  CHECK_STATUS(wga_generate_token(ACCOUNT, strlen(ACCOUNT), "a\tb", 3, NOW, token,
                                  sizeof token, &len, &rec),
               WGA_INVALID_NAME);
  CHECK(len == 7 && untouched(&rec, sizeof rec, FILL));

  /* NULL arguments, one at a time. */
  CHECK_STATUS(wga_generate_token(NULL, 1, NAME, 1, NOW, token, sizeof token, &len, &rec),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_generate_token(ACCOUNT, 1, NULL, 1, NOW, token, sizeof token, &len, &rec),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_generate_token(ACCOUNT, 1, NAME, 1, NOW, NULL, sizeof token, &len, &rec),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_generate_token(ACCOUNT, 1, NAME, 1, NOW, token, sizeof token, NULL, &rec),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_generate_token(ACCOUNT, 1, NAME, 1, NOW, token, sizeof token, &len, NULL),
               WGA_NULL_PARAMETER);
  CHECK(len == 7);
}

/* Creates a token in a keyring; returns its length. */
static size_t create(wga_keyring *kr, const char *account, const char *name,
                     char token[WGA_TOKEN_BUFFER_LEN], wga_record *rec) {
  size_t len = 0;
  CHECK_STATUS(wga_keyring_create(kr, account, strlen(account), name, strlen(name), NOW,
                                  token, WGA_TOKEN_BUFFER_LEN, &len, rec),
               WGA_OK);
  return len;
}

static wga_status verify_rest(wga_keyring *kr, const char *value, uint64_t now,
                              wga_principal *p) {
  const uint8_t *v = (const uint8_t *)value;
  size_t n = strlen(value);
  return wga_keyring_verify_access_token(kr, &v, &n, 1, now, p);
}

static void test_keyring_lifecycle(void) {
  wga_keyring *kr = (wga_keyring *)(uintptr_t)1;
  char token[WGA_TOKEN_BUFFER_LEN];
  char token2[WGA_TOKEN_BUFFER_LEN];
  char small[10];
  size_t len, len2;
  wga_record rec, rec2, got;
  wga_principal p;

  CHECK_STATUS(wga_keyring_new(NULL), WGA_NULL_PARAMETER);
  wga_keyring_free(NULL);
  CHECK(wga_keyring_len(NULL) == 0);
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  CHECK(kr != NULL && wga_keyring_len(kr) == 0);

  len = create(kr, ACCOUNT, NAME, token, &rec);
  CHECK(len == 55 && wga_keyring_len(kr) == 1);
  CHECK(rec.created_at == NOW && strcmp(rec.account, ACCOUNT) == 0);

  /* create: errors. */
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW,
                                  token2, sizeof token2, &len2, &rec2),
               WGA_DUPLICATE_NAME);
  /* Names are trimmed, so this is the same name. */
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, strlen(ACCOUNT), " Production API ", 16,
                                  NOW, token2, sizeof token2, &len2, &rec2),
               WGA_DUPLICATE_NAME);
  len2 = 3;
  memset(small, FILL, sizeof small);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, strlen(ACCOUNT), "Other", 5, NOW, small,
                                  sizeof small, &len2, &rec2),
               WGA_BUFFER_TOO_SMALL);
  CHECK(len2 == 56 && untouched(small, sizeof small, FILL) && wga_keyring_len(kr) == 1);
  CHECK_STATUS(wga_keyring_create(kr, "", 0, "Other", 5, NOW, token2, sizeof token2, &len2,
                                  &rec2),
               WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, strlen(ACCOUNT), "", 0, NOW, token2,
                                  sizeof token2, &len2, &rec2),
               WGA_INVALID_NAME);
  CHECK_STATUS(wga_keyring_create(NULL, ACCOUNT, 1, "n", 1, NOW, token2, sizeof token2,
                                  &len2, &rec2),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_create(kr, NULL, 1, "n", 1, NOW, token2, sizeof token2, &len2,
                                  &rec2),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, 1, NULL, 1, NOW, token2, sizeof token2,
                                  &len2, &rec2),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, 1, "n", 1, NOW, NULL, sizeof token2, &len2,
                                  &rec2),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, 1, "n", 1, NOW, token2, sizeof token2, NULL,
                                  &rec2),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_create(kr, ACCOUNT, 1, "n", 1, NOW, token2, sizeof token2,
                                  &len2, NULL),
               WGA_NULL_PARAMETER);
  CHECK(wga_keyring_len(kr) == 1);

  /* The same name in another account is fine. */
  len2 = create(kr, "acct_other", NAME, token2, &rec2);
  CHECK(wga_keyring_len(kr) == 2);

  /* verify */
  memset(&p, FILL, sizeof p);
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
  CHECK(strcmp(p.token_id, rec.id) == 0);
  CHECK(strcmp(p.account, ACCOUNT) == 0 && p.account_len == strlen(ACCOUNT));
  CHECK(strcmp(p.name, NAME) == 0 && p.name_len == strlen(NAME));
  CHECK_STATUS(verify_rest(kr, token2, NOW, &p), WGA_OK);
  CHECK(strcmp(p.account, "acct_other") == 0);
  CHECK_STATUS(verify_rest(kr, token, 0, &p), WGA_OK);

  /* get */
  CHECK_STATUS(wga_keyring_get(kr, rec.id, 16, &got), WGA_OK);
  CHECK(strcmp(got.id, rec.id) == 0 && memcmp(got.verifier, rec.verifier, 32) == 0);
  CHECK(got.has_last_used_at && got.last_used_at >= NOW);
  memset(&got, FILL, sizeof got);
  CHECK_STATUS(wga_keyring_get(kr, "0000000000000000", 16, &got), WGA_UNKNOWN_TOKEN);
  CHECK_STATUS(wga_keyring_get(kr, rec.id, 15, &got), WGA_INVALID_TOKEN_ID);
  CHECK_STATUS(wga_keyring_get(kr, "000000000000000g", 16, &got), WGA_INVALID_TOKEN_ID);
  CHECK(untouched(&got, sizeof got, FILL));
  CHECK_STATUS(wga_keyring_get(NULL, rec.id, 16, &got), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_get(kr, NULL, 16, &got), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_get(kr, rec.id, 16, NULL), WGA_NULL_PARAMETER);

  /* regenerate without grace: the old token stops at once. */
  {
    char fresh[WGA_TOKEN_BUFFER_LEN];
    size_t fresh_len = 0;
    wga_record rrec;
    memset(small, FILL, sizeof small);
    memset(&rrec, FILL, sizeof rrec);
    CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, 0, small, sizeof small,
                                        &fresh_len, &rrec),
                 WGA_BUFFER_TOO_SMALL);
    CHECK(fresh_len == 56 && untouched(&rrec, sizeof rrec, FILL));
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
    CHECK_STATUS(wga_keyring_regenerate(kr, "0000000000000000", 16, NOW, 0, fresh,
                                        sizeof fresh, &fresh_len, &rrec),
                 WGA_UNKNOWN_TOKEN);
    CHECK_STATUS(wga_keyring_regenerate(kr, "xyz", 3, NOW, 0, fresh, sizeof fresh,
                                        &fresh_len, &rrec),
                 WGA_INVALID_TOKEN_ID);
    CHECK_STATUS(wga_keyring_regenerate(NULL, rec.id, 16, NOW, 0, fresh, sizeof fresh,
                                        &fresh_len, &rrec),
                 WGA_NULL_PARAMETER);
    CHECK_STATUS(wga_keyring_regenerate(kr, NULL, 16, NOW, 0, fresh, sizeof fresh,
                                        &fresh_len, &rrec),
                 WGA_NULL_PARAMETER);
    CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, 0, NULL, sizeof fresh,
                                        &fresh_len, &rrec),
                 WGA_NULL_PARAMETER);
    CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, 0, fresh, sizeof fresh, NULL,
                                        &rrec),
                 WGA_NULL_PARAMETER);
    CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, 0, fresh, sizeof fresh,
                                        &fresh_len, NULL),
                 WGA_NULL_PARAMETER);
    CHECK(untouched(&rrec, sizeof rrec, FILL));

    CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, 0, fresh, sizeof fresh,
                                        &fresh_len, &rrec),
                 WGA_OK);
    CHECK(fresh_len == 55 && strcmp(fresh, token) != 0);
    CHECK(strcmp(rrec.id, rec.id) == 0 && strcmp(rrec.name, NAME) == 0);
    CHECK(memcmp(rrec.verifier, rec.verifier, 32) != 0 && !rrec.has_rollover);
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
    CHECK_STATUS(verify_rest(kr, fresh, NOW, &p), WGA_OK);

    /* with a grace period: both work until it ends, then only the new one. */
    {
      char newer[WGA_TOKEN_BUFFER_LEN];
      size_t newer_len;
      CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, NOW + 60, newer,
                                          sizeof newer, &newer_len, &rrec),
                   WGA_OK);
      CHECK(rrec.has_rollover && rrec.rollover_until == NOW + 60);
      CHECK_STATUS(verify_rest(kr, fresh, NOW + 59, &p), WGA_OK);
      CHECK_STATUS(verify_rest(kr, newer, NOW + 59, &p), WGA_OK);
      CHECK_STATUS(verify_rest(kr, fresh, NOW + 60, &p), WGA_ACCESS_TOKEN_INVALID);
      CHECK_STATUS(verify_rest(kr, newer, NOW + 60, &p), WGA_OK);
      /* A grace instant not after now is no grace period. */
      CHECK_STATUS(wga_keyring_regenerate(kr, rec.id, 16, NOW, NOW, fresh, sizeof fresh,
                                          &fresh_len, &rrec),
                   WGA_OK);
      CHECK(!rrec.has_rollover);
      CHECK_STATUS(verify_rest(kr, newer, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
      memcpy(token, fresh, sizeof fresh);
      rec = rrec;
    }
  }

  /* delete */
  CHECK_STATUS(wga_keyring_delete(kr, "zz", 2), WGA_INVALID_TOKEN_ID);
  CHECK_STATUS(wga_keyring_delete(kr, "0000000000000000", 16), WGA_UNKNOWN_TOKEN);
  CHECK_STATUS(wga_keyring_delete(NULL, rec.id, 16), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_delete(kr, NULL, 16), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_delete(kr, rec.id, 16), WGA_OK);
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
  CHECK_STATUS(wga_keyring_delete(kr, rec.id, 16), WGA_UNKNOWN_TOKEN);
  CHECK(wga_keyring_len(kr) == 1);

  /* add back a stored record: the same token works again. */
  CHECK_STATUS(wga_keyring_add(kr, &rec), WGA_OK);
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_add(kr, &rec), WGA_DUPLICATE_ID);
  {
    wga_record bad = rec;
    bad.id[0] = bad.id[0] == 'a' ? 'b' : 'a';
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_DUPLICATE_NAME);
    bad = rec;
    bad.id[3] = 'X';
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_TOKEN_ID);
    bad = rec;
    bad.id[16] = '0'; /* no NUL: 17 characters */
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_TOKEN_ID);
    bad = rec;
    bad.account_len = WGA_ACCOUNT_BUFFER_LEN;
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_ACCOUNT);
    bad = rec;
    bad.account_len = 0;
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_ACCOUNT);
    bad = rec;
    bad.name_len = WGA_NAME_BUFFER_LEN;
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_NAME);
    bad = rec;
    bad.name[1] = '\n';
    CHECK_STATUS(wga_keyring_add(kr, &bad), WGA_INVALID_NAME);
  }
  CHECK_STATUS(wga_keyring_add(NULL, &rec), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_add(kr, NULL), WGA_NULL_PARAMETER);
  CHECK(wga_keyring_len(kr) == 2);

  wga_keyring_free(kr);
}

static void test_listing_and_sync(void) {
  wga_keyring *kr = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  wga_record recs[3], got;
  wga_record_list *list = NULL;
  wga_record_list *sentinel = (wga_record_list *)(uintptr_t)0x1234;
  wga_principal p;
  size_t i;

  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  create(kr, "acct_b", "one", token, &recs[0]);
  create(kr, "acct_a", "two", token, &recs[1]);
  create(kr, "acct_b", "three", token, &recs[2]);

  CHECK_STATUS(wga_keyring_list(kr, NULL, 0, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 3);
  CHECK_STATUS(wga_record_list_get(list, 0, &got), WGA_OK);
  CHECK(strcmp(got.account, "acct_a") == 0);
  for (i = 1; i < 3; i++) {
    CHECK_STATUS(wga_record_list_get(list, i, &got), WGA_OK);
    CHECK(strcmp(got.account, "acct_b") == 0);
  }
  memset(&got, FILL, sizeof got);
  CHECK_STATUS(wga_record_list_get(list, 3, &got), WGA_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(wga_record_list_get(list, SIZE_MAX, &got), WGA_INDEX_OUT_OF_RANGE);
  CHECK(untouched(&got, sizeof got, FILL));
  CHECK_STATUS(wga_record_list_get(NULL, 0, &got), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_record_list_get(list, 0, NULL), WGA_NULL_PARAMETER);
  CHECK(wga_record_list_len(NULL) == 0);
  wga_record_list_free(list);
  wga_record_list_free(NULL);

  CHECK_STATUS(wga_keyring_list(kr, "acct_b", 6, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 2);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_list(kr, "acct_", 5, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_list(kr, "\xff", 1, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  list = sentinel;
  CHECK_STATUS(wga_keyring_list(NULL, NULL, 0, &list), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_list(kr, NULL, 0, NULL), WGA_NULL_PARAMETER);
  CHECK(list == sentinel);

  /* take_last_used: a verified token shows up once. */
  CHECK_STATUS(wga_keyring_take_last_used(kr, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  CHECK_STATUS(verify_rest(kr, token, NOW + 5, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_take_last_used(kr, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 1);
  CHECK_STATUS(wga_record_list_get(list, 0, &got), WGA_OK);
  CHECK(strcmp(got.id, recs[2].id) == 0 && got.has_last_used_at && got.last_used_at == NOW + 5);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_take_last_used(kr, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  list = sentinel;
  CHECK_STATUS(wga_keyring_take_last_used(NULL, &list), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_take_last_used(kr, NULL), WGA_NULL_PARAMETER);
  CHECK(list == sentinel);

  /* sync: keep 0 and 2, drop 1; bad sets change nothing. */
  {
    wga_record keep[2];
    keep[0] = recs[0];
    keep[1] = recs[2];
    CHECK_STATUS(wga_keyring_sync(kr, keep, 2), WGA_OK);
    CHECK(wga_keyring_len(kr) == 2);
    CHECK_STATUS(wga_keyring_get(kr, recs[1].id, 16, &got), WGA_UNKNOWN_TOKEN);
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);

    /* recs[0]'s account and name under recs[2]'s id: only the name clashes. */
    keep[1] = recs[0];
    memcpy(keep[1].id, recs[2].id, sizeof keep[1].id);
    CHECK_STATUS(wga_keyring_sync(kr, keep, 2), WGA_DUPLICATE_NAME);
    /* recs[2] under recs[0]'s id: only the id clashes. */
    keep[1] = recs[2];
    memcpy(keep[1].id, keep[0].id, sizeof keep[1].id);
    CHECK_STATUS(wga_keyring_sync(kr, keep, 2), WGA_DUPLICATE_ID);
    keep[1] = recs[2];
    keep[1].account_len = 0;
    CHECK_STATUS(wga_keyring_sync(kr, keep, 2), WGA_INVALID_ACCOUNT);
    CHECK(wga_keyring_len(kr) == 2);
    CHECK_STATUS(wga_keyring_sync(kr, NULL, 1), WGA_NULL_PARAMETER);
    CHECK_STATUS(wga_keyring_sync(NULL, keep, 1), WGA_NULL_PARAMETER);
    CHECK(wga_keyring_len(kr) == 2);
    CHECK_STATUS(wga_keyring_sync(kr, NULL, 0), WGA_OK);
    CHECK(wga_keyring_len(kr) == 0);
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
  }
  wga_keyring_free(kr);
}

static void test_verify_entry_points(void) {
  wga_keyring *kr = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  char bearer[WGA_TOKEN_BUFFER_LEN + 7];
  wga_record rec;
  wga_principal p;
  const uint8_t *vals[2];
  size_t lens[2];
  const uint8_t *names[3];
  size_t name_lens[3];
  const uint8_t *hvals[3];
  size_t hval_lens[3];
  size_t len;

  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  len = create(kr, ACCOUNT, NAME, token, &rec);
  strcpy(bearer, "Bearer ");
  strcat(bearer, token);

  /* Access-Token */
  vals[0] = (const uint8_t *)token;
  lens[0] = len;
  vals[1] = (const uint8_t *)token;
  lens[1] = len;
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, lens, 1, NOW, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, lens, 2, NOW, &p),
               WGA_ACCESS_TOKEN_INVALID);
  CHECK_STATUS(wga_keyring_verify_access_token(kr, NULL, NULL, 0, NOW, &p),
               WGA_ACCESS_TOKEN_MISSING);
  memset(&p, FILL, sizeof p);
  CHECK_STATUS(wga_keyring_verify_access_token(kr, NULL, lens, 1, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, NULL, 1, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_access_token(NULL, vals, lens, 1, NOW, &p),
               WGA_NULL_PARAMETER);
  /* No principal wanted: only the verdict. */
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, lens, 1, NOW, NULL), WGA_OK);
  CHECK_STATUS(wga_keyring_verify_access_token(kr, NULL, NULL, 0, NOW, NULL),
               WGA_ACCESS_TOKEN_MISSING);
  vals[1] = NULL;
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, lens, 2, NOW, &p),
               WGA_NULL_PARAMETER);
  /* A length no buffer can have (over PTRDIFF_MAX) is refused unread. */
  lens[0] = SIZE_MAX;
  CHECK_STATUS(wga_keyring_verify_access_token(kr, vals, lens, 1, NOW, &p),
               WGA_ACCESS_TOKEN_INVALID);
  CHECK(untouched(&p, sizeof p, FILL));
  lens[0] = len;

  /* Authorization */
  vals[0] = (const uint8_t *)bearer;
  lens[0] = strlen(bearer);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, vals, lens, 1, NOW, &p), WGA_OK);
  CHECK(strcmp(p.token_id, rec.id) == 0 && strcmp(p.name, NAME) == 0);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, NULL, NULL, 0, NOW, &p),
               WGA_BEARER_MISSING);
  vals[1] = (const uint8_t *)bearer;
  lens[1] = strlen(bearer);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, vals, lens, 2, NOW, &p),
               WGA_BEARER_INVALID);
  vals[0] = (const uint8_t *)token;
  lens[0] = len;
  CHECK_STATUS(wga_keyring_verify_authorization(kr, vals, lens, 1, NOW, &p),
               WGA_BEARER_MISSING);
  CHECK_STATUS(wga_keyring_verify_authorization(NULL, vals, lens, 1, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, vals, lens, 1, NOW, NULL),
               WGA_BEARER_MISSING);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, NULL, lens, 1, NOW, &p),
               WGA_NULL_PARAMETER);

  /* Header pairs */
  names[0] = (const uint8_t *)"Host";
  name_lens[0] = 4;
  hvals[0] = (const uint8_t *)"example.com";
  hval_lens[0] = 11;
  names[1] = (const uint8_t *)"AUTHORIZATION";
  name_lens[1] = 13;
  hvals[1] = (const uint8_t *)bearer;
  hval_lens[1] = strlen(bearer);
  names[2] = (const uint8_t *)"access-token";
  name_lens[2] = 12;
  hvals[2] = (const uint8_t *)token;
  hval_lens[2] = len;
  memset(&p, FILL, sizeof p);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_OK);
  CHECK(strcmp(p.token_id, rec.id) == 0);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_MCP, names, name_lens, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_OK);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 2, NOW, &p),
               WGA_ACCESS_TOKEN_MISSING);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_MCP, NULL, NULL, NULL, NULL, 0,
                                          NOW, &p),
               WGA_BEARER_MISSING);
  memset(&p, FILL, sizeof p);
  CHECK_STATUS(wga_keyring_verify_headers(kr, 2, names, name_lens, hvals, hval_lens, 3,
                                          NOW, &p),
               WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_keyring_verify_headers(NULL, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, NULL, name_lens, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, NULL, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, NULL,
                                          hval_lens, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          NULL, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 3, NOW, NULL),
               WGA_OK);
  names[0] = NULL;
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 3, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK(untouched(&p, sizeof p, FILL));

  /* Bare token */
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, len, NOW, &p), WGA_OK);
  CHECK(strcmp(p.account, ACCOUNT) == 0);
  memset(&p, FILL, sizeof p);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)bearer, strlen(bearer), NOW,
                                        &p),
               WGA_INVALID_TOKEN);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, 0, NOW, &p),
               WGA_INVALID_TOKEN);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, SIZE_MAX, NOW, &p),
               WGA_INVALID_TOKEN);
  CHECK_STATUS(wga_keyring_verify_token(NULL, (const uint8_t *)token, len, NOW, &p),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_token(kr, NULL, len, NOW, &p), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, len, NOW, NULL),
               WGA_OK);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, len - 1, NOW, NULL),
               WGA_INVALID_TOKEN);
  CHECK(untouched(&p, sizeof p, FILL));

  /* A non-ASCII account and name come back byte for byte. */
  {
    const char *acct = "compte_\xc3\xa9t\xc3\xa9";
    const char *name = "Cl\xc3\xa9 \xf0\x9f\x94\x91";
    len = create(kr, acct, name, token, &rec);
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
    CHECK(strcmp(p.account, acct) == 0 && p.account_len == strlen(acct));
    CHECK(strcmp(p.name, name) == 0 && p.name_len == strlen(name));
  }
  /* The longest account (128 four-byte characters) fits. */
  {
    char acct[WGA_ACCOUNT_MAX_BYTES + 1];
    size_t i;
    for (i = 0; i < 128; i++) {
      memcpy(acct + 4 * i, "\xf0\x9f\x94\x91", 4);
    }
    acct[WGA_ACCOUNT_MAX_BYTES] = '\0';
    len = create(kr, acct, "longest", token, &rec);
    CHECK(rec.account_len == WGA_ACCOUNT_MAX_BYTES);
    CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
    CHECK(p.account_len == WGA_ACCOUNT_MAX_BYTES && strcmp(p.account, acct) == 0);
  }
  wga_keyring_free(kr);
}

/* A keyring that cannot confirm it is current: every presented token (good
 * or bad, through every entry point, in both profiles) gets
 * WGA_STORE_UNAVAILABLE; no token gets its usual answer; nothing is written
 * to the principal; lifecycle calls work; setting it available again
 * restores every usual answer. */
static void test_store_unavailable(void) {
  wga_keyring *kr = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  char bearer[WGA_TOKEN_BUFFER_LEN + 7];
  char other[WGA_TOKEN_BUFFER_LEN];
  wga_record rec, other_rec, got;
  wga_principal p;
  const uint8_t *v;
  size_t len, n;
  const uint8_t *names[1];
  size_t name_lens[1];
  const uint8_t *hvals[1];
  size_t hval_lens[1];
  static const char bad[] = "wgat_not_a_token";
  wga_record_list *list = NULL;

  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  len = create(kr, ACCOUNT, NAME, token, &rec);
  strcpy(bearer, "Bearer ");
  strcat(bearer, token);

  /* A new keyring is available; NULL is not, and cannot be set. */
  CHECK(wga_keyring_is_available(kr));
  CHECK(!wga_keyring_is_available(NULL));
  CHECK_STATUS(wga_keyring_set_available(NULL, false), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_set_available(NULL, true), WGA_NULL_PARAMETER);
  /* Positive control: the token is accepted before the keyring is cleared. */
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_set_available(kr, true), WGA_OK);
  CHECK(wga_keyring_is_available(kr));

  CHECK_STATUS(wga_keyring_set_available(kr, false), WGA_OK);
  CHECK(!wga_keyring_is_available(kr));
  CHECK_STATUS(wga_keyring_set_available(kr, false), WGA_OK); /* idempotent */
  CHECK(!wga_keyring_is_available(kr));

  memset(&p, FILL, sizeof p);
  /* REST: the good token and a bad one alike. */
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_STORE_UNAVAILABLE);
  CHECK_STATUS(verify_rest(kr, bad, NOW, &p), WGA_STORE_UNAVAILABLE);
  CHECK_STATUS(verify_rest(kr, "  x\t", NOW, NULL), WGA_STORE_UNAVAILABLE);
  /* MCP */
  v = (const uint8_t *)bearer;
  n = strlen(bearer);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, &v, &n, 1, NOW, &p),
               WGA_STORE_UNAVAILABLE);
  v = (const uint8_t *)"bearer nope";
  n = 11;
  CHECK_STATUS(wga_keyring_verify_authorization(kr, &v, &n, 1, NOW, &p),
               WGA_STORE_UNAVAILABLE);
  /* Header pairs, both profiles. */
  names[0] = (const uint8_t *)"Access-Token";
  name_lens[0] = 12;
  hvals[0] = (const uint8_t *)token;
  hval_lens[0] = len;
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_REST, names, name_lens, hvals,
                                          hval_lens, 1, NOW, &p),
               WGA_STORE_UNAVAILABLE);
  names[0] = (const uint8_t *)"authorization";
  name_lens[0] = 13;
  hvals[0] = (const uint8_t *)bearer;
  hval_lens[0] = strlen(bearer);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_MCP, names, name_lens, hvals,
                                          hval_lens, 1, NOW, &p),
               WGA_STORE_UNAVAILABLE);
  /* Bare token: never WGA_INVALID_TOKEN while unavailable. */
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, len, NOW, &p),
               WGA_STORE_UNAVAILABLE);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)bad, strlen(bad), NOW, &p),
               WGA_STORE_UNAVAILABLE);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, 0, NOW, NULL),
               WGA_STORE_UNAVAILABLE);
  CHECK_STATUS(wga_keyring_verify_token(kr, NULL, len, NOW, &p), WGA_NULL_PARAMETER);
  CHECK(untouched(&p, sizeof p, FILL));

  /* The answer to send: the same 503 whichever profile asked. */
  CHECK(wga_status_http_code(WGA_STORE_UNAVAILABLE) == 503);
  CHECK(wga_status_retry_after(WGA_STORE_UNAVAILABLE) == 1);
  CHECK(wga_status_www_authenticate(WGA_STORE_UNAVAILABLE) == NULL);

  /* No token: the usual answer, which does not depend on the store. */
  CHECK_STATUS(wga_keyring_verify_access_token(kr, NULL, NULL, 0, NOW, &p),
               WGA_ACCESS_TOKEN_MISSING);
  CHECK_STATUS(verify_rest(kr, " \t ", NOW, &p), WGA_ACCESS_TOKEN_MISSING);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, NULL, NULL, 0, NOW, &p),
               WGA_BEARER_MISSING);
  v = (const uint8_t *)"Basic abc";
  n = 9;
  CHECK_STATUS(wga_keyring_verify_authorization(kr, &v, &n, 1, NOW, &p), WGA_BEARER_MISSING);
  CHECK_STATUS(wga_keyring_verify_headers(kr, WGA_PROFILE_MCP, NULL, NULL, NULL, NULL, 0,
                                          NOW, &p),
               WGA_BEARER_MISSING);
  CHECK(untouched(&p, sizeof p, FILL));

  /* Lifecycle calls still work while unavailable. */
  create(kr, ACCOUNT, "second", other, &other_rec);
  CHECK(wga_keyring_len(kr) == 2);
  CHECK_STATUS(wga_keyring_get(kr, other_rec.id, 16, &got), WGA_OK);
  CHECK_STATUS(wga_keyring_list(kr, NULL, 0, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 2);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_delete(kr, other_rec.id, 16), WGA_OK);
  CHECK_STATUS(wga_keyring_add(kr, &other_rec), WGA_OK);
  CHECK_STATUS(verify_rest(kr, other, NOW, &p), WGA_STORE_UNAVAILABLE);

  /* Recovery: every usual answer is back. */
  CHECK_STATUS(wga_keyring_set_available(kr, true), WGA_OK);
  CHECK(wga_keyring_is_available(kr));
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
  CHECK(strcmp(p.token_id, rec.id) == 0 && strcmp(p.account, ACCOUNT) == 0);
  CHECK_STATUS(verify_rest(kr, other, NOW, &p), WGA_OK);
  CHECK_STATUS(verify_rest(kr, bad, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
  v = (const uint8_t *)bearer;
  n = strlen(bearer);
  CHECK_STATUS(wga_keyring_verify_authorization(kr, &v, &n, 1, NOW, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)token, len, NOW, &p), WGA_OK);
  CHECK_STATUS(wga_keyring_verify_token(kr, (const uint8_t *)bad, strlen(bad), NOW, &p),
               WGA_INVALID_TOKEN);
  wga_keyring_free(kr);
}

/* wga_keyring_issue, the former name of wga_keyring_create, still works
 * the same (the header marks it deprecated: scripts/test-c checks that a
 * call to it warns). */
static void test_deprecated_issue(void) {
  wga_keyring *kr = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  size_t len = 0;
  wga_record rec;
  wga_principal p;

  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  CHECK_STATUS(wga_keyring_issue(kr, ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW, token,
                                 sizeof token, &len, &rec),
               WGA_OK);
  CHECK_STATUS(wga_keyring_issue(kr, ACCOUNT, strlen(ACCOUNT), NAME, strlen(NAME), NOW, token,
                                 sizeof token, &len, &rec),
               WGA_DUPLICATE_NAME);
  CHECK_STATUS(wga_keyring_issue(NULL, ACCOUNT, 1, "n", 1, NOW, token, sizeof token, &len,
                                 &rec),
               WGA_NULL_PARAMETER);
#pragma GCC diagnostic pop
  CHECK(len == 55 && wga_keyring_len(kr) == 1);
  CHECK_STATUS(verify_rest(kr, token, NOW, &p), WGA_OK);
  CHECK(strcmp(p.token_id, rec.id) == 0 && strcmp(p.name, NAME) == 0);
  wga_keyring_free(kr);
}

int main(void) {
  test_version();
  test_status_strings();
  test_challenge_with_resource_metadata();
  test_generate();
  test_keyring_lifecycle();
  test_deprecated_issue();
  test_listing_and_sync();
  test_verify_entry_points();
  test_store_unavailable();
  return report("test_api");
}
