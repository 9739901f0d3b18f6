/* Positive control for the leak checks: this program deliberately never
 * frees its keyring. scripts/test-c requires AddressSanitizer and valgrind
 * to FAIL on it, proving that they see memory allocated by the library. */
#include <stdio.h>

#include "whatsgate_auth.h"

int main(void) {
  wga_keyring *keyring = NULL;
  char token[WGA_TOKEN_BUFFER_LEN];
  size_t len = 0;
  wga_record record;
  if (wga_keyring_new(&keyring) != WGA_OK ||
      wga_keyring_create(keyring, "acct", 4, "leaked", 6, 0, token, sizeof token, &len,
                         &record) != WGA_OK) {
    return 2;
  }
  keyring = NULL; /* the only reference is lost: a definite leak */
  puts("control_leak: keyring leaked on purpose");
  return 0;
}
