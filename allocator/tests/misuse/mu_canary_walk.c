/* mu_canary_walk.c - death test: 1 byte written past the usable bytes of
 * a block that is never freed: the heap walk (hak_check_heap) checks every
 * carved block's canary and reports it with the free's words; the test
 * aborts on the count it returns.  MU_SIZES: 8 4096 262144
 * Hardened and debug: the walk's line; release has no walk (skips). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(MU_SIZE);
  if (p == NULL) dt_setup_fail("malloc");
  size_t u = hak_malloc_usable_size(p);
  if (hak_check_heap() != 0) dt_setup_fail("heap walk not clean before the overflow");
  char line[200];
  snprintf(line, sizeof line, "hakmem: heap check: heap overflow (canary): at=0x%lx class=%d\n",
           (unsigned long)(uintptr_t)p, dt_class(MU_SIZE));
  dt_expect_line(line);
  char *volatile at = p + u;
  *at = 0; /* an off-by-one string terminator */
  if (hak_check_heap() > 0) abort();
  dt_setup_fail("the walk did not see the canary");
}
