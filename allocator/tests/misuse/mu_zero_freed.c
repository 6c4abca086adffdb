/* mu_zero_freed.c - death test: the pointer of malloc(0), once freed,
 * given to free again or to realloc.  MU_CASES: free realloc
 * Hardened and debug: "double free" or "realloc of a freed block" (the
 * zero-size region's slot bitmap, allocator/zero.c). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  void *p = hak_malloc(0);
  hak_free(p);
#if defined(MU_CASE_free)
  dt_expect("double free", p, -1);
  hak_free(p);
#else
  dt_expect("realloc of a freed block", p, -1);
  (void)hak_realloc(p, 100);
#endif
}
