/* A complete example: load a keyring, create a token, and answer requests the
 * way a REST gateway and an MCP endpoint would.
 *
 * Build against an installed prefix (scripts/install-c PREFIX; see
 * bindings/c/README.md):
 *   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
 *   cc verify_request.c -o verify_request $(pkg-config --cflags --libs whatsgate_auth) \
 *      -Wl,-rpath,$(pkg-config --variable=libdir whatsgate_auth)
 */
#include <stdio.h>
#include <string.h>

#include "whatsgate_auth.h"

/* Prints the HTTP answer for a verification status. */
static void answer(wga_status status, const wga_principal *who) {
  if (status == WGA_OK) {
    printf("  200: account %s, token %s (\"%s\")\n", who->account, who->token_id, who->name);
  } else if (wga_status_http_code(status) != 0) {
    /* Content-Type: application/json, plus these headers when they are set. */
    const char *challenge = wga_status_www_authenticate(status);
    uint32_t retry_after = wga_status_retry_after(status);
    printf("  %u %s", (unsigned)wga_status_http_code(status), wga_status_body(status));
    if (challenge != NULL) {
      printf("  WWW-Authenticate: %s", challenge);
    }
    if (retry_after != 0) {
      printf("  Retry-After: %u", (unsigned)retry_after);
    }
    printf("\n");
  } else {
    printf("  error: %s\n", wga_status_message(status));
  }
}

int main(void) {
  wga_keyring *keyring = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  char bearer[WGA_TOKEN_BUFFER_LEN + 7];
  size_t token_len = 0;
  wga_record record;
  wga_principal who;
  wga_status status;
  const uint8_t *values[2];
  size_t lens[2];

  printf("libwhatsgate_auth %s (header %s)\n", wga_version(), WGA_VERSION);
  if (wga_keyring_new(&keyring) != WGA_OK) {
    return 1;
  }

  /* Create a token: show `token` to its owner once; store `record` (it holds
   * only the verifier) and add it back with wga_keyring_add on restart. */
  status = wga_keyring_create(keyring, "acct_42", strlen("acct_42"), "Production API",
                              strlen("Production API"), 0 /* now */, token, sizeof token,
                              &token_len, &record);
  if (status != WGA_OK) {
    fprintf(stderr, "create: %s\n", wga_status_message(status));
    wga_keyring_free(keyring);
    return 1;
  }
  printf("created token id %s for %s (created at %llu)\n", record.id, record.account,
         (unsigned long long)record.created_at);

  /* REST: every value of the Access-Token header, as received. */
  puts("Access-Token: <the token>");
  values[0] = (const uint8_t *)token;
  lens[0] = token_len;
  status = wga_keyring_verify_access_token(keyring, values, lens, 1, 0, &who);
  answer(status, &who);

  puts("no Access-Token header");
  status = wga_keyring_verify_access_token(keyring, NULL, NULL, 0, 0, &who);
  answer(status, &who);

  puts("two Access-Token headers");
  values[1] = values[0];
  lens[1] = lens[0];
  status = wga_keyring_verify_access_token(keyring, values, lens, 2, 0, &who);
  answer(status, &who);

  /* MCP: Authorization: Bearer <token>. */
  snprintf(bearer, sizeof bearer, "Bearer %s", token);
  puts("Authorization: Bearer <the token>");
  values[0] = (const uint8_t *)bearer;
  lens[0] = strlen(bearer);
  status = wga_keyring_verify_authorization(keyring, values, lens, 1, 0, &who);
  answer(status, &who);

  /* A host that follows a token store and cannot confirm it is current
   * marks the keyring unavailable: every token gets 503 + Retry-After
   * (never "invalid") until it is marked available again. */
  wga_keyring_set_available(keyring, false);
  puts("Authorization: Bearer <the token>, the store out of reach");
  status = wga_keyring_verify_authorization(keyring, values, lens, 1, 0, &who);
  answer(status, &who);
  wga_keyring_set_available(keyring, true);

  /* Delete: the token is refused from now on. */
  wga_keyring_delete(keyring, record.id, strlen(record.id));
  puts("Authorization: Bearer <the deleted token>");
  status = wga_keyring_verify_authorization(keyring, values, lens, 1, 0, &who);
  answer(status, &who);

  /* Wipe the plaintext token once it has been handed over. */
  memset(token, 0, sizeof token);
  memset(bearer, 0, sizeof bearer);
  wga_keyring_free(keyring);
  return 0;
}
