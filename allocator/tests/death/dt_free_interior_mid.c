/* dt_free_interior_mid.c - death test: free of an interior pointer of a mid block. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(5000);
  dt_expect("invalid free (interior pointer)", p + 2048, dt_class(5000));
  hak_free(p + 2048);
}
