/* One keyring shared by three threads: two verify every token over and over
 * (one through Access-Token, one through Authorization: Bearer) while a
 * third deletes them one by one (then, in a second run, disables them with
 * wga_keyring_update). Checks, for every verification:
 * - a token whose deletion had returned before the verification began is
 *   refused (revocation is immediate);
 * - a token whose deletion had not begun by the time the verification ended
 *   is accepted, with the right principal (no false rejections);
 * and at the end that every token is refused and the keyring is empty (or,
 * disabled, still holds them all).
 *
 * Then three threads verify one good token (Access-Token, Authorization:
 * Bearer, the bare token) while a fourth makes the keyring unavailable and
 * available again, waiting each time until every verifier has seen the
 * change: every answer is WGA_OK or WGA_STORE_UNAVAILABLE, never an
 * "invalid" one, and each verifier sees both. */
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
/* The second run revokes by disabling, not deleting. */
static int by_disabling;

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
    if (by_disabling) {
      wga_token_update u;
      wga_record rec;
      wga_record_extra extra;
      memset(&u, 0, sizeof u);
      u.set_disabled = true;
      u.disabled = true;
      if (wga_keyring_update(keyring, ids[i], 16, &u, &rec, &extra) != WGA_OK) {
        return (void *)1;
      }
    } else if (wga_keyring_delete(keyring, ids[i], 16) != WGA_OK) {
      return (void *)1;
    }
    atomic_store(&deleted[i], 1);
    nanosleep(&pause, NULL);
  }
  atomic_store(&deleter_done, 1);
  return NULL;
}

/* The availability phase. */
#define FLIPS 20
enum { VIA_ACCESS_TOKEN, VIA_BEARER, VIA_BARE };

static atomic_int toggler_done;

struct flip_verifier {
  int via;
  atomic_ulong ok;
  atomic_ulong unavailable;
  unsigned long other; /* any other answer: a failure */
};

static struct flip_verifier flip_verifiers[3];

static void *flip_verify_loop(void *arg) {
  struct flip_verifier *v = (struct flip_verifier *)arg;
  const char *bearer = tokens[0];
  const char *token = tokens[0] + 7;
  while (!atomic_load(&toggler_done)) {
    const uint8_t *value;
    size_t len;
    wga_principal p;
    wga_status s;
    switch (v->via) {
      case VIA_ACCESS_TOKEN:
        value = (const uint8_t *)token;
        len = token_lens[0];
        s = wga_keyring_verify_access_token(keyring, &value, &len, 1, NOW, &p);
        break;
      case VIA_BEARER:
        value = (const uint8_t *)bearer;
        len = token_lens[0] + 7;
        s = wga_keyring_verify_authorization(keyring, &value, &len, 1, NOW, &p);
        break;
      default:
        s = wga_keyring_verify_token(keyring, (const uint8_t *)token, token_lens[0], NOW, &p);
        break;
    }
    if (s == WGA_OK && strcmp(p.token_id, ids[0]) == 0) {
      atomic_fetch_add(&v->ok, 1);
    } else if (s == WGA_STORE_UNAVAILABLE) {
      atomic_fetch_add(&v->unavailable, 1);
    } else {
      v->other++;
      fprintf(stderr, "verifier %d: status %u (%s)\n", v->via, (unsigned)s,
              wga_status_message(s));
    }
  }
  return NULL;
}

/* Waits until every verifier has counted one more answer of this kind
 * than in `before`. */
static void wait_for_all(int unavailable, const unsigned long before[3]) {
  struct timespec pause = {0, 100000}; /* 0.1 ms */
  int i;
  for (i = 0; i < 3; i++) {
    atomic_ulong *count = unavailable ? &flip_verifiers[i].unavailable : &flip_verifiers[i].ok;
    while (atomic_load(count) <= before[i]) {
      nanosleep(&pause, NULL);
    }
  }
}

static void *toggle_loop(void *arg) {
  int k, i;
  unsigned long before[3];
  (void)arg;
  for (k = 0; k < FLIPS; k++) {
    for (i = 0; i < 3; i++) {
      before[i] = atomic_load(&flip_verifiers[i].unavailable);
    }
    if (wga_keyring_set_available(keyring, false) != WGA_OK) {
      return (void *)1;
    }
    wait_for_all(1, before);
    for (i = 0; i < 3; i++) {
      before[i] = atomic_load(&flip_verifiers[i].ok);
    }
    if (wga_keyring_set_available(keyring, true) != WGA_OK) {
      return (void *)1;
    }
    wait_for_all(0, before);
  }
  atomic_store(&toggler_done, 1);
  return NULL;
}

static void availability_phase(void) {
  pthread_t threads[4];
  void *toggler_result = NULL;
  wga_record rec;
  int i;

  CHECK_STATUS(wga_keyring_new(&keyring), WGA_OK);
  memcpy(tokens[0], "Bearer ", 7);
  CHECK_STATUS(wga_keyring_create(keyring, "acct_threads", 12, "flipped", 7, NOW,
                                  tokens[0] + 7, WGA_TOKEN_BUFFER_LEN, &token_lens[0], &rec),
               WGA_OK);
  memcpy(ids[0], rec.id, sizeof ids[0]);
  atomic_init(&toggler_done, 0);
  for (i = 0; i < 3; i++) {
    flip_verifiers[i].via = i;
    atomic_init(&flip_verifiers[i].ok, 0);
    atomic_init(&flip_verifiers[i].unavailable, 0);
    flip_verifiers[i].other = 0;
    CHECK(pthread_create(&threads[i], NULL, flip_verify_loop, &flip_verifiers[i]) == 0);
  }
  CHECK(pthread_create(&threads[3], NULL, toggle_loop, NULL) == 0);
  for (i = 0; i < 4; i++) {
    CHECK(pthread_join(threads[i], i == 3 ? &toggler_result : NULL) == 0);
  }
  CHECK(toggler_result == NULL);
  for (i = 0; i < 3; i++) {
    struct flip_verifier *v = &flip_verifiers[i];
    unsigned long ok = atomic_load(&v->ok), unavailable = atomic_load(&v->unavailable);
    printf("availability verifier %d: %lu accepted, %lu answered 503, %lu other\n", i, ok,
           unavailable, v->other);
    /* Each flip was seen by every verifier (the toggler waited for it). */
    CHECK(ok >= FLIPS && unavailable >= FLIPS);
    CHECK(v->other == 0);
  }
  CHECK(wga_keyring_is_available(keyring));
  wga_keyring_free(keyring);
  keyring = NULL;
}

static void revocation_phase(int disable) {
  pthread_t threads[3];
  struct verifier verifiers[2];
  void *deleter_result = NULL;
  int i;

  by_disabling = disable;

  CHECK_STATUS(wga_keyring_new(&keyring), WGA_OK);
  for (i = 0; i < TOKENS; i++) {
    char name[32];
    wga_record rec;
    snprintf(name, sizeof name, "token %d", i);
    memcpy(tokens[i], "Bearer ", 7);
    CHECK_STATUS(wga_keyring_create(keyring, "acct_threads", 12, name, strlen(name), NOW,
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
    printf("%s, verifier %d (%s): %lu verifications, %lu accepted\n",
           disable ? "disabling" : "deleting", i, v->bearer ? "Bearer" : "Access-Token",
           v->verified, v->accepted);
    CHECK(v->verified >= 3 * TOKENS);
    CHECK(v->accepted >= TOKENS); /* the first round ran before any deletion */
    CHECK(v->accepted < v->verified);
    CHECK(v->late_accepts == 0);
    CHECK(v->false_rejects == 0);
    CHECK(v->wrong_principal == 0);
    CHECK(v->wrong_status == 0);
  }
  CHECK(wga_keyring_len(keyring) == (disable ? TOKENS : 0));
  for (i = 0; i < TOKENS; i++) {
    wga_principal p;
    const uint8_t *value = (const uint8_t *)tokens[i] + 7;
    CHECK_STATUS(wga_keyring_verify_access_token(keyring, &value, &token_lens[i], 1, NOW, &p),
                 WGA_ACCESS_TOKEN_INVALID);
  }
  wga_keyring_free(keyring);
  keyring = NULL;
}

int main(void) {
  revocation_phase(0);
  revocation_phase(1);
  availability_phase();
  return report("test_threads");
}
