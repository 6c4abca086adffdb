/* dt_ok_aligned.c - positive control: legitimate aligned pointers (padded
 * class blocks in flagged slabs) freed and reallocated locally and from
 * another thread, mixed with plain blocks of the same slab; the heap walk
 * stays clean. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  static void *v[600];
  for (int i = 0; i < 600; i++) {
    size_t al = (size_t)16 << (i % 6);
    v[i] = i % 3 ? hak_aligned_alloc(al, 100 + (size_t)i % 200) : hak_malloc(100 + (size_t)i % 300);
    if (v[i] == NULL || ((uintptr_t)v[i] & (al - 1) && i % 3)) dt_setup_fail("aligned_alloc");
    memset(v[i], 7, 100);
  }
  for (int i = 0; i < 600; i += 4) v[i] = hak_realloc(v[i], 150);
  pthread_t t;
  for (int i = 1; i < 600; i += 4) {
    pthread_create(&t, NULL, (void *(*)(void *))hak_free, v[i]);
    pthread_join(t, NULL);
    v[i] = NULL;
  }
  for (int i = 0; i < 600; i++) hak_free(v[i]);
  for (int i = 0; i < 2000; i++) hak_free(hak_memalign(64, 100));
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
