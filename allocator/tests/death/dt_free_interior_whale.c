/* dt_free_interior_whale.c - death test: free of an interior pointer of a large block. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(3u << 20);
  dt_expect("invalid free (interior pointer of a large block)", p + 4096, -1);
  hak_free(p + 4096);
}
