/* dt_overflow_8.c - death test: an 8-byte overrun of a full tiny block (the
 * next header and 7 bytes of the next block), detected at the next free. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  int c = dt_class(63);
  char *a = hak_malloc(63), *b = hak_malloc(63);
  if (b != a + 64) dt_setup_fail("blocks not adjacent");
  memset(a + 63, 0x42, 8);
  dt_expect("block header corrupt", b, c);
  hak_free(b);
}
