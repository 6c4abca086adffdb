/* test_api_sizes.c - cmocka tests of hak_malloc/hak_calloc/hak_free sizes.
 *
 * Proves, for the variant this binary is linked against:
 *  - every size 0..70000 returns a 16-byte aligned block whose whole
 *    usable range (>= the request) is writable;
 *  - blocks at every class edge +-1 do not overlap and keep their contents
 *    while their neighbours are written (catches stride/carve mistakes);
 *  - malloc(0) returns unique freeable pointers, free(NULL) is a no-op,
 *    usable_size(NULL) == 0;
 *  - impossible sizes return NULL with errno ENOMEM;
 *  - calloc zeroes, also on reused (dirtied and freed) blocks, and rejects
 *    overflowing products with NULL + ENOMEM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

static ut_edges_t edges;

static int setup_edges(void **state) {
  (void)state;
  return ut_edges_init(&edges, 8u << 20);
}

/* How many blocks of `size` to keep live at once: enough to span slabs for
 * small classes, bounded in bytes for large ones. */
static size_t batch_for(size_t size) {
  size_t n = (size ? (2u << 20) / size : 256);
  if (n > 256) n = 256;
  if (n < 3) n = 3;
  return n;
}

static void test_alignment_every_size(void **state) {
  (void)state;
  enum { RING = 16 };
  void *ring[RING] = {0};
  size_t ring_u[RING] = {0};
  uint64_t live0 = ut_live_blocks();
  for (size_t n = 0; n <= 70000; n++) {
    void *p = hak_malloc(n);
    if (!p) fail_msg("hak_malloc(%zu) returned NULL", n);
    if (!ut_aligned(p, 16)) fail_msg("hak_malloc(%zu) = %p not 16-byte aligned", n, p);
    size_t u = hak_malloc_usable_size(p);
    if (u < n) fail_msg("usable_size(malloc(%zu)) = %zu < request", n, u);
    memset(p, 0xA5, u);
    for (int i = 0; i < RING; i++)
      if (ring[i] && ut_overlap(p, u ? u : 1, ring[i], ring_u[i] ? ring_u[i] : 1))
        fail_msg("malloc(%zu)=%p+%zu overlaps live %p+%zu", n, p, u, ring[i], ring_u[i]);
    int slot = (int)(n % RING);
    if (ring[slot]) {
      size_t u2 = hak_malloc_usable_size(ring[slot]);
      if (u2 != ring_u[slot])
        fail_msg("usable_size(%p) changed from %zu to %zu while live", ring[slot], ring_u[slot], u2);
      hak_free(ring[slot]);
    }
    ring[slot] = p;
    ring_u[slot] = u;
  }
  for (int i = 0; i < RING; i++) hak_free(ring[i]);
  assert_int_equal(ut_live_blocks(), live0);
}

static void test_edges_no_overlap_contents_kept(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  uint64_t id = 1;
  for (size_t e = 0; e < edges.n; e++) {
    size_t n = edges.v[e], k = batch_for(n);
    void **ps = calloc(k, sizeof *ps);
    size_t *us = calloc(k, sizeof *us);
    assert_non_null(ps);
    assert_non_null(us);
    for (size_t i = 0; i < k; i++) {
      ps[i] = hak_malloc(n);
      if (!ps[i]) fail_msg("hak_malloc(%zu) returned NULL", n);
      if (!ut_aligned(ps[i], 16)) fail_msg("hak_malloc(%zu) = %p misaligned", n, ps[i]);
      us[i] = hak_malloc_usable_size(ps[i]);
      if (us[i] < n) fail_msg("usable_size(malloc(%zu)) = %zu", n, us[i]);
      ut_fill(ps[i], us[i], id + i);
    }
    for (size_t i = 0; i < k; i++) {
      size_t bad = ut_check(ps[i], us[i], id + i);
      if (bad != SIZE_MAX)
        fail_msg("size %zu: block %zu/%zu (%p, usable %zu) corrupted at offset %zu "
                 "after neighbours were filled", n, i, k, ps[i], us[i], bad);
      for (size_t j = i + 1; j < k && j < i + 4; j++)
        if (ut_overlap(ps[i], us[i] ? us[i] : 1, ps[j], us[j] ? us[j] : 1))
          fail_msg("size %zu: %p+%zu overlaps %p+%zu", n, ps[i], us[i], ps[j], us[j]);
    }
    for (size_t i = 0; i < k; i++) hak_free(ps[i]);
    id += k;
    free(ps);
    free(us);
  }
  assert_int_equal(ut_live_blocks(), live0);
}

/* All blocks of all edge sizes live at once, sorted by address: no two
 * overlap (cheap global overlap proof across classes). */
static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

static void test_edges_global_no_overlap(void **state) {
  (void)state;
  enum { PER = 4 };
  size_t k = edges.n * PER;
  uintptr_t (*blk)[2] = calloc(k, sizeof *blk);
  assert_non_null(blk);
  for (size_t e = 0, i = 0; e < edges.n; e++)
    for (int r = 0; r < PER; r++, i++) {
      void *p = hak_malloc(edges.v[e]);
      if (!p) fail_msg("hak_malloc(%zu) returned NULL", edges.v[e]);
      blk[i][0] = (uintptr_t)p;
      blk[i][1] = hak_malloc_usable_size(p);
    }
  qsort(blk, k, sizeof *blk, cmp_ptr);
  for (size_t i = 1; i < k; i++) {
    size_t prev_u = blk[i - 1][1] ? blk[i - 1][1] : 1;
    if (blk[i - 1][0] + prev_u > blk[i][0])
      fail_msg("block %#lx+%zu overlaps %#lx", (unsigned long)blk[i - 1][0], (size_t)blk[i - 1][1],
               (unsigned long)blk[i][0]);
  }
  for (size_t i = 0; i < k; i++) hak_free((void *)blk[i][0]);
  free(blk);
}

static void test_malloc_zero_unique(void **state) {
  (void)state;
  enum { N = 1000 };
  uintptr_t ps[N];
  uint64_t live0 = ut_live_blocks();
  for (int i = 0; i < N; i++) {
    void *p = hak_malloc(0);
    assert_non_null(p);
    assert_true(ut_aligned(p, 16));
    ps[i] = (uintptr_t)p;
  }
  assert_int_equal(ut_live_blocks(), live0 + N);
  qsort(ps, N, sizeof ps[0], cmp_ptr);
  for (int i = 1; i < N; i++)
    if (ps[i] == ps[i - 1]) fail_msg("malloc(0) returned %#lx twice", (unsigned long)ps[i]);
  for (int i = 0; i < N; i++) hak_free((void *)ps[i]);
  assert_int_equal(ut_live_blocks(), live0);
}

static void test_free_null_and_usable_null(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  errno = 1234;
  hak_free(NULL);
  assert_int_equal(errno, 1234);
  assert_int_equal(hak_malloc_usable_size(NULL), 0);
  assert_int_equal(ut_live_blocks(), live0);
}

static void expect_enomem_malloc(size_t n) {
  errno = 0;
  void *p = hak_malloc(n);
  if (p) fail_msg("hak_malloc(%zu) returned %p, want NULL", n, p);
  if (errno != ENOMEM) fail_msg("hak_malloc(%zu): errno %d, want ENOMEM", n, errno);
}

static void test_impossible_sizes(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  expect_enomem_malloc(SIZE_MAX);
  expect_enomem_malloc((size_t)PTRDIFF_MAX + 1);
  expect_enomem_malloc((size_t)PTRDIFF_MAX);
  /* sizes whose rounding up (header, 16, page, 2 MiB) wraps around */
  for (size_t k = 1; k <= 64; k++) expect_enomem_malloc(SIZE_MAX - k);
  for (size_t k = 1; k <= 4; k++) {
    expect_enomem_malloc(SIZE_MAX - k * 4096 + 1);
    expect_enomem_malloc(SIZE_MAX - k * (2u << 20) + 1);
    expect_enomem_malloc((size_t)PTRDIFF_MAX + k * 4096);
  }
  assert_int_equal(ut_live_blocks(), live0);
  /* the allocator still works afterwards */
  void *p = hak_malloc(100);
  assert_non_null(p);
  hak_free(p);
}

static void check_zero(const void *p, size_t n, const char *what, size_t a, size_t b) {
  size_t o = ut_first_nonzero(p, n);
  if (o != SIZE_MAX)
    fail_msg("%s(%zu, %zu) = %p: byte %zu of %zu is %#x, want 0", what, a, b, p, o, n,
             ((const unsigned char *)p)[o]);
}

static void test_calloc_zeroes_fresh(void **state) {
  (void)state;
  for (size_t e = 0; e < edges.n; e++) {
    size_t n = edges.v[e];
    void *p = hak_calloc(1, n), *q = hak_calloc(n, 1);
    if (!p || !q) fail_msg("hak_calloc of %zu bytes returned NULL", n);
    assert_true(ut_aligned(p, 16) && ut_aligned(q, 16));
    assert_true(hak_malloc_usable_size(p) >= n && hak_malloc_usable_size(q) >= n);
    check_zero(p, n, "hak_calloc", 1, n);
    check_zero(q, n, "hak_calloc", n, 1);
    hak_free(p);
    hak_free(q);
  }
  /* element-count x element-size combinations */
  static const size_t dims[][2] = {{3, 5}, {7, 13}, {16, 64}, {100, 10}, {4096, 16}, {1, 1u << 21}};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    void *p = hak_calloc(dims[i][0], dims[i][1]);
    assert_non_null(p);
    check_zero(p, dims[i][0] * dims[i][1], "hak_calloc", dims[i][0], dims[i][1]);
    hak_free(p);
  }
}

/* calloc of a block carved from pages never handed out clears only the
 * bytes before those pages, so a large table touched in part stays in part
 * resident (cc1 compiling this project: peak RSS 131 -> 68 MiB, glibc 101);
 * the same block dirtied, freed and calloc'd again comes back all zero.
 * Debug builds fill carved blocks, so they clear all; the residency
 * count is not checked under the sanitizers. */
static void test_calloc_fresh_untouched(void **state) {
  (void)state;
  if (UT_SANITIZED || hak_check_level() >= 2) skip();
  const size_t n = 200000, page = 4096; /* an L2.5 class: one block a carve */
  hak_malloc_trim(0); /* the empty spans of the tests before: pages given back */
  unsigned char *p = hak_calloc(1, n);
  assert_non_null(p);
  /* pages calloc wrote are resident; the block's first page (the carve's
   * link) and, in the checked builds, its last (the canary) at most; read
   * before the zero check, whose reads would map the zero page */
  uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
  size_t pages = ((uintptr_t)p + n - lo + page - 1) / page, resident = 0;
  unsigned char vec[64];
  assert_true(pages <= sizeof vec);
  assert_int_equal(mincore((void *)lo, pages * page, vec), 0);
  for (size_t i = 0; i < pages; i++) resident += vec[i] & 1u;
  if (resident > 3) fail_msg("hak_calloc(1, %zu): %zu of %zu pages resident, want <= 3", n, resident, pages);
  check_zero(p, n, "hak_calloc (fresh)", 1, n);
  memset(p, 0xAB, n);
  hak_free(p);
  p = hak_calloc(n, 1);
  assert_non_null(p);
  check_zero(p, n, "hak_calloc (dirtied, freed, again)", n, 1);
  hak_free(p);
}

/* Units a thread dirtied and gave back at its exit (free but resident, their
 * pages marked handed) lie next to units never handed out; a block carved
 * across the boundary has fresh pages and a dirty last page: calloc must
 * clear that page too.  The dirtying thread takes one block of each of the
 * one-unit classes, so their spans fill the units after the main heap's;
 * then calloc carves blocks of the 10 KiB and 14 KiB classes (8-unit spans)
 * and of every larger class over them. */
static void *dirty_units(void *arg) {
  (void)arg;
  static const size_t sizes[] = {1100, 1400, 1700, 2000, 2500, 3000, 3500, 4000, 5000, 6000};
  void *ps[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    ps[i] = hak_malloc(sizes[i]);
    if (ps[i] != NULL) memset(ps[i], 0xAB, hak_malloc_usable_size(ps[i]));
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) hak_free(ps[i]);
  return NULL;
}

static void test_calloc_next_to_released_units(void **state) {
  (void)state;
  static const size_t sizes[] = {10000, 14000, 20000, 40000, 70000, 131000, 200000, 262144};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dirty_units, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    void *ps[40];
    for (size_t i = 0; i < 40; i++) {
      ps[i] = hak_calloc(1, sizes[k]);
      assert_non_null(ps[i]);
      check_zero(ps[i], sizes[k], "hak_calloc (next to released units)", 1, sizes[k]);
    }
    for (size_t i = 0; i < 40; i++) hak_free(ps[i]);
  }
}

/* malloc, dirty the whole usable range, free, calloc the same size: the
 * recycled block must come back zeroed (calloc_dirty). */
static void test_calloc_zeroes_reused(void **state) {
  (void)state;
  for (size_t e = 0; e < edges.n; e++) {
    size_t n = edges.v[e];
    size_t k = batch_for(n) > 32 ? 32 : batch_for(n);
    void *ps[32];
    /* single block: immediate reuse */
    void *p = hak_malloc(n);
    assert_non_null(p);
    memset(p, 0xFF, hak_malloc_usable_size(p));
    hak_free(p);
    p = hak_calloc(1, n);
    assert_non_null(p);
    check_zero(p, n, "hak_calloc (reuse)", 1, n);
    hak_free(p);
    /* a batch: the freelist / caches hand back several dirty blocks */
    for (size_t i = 0; i < k; i++) {
      ps[i] = hak_malloc(n);
      assert_non_null(ps[i]);
      memset(ps[i], 0xEE, hak_malloc_usable_size(ps[i]));
    }
    for (size_t i = 0; i < k; i++) hak_free(ps[i]);
    for (size_t i = 0; i < k; i++) {
      ps[i] = hak_calloc(n, 1);
      assert_non_null(ps[i]);
      check_zero(ps[i], n, "hak_calloc (batch reuse)", n, 1);
    }
    for (size_t i = 0; i < k; i++) hak_free(ps[i]);
  }
}

/* A dirtied large block, freed, then calloc of another size: the whale
 * cache may hand the dirty mapping back shrunk (best fit of a larger one) or
 * grown by mremap (a smaller one), and L2.5 pools may reuse a larger block,
 * at any page offset. */
static void test_calloc_zeroes_reused_best_fit(void **state) {
  (void)state;
  static const size_t pairs[][2] = {
      /* first freed, then calloc'd: smaller */
      {3u << 20, (5u << 19) + 123},     {(4u << 20) + 5, (2u << 20) + 1}, {8u << 20, (6u << 20) + 4095},
      {(2u << 20) + 1, (2u << 20) - 1}, {300000, 262145},                {262144, 200007},
      {131072, 70001},                  {100000, 65537},                 {65536, 4097},
      /* larger */
      {3u << 20, (4u << 20) + 5},       {(2u << 20) + 1, 3u << 20},      {300000, (2u << 20) + 100},
      {(5u << 19) + 123, 8u << 20}};
  for (int round = 0; round < 2; round++)
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
      size_t first = pairs[i][0], second = pairs[i][1];
      void *p = hak_malloc(first);
      assert_non_null(p);
      memset(p, 0xCD, hak_malloc_usable_size(p));
      hak_free(p);
      void *q = round ? hak_calloc(second, 1) : hak_calloc(1, second);
      if (!q) fail_msg("hak_calloc(%zu) after freeing %zu returned NULL", second, first);
      check_zero(q, second, "hak_calloc (reuse of a different size)", 1, second);
      memset(q, 0xCD, hak_malloc_usable_size(q));
      hak_free(q);
      /* and once more at the same size: exact reuse of a dirtied block */
      q = hak_calloc(1, second);
      assert_non_null(q);
      check_zero(q, second, "hak_calloc (exact reuse)", 1, second);
      hak_free(q);
    }
}

static void expect_enomem_calloc(size_t a, size_t b) {
  errno = 0;
  void *p = hak_calloc(a, b);
  if (p) fail_msg("hak_calloc(%zu, %zu) returned %p, want NULL", a, b, p);
  if (errno != ENOMEM) fail_msg("hak_calloc(%zu, %zu): errno %d, want ENOMEM", a, b, errno);
}

static void test_calloc_overflow(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  size_t half = SIZE_MAX / 2 + 1;
  expect_enomem_calloc(half, 2);
  expect_enomem_calloc(2, half);
  expect_enomem_calloc(SIZE_MAX, SIZE_MAX);
  expect_enomem_calloc((size_t)1 << 32, ((size_t)1 << 32) + 1);
  expect_enomem_calloc(((size_t)1 << 32) + 1, (size_t)1 << 32);
  expect_enomem_calloc(SIZE_MAX / 3 + 1, 3);
  expect_enomem_calloc(SIZE_MAX, 1);
  expect_enomem_calloc(1, SIZE_MAX);
  expect_enomem_calloc((size_t)PTRDIFF_MAX / 2 + 1, 2);
  assert_int_equal(ut_live_blocks(), live0);
  /* zero products are not overflow: a unique freeable block */
  void *p = hak_calloc(0, SIZE_MAX), *q = hak_calloc(SIZE_MAX, 0), *r = hak_calloc(0, 0);
  assert_non_null(p);
  assert_non_null(q);
  assert_non_null(r);
  assert_true(p != q && q != r && p != r);
  hak_free(p);
  hak_free(q);
  hak_free(r);
  assert_int_equal(ut_live_blocks(), live0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alignment_every_size),
      cmocka_unit_test(test_edges_no_overlap_contents_kept),
      cmocka_unit_test(test_edges_global_no_overlap),
      cmocka_unit_test(test_malloc_zero_unique),
      cmocka_unit_test(test_free_null_and_usable_null),
      cmocka_unit_test(test_impossible_sizes),
      cmocka_unit_test(test_calloc_zeroes_fresh),
      cmocka_unit_test(test_calloc_zeroes_reused),
      cmocka_unit_test(test_calloc_fresh_untouched),
      cmocka_unit_test(test_calloc_next_to_released_units),
      cmocka_unit_test(test_calloc_zeroes_reused_best_fit),
      cmocka_unit_test(test_calloc_overflow),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_api_sizes", tests, setup_edges, NULL);
  return rc ? rc : ut_final_heap_check();
}
