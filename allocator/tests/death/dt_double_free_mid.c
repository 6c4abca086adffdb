/* dt_double_free_mid.c - death test: a mid-class (3000 B) block freed twice. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(3000);
  char *keep = hak_malloc(3000); /* the span stays */
  hak_free(p);
  dt_expect("double free", p, dt_class(3000));
  hak_free(p);
  hak_free(keep);
}
