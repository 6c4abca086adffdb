/* mu_zero_ok.c - positive control of malloc(0): every call returns a
 * pointer, live pointers are unique, malloc_usable_size is 0 in the checked
 * builds, free, realloc (growing, to 0, from NULL to 0) and calloc(0, n)
 * accept them, from another thread too; more live zero-size blocks than
 * the region holds (131072) fall back to class blocks; a clean heap walk. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

enum { N = 140000 };
static void *live[N];

static int cmp(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

static void dt_misuse(void) {
  int checked = hak_check_level() >= 1;
  for (int i = 0; i < N; i++) {
    live[i] = i % 3 == 0 ? hak_calloc(0, 8) : hak_malloc(0);
    if (live[i] == NULL) dt_setup_fail("malloc(0) returned NULL");
    if (checked && i < 1000 && hak_malloc_usable_size(live[i]) != 0)
      dt_setup_fail("usable size of malloc(0)'s pointer is not 0");
  }
  static uintptr_t sorted[N];
  memcpy(sorted, live, sizeof sorted);
  qsort(sorted, N, sizeof sorted[0], cmp);
  for (int i = 1; i < N; i++)
    if (sorted[i] == sorted[i - 1]) dt_setup_fail("malloc(0) returned a live pointer twice");
  pthread_t t;
  pthread_create(&t, NULL, (void *(*)(void *))hak_free, live[0]);
  pthread_join(t, NULL);
  live[0] = NULL;
  for (int i = 1; i < N; i++) {
    if (i % 4 == 0) {
      char *q = hak_realloc(live[i], 40);
      if (q == NULL) dt_setup_fail("realloc of malloc(0)'s pointer failed");
      memset(q, 7, 40);
      hak_free(q);
    } else if (i % 4 == 1) {
      if (hak_realloc(live[i], 0) != NULL) dt_setup_fail("realloc(p, 0) returned a pointer");
    } else {
      hak_free(live[i]);
    }
  }
  void *r = hak_realloc(NULL, 0);
  if (r == NULL) dt_setup_fail("realloc(NULL, 0) returned NULL");
  hak_free(r);
  char *g = hak_malloc(10);
  g = hak_realloc(g, 0);
  if (g != NULL) dt_setup_fail("realloc(p, 0) returned a pointer");
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
