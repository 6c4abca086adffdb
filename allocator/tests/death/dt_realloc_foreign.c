/* dt_realloc_foreign.c - death test: realloc of a pointer hakmem never handed out.
 * Release: treated as a block of usable size 0 (a fresh block; the pointer
 * is then ignored by free), documented as no detection. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  static char buf[64] __attribute__((aligned(16)));
  dt_expect("invalid realloc (not a hakmem pointer)", buf, -1);
  hak_free(hak_realloc(buf, 10));
}
