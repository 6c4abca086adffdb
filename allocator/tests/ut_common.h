/* ut_common.h - shared helpers for the allocator's own unit tests (allocator/tests).
 *
 * Fill/check patterns derived from a block id, alignment and overlap helpers,
 * stats shortcuts and the list of "interesting" request sizes (every class
 * edge +-1).  Everything here calls only the public hak_* API, so the helpers
 * work against any variant of hakmem_core.
 */
#ifndef UT_COMMON_H
#define UT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"

/* Which sanitizer runtime the test runs under (gcc's __SANITIZE_*__ or
 * clang's __has_feature): UT_ASAN for AddressSanitizer, UT_SANITIZED for
 * ASan or TSan.  Their runtimes map shadow memory, keep quarantines and
 * interpose malloc, so tests that measure memory, count mapping calls or
 * fork under threads skip or take another path under them. */
#if defined(__SANITIZE_ADDRESS__)
#define UT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_ASAN 1
#endif
#endif
#ifndef UT_ASAN
#define UT_ASAN 0
#endif
#if UT_ASAN || defined(__SANITIZE_THREAD__)
#define UT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UT_SANITIZED 1
#endif
#endif
#ifndef UT_SANITIZED
#define UT_SANITIZED 0
#endif

/* Fill [p, p+n) with the pattern of block `id`.  The byte at offset o is a
 * function of (id, o) only, so any prefix of a block can be re-checked. */
void ut_fill(void *p, size_t n, uint64_t id);

/* Return the first offset in [p, p+n) that does not hold the pattern of
 * block `id`, or SIZE_MAX when all bytes match. */
size_t ut_check(const void *p, size_t n, uint64_t id);

/* The expected pattern byte at offset `off` of block `id`. */
unsigned char ut_pattern_byte(uint64_t id, size_t off);

/* Return the first non-zero offset in [p, p+n), or SIZE_MAX if all zero. */
size_t ut_first_nonzero(const void *p, size_t n);

static inline int ut_aligned(const void *p, size_t align) {
  return ((uintptr_t)p & (align - 1)) == 0;
}

/* [a, a+an) and [b, b+bn) intersect. */
static inline int ut_overlap(const void *a, size_t an, const void *b, size_t bn) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return x < y + bn && y < x + an;
}

/* hak_stats_get or abort with a message. */
void ut_stats(hak_stats_t *out);
uint64_t ut_live_blocks(void);

/* Index of the pooled class serving `size` (smallest cls[].size >= size),
 * or -1 when the request is above every class in the stats table. */
int ut_class_of(const hak_stats_t *st, size_t size);

/* Write the sorted, de-duplicated list of edge sizes (<= max_size) into
 * out[0..cap) and return how many were written: 0, 1, every 16..1024 step 16
 * +-1, every class size/stride/usable in the allocator's stats table +-1,
 * powers of two up to max_size +-1 and the named limits 64 KiB, 2 MiB +-1. */
size_t ut_edge_sizes(size_t *out, size_t cap, size_t max_size);

/* A fixed-capacity edge-size list, filled by ut_edges_init (returns 0). */
#define UT_MAX_EDGES 4096
typedef struct ut_edges {
  size_t n;
  size_t v[UT_MAX_EDGES];
} ut_edges_t;
int ut_edges_init(ut_edges_t *e, size_t max_size);

/* The last check of every test program: 0 when hak_check_heap() finds no
 * problem (or the build has no walk), 1 otherwise (with a message).  Used
 * as an exit status: cmocka ignores a failing group teardown's result. */
int ut_final_heap_check(void);

size_t ut_page_size(void);

/* Options are read at start-up, so a program whose tests need HAKMEM_*
 * values runs itself again with them: env holds NAME, VALUE pairs and a
 * NULL.  Returns 0 when they are already set (or the environment names
 * marker: this is the program run again); else execs /proc/self/exe with
 * them and marker set, and returns 2 only if that fails. */
int ut_rerun_with(char **argv, const char *marker, const char *const *env);

/* xorshift64* PRNG, deterministic per seed. */
typedef struct ut_rng { uint64_t s; } ut_rng_t;
void ut_rng_seed(ut_rng_t *r, uint64_t seed);
uint64_t ut_rng_next(ut_rng_t *r);
/* Uniform in [0, n) (n > 0). */
uint64_t ut_rng_below(ut_rng_t *r, uint64_t n);

#endif /* UT_COMMON_H */
