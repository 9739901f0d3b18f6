/* One keyring shared by three threads: two verify every token over and over
 * (one through Access-Token, one through Authorization: Bearer) while a
 * third deletes them one by one. Checks, for every verification:
 * - a token whose deletion had returned before the verification began is
 *   refused (revocation is immediate);
 * - a token whose deletion had not begun by the time the verification ended
 *   is accepted, with the right principal (no false rejections);
 * and at the end that every token is refused and the keyring is empty. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#define TOKENS 48
#define NOW 1790000000ULL

static wga_keyring *keyring;
static char tokens[TOKENS][WGA_TOKEN_BUFFER_LEN + 7]; /* room for "Bearer " */
static size_t token_lens[TOKENS];
static char ids[TOKENS][WGA_TOKEN_ID_BUFFER_LEN];
static atomic_int deleting[TOKENS];
static atomic_int deleted[TOKENS];
static atomic_int rounds_done;
static atomic_int deleter_done;

struct verifier {
  int bearer;
  unsigned long verified;
  unsigned long accepted;
  unsigned long late_accepts;   /* accepted after the deletion returned */
  unsigned long false_rejects;  /* refused though no deletion had begun */
  unsigned long wrong_principal;
  unsigned long wrong_status;
};

static void *verify_loop(void *arg) {
  struct verifier *v = (struct verifier *)arg;
  int final_round = 0;
  for (;;) {
    int i;
    int done_before = atomic_load(&deleter_done);
    for (i = 0; i < TOKENS; i++) {
      const uint8_t *value;
      size_t len;
      wga_principal p;
      wga_status s;
      int gone_before = atomic_load(&deleted[i]);
      if (v->bearer) {
        value = (const uint8_t *)tokens[i];
        len = token_lens[i] + 7;
        s = wga_keyring_verify_authorization(keyring, &value, &len, 1, NOW, &p);
      } else {
        value = (const uint8_t *)tokens[i] + 7;
        len = token_lens[i];
        s = wga_keyring_verify_access_token(keyring, &value, &len, 1, NOW, &p);
      }
      v->verified++;
      if (s == WGA_OK) {
        v->accepted++;
        if (gone_before) {
          v->late_accepts++;
        }
        if (strcmp(p.token_id, ids[i]) != 0 || strcmp(p.account, "acct_threads") != 0) {
          v->wrong_principal++;
        }
      } else if (s != (v->bearer ? WGA_BEARER_INVALID : WGA_ACCESS_TOKEN_INVALID)) {
        v->wrong_status++;
      } else if (atomic_load(&deleting[i]) == 0) {
        v->false_rejects++;
      }
    }
    atomic_fetch_add(&rounds_done, 1);
    if (final_round) {
      break;
    }
    /* One more full round after the deleter finished: all refused then. */
    final_round = done_before;
  }
  return NULL;
}

static void *delete_loop(void *arg) {
  int i;
  struct timespec pause = {0, 200000}; /* 0.2 ms */
  (void)arg;
  /* Let both verifiers get going first. */
  while (atomic_load(&rounds_done) < 2) {
    nanosleep(&pause, NULL);
  }
  for (i = 0; i < TOKENS; i++) {
    atomic_store(&deleting[i], 1);
    if (wga_keyring_delete(keyring, ids[i], 16) != WGA_OK) {
      return (void *)1;
    }
    atomic_store(&deleted[i], 1);
    nanosleep(&pause, NULL);
  }
  atomic_store(&deleter_done, 1);
  return NULL;
}

int main(void) {
  pthread_t threads[3];
  struct verifier verifiers[2];
  void *deleter_result = NULL;
  int i;

  CHECK_STATUS(wga_keyring_new(&keyring), WGA_OK);
  for (i = 0; i < TOKENS; i++) {
    char name[32];
    wga_record rec;
    snprintf(name, sizeof name, "token %d", i);
    memcpy(tokens[i], "Bearer ", 7);
    CHECK_STATUS(wga_keyring_issue(keyring, "acct_threads", 12, name, strlen(name), NOW,
                                   tokens[i] + 7, WGA_TOKEN_BUFFER_LEN, &token_lens[i], &rec),
                 WGA_OK);
    memcpy(ids[i], rec.id, sizeof ids[i]);
    atomic_init(&deleting[i], 0);
    atomic_init(&deleted[i], 0);
  }
  atomic_init(&rounds_done, 0);
  atomic_init(&deleter_done, 0);

  memset(verifiers, 0, sizeof verifiers);
  verifiers[1].bearer = 1;
  CHECK(pthread_create(&threads[0], NULL, verify_loop, &verifiers[0]) == 0);
  CHECK(pthread_create(&threads[1], NULL, verify_loop, &verifiers[1]) == 0);
  CHECK(pthread_create(&threads[2], NULL, delete_loop, NULL) == 0);
  for (i = 0; i < 3; i++) {
    CHECK(pthread_join(threads[i], i == 2 ? &deleter_result : NULL) == 0);
  }
  CHECK(deleter_result == NULL);

  for (i = 0; i < 2; i++) {
    struct verifier *v = &verifiers[i];
    printf("verifier %d (%s): %lu verifications, %lu accepted\n", i,
           v->bearer ? "Bearer" : "Access-Token", v->verified, v->accepted);
    CHECK(v->verified >= 3 * TOKENS);
    CHECK(v->accepted >= TOKENS); /* the first round ran before any deletion */
    CHECK(v->accepted < v->verified);
    CHECK(v->late_accepts == 0);
    CHECK(v->false_rejects == 0);
    CHECK(v->wrong_principal == 0);
    CHECK(v->wrong_status == 0);
  }
  CHECK(wga_keyring_len(keyring) == 0);
  for (i = 0; i < TOKENS; i++) {
    wga_principal p;
    const uint8_t *value = (const uint8_t *)tokens[i] + 7;
    CHECK_STATUS(wga_keyring_verify_access_token(keyring, &value, &token_lens[i], 1, NOW, &p),
                 WGA_ACCESS_TOKEN_INVALID);
  }
  wga_keyring_free(keyring);
  return report("test_threads");
}
