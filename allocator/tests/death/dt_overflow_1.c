/* dt_overflow_1.c - death test: a write to the last byte of a tiny block's
 * stride lands on the next block's header byte (past a full block in
 * release; past the canary, which it skips, in the checked builds);
 * detected when the next block is freed (hardened: header vs slab
 * descriptor). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  int c = dt_class(61); /* the 64-byte class: 61 usable bytes with a canary */
  char *a = hak_malloc(61), *b = hak_malloc(61);
  if (b != a + 64) dt_setup_fail("blocks not adjacent");
  a[63] = 0x11;
  hak_free(a);
  dt_expect("block header corrupt", b, c);
  hak_free(b);
}
