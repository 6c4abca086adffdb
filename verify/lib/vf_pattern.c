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
