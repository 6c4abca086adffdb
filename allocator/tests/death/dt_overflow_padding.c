/* dt_overflow_padding.c - death test: a 1-byte overrun inside the block's padding
 * (request 50 of 63 usable bytes).  Debug: the padding fill is checked at
 * free, byte-exact.  Hardened and release cannot see it: no detection. */
#define DT_MIN_LEVEL 2
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(50);
  p[50] = 1;
  dt_expect("heap overflow at offset 50 (requested 50)", p, dt_class(50));
  hak_free(p);
}
