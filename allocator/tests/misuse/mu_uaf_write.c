/* mu_uaf_write.c - death test: one byte written into a freed block, in its
 * middle, seen when the block is handed out again (its class's next
 * malloc that reaches it).  MU_SIZES: 8 4096 262144
 * Hardened, with its default options: freed blocks of the classes up to
 * HAKMEM_WIPE_MAX (4096) and of the L2.5 classes (HAKMEM_WIPE_LARGE: the
 * 256 KiB block) are zeroed and checked at reuse; debug checks its free
 * fill (every class).  Both report "write after free at offset <i>".
 * mu_uaf_write_nowipe_* is the opt-out control (HAKMEM_WIPE_MAX=0:
 * hardened does not see it, debug still does). */
#ifndef DT_MIN_LEVEL
#define DT_MIN_LEVEL 1
#endif
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  enum { N = 64 };
  static char *q[N];
  char *keep = hak_malloc(MU_SIZE);
  char *p = hak_malloc(MU_SIZE);
  char *r = hak_malloc(MU_SIZE);
  size_t at = MU_SIZE / 2 < 8 ? 8 : MU_SIZE / 2; /* bytes 0..7 are the link */
  hak_free(p);
  p[at] = 'x';
  char line[128];
  snprintf(line, sizeof line, "write after free at offset %zu", at);
  dt_expect(line, p, dt_class(MU_SIZE));
  /* the checked builds hold p back until the next free of its slab (r's);
   * then it comes back within a few mallocs */
  hak_free(r);
  int i;
  for (i = 0; i < N; i++)
    if ((q[i] = hak_malloc(MU_SIZE)) == p) break;
  if (hak_check_level() >= DT_MIN_LEVEL) dt_setup_fail("freed block never handed out again");
  if (i == N) dt_setup_fail("freed block never handed out again (no detection expected)");
  for (int j = 0; j < N && j <= i; j++) hak_free(q[j]);
  hak_free(keep);
}
