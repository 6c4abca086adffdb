/* vf_pattern.c - per-block contents pattern for the oracle.
 *
 * A block with id `id` holds, at byte offset k, byte (k % 8) (host order) of
 * the 64-bit word  seed(id) + (k / 8) * STEP.  The pattern depends on the
 * block id and the position, so a lost write, a copy from the wrong block
 * and a copy to the wrong offset all show up.  Fill and check work a word
 * at a time in loops the compiler can vectorize; only the tail is bytewise.
 * Nothing here assumes the pointer is aligned (the misalignment test double
 * hands out odd pointers), and nothing reads or writes past n bytes.
 * (The byte order of a word in memory is the host's; the tail check builds
 * the word little-endian, as x86-64 stores it.)
 * The sampled form (vf_pattern_windows) writes and checks the same bytes,
 * only in a few windows of a large range: head, tail, power-of-two edges
 * and id-drawn inner windows; ranges up to VF_PAT_SAMPLE_WHOLE are whole.
 */
#include <stdint.h>
#include <string.h>

#include "vf_oracle.h"

#define VF_PAT_STEP 0x9E3779B97F4A7C15ull

static inline uint64_t pat_seed(uint64_t id) {
  uint64_t z = id + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline uint64_t pat_word(uint64_t seed, size_t w) {
  return seed + (uint64_t)w * VF_PAT_STEP;
}

unsigned char vf_pattern_byte(uint64_t id, size_t off) {
  uint64_t v = pat_word(pat_seed(id), off / 8);
  unsigned char b[8];
  memcpy(b, &v, 8);
  return b[off % 8];
}

/* Four pattern words per step, as two 2-word vectors (GCC/clang vector
 * extensions; SSE2 on baseline x86-64). */
typedef uint64_t vf_v2 __attribute__((vector_size(16)));

static const vf_v2 v2_step = {2 * VF_PAT_STEP, 2 * VF_PAT_STEP};

void vf_pattern_fill(void *p, size_t n, uint64_t id) {
  unsigned char *b = p;
  uint64_t seed = pat_seed(id);
  size_t nw = n / 8, nv = nw / 4;
  vf_v2 v0 = {seed, seed + VF_PAT_STEP}, v1 = v0 + v2_step;
  for (size_t i = 0; i < nv; i++) {
    memcpy(b + 32 * i, &v0, 16);
    memcpy(b + 32 * i + 16, &v1, 16);
    v0 += 2 * v2_step;
    v1 += 2 * v2_step;
  }
  for (size_t i = 4 * nv; i < nw; i++) {
    uint64_t w = pat_word(seed, i);
    memcpy(b + 8 * i, &w, 8);
  }
  if (n % 8) {
    uint64_t w = pat_word(seed, nw);
    memcpy(b + 8 * nw, &w, n % 8);
  }
}

/* Exact offset of the first bad byte in [from, n); SIZE_MAX if none. */
static size_t first_bad_byte(const unsigned char *b, size_t from, size_t n,
                             uint64_t id) {
  for (size_t k = from; k < n; k++)
    if (b[k] != vf_pattern_byte(id, k)) return k;
  return SIZE_MAX;
}

#define VF_PAT_CHUNK 16 /* vectors (64 words) per early-exit check */

size_t vf_pattern_check(const void *p, size_t n, uint64_t id) {
  const unsigned char *b = p;
  uint64_t seed = pat_seed(id);
  size_t nw = n / 8, nv = nw / 4;
  vf_v2 v0 = {seed, seed + VF_PAT_STEP}, v1 = v0 + v2_step;
  for (size_t c = 0; c < nv; c += VF_PAT_CHUNK) {
    size_t end = c + VF_PAT_CHUNK < nv ? c + VF_PAT_CHUNK : nv;
    vf_v2 diff = {0, 0};
    for (size_t i = c; i < end; i++) {
      vf_v2 w0, w1;
      memcpy(&w0, b + 32 * i, 16);
      memcpy(&w1, b + 32 * i + 16, 16);
      diff |= (w0 ^ v0) | (w1 ^ v1);
      v0 += 2 * v2_step;
      v1 += 2 * v2_step;
    }
    if (diff[0] | diff[1])
      return first_bad_byte(b, 32 * c, 32 * end, id);
  }
  for (size_t i = 4 * nv; i < nw; i++) {
    uint64_t w;
    memcpy(&w, b + 8 * i, 8);
    if (w != pat_word(seed, i)) return first_bad_byte(b, 8 * i, 8 * i + 8, id);
  }
  if (n % 8) { /* tail: never read past the block */
    uint64_t want = pat_word(seed, nw), got = 0;
    for (size_t k = 0; k < n % 8; k++) got |= (uint64_t)b[8 * nw + k] << (8 * k);
    uint64_t mask = ~(uint64_t)0 >> (64 - 8 * (n % 8));
    if ((got ^ want) & mask) return first_bad_byte(b, 8 * nw, n, id);
  }
  return SIZE_MAX;
}

/* ---- ranges and sample windows (vf_oracle.h) ------------------------------ */

static inline unsigned char word_byte(uint64_t v, size_t i) {
  unsigned char b[8];
  memcpy(b, &v, 8);
  return b[i];
}

void vf_pattern_fill_range(void *p, size_t lo, size_t hi, uint64_t id) {
  unsigned char *b = p;
  uint64_t seed = pat_seed(id);
  size_t k = lo;
  for (; k < hi && k % 8; k++) b[k] = word_byte(pat_word(seed, k / 8), k % 8);
  for (; k + 8 <= hi; k += 8) {
    uint64_t w = pat_word(seed, k / 8);
    memcpy(b + k, &w, 8);
  }
  for (; k < hi; k++) b[k] = word_byte(pat_word(seed, k / 8), k % 8);
}

size_t vf_pattern_check_range(const void *p, size_t lo, size_t hi, uint64_t id) {
  const unsigned char *b = p;
  uint64_t seed = pat_seed(id);
  size_t k = lo;
  for (; k < hi && k % 8; k++)
    if (b[k] != word_byte(pat_word(seed, k / 8), k % 8)) return k;
  for (; k + 8 <= hi; k += 8) {
    uint64_t w;
    memcpy(&w, b + k, 8);
    if (w != pat_word(seed, k / 8)) return first_bad_byte(b, k, k + 8, id);
  }
  for (; k < hi; k++)
    if (b[k] != word_byte(pat_word(seed, k / 8), k % 8)) return k;
  return SIZE_MAX;
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t vf_pattern_windows(size_t n, uint64_t id, vf_pat_window_t *w) {
  size_t c = 0;
  if (n <= VF_PAT_SAMPLE_WHOLE) {
    w[c++] = (vf_pat_window_t){0, n};
    return c;
  }
  const size_t edge = VF_PAT_SAMPLE_EDGE, half = VF_PAT_SAMPLE_WIN / 2;
  w[c++] = (vf_pat_window_t){0, edge};
  for (size_t e = 4096; e < n && e <= SIZE_MAX / 2; e *= 2)
    w[c++] = (vf_pat_window_t){e - half, e + half < n ? e + half : n};
  /* id-drawn windows, 8-byte aligned, between the edge windows */
  size_t span = n - 2 * edge - VF_PAT_SAMPLE_WIN; /* n > 4096: no underflow */
  for (uint64_t j = 0; j < VF_PAT_SAMPLE_RAND; j++) {
    size_t at = edge + (size_t)(mix64(id * 0x9E3779B97F4A7C15ull + j + 1) % (span + 1));
    at &= ~(size_t)7;
    w[c++] = (vf_pat_window_t){at, at + VF_PAT_SAMPLE_WIN};
  }
  w[c++] = (vf_pat_window_t){n - edge, n};
  for (size_t i = 1; i < c; i++) { /* insertion sort by lo */
    vf_pat_window_t x = w[i];
    size_t j = i;
    for (; j > 0 && w[j - 1].lo > x.lo; j--) w[j] = w[j - 1];
    w[j] = x;
  }
  return c;
}

void vf_pattern_fill_sampled(void *p, size_t n, uint64_t id) {
  if (n <= VF_PAT_SAMPLE_WHOLE) {
    vf_pattern_fill(p, n, id);
    return;
  }
  vf_pat_window_t w[VF_PAT_MAX_WINDOWS];
  size_t c = vf_pattern_windows(n, id, w);
  for (size_t i = 0; i < c; i++) vf_pattern_fill_range(p, w[i].lo, w[i].hi, id);
}

size_t vf_pattern_check_sampled(const void *p, size_t n, size_t lim, uint64_t id) {
  if (n <= VF_PAT_SAMPLE_WHOLE) return vf_pattern_check(p, lim < n ? lim : n, id);
  vf_pat_window_t w[VF_PAT_MAX_WINDOWS];
  size_t c = vf_pattern_windows(n, id, w), best = SIZE_MAX;
  for (size_t i = 0; i < c; i++) {
    size_t hi = w[i].hi < lim ? w[i].hi : lim;
    if (w[i].lo >= hi || w[i].lo >= best) continue;
    size_t bad = vf_pattern_check_range(p, w[i].lo, hi, id);
    if (bad < best) best = bad;
  }
  return best;
}
