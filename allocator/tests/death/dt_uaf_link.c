/* dt_uaf_link.c - death test: a write after free over the free-list link
 * (bytes 0..7 of the freed block); the hardened pop decodes and sanitizes
 * it: "corrupt free-list link". */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *keep = hak_malloc(48);
  char *p = hak_malloc(48);
  hak_free(p);
  p[0] ^= 0x55;
  dt_expect("corrupt free-list link", p, dt_class(48));
  (void)hak_malloc(48);
  hak_free(keep);
}
