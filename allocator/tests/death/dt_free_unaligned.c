/* dt_free_unaligned.c - death test: free of p + 1. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(100);
  dt_expect("invalid free (unaligned pointer)", p + 1, dt_class(100));
  hak_free(p + 1);
}
