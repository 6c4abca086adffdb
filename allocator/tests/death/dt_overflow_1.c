/* dt_overflow_1.c - death test: a write one byte past a full tiny block
 * lands on the next block's header byte; detected when the next block is
 * freed (hardened: header vs slab descriptor). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  int c = dt_class(63);
  char *a = hak_malloc(63), *b = hak_malloc(63);
  if (b != a + 64) dt_setup_fail("blocks not adjacent");
  a[63] = 0x11;
  hak_free(a);
  dt_expect("block header corrupt", b, c);
  hak_free(b);
}
