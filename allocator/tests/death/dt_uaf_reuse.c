/* dt_uaf_reuse.c - death test: write after free, seen when the block is
 * handed out again.  Debug: the free fill is checked at reuse, byte-exact.
 * Hardened: a write past the link word is not seen (documented). */
#define DT_MIN_LEVEL 2
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  char *keep = hak_malloc(48);
  char *p = hak_malloc(48);
  hak_free(p);
  p[20] = 'x';
  dt_expect("write after free at offset 20", p, dt_class(48));
  char *q = hak_malloc(48);
  if (q != p) dt_setup_fail("block not reused");
  hak_free(q);
  hak_free(keep);
}
