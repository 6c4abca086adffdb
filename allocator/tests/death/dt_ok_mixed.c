/* dt_ok_mixed.c - positive control: random operations over every size range,
 * two threads freeing each other's blocks, then a clean heap walk. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  enum { N = 4096 };
  static void *slot[N];
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned k = (unsigned)(x % N);
    if (slot[k]) {
      if (x & 0x100) slot[k] = hak_realloc(slot[k], (size_t)(x >> 40) % 5000 + 1);
      else {
        hak_free(slot[k]);
        slot[k] = NULL;
      }
    } else {
      size_t n = (x >> 20) % 64 == 0 ? (size_t)(x >> 32) % (3u << 20) : (size_t)(x >> 32) % 2000;
      slot[k] = (x & 0x200) ? hak_calloc(1, n) : hak_malloc(n);
    }
  }
  pthread_t t;
  pthread_create(&t, NULL, (void *(*)(void *))hak_free, slot[0]);
  pthread_join(t, NULL);
  slot[0] = NULL;
  for (int i = 0; i < N; i++) hak_free(slot[i]);
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
