/* afl_mutator.c - AFL++ custom mutator library (libhkfuzz_afl_mutator.so)
 * around the same structure-aware mutator the libFuzzer targets use
 * (mutator.c), for afl-fuzz:
 *
 *   HKF_TARGET=fuzz_trace AFL_CUSTOM_MUTATOR_LIBRARY=.../libhkfuzz_afl_mutator.so \
 *     afl-fuzz -i corpus/fuzz_trace -o out -- build/afl/bin/fuzz_trace
 *
 * HKF_TARGET names the target whose limits and profile apply (fuzz_trace
 * when unset).  AFL++'s own havoc stage still runs unless
 * AFL_CUSTOM_MUTATOR_ONLY=1, so byte-level mutation is not lost.
 * Invariants: the output buffer belongs to this library and holds at most
 * max_size bytes; no allocator code is linked in (afl-fuzz loads this).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hkf.h"

typedef struct hkf_afl {
  hkf_limits_t l;
  int profile;
  size_t prefix;
  unsigned seed;
  uint8_t *buf;
  size_t cap;
} hkf_afl_t;

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed) {
  (void)afl;
  hkf_afl_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  const char *t = getenv("HKF_TARGET");
  const hkf_limits_t trace = HKF_LIMITS_TRACE, mt = HKF_LIMITS_MT, edges = HKF_LIMITS_EDGES,
                     misuse = HKF_LIMITS_MISUSE, large = HKF_LIMITS_LARGE;
  m->l = trace;
  m->profile = HKF_PROF_TRACE;
  if (t && strcmp(t, "fuzz_large") == 0) {
    m->l = large;
    m->profile = HKF_PROF_LARGE;
  } else if (t && strcmp(t, "fuzz_mt") == 0) {
    m->l = mt;
    m->profile = HKF_PROF_MT;
  } else if (t && strcmp(t, "fuzz_api_edges") == 0) {
    m->l = edges;
    m->profile = HKF_PROF_EDGES;
  } else if (t && strcmp(t, "fuzz_misuse") == 0) {
    m->l = misuse;
    m->prefix = HKF_MISUSE_PREFIX;
  }
  m->seed = seed;
  return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size) {
  hkf_afl_t *m = data;
  if (max_size > m->cap) {
    uint8_t *nb = realloc(m->buf, max_size);
    if (!nb) {
      *out_buf = buf;
      return buf_size;
    }
    m->buf = nb;
    m->cap = max_size;
  }
  m->seed = m->seed * 1103515245u + 12345u;
  size_t n = 0;
  if (add_buf && add_buf_size && m->seed % 8 == 0)
    n = hkf_crossover(buf, buf_size, add_buf, add_buf_size, m->buf, max_size, m->seed,
                      m->prefix, &m->l);
  if (n == 0) {
    n = buf_size < max_size ? buf_size : max_size;
    memcpy(m->buf, buf, n);
    n = hkf_mutate(m->buf, n, max_size, m->seed, m->profile, m->prefix, &m->l, NULL);
  }
  *out_buf = m->buf;
  return n;
}

void afl_custom_deinit(void *data) {
  hkf_afl_t *m = data;
  if (m) free(m->buf);
  free(m);
}
