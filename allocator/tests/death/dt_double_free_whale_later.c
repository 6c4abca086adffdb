/* dt_double_free_whale_later.c - death test: a large block freed twice with small and
 * mid operations in between. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(3u << 20);
  hak_free(p);
  for (int i = 0; i < 1000; i++) hak_free(hak_malloc((size_t)(i * 97 % 60000) + 1));
  dt_expect("double free", p, -1);
  hak_free(p);
}
