/* mu_zero_access.c - death test: a read, a write, or a write through
 * memcpy, through the pointer malloc(0) returned.  MU_CASES: read write memcpy
 * Hardened and debug: that pointer lies in no-access memory
 * (allocator/zero.c): SIGSEGV at once.  Release hands out a 15-byte class
 * block there: no detection. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#define DT_SIGNAL SIGSEGV
#include "death.h"

static volatile char dt_sink __attribute__((unused));

static void dt_misuse(void) {
  char *volatile p = hak_malloc(0);
  if (p == NULL) dt_setup_fail("malloc(0) returned NULL");
#if defined(MU_CASE_read)
  dt_sink = p[0];
#elif defined(MU_CASE_write)
  p[0] = 1;
#else
  memcpy(p, "x", 1);
#endif
  if (hak_check_level() >= 1) dt_setup_fail("no fault through malloc(0)'s pointer");
  hak_free(p);
}
