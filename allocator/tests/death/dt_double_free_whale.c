/* dt_double_free_whale.c - death test: a large (4 MiB) block freed twice.  Its
 * mapping is gone after the first free; the hardened ring of recently freed
 * large blocks names the second free a double free. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(4u << 20);
  hak_free(p);
  dt_expect("double free", p, -1);
  hak_free(p);
}
