/* dt_free_interior_aligned_slab.c - death test: interior pointer in a slab that holds
 * aligned blocks.  Only the pointer the block was handed out at (its granule
 * bit is set) maps to the block start; any other interior pointer is
 * rejected. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *x = hak_malloc(600);                /* class of 600 + 64 - 16 */
  char *q = hak_aligned_alloc(64, 600);     /* padded block, slab flagged */
  if (q == NULL || ((uintptr_t)q & 63)) dt_setup_fail("aligned_alloc");
  char *r = hak_malloc(600 + 64 - 16);      /* same class, same slab */
  hak_free(q);                              /* legitimate: accepted */
  dt_expect("invalid free (interior pointer)", r + 32, dt_class(600 + 64 - 16));
  hak_free(r + 32);
  hak_free(x);
}
