/* A keyring attached to a token store (wga_keyring_open): two handles on one
 * SQLite file (and on PostgreSQL when WGAUTH_TEST_PG_URL is set), writes
 * through one seen by the other within a bound (create, delete, regenerate;
 * and with scopes, expiry, description: create_ex, update, revoke_all,
 * prune, the lifetime policy), store errors with their statuses and
 * messages, and the calls each kind of keyring refuses.
 *
 * Usage: test_store [TMPDIR]   (default: $TMPDIR or /tmp) */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* How long another handle may take to see a write: generous, for valgrind. */
#define SEE_WITHIN_MS 10000

static const char NAME[] = "Production API";

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* The thread's last store message, or "" (with a failed check) when it
 * cannot be read. */
static const char *last_error(void) {
  static char buf[WGA_ERROR_MESSAGE_BUFFER_LEN];
  size_t len = 0;
  if (wga_last_error_message(buf, sizeof buf, &len) != WGA_OK || buf[len] != '\0') {
    CHECK(0 && "wga_last_error_message");
    buf[0] = '\0';
  }
  return buf;
}

static wga_status open_store(const char *url, const wga_follow_options *options,
                             wga_keyring **out) {
  return wga_keyring_open(url, strlen(url), options, out);
}

/* The REST answer of a keyring to one Access-Token value. */
static wga_status verify(const wga_keyring *kr, const char *token) {
  const uint8_t *values[1];
  size_t lens[1];
  values[0] = (const uint8_t *)token;
  lens[0] = strlen(token);
  return wga_keyring_verify_access_token(kr, values, lens, 1, 0, NULL);
}

/* Polls until `kr` answers `token` with `want`; returns the milliseconds it
 * took, or -1 after SEE_WITHIN_MS. */
static long wait_for(const wga_keyring *kr, const char *token, wga_status want) {
  uint64_t start = now_ms();
  while (verify(kr, token) != want) {
    if (now_ms() - start > SEE_WITHIN_MS) {
      return -1;
    }
    sleep_ms(2);
  }
  return (long)(now_ms() - start);
}

static wga_status create(const wga_keyring *kr, const char *account, const char *name,
                         char token[WGA_TOKEN_BUFFER_LEN], wga_record *rec) {
  size_t len = 0;
  return wga_keyring_create(kr, account, strlen(account), name, strlen(name), 0, token,
                            WGA_TOKEN_BUFFER_LEN, &len, rec);
}

static void test_statuses(void) {
  static const wga_status store[] = {WGA_STORE_ERROR, WGA_INVALID_STORE_URL,
                                     WGA_KEYRING_ATTACHED, WGA_KEYRING_NOT_ATTACHED};
  size_t i;
  CHECK(WGA_STORE_ERROR == 15 && WGA_INVALID_STORE_URL == 16);
  CHECK(WGA_KEYRING_ATTACHED == 17 && WGA_KEYRING_NOT_ATTACHED == 18);
  CHECK(WGA_INVALID_URL == 14 && WGA_STORE_UNAVAILABLE == 120);
  for (i = 0; i < sizeof store / sizeof store[0]; i++) {
    CHECK(strcmp(wga_status_message(store[i]), "unknown status") != 0);
    /* Management failures, not HTTP answers. */
    CHECK(wga_status_http_code(store[i]) == 0);
    CHECK(wga_status_body(store[i]) == NULL);
  }
  CHECK(WGA_ERROR_MESSAGE_BUFFER_LEN >= 256);
}

/* Unknown schemes, missing stores, files that are not stores, unreachable
 * servers, bad options, NULL arguments: each its status and a message, and
 * `*keyring_out` untouched. */
static void test_open_errors(const char *dir) {
  wga_keyring *const sentinel = (wga_keyring *)(uintptr_t)0x5a5a;
  wga_keyring *kr = sentinel;
  wga_follow_options options;
  char url[2100];
  char path[2048];
  char small[4];
  size_t len = 0;
  FILE *f;

  CHECK_STATUS(wga_keyring_open(NULL, 0, NULL, &kr), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_open("x", 1, NULL, NULL), WGA_NULL_PARAMETER);

  CHECK_STATUS(open_store("mysql://db.example/tokens", NULL, &kr), WGA_INVALID_STORE_URL);
  CHECK(strstr(last_error(), "mysql://") != NULL);
  CHECK_STATUS(open_store("", NULL, &kr), WGA_INVALID_STORE_URL);
  CHECK_STATUS(wga_keyring_open("sqlite:\xff", 8, NULL, &kr), WGA_INVALID_STORE_URL);
  CHECK(strstr(last_error(), "UTF-8") != NULL);

  /* A missing file, without create_if_missing: not created. */
  snprintf(path, sizeof path, "%s/missing.db", dir);
  snprintf(url, sizeof url, "sqlite:%s", path);
  CHECK_STATUS(open_store(url, NULL, &kr), WGA_STORE_ERROR);
  CHECK(strstr(last_error(), "missing.db") != NULL);
  CHECK(strstr(last_error(), "create_if_missing") != NULL);
  CHECK(access(path, F_OK) != 0);

  /* A file that is not a token store, left as it was. */
  snprintf(path, sizeof path, "%s/notes.txt", dir);
  f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs("not a database\n", f);
    fclose(f);
  }
  CHECK_STATUS(open_store(path, NULL, &kr), WGA_STORE_ERROR);
  CHECK(strlen(last_error()) > 0);
  unlink(path);

  /* A server that cannot be reached: the message names it without its
   * password. */
  memset(&options, 0, sizeof options);
  options.timeout_ms = 1000;
  CHECK_STATUS(open_store("postgresql://wgauth:hunter2-secret@127.0.0.1:1/postgres",
                          &options, &kr),
               WGA_STORE_ERROR);
  CHECK(strlen(last_error()) > 0);
  CHECK(strstr(last_error(), "hunter2") == NULL);

  /* Options: a poll as long as the bound would answer 503 between polls. */
  memset(&options, 0, sizeof options);
  options.stale_after_ms = 500;
  options.poll_ms = 500;
  options.create_if_missing = true;
  CHECK_STATUS(open_store(url, &options, &kr), WGA_INVALID_ARGUMENT);
  CHECK(strstr(last_error(), "poll_ms") != NULL);
  options.poll_ms = 0;
  options.timeout_ms = WGA_FOLLOW_MAX_MS + 1;
  CHECK_STATUS(open_store(url, &options, &kr), WGA_INVALID_ARGUMENT);
  CHECK(strstr(last_error(), "timeout_ms") != NULL);

  CHECK(kr == sentinel);

  /* The message buffer: the size needed on a short one, nothing written. */
  memset(small, 0x7f, sizeof small);
  CHECK_STATUS(wga_last_error_message(small, sizeof small, &len), WGA_BUFFER_TOO_SMALL);
  CHECK(len == strlen(last_error()) + 1);
  CHECK(untouched(small, sizeof small, 0x7f));
  CHECK_STATUS(wga_last_error_message(NULL, 0, &len), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_last_error_message(small, sizeof small, NULL), WGA_NULL_PARAMETER);
}

/* Calls that only an attached keyring answers. */
static void test_in_memory_keyring(void) {
  wga_keyring *kr = NULL;
  wga_follow_stats stats;
  char buf[8];
  size_t len = 0;
  CHECK_STATUS(wga_keyring_new(&kr), WGA_OK);
  memset(&stats, 0xAB, sizeof stats);
  CHECK_STATUS(wga_keyring_follow_stats(kr, &stats), WGA_KEYRING_NOT_ATTACHED);
  CHECK(untouched(&stats, sizeof stats, 0xAB));
  CHECK_STATUS(wga_keyring_follow_error(kr, buf, sizeof buf, &len), WGA_KEYRING_NOT_ATTACHED);
  CHECK_STATUS(wga_keyring_flush_last_used(kr), WGA_KEYRING_NOT_ATTACHED);
  CHECK_STATUS(wga_keyring_flush_last_used(NULL), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_follow_stats(NULL, &stats), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_follow_stats(kr, NULL), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_follow_error(kr, NULL, 0, &len), WGA_NULL_PARAMETER);
  CHECK_STATUS(wga_keyring_set_actor(kr, "svc", 3), WGA_KEYRING_NOT_ATTACHED);
  CHECK_STATUS(wga_keyring_set_actor(NULL, "svc", 3), WGA_NULL_PARAMETER);
  wga_keyring_free(kr);
}

/* Two handles on the store at `url`: `writer` creates it when missing. The
 * account is unique to this run, so a shared database may hold others. */
static void test_attached(const char *label, const char *url, const char *account) {
  wga_keyring *writer = NULL;
  wga_keyring *reader = NULL;
  wga_follow_options options;
  wga_follow_stats stats;
  wga_record rec, second, fresh, got;
  wga_record_list *list = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  char token2[WGA_TOKEN_BUFFER_LEN];
  char token3[WGA_TOKEN_BUFFER_LEN];
  char buf[WGA_ERROR_MESSAGE_BUFFER_LEN];
  size_t len = 0;
  uint64_t seq_before;
  long took;

  printf("%s: %s\n", label, strncmp(url, "postgres", 8) == 0 ? "(PostgreSQL URL)" : url);
  memset(&options, 0, sizeof options);
  options.poll_ms = 50;
  options.create_if_missing = true;
  CHECK_STATUS(open_store(url, &options, &writer), WGA_OK);
  options.create_if_missing = false;
  CHECK_STATUS(open_store(url, &options, &reader), WGA_OK);
  if (writer == NULL || reader == NULL) {
    fprintf(stderr, "%s: cannot open the store: %s\n", label, last_error());
    wga_keyring_free(writer);
    wga_keyring_free(reader);
    return;
  }
  CHECK_STATUS(wga_keyring_follow_stats(reader, &stats), WGA_OK);
  CHECK(stats.current && stats.resyncs == 1 && stats.bad_rows == 0);
  seq_before = stats.seq;
  CHECK(wga_keyring_is_available(reader));

  /* Issue through one handle: accepted by it at once, by the other soon. */
  CHECK_STATUS(create(writer, account, NAME, token, &rec), WGA_OK);
  CHECK_STATUS(verify(writer, token), WGA_OK);
  took = wait_for(reader, token, WGA_OK);
  CHECK(took >= 0);
  printf("  created: the other handle accepted it after %ld ms\n", took);
  CHECK_STATUS(wga_keyring_get(reader, rec.id, strlen(rec.id), &got), WGA_OK);
  CHECK(memcmp(got.verifier, rec.verifier, sizeof rec.verifier) == 0);

  /* The store's constraints hold through either handle. */
  CHECK_STATUS(create(reader, account, NAME, token2, &second), WGA_DUPLICATE_NAME);
  CHECK(strstr(last_error(), NAME) != NULL);

  /* List reads the store; last use reaches it through a flush. */
  CHECK_STATUS(wga_keyring_flush_last_used(reader), WGA_OK);
  CHECK_STATUS(wga_keyring_list(reader, account, strlen(account), &list), WGA_OK);
  CHECK(strcmp(last_error(), "") == 0); /* a call that reached the store clears it */
  CHECK(wga_record_list_len(list) == 1);
  CHECK_STATUS(wga_record_list_get(list, 0, &got), WGA_OK);
  CHECK(strcmp(got.id, rec.id) == 0 && strcmp(got.name, NAME) == 0);
  CHECK(got.has_last_used_at);
  wga_record_list_free(list);

  /* Delete: refused by the writer at once, by the other soon. */
  CHECK_STATUS(wga_keyring_delete(writer, rec.id, strlen(rec.id)), WGA_OK);
  CHECK_STATUS(verify(writer, token), WGA_ACCESS_TOKEN_INVALID);
  took = wait_for(reader, token, WGA_ACCESS_TOKEN_INVALID);
  CHECK(took >= 0);
  printf("  deleted: the other handle refused it after %ld ms\n", took);
  CHECK_STATUS(wga_keyring_delete(reader, rec.id, strlen(rec.id)), WGA_UNKNOWN_TOKEN);

  /* Regenerate through the other handle: its old secret refused there at
   * once; the new one accepted everywhere. */
  CHECK_STATUS(create(reader, account, "Testing", token2, &second), WGA_OK);
  CHECK_STATUS(wga_keyring_regenerate(reader, second.id, strlen(second.id), 0, 0, token3,
                                      sizeof token3, &len, &fresh),
               WGA_OK);
  CHECK(strcmp(fresh.id, second.id) == 0);
  CHECK_STATUS(verify(reader, token2), WGA_ACCESS_TOKEN_INVALID);
  CHECK_STATUS(verify(reader, token3), WGA_OK);
  took = wait_for(writer, token3, WGA_OK);
  CHECK(took >= 0);
  printf("  regenerated: the other handle accepted the new token after %ld ms\n", took);
  CHECK_STATUS(verify(writer, token2), WGA_ACCESS_TOKEN_INVALID);

  /* What an attached keyring refuses: its records are its store's. */
  CHECK_STATUS(wga_keyring_add(writer, &rec), WGA_KEYRING_ATTACHED);
  CHECK_STATUS(wga_keyring_sync(writer, NULL, 0), WGA_KEYRING_ATTACHED);
  CHECK_STATUS(wga_keyring_set_available(writer, false), WGA_KEYRING_ATTACHED);
  CHECK(wga_keyring_is_available(writer));
  list = NULL;
  CHECK_STATUS(wga_keyring_take_last_used(writer, &list), WGA_KEYRING_ATTACHED);
  CHECK(list == NULL);

  /* Counters: four changes of this run applied, nothing refused. */
  CHECK_STATUS(wga_keyring_follow_stats(writer, &stats), WGA_OK);
  CHECK(stats.current && stats.bad_rows == 0);
  CHECK(stats.seq >= seq_before + 4);
  /* Who the audit trail names (the entries are checked in src/store.rs). */
  CHECK_STATUS(wga_keyring_set_actor(writer, "test_store", strlen("test_store")), WGA_OK);
  CHECK_STATUS(wga_keyring_set_actor(writer, "\xff", 1), WGA_INVALID_ARGUMENT);
  CHECK_STATUS(wga_keyring_set_actor(writer, NULL, 0), WGA_NULL_PARAMETER);
  memset(buf, 0x7f, sizeof buf);
  CHECK_STATUS(wga_keyring_follow_error(writer, buf, sizeof buf, &len), WGA_OK);
  CHECK(len == 0 && buf[0] == '\0');

  wga_keyring_free(writer);
  wga_keyring_free(reader);

  /* A new handle loads what the store kept. */
  reader = NULL;
  CHECK_STATUS(open_store(url, NULL, &reader), WGA_OK);
  CHECK_STATUS(verify(reader, token3), WGA_OK);
  CHECK_STATUS(verify(reader, token), WGA_ACCESS_TOKEN_INVALID);
  CHECK_STATUS(wga_keyring_delete(reader, second.id, strlen(second.id)), WGA_OK);
  CHECK_STATUS(verify(reader, token3), WGA_ACCESS_TOKEN_INVALID);
  wga_keyring_free(reader);

  memset(token, 0, sizeof token);
  memset(token2, 0, sizeof token2);
  memset(token3, 0, sizeof token3);
}

/* The REST answer with the token's scopes. */
static wga_status verify_ex(const wga_keyring *kr, const char *token, wga_principal_ex *p) {
  const uint8_t *values[1];
  size_t lens[1];
  values[0] = (const uint8_t *)token;
  lens[0] = strlen(token);
  return wga_keyring_verify_access_token_ex(kr, values, lens, 1, 0, p);
}

/* Created at `now`, explicit: the policy's limits count from it, and a
 * run under valgrind may cross a second between two calls. */
static wga_status create_ex(const wga_keyring *kr, const char *account, const char *name,
                            const wga_token_options *o, uint64_t now,
                            char token[WGA_TOKEN_BUFFER_LEN], wga_record *rec,
                            wga_record_extra *extra) {
  size_t len = 0;
  return wga_keyring_create_ex(kr, account, strlen(account), name, strlen(name), o, now, token,
                               WGA_TOKEN_BUFFER_LEN, &len, rec, extra);
}

/* Records beyond the seed's fields through the store: written by one
 * handle, in force on the other within the bound. */
static void test_attached_v2(const char *label, const char *url, const char *account) {
  wga_keyring *writer = NULL;
  wga_keyring *reader = NULL;
  wga_follow_options options;
  wga_token_options o;
  wga_token_update u;
  wga_lifetime_policy policy, got;
  wga_record rec, other, fresh;
  wga_record_extra extra;
  wga_record_list *list = NULL;
  wga_principal_ex p;
  char token[WGA_TOKEN_BUFFER_LEN];
  char token2[WGA_TOKEN_BUFFER_LEN];
  char token3[WGA_TOKEN_BUFFER_LEN];
  uint64_t now = (uint64_t)time(NULL);
  size_t len = 0;
  long took;

  printf("%s, records v2\n", label);
  memset(&options, 0, sizeof options);
  options.poll_ms = 50;
  options.create_if_missing = true;
  CHECK_STATUS(open_store(url, &options, &writer), WGA_OK);
  options.create_if_missing = false;
  CHECK_STATUS(open_store(url, &options, &reader), WGA_OK);
  if (writer == NULL || reader == NULL) {
    fprintf(stderr, "%s: cannot open the store: %s\n", label, last_error());
    wga_keyring_free(writer);
    wga_keyring_free(reader);
    return;
  }

  /* Scopes, expiry and description written to the store, read by the other. */
  memset(&o, 0, sizeof o);
  o.scopes = "messages:send devices:*";
  o.scopes_len = strlen(o.scopes);
  o.expires_at = now + 3600;
  o.description = "sends messages";
  o.description_len = strlen(o.description);
  CHECK_STATUS(create_ex(writer, account, "Sender", &o, now, token, &rec, &extra), WGA_OK);
  CHECK(extra.restricted && strcmp(extra.scopes, "devices:* messages:send") == 0);
  took = wait_for(reader, token, WGA_OK);
  CHECK(took >= 0);
  CHECK_STATUS(verify_ex(reader, token, &p), WGA_OK);
  CHECK(p.restricted && wga_principal_has_scope(&p, "devices:list", 12));
  CHECK(!wga_principal_has_scope(&p, "tokens:manage", 13));
  memset(&extra, 0, sizeof extra);
  CHECK_STATUS(wga_keyring_get_extra(reader, rec.id, strlen(rec.id), &extra), WGA_OK);
  CHECK(extra.has_expires_at && extra.expires_at == now + 3600);
  CHECK(extra.has_description && strcmp(extra.description, "sends messages") == 0);
  CHECK_STATUS(wga_keyring_list(reader, account, strlen(account), &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 1);
  memset(&extra, 0, sizeof extra);
  CHECK_STATUS(wga_record_list_get_extra(list, 0, &extra), WGA_OK);
  CHECK(strcmp(extra.scopes, "devices:* messages:send") == 0);
  wga_record_list_free(list);

  /* Disabled through the other handle: refused there at once, here soon. */
  memset(&u, 0, sizeof u);
  u.set_disabled = true;
  u.disabled = true;
  CHECK_STATUS(wga_keyring_update(reader, rec.id, strlen(rec.id), &u, &rec, &extra), WGA_OK);
  CHECK(extra.disabled);
  CHECK_STATUS(verify(reader, token), WGA_ACCESS_TOKEN_INVALID);
  took = wait_for(writer, token, WGA_ACCESS_TOKEN_INVALID);
  CHECK(took >= 0);
  printf("  disabled: the other handle refused it after %ld ms\n", took);
  u.disabled = false;
  CHECK_STATUS(wga_keyring_update(writer, rec.id, strlen(rec.id), &u, &rec, &extra), WGA_OK);
  CHECK(wait_for(reader, token, WGA_OK) >= 0);
  /* The store's refusals: an unknown id, a name taken. */
  CHECK_STATUS(create_ex(writer, account, "Other", NULL, now, token2, &other, &extra), WGA_OK);
  memset(&u, 0, sizeof u);
  u.set_name = true;
  u.name = "Other";
  u.name_len = 5;
  CHECK_STATUS(wga_keyring_update(writer, rec.id, strlen(rec.id), &u, &fresh, &extra),
               WGA_DUPLICATE_NAME);
  CHECK_STATUS(wga_keyring_update(writer, "0123456789abcdef", 16, &u, &fresh, &extra),
               WGA_UNKNOWN_TOKEN);

  /* This host's lifetime policy. */
  policy.max_lifetime_secs = 7200;
  policy.max_grace_secs = 60;
  CHECK_STATUS(wga_keyring_set_policy(writer, &policy), WGA_OK);
  CHECK_STATUS(wga_keyring_get_policy(writer, &got), WGA_OK);
  CHECK(got.max_lifetime_secs == 7200 && got.max_grace_secs == 60);
  CHECK_STATUS(wga_keyring_regenerate(writer, rec.id, strlen(rec.id), now, now + 120, token3,
                                      sizeof token3, &len, &fresh),
               WGA_POLICY_REFUSED);
  CHECK(strstr(last_error(), "grace period") != NULL && strstr(last_error(), "60") != NULL);
  o.expires_at = now + 7201;
  CHECK_STATUS(create_ex(writer, account, "Long", &o, now, token3, &fresh, &extra),
               WGA_POLICY_REFUSED);
  CHECK_STATUS(verify(writer, token), WGA_OK);
  /* Expiring in two seconds; prune deletes it once it has expired. */
  o.expires_at = now + 2;
  CHECK_STATUS(create_ex(writer, account, "Brief", &o, now, token3, &fresh, &extra), WGA_OK);
  CHECK_STATUS(wga_keyring_prune(reader, now + 1, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);
  CHECK_STATUS(wga_keyring_prune(reader, now + 2, &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 1);
  wga_record_list_free(list);

  /* Revoke-all through one handle: every token of the account refused
   * everywhere. */
  CHECK_STATUS(wga_keyring_revoke_all(reader, account, strlen(account), &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 2);
  wga_record_list_free(list);
  CHECK_STATUS(verify(reader, token), WGA_ACCESS_TOKEN_INVALID);
  CHECK_STATUS(verify(reader, token2), WGA_ACCESS_TOKEN_INVALID);
  took = wait_for(writer, token2, WGA_ACCESS_TOKEN_INVALID);
  CHECK(took >= 0);
  printf("  revoked all: the other handle refused them after %ld ms\n", took);
  CHECK_STATUS(wga_keyring_revoke_all(writer, account, strlen(account), &list), WGA_OK);
  CHECK(wga_record_list_len(list) == 0);
  wga_record_list_free(list);

  wga_keyring_free(writer);
  wga_keyring_free(reader);
  memset(token, 0, sizeof token);
  memset(token2, 0, sizeof token2);
  memset(token3, 0, sizeof token3);
}

static void remove_sqlite(const char *path) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  char file[2048];
  size_t i;
  for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
    unlink(file);
  }
}

int main(int argc, char **argv) {
  const char *tmp = argc > 1 ? argv[1] : getenv("TMPDIR");
  const char *pg = getenv("WGAUTH_TEST_PG_URL");
  char dir[1024];
  char path[1100];
  char url[1200];
  char account[64];
  char account_v2[80];

  snprintf(dir, sizeof dir, "%s/wga-c-store-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  snprintf(path, sizeof path, "%s/tokens.db", dir);
  snprintf(account, sizeof account, "acct_c_%ld_%ld", (long)getpid(), (long)time(NULL));
  snprintf(account_v2, sizeof account_v2, "%s_v2", account);

  test_statuses();
  test_in_memory_keyring();
  test_open_errors(dir);

  snprintf(url, sizeof url, "sqlite:%s", path);
  test_attached("SQLite", url, account);
  test_attached_v2("SQLite", url, account_v2);
  /* A bare path is a SQLite URL too. */
  remove_sqlite(path);
  test_attached("SQLite, bare path", path, account);
  remove_sqlite(path);

  if (pg != NULL && *pg != '\0') {
    test_attached("PostgreSQL", pg, account);
    test_attached_v2("PostgreSQL", pg, account_v2);
  } else {
    printf("PostgreSQL: skipped (WGAUTH_TEST_PG_URL is not set)\n");
  }

  if (rmdir(dir) != 0) {
    perror("rmdir");
    CHECK(0 && "the temporary directory is left empty");
  }
  return report("test_store");
}
