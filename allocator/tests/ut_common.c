/* ut_common.c - shared helpers for allocator/tests (see ut_common.h). */
#include "ut_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline uint64_t ut_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/* Word k of block id's pattern.  Never all-zero in practice, so a zeroing bug
 * is visible. */
static inline uint64_t ut_word(uint64_t base, size_t k) {
  return (base + (uint64_t)k * 0x9E3779B97F4A7C15ULL) | 0x0101010101010101ULL;
}

unsigned char ut_pattern_byte(uint64_t id, size_t off) {
  uint64_t w = ut_word(ut_mix(id + 1), off / 8);
  return (unsigned char)(w >> (8 * (off % 8)));
}

void ut_fill(void *p, size_t n, uint64_t id) {
  unsigned char *b = p;
  uint64_t base = ut_mix(id + 1);
  size_t words = n / 8, k;
  for (k = 0; k < words; k++) {
    uint64_t w = ut_word(base, k);
    memcpy(b + 8 * k, &w, 8);
  }
  for (size_t o = words * 8; o < n; o++)
    b[o] = ut_pattern_byte(id, o);
}

size_t ut_check(const void *p, size_t n, uint64_t id) {
  const unsigned char *b = p;
  uint64_t base = ut_mix(id + 1);
  size_t words = n / 8, k;
  for (k = 0; k < words; k++) {
    uint64_t w = ut_word(base, k), got;
    memcpy(&got, b + 8 * k, 8);
    if (got != w) {
      for (size_t o = 8 * k; o < 8 * k + 8; o++)
        if (b[o] != ut_pattern_byte(id, o)) return o;
    }
  }
  for (size_t o = words * 8; o < n; o++)
    if (b[o] != ut_pattern_byte(id, o)) return o;
  return SIZE_MAX;
}

size_t ut_first_nonzero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t o = 0;
  for (; o + 8 <= n; o += 8) {
    uint64_t w;
    memcpy(&w, b + o, 8);
    if (w) break;
  }
  for (; o < n; o++)
    if (b[o]) return o;
  return SIZE_MAX;
}

void ut_stats(hak_stats_t *out) {
  if (hak_stats_get(out) != 0) {
    fprintf(stderr, "ut_stats: hak_stats_get failed\n");
    abort();
  }
}

uint64_t ut_live_blocks(void) {
  hak_stats_t st;
  ut_stats(&st);
  return st.live_blocks;
}

int ut_class_of(const hak_stats_t *st, size_t size) {
  int best = -1;
  for (uint32_t c = 0; c < st->nclasses && c < HAK_STATS_MAX_CLASSES; c++)
    if (st->cls[c].size >= size && (best < 0 || st->cls[c].size < st->cls[best].size))
      best = (int)c;
  return best;
}

static int ut_cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static void ut_add3(size_t *out, size_t cap, size_t *n, size_t v, size_t max_size) {
  size_t c[3] = {v - 1, v, v + 1};
  for (int i = 0; i < 3; i++) {
    if (v == 0 && i == 0) continue;
    if (c[i] <= max_size && *n < cap) out[(*n)++] = c[i];
  }
}

size_t ut_edge_sizes(size_t *out, size_t cap, size_t max_size) {
  size_t n = 0;
  hak_stats_t st;
  ut_add3(out, cap, &n, 0, max_size);
  for (size_t s = 16; s <= 1024; s += 16) ut_add3(out, cap, &n, s, max_size);
  ut_stats(&st);
  for (uint32_t c = 0; c < st.nclasses && c < HAK_STATS_MAX_CLASSES; c++) {
    ut_add3(out, cap, &n, st.cls[c].size, max_size);
    ut_add3(out, cap, &n, st.cls[c].stride, max_size);
    ut_add3(out, cap, &n, st.cls[c].usable, max_size);
  }
  for (size_t s = 2048; s && s <= max_size + 1; s <<= 1) ut_add3(out, cap, &n, s, max_size);
  for (size_t s = 4096; s <= 70000 && s <= max_size; s += 4096) ut_add3(out, cap, &n, s, max_size);
  ut_add3(out, cap, &n, 64 * 1024, max_size);
  ut_add3(out, cap, &n, 2 * 1024 * 1024, max_size);
  qsort(out, n, sizeof *out, ut_cmp_size);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (m == 0 || out[m - 1] != out[i]) out[m++] = out[i];
  return m;
}

int ut_edges_init(ut_edges_t *e, size_t max_size) {
  e->n = ut_edge_sizes(e->v, UT_MAX_EDGES, max_size);
  return 0;
}

int ut_final_heap_check(void) {
  int rc = hak_check_heap();
  if (rc > 0) {
    fprintf(stderr, "hak_check_heap() found %d problems after the tests\n", rc);
    return 1;
  }
  return 0;
}

size_t ut_page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

int ut_rerun_with(char **argv, const char *marker, const char *const *env) {
  if (getenv(marker) != NULL) return 0;
  int same = 1;
  for (const char *const *e = env; e[0] != NULL; e += 2) {
    const char *have = getenv(e[0]);
    same &= have != NULL && strcmp(have, e[1]) == 0;
  }
  if (same) return 0;
  for (const char *const *e = env; e[0] != NULL; e += 2) setenv(e[0], e[1], 1);
  setenv(marker, "1", 1);
  execv("/proc/self/exe", argv);
  perror("execv /proc/self/exe");
  return 2;
}

void ut_rng_seed(ut_rng_t *r, uint64_t seed) {
  r->s = ut_mix(seed + 0x1234567ULL) | 1;
}

uint64_t ut_rng_next(ut_rng_t *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

uint64_t ut_rng_below(ut_rng_t *r, uint64_t n) {
  return ut_rng_next(r) % n;
}
