/* dt_free_interior.c - death test: free of a 16-byte-aligned interior pointer
 * of a tiny block: not on the stride grid. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(100);
  dt_expect("invalid free (interior pointer)", p + 16, dt_class(100));
  hak_free(p + 16);
}
