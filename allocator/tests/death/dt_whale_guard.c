/* dt_whale_guard.c - death test: a write one byte past the usable bytes of a
 * large block hits the guard page of the checked builds: SIGSEGV at once. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#define DT_SIGNAL SIGSEGV
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc((3u << 20) + 100);
  size_t u = hak_malloc_usable_size(p);
  p[u - 1] = 1;
  p[u] = 1;
  dt_setup_fail("no fault past the guard");
}
