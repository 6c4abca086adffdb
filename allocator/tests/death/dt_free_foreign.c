/* dt_free_foreign.c - death test: free of a pointer hakmem never handed out
 * (a static array).  Release ignores it (documented); checked builds abort. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  static char buf[64] __attribute__((aligned(16)));
  dt_expect("invalid free (not a hakmem pointer)", buf, -1);
  hak_free(buf);
}
