/* dt_realloc_freed_whale.c - death test: realloc of a freed large block. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(3u << 20);
  hak_free(p);
  dt_expect("realloc of a freed block", p, -1);
  (void)hak_realloc(p, 100);
}
