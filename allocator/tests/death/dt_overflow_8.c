/* dt_overflow_8.c - death test: 8 bytes written from the last byte of a
 * tiny block's stride (the next header and 7 bytes of the next block; the
 * checked builds' canary of the first block skipped), detected at the next
 * free. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  int c = dt_class(61); /* the 64-byte class: 61 usable bytes with a canary */
  char *a = hak_malloc(61), *b = hak_malloc(61);
  if (b != a + 64) dt_setup_fail("blocks not adjacent");
  memset(a + 63, 0x42, 8);
  dt_expect("block header corrupt", b, c);
  hak_free(b);
}
