/* mu_uaf_held_link.c - death test: a write after free into the first 8
 * bytes of a block (where a free block keeps its link) while hardened holds
 * it back (delayed reuse).  MU_SIZES: 8 4096 262144
 * Hardened and debug: the held block's link must still be the encoded NULL
 * when the next free of its slab pushes it: "corrupt free-list link"
 * (with HAKMEM_DELAY=0 the pop sanitizes the corrupt link instead, the
 * second malloc, with the same report). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *keep = hak_malloc(MU_SIZE);
  char *p = hak_malloc(MU_SIZE);
  char *r = hak_malloc(MU_SIZE);
  hak_free(p);
  p[3] ^= 0x55;
  dt_expect("corrupt free-list link", p, dt_class(MU_SIZE));
  hak_free(r);
  (void)hak_malloc(MU_SIZE);
  (void)hak_malloc(MU_SIZE);
  hak_free(keep);
}
