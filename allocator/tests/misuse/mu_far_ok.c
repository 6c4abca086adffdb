/* mu_far_ok.c - positive control of the superslab guard pages: blocks of
 * every class, several superslabs' worth each (so spans sit at every
 * unit, next to every guard page: after the header, at the end of units
 * 15 and 31), written over all their usable bytes, realloc'd within their
 * class, freed; then a clean heap walk.  Must not fault in any variant. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

enum { PER_CLASS = 5 << 20 }; /* bytes of each class live at once */

static void *live[PER_CLASS / 8 + 1]; /* every class has 8 usable bytes or more (the link word; I6) */

static void dt_misuse(void) {
  hak_stats_t st;
  hak_stats_get(&st);
  for (unsigned c = 0; c < st.nclasses; c++) {
    size_t n = st.cls[c].usable, count = PER_CLASS / n;
    for (size_t i = 0; i < count; i++) {
      char *p = hak_malloc(n);
      if (p == NULL) dt_setup_fail("malloc failed");
      if (hak_malloc_usable_size(p) < n) dt_setup_fail("usable size below the class's");
      memset(p, (int)i, hak_malloc_usable_size(p));
      live[i] = p;
    }
    for (size_t i = 0; i < count; i += 2) {
      char *q = hak_realloc(live[i], n - n / 8);
      if (q == NULL) dt_setup_fail("realloc failed");
      memset(q, 3, n - n / 8);
      live[i] = q;
    }
    if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
    for (size_t i = 0; i < count; i++) hak_free(live[i]);
  }
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
