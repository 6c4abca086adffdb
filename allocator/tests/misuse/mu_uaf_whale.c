/* mu_uaf_whale.c - death test: a read or a write into a freed large block
 * (4 MiB) after it left its thread's one-entry slot for the shared cache
 * (the thread freed another large block after it).
 * MU_CASES: write_first write_middle read_last
 * Hardened and debug: a mapping put on the shared whale cache is moved to
 * a new address, its old range unmapped: SIGSEGV at once.  Release: undefined (the access
 * lands in cached pages, or faults where the cache gave them back).  The block
 * a thread freed last waits in its slot, accessible (docs/hardening.md,
 * "Freed large blocks"). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#define DT_SIGNAL SIGSEGV
#include "death.h"

static volatile char dt_sink __attribute__((unused));

static void dt_misuse(void) {
  enum { SIZE = 4 << 20 };
  char *volatile p = hak_malloc(SIZE);
  char *q = hak_malloc(SIZE);
  if (p == NULL || q == NULL) dt_setup_fail("no large block");
  memset(p, 1, SIZE);
  hak_free(p);
  hak_free(q); /* q takes the slot, p goes to the shared cache */
#if defined(MU_CASE_write_first)
  p[0] = 'x';
#elif defined(MU_CASE_write_middle)
  p[SIZE / 2] = 'x';
#else
  dt_sink = p[SIZE - 1];
#endif
  if (hak_check_level() >= 1) dt_setup_fail("no fault through a freed large block");
}
