/* dt_double_free_small_later.c - death test: a tiny block freed twice, with other
 * operations (other classes, and its own class) in between. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(100);
  char *keep = hak_malloc(100); /* p's class stays in use */
  hak_free(p);
  void *v[64];
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 64; i++) v[i] = hak_malloc((size_t)(i * 37 % 900) + 200);
    for (int i = 0; i < 64; i++) hak_free(v[i]);
  }
  dt_expect("double free", p, dt_class(100));
  hak_free(p);
  hak_free(keep);
}
