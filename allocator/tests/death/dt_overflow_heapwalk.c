/* dt_overflow_heapwalk.c - death test: a write to the last byte of a tiny
 * block's stride, the header of the next block, which is not handed out
 * (past a full block in release; past the canary, which it skips, in the
 * checked builds): no free ever looks at it, so the heap walk finds it.
 * Debug with HAKMEM_CHECK_EVERY=1 (set by CTest) walks after every
 * operation: the walk's problem line, then "heap check failed".
 * DT_ENV: HAKMEM_CHECK_EVERY=1 */
#define DT_MIN_LEVEL 2
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  int c = dt_class(61); /* the 64-byte class: 61 usable bytes with a canary */
  char *a = hak_malloc(61);
  char line[200];
  a[63] = 0x11; /* the next block is carved but free */
  snprintf(line, sizeof line, "hakmem: heap check: block header overwritten: at=0x%lx class=%d\n",
           (unsigned long)(uintptr_t)(a + 64), c);
  dt_expect_line(line);
  dt_expect("heap check failed", a + 64, c);
  hak_free(hak_malloc(16));
  a[63] = (char)(0xA0 | c); /* release/hardened: put it back, nothing seen */
}
