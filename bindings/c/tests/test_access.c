/* Records beyond the seed's fields through the C API: creating with scopes,
 * an expiry and a description; the scope check after authentication and its
 * answer; update (rename, describe, rescope, disable, enable); the lifetime
 * policy; revoke-all and prune; the extra fields read back, added and synced;
 * and every new function given NULL or garbage. The shared vectors
 * (test_vectors.c) check the verdicts against the other languages. */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#define NOW 1790000000ULL
#define DAY 86400ULL

static const char ACCOUNT[] = "acct_1";

/* A token and its record, from wga_keyring_create_ex. */
struct created {
  wga_status status;
  char token[WGA_TOKEN_BUFFER_LEN];
  size_t token_len;
  wga_record record;
  wga_record_extra extra;
};

static struct created create(wga_keyring *kr, const char *name, const wga_token_options *o) {
  struct created c;
  memset(&c, 0xa5, sizeof c);
  c.status = wga_keyring_create_ex(kr, ACCOUNT, strlen(ACCOUNT), name, strlen(name), o, NOW,
                                   c.token, sizeof c.token, &c.token_len, &c.record, &c.extra);
  return c;
}

static wga_token_options opts(const char *scopes, uint64_t expires_at, const char *description) {
  wga_token_options o;
  memset(&o, 0, sizeof o);
  o.scopes = scopes;
  o.scopes_len = scopes ? strlen(scopes) : 0;
  o.expires_at = expires_at;
  o.description = description;
  o.description_len = description ? strlen(description) : 0;
  return o;
}

static wga_status verify(wga_keyring *kr, const struct created *c, uint64_t now,
                         wga_principal_ex *p) {
  const uint8_t *v = (const uint8_t *)c->token;
  size_t n = c->token_len;
  return wga_keyring_verify_access_token_ex(kr, &v, &n, 1, now, p);
}

static int has(const wga_principal_ex *p, const char *scope) {
  return wga_principal_has_scope(p, scope, strlen(scope));
}

static void last_error(char *buf, size_t len) {
  size_t n;
  if (wga_last_error_message(buf, len, &n) != WGA_OK) {
    buf[0] = '\0';
  }
}

static void test_create_and_scope_check(void) {
  wga_keyring *kr = NULL;
  wga_principal_ex p;
  wga_scope_denial d;
  wga_token_options o;
  struct created c, full, none;
  char msg[WGA_ERROR_MESSAGE_BUFFER_LEN];
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);

  o = opts("messages:send devices:*", NOW + DAY, "sends messages");
  c = create(kr, "Sender", &o);
  CHECK_STATUS(c.status, WGA_OK);
  CHECK(c.extra.restricted);
  CHECK(strcmp(c.extra.scopes, "devices:* messages:send") == 0);
  CHECK(c.extra.scopes_len == strlen("devices:* messages:send"));
  CHECK(c.extra.has_expires_at && c.extra.expires_at == NOW + DAY);
  CHECK(!c.extra.disabled && c.extra.has_description);
  CHECK(strcmp(c.extra.description, "sends messages") == 0);

  memset(&p, 0xa5, sizeof p);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_OK);
  CHECK(strcmp(p.principal.name, "Sender") == 0 && strcmp(p.principal.account, ACCOUNT) == 0);
  CHECK(p.restricted && strcmp(p.scopes, "devices:* messages:send") == 0);
  CHECK(has(&p, "messages:send"));
  CHECK(has(&p, "devices:read")); /* through devices:* */
  CHECK(!has(&p, "messages:read"));
  CHECK(!has(&p, "tokens:manage"));
  /* Fail closed: NULL, a non-scope, a damaged principal. */
  CHECK(!wga_principal_has_scope(NULL, "messages:send", 13));
  CHECK(!wga_principal_has_scope(&p, NULL, 0));
  {
    wga_principal_ex damaged = p;
    damaged.scopes_len = sizeof damaged.scopes;
    CHECK(!has(&damaged, "messages:send"));
  }
  /* The answer for a missing scope, in both profiles. */
  memset(&d, 0xa5, sizeof d);
  CHECK_STATUS(wga_scope_denial_for(WGA_PROFILE_REST, "messages:read", 13, &d), WGA_OK);
  CHECK(d.http_code == 403);
  CHECK(strcmp(d.body, "{\"message\": \"the token lacks the scope messages:read\"}") == 0);
  CHECK(d.body_len == strlen(d.body) && !d.has_www_authenticate);
  CHECK_STATUS(wga_scope_denial_for(WGA_PROFILE_MCP, "messages:read", 13, &d), WGA_OK);
  CHECK(d.http_code == 403 && d.has_www_authenticate);
  CHECK(strcmp(d.www_authenticate,
               "Bearer realm=\"whatsgate\", error=\"insufficient_scope\", "
               "scope=\"messages:read\"") == 0);
  CHECK(d.www_authenticate_len == strlen(d.www_authenticate));
  memset(&d, 0xa5, sizeof d);
  CHECK_STATUS(wga_scope_denial_for(7, "messages:read", 13, &d), WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_scope_denial_for(WGA_PROFILE_REST, "messages read", 13, &d),
               WGA_INVALID_SCOPE);
  CHECK_STATUS(wga_scope_denial_for(WGA_PROFILE_REST, NULL, 0, &d), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_scope_denial_for(WGA_PROFILE_REST, "a:b", 3, NULL), WGA_NULL_PARAMETER);
  CHECK(untouched(&d, sizeof d, 0xa5));
  CHECK_STATUS(wga_scope_validate("tokens:manage", 13), WGA_OK);
  CHECK_STATUS(wga_scope_validate("tokens:manage", 6), WGA_INVALID_SCOPE);
  CHECK_STATUS(wga_scope_validate("Tokens:manage", 13), WGA_INVALID_SCOPE);
  CHECK_STATUS(wga_scope_validate("tokens:\xff", 8), WGA_INVALID_SCOPE);
  {
    char challenge[512];
    size_t n = 0;
    static const char url[] = "https://api.example/.well-known/oauth-protected-resource";
    CHECK_STATUS(wga_scope_denial_www_authenticate_with(WGA_PROFILE_MCP, "messages:read", 13, url,
                                                        strlen(url), challenge, sizeof challenge,
                                                        &n),
                 WGA_OK);
    CHECK(strcmp(challenge, "Bearer realm=\"whatsgate\", error=\"insufficient_scope\", "
                            "scope=\"messages:read\", resource_metadata=\"https://api.example/"
                            ".well-known/oauth-protected-resource\"") == 0);
    CHECK(n == strlen(challenge));
    CHECK_STATUS(wga_scope_denial_www_authenticate_with(WGA_PROFILE_REST, "messages:read", 13,
                                                        url, strlen(url), challenge,
                                                        sizeof challenge, &n),
                 WGA_INVALID_ARGUMENT);
    CHECK_STATUS(wga_scope_denial_www_authenticate_with(WGA_PROFILE_MCP, "messages:read", 13,
                                                        "a b", 3, challenge, sizeof challenge, &n),
                 WGA_INVALID_URL);
    CHECK_STATUS(wga_scope_denial_www_authenticate_with(WGA_PROFILE_MCP, "messages:read", 13, url,
                                                        strlen(url), challenge, 8, &n),
                 WGA_BUFFER_TOO_SMALL);
    CHECK(n == strlen(challenge) + 1);
  }

  /* The expiry is exclusive, and an expired token is simply invalid. */
  CHECK_STATUS(verify(kr, &c, NOW + DAY - 1, &p), WGA_OK);
  memset(&p, 0xa5, sizeof p);
  CHECK_STATUS(verify(kr, &c, NOW + DAY, &p), WGA_ACCESS_TOKEN_INVALID);
  CHECK(untouched(&p, sizeof p, 0xa5));

  /* The defaults: full access (NULL options, or all-zero options). */
  full = create(kr, "Full", NULL);
  CHECK_STATUS(full.status, WGA_OK);
  CHECK(!full.extra.restricted && full.extra.scopes_len == 0 && !full.extra.has_expires_at);
  CHECK(!full.extra.has_description);
  CHECK_STATUS(verify(kr, &full, NOW, &p), WGA_OK);
  CHECK(!p.restricted && p.scopes_len == 0 && has(&p, "tokens:manage"));
  /* Fail closed: a route declared with a name that is no scope. */
  CHECK(!has(&p, "tokens") && !has(&p, "Tokens:manage"));
  /* Scoped to nothing: an empty list, not full access. */
  o = opts("", 0, NULL);
  none = create(kr, "Nothing", &o);
  CHECK_STATUS(none.status, WGA_OK);
  CHECK(none.extra.restricted && none.extra.scopes_len == 0);
  CHECK_STATUS(verify(kr, &none, NOW, &p), WGA_OK);
  CHECK(p.restricted && !has(&p, "messages:send"));

  /* Refused options create nothing and write nothing. */
  o = opts("messages:Send", 0, NULL);
  c = create(kr, "x", &o);
  CHECK_STATUS(c.status, WGA_INVALID_SCOPE);
  CHECK(untouched(&c.record, sizeof c.record, 0xa5) && untouched(&c.extra, sizeof c.extra, 0xa5));
  last_error(msg, sizeof msg);
  CHECK(strstr(msg, "\"messages:Send\" is not a scope") != NULL);
  {
    char many[1024];
    size_t at = 0;
    int i;
    for (i = 0; i < 65; i++) {
      at += (size_t)snprintf(many + at, sizeof many - at, "r%d:read ", i);
    }
    o = opts(many, 0, NULL);
    CHECK_STATUS(create(kr, "x", &o).status, WGA_TOO_MANY_SCOPES);
  }
  o = opts(NULL, 0, "line\nbreak");
  CHECK_STATUS(create(kr, "x", &o).status, WGA_INVALID_DESCRIPTION);
  o = opts(NULL, NOW - 1, NULL);
  CHECK_STATUS(create(kr, "x", &o).status, WGA_POLICY_REFUSED);
  last_error(msg, sizeof msg);
  CHECK(strstr(msg, "expiry") != NULL);
  CHECK(wga_keyring_len(kr) == 3);
  /* NULL arguments. */
  c.status = wga_keyring_create_ex(kr, ACCOUNT, 6, "y", 1, NULL, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, NULL);
  CHECK_STATUS(c.status, WGA_NULL_PARAMETER);
  c.status = wga_keyring_create_ex(NULL, ACCOUNT, 6, "y", 1, NULL, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, &c.extra);
  CHECK_STATUS(c.status, WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_verify_access_token_ex(NULL, NULL, NULL, 0, NOW, &p),
               WGA_NULL_PARAMETER);
  /* Every _ex verify function: a missing token, a bare token. */
  CHECK_STATUS(wga_keyring_verify_authorization_ex(kr, NULL, NULL, 0, NOW, &p),
               WGA_BEARER_MISSING);
  CHECK_STATUS(wga_keyring_verify_headers_ex(kr, 9, NULL, NULL, NULL, NULL, 0, NOW, &p),
               WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_keyring_verify_token_ex(kr, (const uint8_t *)none.token, none.token_len, NOW,
                                           &p),
               WGA_OK);
  CHECK(p.restricted && strcmp(p.principal.name, "Nothing") == 0);
  CHECK_STATUS(wga_keyring_verify_token_ex(kr, (const uint8_t *)none.token, none.token_len, NOW,
                                           NULL),
               WGA_OK);
  wga_keyring_free(kr);
}

static wga_status update(wga_keyring *kr, const char *id, const wga_token_update *u,
                         wga_record_extra *extra) {
  wga_record r;
  return wga_keyring_update(kr, id, strlen(id), u, &r, extra);
}

static void test_update(void) {
  wga_keyring *kr = NULL;
  wga_token_update u;
  wga_record_extra extra;
  wga_principal_ex p;
  struct created c, other;
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  c = create(kr, "One", NULL);
  other = create(kr, "Two", NULL);
  CHECK_STATUS(c.status, WGA_OK);
  CHECK_STATUS(other.status, WGA_OK);

  /* Disable: refused like any invalid token; enable: accepted again. */
  memset(&u, 0, sizeof u);
  u.set_disabled = true;
  u.disabled = true;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_OK);
  CHECK(extra.disabled);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
  u.disabled = false;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_OK);
  CHECK(!extra.disabled);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_OK);

  /* Rename, describe and rescope at once. */
  memset(&u, 0, sizeof u);
  u.set_name = true;
  u.name = "Renamed";
  u.name_len = 7;
  u.set_description = true;
  u.description = "ops";
  u.description_len = 3;
  u.set_scopes = true;
  u.scopes = "tokens:manage";
  u.scopes_len = 13;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_OK);
  CHECK(extra.restricted && strcmp(extra.scopes, "tokens:manage") == 0);
  CHECK(extra.has_description && strcmp(extra.description, "ops") == 0);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_OK);
  CHECK(strcmp(p.principal.name, "Renamed") == 0);
  CHECK(has(&p, "tokens:manage") && !has(&p, "messages:send"));
  /* wga_keyring_get_extra reads the same. */
  memset(&extra, 0, sizeof extra);
  CHECK_STATUS(wga_keyring_get_extra(kr, c.record.id, 16, &extra), WGA_OK);
  CHECK(strcmp(extra.scopes, "tokens:manage") == 0);

  /* Back to full access, description removed. */
  memset(&u, 0, sizeof u);
  u.set_scopes = true;
  u.set_description = true;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_OK);
  CHECK(!extra.restricted && !extra.has_description);
  memset(&u, 0, sizeof u);
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_OK);

  /* Refusals leave the token as it was, and write nothing. */
  memset(&extra, 0xa5, sizeof extra);
  memset(&u, 0, sizeof u);
  u.set_name = true;
  u.name = "Two";
  u.name_len = 3;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_DUPLICATE_NAME);
  u.name = NULL;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_NULL_PARAMETER);
  u.name = "";
  u.name_len = 0;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_INVALID_NAME);
  memset(&u, 0, sizeof u);
  u.set_scopes = true;
  u.scopes = "a:b:c";
  u.scopes_len = 5;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_INVALID_SCOPE);
  memset(&u, 0, sizeof u);
  u.set_description = true;
  u.description = "\t";
  u.description_len = 1;
  CHECK_STATUS(update(kr, c.record.id, &u, &extra), WGA_INVALID_DESCRIPTION);
  memset(&u, 0, sizeof u);
  CHECK_STATUS(update(kr, "0123456789abcdef", &u, &extra), WGA_UNKNOWN_TOKEN);
  CHECK_STATUS(update(kr, "not an id", &u, &extra), WGA_INVALID_TOKEN_ID);
  CHECK(untouched(&extra, sizeof extra, 0xa5));
  CHECK_STATUS(wga_keyring_update(kr, c.record.id, 16, NULL, &c.record, &extra),
               WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_update(kr, c.record.id, 16, &u, NULL, &extra), WGA_NULL_PARAMETER);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_OK);
  CHECK(strcmp(p.principal.name, "Renamed") == 0 && !p.restricted);
  wga_keyring_free(kr);
}

static wga_status regenerate(wga_keyring *kr, struct created *c, uint64_t grace_until) {
  return wga_keyring_regenerate(kr, c->record.id, 16, NOW, grace_until, c->token,
                                sizeof c->token, &c->token_len, &c->record);
}

static void test_policy(void) {
  wga_keyring *kr = NULL, *plain = NULL;
  wga_lifetime_policy policy, got;
  wga_token_options o;
  struct created c, old;
  char msg[WGA_ERROR_MESSAGE_BUFFER_LEN];
  policy.max_lifetime_secs = 7 * DAY;
  policy.max_grace_secs = DAY;
  CHECK_STATUS(wga_keyring_new_with_policy(&policy, &kr), WGA_OK);
  CHECK_STATUS(wga_keyring_get_policy(kr, &got), WGA_OK);
  CHECK(got.max_lifetime_secs == 7 * DAY && got.max_grace_secs == DAY);

  c = create(kr, "Week", NULL);
  CHECK_STATUS(c.status, WGA_OK);
  CHECK(c.extra.has_expires_at && c.extra.expires_at == NOW + 7 * DAY);
  o = opts(NULL, NOW + 8 * DAY, NULL);
  CHECK_STATUS(create(kr, "Long", &o).status, WGA_POLICY_REFUSED);
  last_error(msg, sizeof msg);
  /* The policy's own words with its figure (their wording is the core's). */
  CHECK(strstr(msg, "lifetime policy") != NULL && strstr(msg, "7 days") != NULL);

  old = c;
  CHECK_STATUS(regenerate(kr, &c, NOW + DAY + 1), WGA_POLICY_REFUSED);
  last_error(msg, sizeof msg);
  CHECK(strstr(msg, "grace period") != NULL && strstr(msg, "lifetime policy") != NULL);
  CHECK_STATUS(regenerate(kr, &c, NOW - 1), WGA_POLICY_REFUSED);
  last_error(msg, sizeof msg);
  CHECK(strstr(msg, "grace period") != NULL && strstr(msg, "negative") != NULL);
  CHECK(strcmp(c.token, old.token) == 0);
  CHECK_STATUS(regenerate(kr, &c, NOW + DAY), WGA_OK);
  last_error(msg, sizeof msg);
  CHECK(msg[0] == '\0');

  /* The default: no maximum lifetime, 30 days of grace. */
  CHECK_STATUS(wga_keyring_new(&plain), WGA_OK);
  CHECK_STATUS(wga_keyring_get_policy(plain, &got), WGA_OK);
  CHECK(got.max_lifetime_secs == 0 && got.max_grace_secs == WGA_DEFAULT_MAX_GRACE_SECS);
  c = create(plain, "Forever", NULL);
  CHECK(!c.extra.has_expires_at);
  CHECK_STATUS(regenerate(plain, &c, NOW + 31 * DAY), WGA_POLICY_REFUSED);
  CHECK_STATUS(regenerate(plain, &c, NOW + 30 * DAY), WGA_OK);
  /* In memory, the policy is chosen when the keyring is made. */
  CHECK_STATUS(wga_keyring_set_policy(plain, &policy), WGA_KEYRING_NOT_ATTACHED);
  CHECK_STATUS(wga_keyring_set_policy(plain, NULL), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_new_with_policy(NULL, &plain), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_new_with_policy(&policy, NULL), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_get_policy(NULL, &got), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_get_policy(plain, NULL), WGA_NULL_PARAMETER);
  wga_keyring_free(plain);
  wga_keyring_free(kr);
}

static void test_revoke_all_prune_and_host_records(void) {
  wga_keyring *kr = NULL, *copy = NULL;
  wga_record_list *list = NULL;
  wga_token_options o;
  wga_principal_ex p;
  wga_record records[2];
  wga_record_extra extras[2];
  struct created a, b;
  size_t i;
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  o = opts("messages:send", NOW + 10, NULL);
  a = create(kr, "a", &o);
  b = create(kr, "b", NULL);
  CHECK_STATUS(a.status, WGA_OK);
  CHECK_STATUS(b.status, WGA_OK);

  /* A host that keeps records: list them with their extra fields, and load
   * them into another keyring. */
  CHECK_STATUS(wga_keyring_list(kr, NULL, 0, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 2);
  for (i = 0; i < 2; i++) {
    CHECK_STATUS(wga_record_list_get(list, i, &records[i]), WGA_OK);
    CHECK_STATUS(wga_record_list_get_extra(list, i, &extras[i]), WGA_OK);
  }
  CHECK_STATUS(wga_record_list_get_extra(list, 2, &extras[0]), WGA_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(wga_record_list_get_extra(NULL, 0, &extras[0]), WGA_NULL_PARAMETER);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_new(&copy), WGA_OK);
  CHECK_STATUS(wga_keyring_sync_ex(copy, records, extras, 2), WGA_OK);
  CHECK_STATUS(verify(copy, &a, NOW, &p), WGA_OK);
  CHECK(p.restricted && has(&p, "messages:send") && !has(&p, "devices:read"));
  CHECK_STATUS(verify(copy, &a, NOW + 10, &p), WGA_ACCESS_TOKEN_INVALID);
  /* Garbage in the extra fields: refused, nothing changed. */
  extras[0].restricted = true;
  extras[0].scopes_len = sizeof extras[0].scopes + 1;
  CHECK_STATUS(wga_keyring_sync_ex(copy, records, extras, 2), WGA_INVALID_SCOPE);
  extras[0].restricted = false;
  extras[0].has_description = true;
  extras[0].description_len = 0;
  CHECK_STATUS(wga_keyring_add_ex(copy, &records[0], &extras[0]), WGA_INVALID_DESCRIPTION);
  CHECK_STATUS(wga_keyring_sync_ex(copy, records, NULL, 2), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_add_ex(copy, &records[0], NULL), WGA_NULL_PARAMETER);
  CHECK_STATUS(verify(copy, &a, NOW, &p), WGA_OK);
  CHECK(p.restricted);
  CHECK_STATUS(wga_keyring_sync_ex(copy, NULL, NULL, 0), WGA_OK);
  CHECK(wga_keyring_len(copy) == 0);
  wga_keyring_free(copy);

  /* Prune deletes what is expired at `now`, and says what. */
  CHECK_STATUS(wga_keyring_prune(kr, NOW + 9, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_prune(kr, NOW + 10, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 1);
  CHECK_STATUS(wga_record_list_get(list, 0, &records[0]), WGA_OK);
  CHECK(strcmp(records[0].name, "a") == 0);
  wga_record_list_free(list);
  CHECK(wga_keyring_len(kr) == 1);
  CHECK_STATUS(wga_keyring_prune(kr, NOW, NULL), WGA_NULL_PARAMETER);

  /* Revoke-all: every token of the account, at once. */
  CHECK_STATUS(wga_keyring_revoke_all(kr, "acct_2", 6, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_revoke_all(kr, ACCOUNT, strlen(ACCOUNT), &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 1);
  wga_record_list_free(list);
  CHECK_STATUS(verify(kr, &b, NOW, &p), WGA_ACCESS_TOKEN_INVALID);
  CHECK(wga_keyring_len(kr) == 0);
  CHECK_STATUS(wga_keyring_revoke_all(kr, " x", 2, &list), WGA_INVALID_ACCOUNT);
  CHECK_STATUS(wga_keyring_revoke_all(kr, NULL, 0, &list), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_revoke_all(NULL, ACCOUNT, 6, &list), WGA_NULL_PARAMETER);
  wga_keyring_free(kr);
}

/* A host that keeps records without a keyring: generate with options, store
 * the record and its extra fields, load both later. */
static void test_generate(void) {
  wga_keyring *kr = NULL;
  wga_token_options o;
  wga_principal_ex p;
  struct created c;
  o = opts("messages:send", NOW + DAY, "made offline");
  memset(&c, 0xa5, sizeof c);
  c.status = wga_generate_token_ex("acct_9", 6, "Offline", 7, &o, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, &c.extra);
  CHECK_STATUS(c.status, WGA_OK);
  CHECK(c.extra.restricted && strcmp(c.extra.scopes, "messages:send") == 0);
  CHECK(c.extra.expires_at == NOW + DAY && strcmp(c.extra.description, "made offline") == 0);
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  CHECK_STATUS(wga_keyring_add_ex(kr, &c.record, &c.extra), WGA_OK);
  CHECK_STATUS(verify(kr, &c, NOW, &p), WGA_OK);
  CHECK(has(&p, "messages:send") && !has(&p, "messages:read"));
  CHECK_STATUS(verify(kr, &c, NOW + DAY, &p), WGA_ACCESS_TOKEN_INVALID);
  wga_keyring_free(kr);

  o = opts(NULL, NOW, NULL);
  memset(&c, 0xa5, sizeof c);
  c.status = wga_generate_token_ex("acct_9", 6, "Offline", 7, &o, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, &c.extra);
  CHECK_STATUS(c.status, WGA_POLICY_REFUSED);
  CHECK(untouched(&c.record, sizeof c.record, 0xa5) && untouched(c.token, sizeof c.token, 0xa5));
  o = opts("bad", 0, NULL);
  c.status = wga_generate_token_ex("acct_9", 6, "Offline", 7, &o, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, &c.extra);
  CHECK_STATUS(c.status, WGA_INVALID_SCOPE);
  c.status = wga_generate_token_ex("acct_9", 6, "Offline", 7, NULL, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, NULL);
  CHECK_STATUS(c.status, WGA_NULL_PARAMETER);
  c.status = wga_generate_token_ex("acct_9", 6, "Offline", 7, NULL, NOW, c.token, sizeof c.token,
                                   &c.token_len, &c.record, &c.extra);
  CHECK_STATUS(c.status, WGA_OK);
  CHECK(!c.extra.restricted && !c.extra.has_expires_at);
}

static void test_statuses(void) {
  CHECK(strstr(wga_status_message(WGA_POLICY_REFUSED), "lifetime policy") != NULL);
  CHECK(strstr(wga_status_message(WGA_INVALID_SCOPE), "resource:action") != NULL);
  CHECK(strstr(wga_status_message(WGA_TOO_MANY_SCOPES), "64") != NULL);
  CHECK(strstr(wga_status_message(WGA_INVALID_DESCRIPTION), "256") != NULL);
  /* Not HTTP answers. */
  CHECK(wga_status_http_code(WGA_POLICY_REFUSED) == 0);
  CHECK(wga_status_body(WGA_INVALID_SCOPE) == NULL);
}

int main(void) {
  test_create_and_scope_check();
  test_update();
  test_policy();
  test_revoke_all_prune_and_host_records();
  test_generate();
  test_statuses();
  return report("test_access");
}
