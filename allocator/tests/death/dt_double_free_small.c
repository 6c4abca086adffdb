/* dt_double_free_small.c - death test: a tiny block freed twice in a row.
 * Hardened and debug: "double free" from the per-block state bit. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(32);
  hak_free(p);
  dt_expect("double free", p, dt_class(32));
  hak_free(p);
}
