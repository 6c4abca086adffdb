/* mu_reuse_delayed.c - delayed reuse: a block just freed is not what the
 * next malloc of its class returns.  MU_SIZES: 8 4096 262144
 * Hardened and debug (HAKMEM_DELAY=1, the default): the slab holds the
 * block back until its next free; checked over many rounds of free(p);
 * q = malloc: q != p every time, and the block does come back once
 * another block of its slab is freed.  Release reuses at once (LIFO):
 * checked too, as the documented behaviour. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  int delayed = hak_check_level() >= 1;
  void *keep = hak_malloc(MU_SIZE);
  void *p = hak_malloc(MU_SIZE);
  int same = 0;
  for (int i = 0; i < 1000; i++) {
    hak_free(p);
    void *q = hak_malloc(MU_SIZE);
    same += q == p;
    p = q;
  }
  if (delayed && same != 0) dt_setup_fail("a freed block was the next malloc's");
  if (!delayed && same != 1000) dt_setup_fail("release no longer reuses at once");
  /* the held block comes back after the next free of its slab */
  void *a = hak_malloc(MU_SIZE), *b = hak_malloc(MU_SIZE);
  hak_free(a);
  hak_free(b); /* checked builds: a goes onto the list, b is held; else b on top */
  void *c = hak_malloc(MU_SIZE);
  if (c != (delayed ? a : b)) dt_setup_fail("the held block did not come back first");
  hak_free(c);
  hak_free(p);
  hak_free(keep);
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
