/* test_api_realloc.c - cmocka tests of hak_realloc and hak_reallocarray.
 *
 * realloc(NULL, n) behaves like malloc(n); realloc(p, 0) follows the
 * allocator's documented semantics (see test_realloc_zero); realloc keeps
 * the first min(old usable, new size) bytes while growing and shrinking
 * across every class edge and into/out of the large (mapped) range, up to
 * 64 MiB and back (mremap); failed
 * reallocs (impossible sizes, reallocarray overflow) return NULL with errno
 * ENOMEM and leave the old block untouched and live.
 *
 * Prefix rule: each block is filled over its WHOLE usable size (usable_size
 * promises those bytes to the caller), so realloc must keep
 * min(usable_size(old), new_size) bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

static ut_edges_t edges;

static int setup_edges(void **state) {
  (void)state;
  return ut_edges_init(&edges, 4u << 20);
}

static void test_realloc_null_is_malloc(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  for (size_t e = 0; e < edges.n; e++) {
    size_t n = edges.v[e];
    void *p = hak_realloc(NULL, n);
    if (!p) fail_msg("hak_realloc(NULL, %zu) returned NULL", n);
    if (!ut_aligned(p, 16)) fail_msg("hak_realloc(NULL, %zu) = %p misaligned", n, p);
    size_t u = hak_malloc_usable_size(p);
    if (u < n) fail_msg("hak_realloc(NULL, %zu): usable %zu", n, u);
    assert_int_equal(ut_live_blocks(), live0 + 1);
    memset(p, 0x5A, u);
    hak_free(p);
    void *q = hak_reallocarray(NULL, 1, n);
    if (!q) fail_msg("hak_reallocarray(NULL, 1, %zu) returned NULL", n);
    assert_true(ut_aligned(q, 16) && hak_malloc_usable_size(q) >= n);
    hak_free(q);
  }
  assert_int_equal(ut_live_blocks(), live0);
}

/* realloc(p, 0).  hakmem.h leaves this open; glibc frees p and returns NULL.
 * The test accepts exactly those two behaviours and proves each is coherent:
 *  - NULL: p was freed (live_blocks dropped by one);
 *  - non-NULL: a unique, freeable, aligned block replaced p (live count
 *    unchanged).
 * UT_REALLOC_ZERO_FREES (set by CMake) pins the allocator's documented choice:
 * 1 = frees and returns NULL, 0 = returns a minimum block. */
static void test_realloc_zero(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 16, 100, 1024, 5000, 70000, 3u << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t live0 = ut_live_blocks();
    void *p = hak_malloc(sizes[i]);
    assert_non_null(p);
    memset(p, 1, sizes[i]);
    void *q = hak_realloc(p, 0);
    uint64_t live1 = ut_live_blocks();
    if (q == NULL) {
      if (live1 != live0) fail_msg("realloc(p, 0) returned NULL but p (%zu bytes) is still live", sizes[i]);
#if defined(UT_REALLOC_ZERO_FREES) && !UT_REALLOC_ZERO_FREES
      fail_msg("realloc(p, 0) returned NULL; this allocator documents a minimum block");
#endif
    } else {
      if (live1 != live0 + 1) fail_msg("realloc(p, 0) returned a block but live count moved");
      assert_true(ut_aligned(q, 16));
      hak_free(q);
#if defined(UT_REALLOC_ZERO_FREES) && UT_REALLOC_ZERO_FREES
      fail_msg("realloc(p, 0) returned %p; this allocator documents free + NULL", q);
#endif
    }
    assert_int_equal(ut_live_blocks(), live0);
  }
  /* realloc(NULL, 0) is malloc(0): a unique block */
  void *a = hak_realloc(NULL, 0), *b = hak_realloc(NULL, 0);
  assert_non_null(a);
  assert_non_null(b);
  assert_ptr_not_equal(a, b);
  hak_free(a);
  hak_free(b);
}

/* One realloc step with full checking; returns the new block. */
static void *step(void *p, size_t new_size, uint64_t id, const char *dir) {
  size_t old_u = hak_malloc_usable_size(p);
  size_t bad = ut_check(p, old_u, id);
  if (bad != SIZE_MAX) fail_msg("%s: block %p (usable %zu) corrupted at %zu before realloc", dir, p, old_u, bad);
  uint64_t live0 = ut_live_blocks();
  void *q = hak_realloc(p, new_size);
  if (!q) fail_msg("%s: hak_realloc(%p [usable %zu], %zu) returned NULL", dir, p, old_u, new_size);
  if (!ut_aligned(q, 16)) fail_msg("%s: hak_realloc(.., %zu) = %p misaligned", dir, new_size, q);
  size_t u = hak_malloc_usable_size(q);
  if (u < new_size) fail_msg("%s: realloc to %zu: usable %zu", dir, new_size, u);
  size_t keep = old_u < new_size ? old_u : new_size;
  bad = ut_check(q, keep, id);
  if (bad != SIZE_MAX)
    fail_msg("%s: realloc from usable %zu to %zu lost byte %zu of the %zu-byte prefix (%p -> %p)", dir, old_u,
             new_size, bad, keep, p, q);
  if (ut_live_blocks() != live0) fail_msg("%s: live_blocks moved across realloc(%zu)", dir, new_size);
  ut_fill(q, u, id);
  return q;
}

static void test_realloc_prefix_all_edges(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  uint64_t id = 77;
  void *p = hak_malloc(1);
  assert_non_null(p);
  ut_fill(p, hak_malloc_usable_size(p), id);
  for (size_t e = 0; e < edges.n; e++) p = step(p, edges.v[e] ? edges.v[e] : 1, id, "grow");
  for (size_t e = edges.n; e-- > 0;) p = step(p, edges.v[e] ? edges.v[e] : 1, id, "shrink");
  hak_free(p);
  assert_int_equal(ut_live_blocks(), live0);
}

/* Big jumps: tiny <-> large directly, in both directions, with other blocks
 * around so that in-place growth is not always possible. */
static void test_realloc_prefix_jumps(void **state) {
  (void)state;
  static const size_t ladder[] = {1,      15,        16,          17,          1023,     1024,    1025,
                                  4096,   65535,     65536,       65537,       262144,   1048576, (2u << 20) - 1,
                                  2u << 20, (2u << 20) + 1, (4u << 20) + 3};
  const size_t n = sizeof ladder / sizeof ladder[0];
  uint64_t live0 = ut_live_blocks();
  ut_rng_t rng;
  ut_rng_seed(&rng, 5);
  for (size_t a = 0; a < n; a++)
    for (size_t b = 0; b < n; b++) {
      uint64_t id = 1000 + a * n + b;
      void *p = hak_malloc(ladder[a]);
      void *blocker = hak_malloc(ladder[a]); /* likely the next block */
      assert_non_null(p);
      assert_non_null(blocker);
      ut_fill(p, hak_malloc_usable_size(p), id);
      ut_fill(blocker, hak_malloc_usable_size(blocker), id + 1000000);
      p = step(p, ladder[b], id, a < b ? "jump-grow" : "jump-shrink");
      size_t bad = ut_check(blocker, hak_malloc_usable_size(blocker), id + 1000000);
      if (bad != SIZE_MAX) fail_msg("realloc %zu->%zu corrupted a neighbour at %zu", ladder[a], ladder[b], bad);
      if (ut_rng_below(&rng, 2)) {
        hak_free(blocker);
        p = step(p, ladder[a], id, "jump-back");
      } else {
        p = step(p, ladder[a], id, "jump-back");
        hak_free(blocker);
      }
      hak_free(p);
    }
  assert_int_equal(ut_live_blocks(), live0);
}

/* Large blocks (mremap territory): double from 1 MiB to 64 MiB and halve
 * back down to 100 bytes, with another large block kept live in between. */
static void test_realloc_large_chain(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  const uint64_t id = 31337;
  void *p = hak_malloc(1u << 20);
  assert_non_null(p);
  ut_fill(p, hak_malloc_usable_size(p), id);
  void *other = hak_malloc(3u << 20);
  assert_non_null(other);
  ut_fill(other, hak_malloc_usable_size(other), id + 1);
  for (size_t n = 2u << 20; n <= (64u << 20); n <<= 1) p = step(p, n + 12345, id, "large-grow");
  for (size_t n = 32u << 20; n >= 1024; n >>= 1) p = step(p, n - 7, id, "large-shrink");
  p = step(p, 100, id, "large-shrink");
  size_t bad = ut_check(other, hak_malloc_usable_size(other), id + 1);
  if (bad != SIZE_MAX) fail_msg("a live 3 MiB block was corrupted at %zu by reallocs of another block", bad);
  hak_free(other);
  hak_free(p);
  assert_int_equal(ut_live_blocks(), live0);
}

/* realloc of blocks from the aligned allocation family keeps contents too. */
static void test_realloc_aligned_blocks(void **state) {
  (void)state;
  static const size_t aligns[] = {32, 64, 4096, 65536, 1u << 21};
  static const size_t sizes[] = {1, 100, 5000, 70000};
  uint64_t id = 5000;
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++, id++) {
      void *p = hak_memalign(aligns[i], sizes[j]);
      assert_non_null(p);
      assert_true(ut_aligned(p, aligns[i]));
      ut_fill(p, hak_malloc_usable_size(p), id);
      p = step(p, sizes[j] * 3 + 1, id, "aligned-grow");
      p = step(p, sizes[j] / 2 + 1, id, "aligned-shrink");
      hak_free(p);
    }
}

static void expect_failed_realloc(void *p, size_t a, size_t b, int array, uint64_t id) {
  uint64_t live0 = ut_live_blocks();
  size_t u = hak_malloc_usable_size(p);
  errno = 0;
  void *q = array ? hak_reallocarray(p, a, b) : hak_realloc(p, a);
  if (q) fail_msg("%s(%p, %zu, %zu) returned %p, want NULL", array ? "reallocarray" : "realloc", p, a, b, q);
  if (errno != ENOMEM) fail_msg("%s(.., %zu, %zu): errno %d, want ENOMEM", array ? "reallocarray" : "realloc", a, b, errno);
  if (ut_live_blocks() != live0) fail_msg("failed realloc changed live_blocks");
  if (hak_malloc_usable_size(p) != u) fail_msg("failed realloc changed usable_size of the old block");
  size_t bad = ut_check(p, u, id);
  if (bad != SIZE_MAX) fail_msg("failed realloc corrupted the old block at %zu", bad);
}

static void test_realloc_failure_keeps_block(void **state) {
  (void)state;
  static const size_t sizes[] = {8, 1024, 70000, 3u << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t id = 9000 + i;
    void *p = hak_malloc(sizes[i]);
    assert_non_null(p);
    ut_fill(p, hak_malloc_usable_size(p), id);
    expect_failed_realloc(p, SIZE_MAX, 0, 0, id);
    expect_failed_realloc(p, (size_t)PTRDIFF_MAX + 1, 0, 0, id);
    expect_failed_realloc(p, SIZE_MAX - 15, 0, 0, id);
    expect_failed_realloc(p, SIZE_MAX / 2 + 1, 2, 1, id);
    expect_failed_realloc(p, 2, SIZE_MAX / 2 + 1, 1, id);
    expect_failed_realloc(p, (size_t)1 << 32, ((size_t)1 << 32) + 1, 1, id);
    expect_failed_realloc(p, SIZE_MAX, SIZE_MAX, 1, id);
    /* the block is still fully usable */
    p = step(p, sizes[i] * 2, id, "after-failure");
    hak_free(p);
  }
  /* reallocarray(NULL, overflow) is a failed malloc */
  errno = 0;
  assert_null(hak_reallocarray(NULL, SIZE_MAX / 2 + 1, 2));
  assert_int_equal(errno, ENOMEM);
}

static void test_reallocarray_products(void **state) {
  (void)state;
  static const size_t dims[][2] = {{1, 1}, {3, 7}, {16, 16}, {100, 12}, {1024, 64}, {7, 9999}, {2, 1u << 20}};
  uint64_t id = 12000;
  void *p = hak_reallocarray(NULL, 1, 1);
  assert_non_null(p);
  ut_fill(p, hak_malloc_usable_size(p), id);
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    size_t n = dims[i][0] * dims[i][1];
    size_t old_u = hak_malloc_usable_size(p);
    void *q = hak_reallocarray(p, dims[i][0], dims[i][1]);
    if (!q) fail_msg("reallocarray(%zu, %zu) returned NULL", dims[i][0], dims[i][1]);
    assert_true(ut_aligned(q, 16));
    assert_true(hak_malloc_usable_size(q) >= n);
    size_t keep = old_u < n ? old_u : n;
    size_t bad = ut_check(q, keep, id);
    if (bad != SIZE_MAX) fail_msg("reallocarray(%zu, %zu) lost prefix byte %zu", dims[i][0], dims[i][1], bad);
    ut_fill(q, hak_malloc_usable_size(q), id);
    p = q;
  }
  hak_free(p);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_realloc_null_is_malloc),
      cmocka_unit_test(test_realloc_zero),
      cmocka_unit_test(test_realloc_prefix_all_edges),
      cmocka_unit_test(test_realloc_prefix_jumps),
      cmocka_unit_test(test_realloc_large_chain),
      cmocka_unit_test(test_realloc_aligned_blocks),
      cmocka_unit_test(test_realloc_failure_keeps_block),
      cmocka_unit_test(test_reallocarray_products),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_api_realloc", tests, setup_edges, NULL);
  return rc ? rc : ut_final_heap_check();
}
