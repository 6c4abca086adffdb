/* dt_free_foreign_libc.c - death test: free of a block from the C library's malloc. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  char *p = malloc(100); /* glibc: tests link hakmem_core, not the override */
  if (p == NULL) dt_setup_fail("libc malloc");
  dt_expect("invalid free (not a hakmem pointer)", p, -1);
  hak_free(p);
}
