/* mu_canary_ok.c - positive control of the canaries: every usable byte of
 * blocks of every class written (directly and by memcpy) and freed, the
 * requests at each class's edge (its usable size and one more, 4096 and
 * 262144 among them), calloc, realloc in place and moving, aligned
 * blocks, frees from another thread; heap walks clean throughout.  Must
 * not die in any variant. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

enum { N = 512 };
static char *slot[N];

static void *free_half(void *arg) {
  char **v = arg;
  for (int i = 0; i < N; i += 2) {
    hak_free(v[i]);
    v[i] = NULL;
  }
  return NULL;
}

static void fill(char *p, unsigned seed) {
  static char src[300000];
  size_t u = hak_malloc_usable_size(p);
  if (seed & 1) {
    memset(src, (int)(seed & 0xFF), u < sizeof src ? u : sizeof src);
    memcpy(p, src, u < sizeof src ? u : sizeof src);
  } else {
    for (size_t i = 0; i < u; i++) ((volatile char *)p)[i] = (char)(seed + i);
  }
}

static void dt_misuse(void) {
  static hak_stats_t st;
  hak_stats_get(&st);
  /* the edges of every class: its usable size, and one byte more */
  for (uint32_t c = 0; c < st.nclasses; c++)
    for (size_t d = 0; d < 2; d++) {
      char *p = hak_malloc(st.cls[c].usable + d);
      fill(p, c * 2 + (unsigned)d);
      hak_free(p);
    }
  size_t exact[] = {8, 16, 4096, 65536, 262144, 262145};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
    char *p = hak_malloc(exact[i]), *q = hak_calloc(1, exact[i]);
    fill(p, (unsigned)i), fill(q, (unsigned)i + 1);
    hak_free(p), hak_free(q);
  }
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 40000; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      unsigned k = (unsigned)(x % N);
      size_t n = (x >> 20) % 16 == 0 ? (size_t)(x >> 32) % 270000 : (size_t)(x >> 32) % 2100;
      if (slot[k] && (x & 0x100)) {
        slot[k] = hak_realloc(slot[k], n + 1);
        fill(slot[k], (unsigned)x);
      } else if (slot[k]) {
        hak_free(slot[k]);
        slot[k] = NULL;
      } else if (x & 0x200) {
        void *q = NULL;
        if (hak_posix_memalign(&q, (size_t)32 << (x >> 50) % 8, n)) dt_setup_fail("memalign");
        slot[k] = q;
        fill(slot[k], (unsigned)x);
      } else {
        slot[k] = (x & 0x400) ? hak_calloc(1, n) : hak_malloc(n);
        fill(slot[k], (unsigned)x);
      }
    }
    pthread_t t;
    if (pthread_create(&t, NULL, free_half, slot) || pthread_join(t, NULL)) dt_setup_fail("thread");
    if (hak_check_heap() > 0) dt_setup_fail("heap walk found a problem");
  }
  for (int i = 0; i < N; i++) hak_free(slot[i]);
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found a problem at the end");
}
