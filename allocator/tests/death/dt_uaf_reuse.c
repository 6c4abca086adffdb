/* dt_uaf_reuse.c - death test: write after free, seen when the block is
 * handed out again.  Debug: the free fill is checked at reuse, byte-exact.
 * Hardened: the block was zeroed at free and is checked to be still zero
 * (HAKMEM_WIPE_MAX, 4096 by default), with the same report.  (Both hold a
 * freed block back until the next free of its slab: r's free lets p go.) */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  char *keep = hak_malloc(48);
  char *p = hak_malloc(48);
  char *r = hak_malloc(48);
  hak_free(p);
  p[20] = 'x';
  dt_expect("write after free at offset 20", p, dt_class(48));
  hak_free(r);
  char *q = hak_malloc(48);
  if (q != p) q = hak_malloc(48); /* without the hold, r comes first */
  if (q != p) dt_setup_fail("block not reused");
  hak_free(q);
  hak_free(keep);
}
