/* Attach a keyring to a token store: the verify functions work on it as on
 * any keyring, and create, delete and regenerate write to the store, which
 * every host attached to it follows.
 *
 * Usage: attach_store [URL]   (a path, sqlite:PATH or postgresql://...;
 *                              default sqlite:tokens.db, created if missing) */
#include <stdio.h>
#include <string.h>

#include "whatsgate_auth.h"

/* The store's own message when it gave one (it never shows a password). */
static int fail(const char *what, wga_status status) {
  char message[WGA_ERROR_MESSAGE_BUFFER_LEN] = "";
  size_t len = 0;
  wga_last_error_message(message, sizeof message, &len);
  fprintf(stderr, "%s: %s\n", what, len > 0 ? message : wga_status_message(status));
  return 1;
}

static void answer(const char *what, wga_status status) {
  if (status == WGA_OK) {
    printf("%s: 200\n", what);
  } else {
    printf("%s: %u %s\n", what, (unsigned)wga_status_http_code(status), wga_status_body(status));
  }
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "sqlite:tokens.db";
  wga_follow_options options = {0}; /* 0: stale after 5 s, poll 1 s, timeout 2 s */
  wga_keyring *keyring = NULL;
  wga_follow_stats stats;
  wga_record record;
  char token[WGA_TOKEN_BUFFER_LEN];
  size_t token_len = 0;
  const uint8_t *values[1];
  size_t lens[1];
  wga_status status;

  options.create_if_missing = true;
  status = wga_keyring_open(url, strlen(url), &options, &keyring);
  if (status != WGA_OK) {
    return fail("open", status);
  }
  /* The store's audit trail names this service for the writes below
   * (`local` otherwise). */
  status = wga_keyring_set_actor(keyring, "example-service", strlen("example-service"));
  if (status != WGA_OK) {
    wga_keyring_free(keyring);
    return fail("set_actor", status);
  }

  /* Written to the store: accepted here once this returns, and by every
   * other attached host as soon as its follower applies the change. */
  status = wga_keyring_create(keyring, "acct_42", strlen("acct_42"), "Production API",
                              strlen("Production API"), 0, token, sizeof token, &token_len,
                              &record);
  if (status != WGA_OK) {
    wga_keyring_free(keyring);
    return fail("create", status);
  }
  values[0] = (const uint8_t *)token;
  lens[0] = token_len;
  answer("Access-Token: <the new token>",
         wga_keyring_verify_access_token(keyring, values, lens, 1, 0, NULL));

  /* Deleted in the store: refused here at once, elsewhere within the
   * followers' wake-up latency. */
  status = wga_keyring_delete(keyring, record.id, strlen(record.id));
  if (status != WGA_OK) {
    wga_keyring_free(keyring);
    return fail("delete", status);
  }
  answer("Access-Token: <the deleted token>",
         wga_keyring_verify_access_token(keyring, values, lens, 1, 0, NULL));

  if (wga_keyring_follow_stats(keyring, &stats) == WGA_OK) {
    printf("follower: at change %llu, %s\n", (unsigned long long)stats.seq,
           stats.current ? "current" : "not current (503)");
  }
  memset(token, 0, sizeof token);
  wga_keyring_free(keyring); /* writes last use, stops the follower */
  return 0;
}
