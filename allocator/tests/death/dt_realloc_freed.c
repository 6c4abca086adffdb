/* dt_realloc_freed.c - death test: realloc of a freed tiny block. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(40);
  char *keep = hak_malloc(40);
  hak_free(p);
  dt_expect("realloc of a freed block", p, dt_class(40));
  (void)hak_realloc(p, 100);
  hak_free(keep);
}
