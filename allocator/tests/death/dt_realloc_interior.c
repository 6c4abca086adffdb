/* dt_realloc_interior.c - death test: realloc of an interior pointer. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(200);
  dt_expect("invalid realloc (interior pointer)", p + 32, dt_class(200));
  (void)hak_realloc(p + 32, 300);
}
