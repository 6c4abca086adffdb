/* mu_uaf_ok.c - positive control of zero on free: every usable byte
 * written (malloc_usable_size) and freed, across the wiped classes and
 * beyond, calloc of reused blocks zero, realloc in place and moving,
 * aligned blocks, frees from another thread; a clean heap walk.
 * MU_CASES: wipe nowipe all
 * (wipe: the default options; nowipe and all: the wipe off, and on for
 * every class)
 * MU_ENV_nowipe: HAKMEM_WIPE_MAX=0
 * MU_ENV_all: HAKMEM_WIPE_MAX=262144 */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

enum { N = 2048 };
static void *slot[N];

static void *free_all(void *arg) {
  void **v = arg;
  for (int i = 0; i < N; i += 2) {
    hak_free(v[i]);
    v[i] = NULL;
  }
  return NULL;
}

static void dt_misuse(void) {
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 200000; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      unsigned k = (unsigned)(x % N);
      if (slot[k]) {
        if (x & 0x100) {
          size_t n = (size_t)(x >> 40) % 6000 + 1;
          slot[k] = hak_realloc(slot[k], n);
          memset(slot[k], 0x77, hak_malloc_usable_size(slot[k]));
        } else {
          hak_free(slot[k]);
          slot[k] = NULL;
        }
      } else {
        size_t n = (x >> 20) % 32 == 0 ? (size_t)(x >> 32) % 300000 : (size_t)(x >> 32) % 5000;
        if (x & 0x200) {
          unsigned char *p = hak_calloc(1, n);
          for (size_t j = 0; j < n; j++)
            if (p[j]) dt_setup_fail("calloc returned a dirty byte");
          slot[k] = p;
        } else if (x & 0x400) {
          if (hak_posix_memalign(&slot[k], (size_t)64 << (x >> 50) % 6, n)) dt_setup_fail("memalign");
        } else {
          slot[k] = hak_malloc(n);
        }
        memset(slot[k], 0x55, hak_malloc_usable_size(slot[k]));
      }
    }
    pthread_t t;
    pthread_create(&t, NULL, free_all, slot);
    pthread_join(t, NULL);
  }
  for (int i = 0; i < N; i++) hak_free(slot[i]);
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
