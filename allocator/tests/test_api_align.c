/* test_api_align.c - cmocka tests of the aligned allocation family.
 *
 * posix_memalign rejects bad alignments (0, 3, 24, not a power-of-two
 * multiple of sizeof(void*)) with EINVAL and leaves *out untouched; every
 * power-of-two alignment 1..2^22 works for posix_memalign, aligned_alloc and
 * memalign with several sizes (aligned, usable >= request, fully writable,
 * no overlap among the live blocks); aligned_alloc rejects non-power-of-two
 * alignments with NULL + EINVAL; impossible sizes/alignments give ENOMEM;
 * valloc is page aligned; pvalloc rounds the request up to a whole page
 * (pvalloc(0) rounds to 0 like glibc: any unique block will do).
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

#define SENTINEL ((void *)(uintptr_t)0xDEADBEEFCAFEF00DULL)

static void test_posix_memalign_bad_alignment(void **state) {
  (void)state;
  static const size_t bad[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20, 24, 40, 48, 96, 100, 3 * 4096, 4097,
                               (1u << 20) + 8, SIZE_MAX, SIZE_MAX - 7};
  uint64_t live0 = ut_live_blocks();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    static const size_t sizes[] = {0, 1, 64, 5000};
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
      void *out = SENTINEL;
      int rc = hak_posix_memalign(&out, bad[i], sizes[j]);
      if (rc != EINVAL) fail_msg("posix_memalign(align %zu, size %zu) = %d, want EINVAL", bad[i], sizes[j], rc);
      if (out != SENTINEL) fail_msg("posix_memalign(align %zu) wrote *out = %p on failure", bad[i], out);
    }
  }
  assert_int_equal(ut_live_blocks(), live0);
}

static void test_posix_memalign_impossible(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  static const size_t cases[][2] = {
      {(size_t)1 << 63, 1}, {(size_t)1 << 62, 16}, {64, SIZE_MAX}, {4096, SIZE_MAX - 4095},
      {1u << 21, (size_t)PTRDIFF_MAX + 1}, {16, SIZE_MAX - 15}, {1u << 22, SIZE_MAX - (1u << 22)}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    void *out = SENTINEL;
    int rc = hak_posix_memalign(&out, cases[i][0], cases[i][1]);
    if (rc != ENOMEM) fail_msg("posix_memalign(align %zu, size %zu) = %d, want ENOMEM", cases[i][0], cases[i][1], rc);
    if (out != SENTINEL) fail_msg("posix_memalign wrote *out on failure");
    errno = 0;
    void *p = hak_aligned_alloc(cases[i][0], cases[i][1]);
    if (p || errno != ENOMEM) fail_msg("aligned_alloc(%zu, %zu) = %p errno %d, want NULL/ENOMEM", cases[i][0], cases[i][1], p, errno);
    errno = 0;
    p = hak_memalign(cases[i][0], cases[i][1]);
    if (p || errno != ENOMEM) fail_msg("memalign(%zu, %zu) = %p errno %d, want NULL/ENOMEM", cases[i][0], cases[i][1], p, errno);
  }
  assert_int_equal(ut_live_blocks(), live0);
}

enum { FN_POSIX, FN_ALIGNED_ALLOC, FN_MEMALIGN, FN_COUNT };
static const char *const fn_names[FN_COUNT] = {"posix_memalign", "aligned_alloc", "memalign"};

static void *alloc_aligned(int fn, size_t align, size_t size) {
  void *p = NULL;
  switch (fn) {
  case FN_POSIX: {
    int rc = hak_posix_memalign(&p, align, size);
    if (rc != 0) fail_msg("posix_memalign(align %zu, size %zu) = %d", align, size, rc);
    break;
  }
  case FN_ALIGNED_ALLOC: p = hak_aligned_alloc(align, size); break;
  default: p = hak_memalign(align, size); break;
  }
  if (!p) fail_msg("%s(align %zu, size %zu) returned NULL (errno %d)", fn_names[fn], align, size, errno);
  return p;
}

/* Every power of two 1..2^22 (posix_memalign from sizeof(void*)), sizes
 * around the alignment; all blocks of one alignment stay live together and
 * are checked for overlap and contents. */
static void test_power_of_two_alignments(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  uint64_t id = 1;
  for (size_t shift = 0; shift <= 22; shift++) {
    size_t align = (size_t)1 << shift;
    size_t sizes[] = {0, 1, 17, 100, align - 1 ? align - 1 : 2, align, align + 1, 3 * align, 5000, 70000};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    void *ps[FN_COUNT][NS] = {{0}};
    size_t us[FN_COUNT][NS] = {{0}};
    for (int fn = 0; fn < FN_COUNT; fn++) {
      if (fn == FN_POSIX && align < sizeof(void *)) continue;
      for (size_t s = 0; s < NS; s++) {
        void *p = alloc_aligned(fn, align, sizes[s]);
        size_t want = align < 16 ? 16 : align;
        if (!ut_aligned(p, want))
          fail_msg("%s(align %zu, size %zu) = %p not %zu-aligned", fn_names[fn], align, sizes[s], p, want);
        size_t u = hak_malloc_usable_size(p);
        if (u < sizes[s]) fail_msg("%s(align %zu, size %zu): usable %zu", fn_names[fn], align, sizes[s], u);
        ut_fill(p, u, id + fn * NS + s);
        ps[fn][s] = p;
        us[fn][s] = u;
      }
    }
    for (int fn = 0; fn < FN_COUNT; fn++)
      for (size_t s = 0; s < NS; s++) {
        if (!ps[fn][s]) continue;
        size_t bad = ut_check(ps[fn][s], us[fn][s], id + fn * NS + s);
        if (bad != SIZE_MAX)
          fail_msg("%s(align %zu, size %zu): byte %zu overwritten by another block", fn_names[fn], align, sizes[s], bad);
        for (int fn2 = 0; fn2 < FN_COUNT; fn2++)
          for (size_t s2 = 0; s2 < NS; s2++)
            if (ps[fn2][s2] && (fn2 != fn || s2 != s) &&
                ut_overlap(ps[fn][s], us[fn][s] ? us[fn][s] : 1, ps[fn2][s2], us[fn2][s2] ? us[fn2][s2] : 1))
              fail_msg("align %zu: %p+%zu overlaps %p+%zu", align, ps[fn][s], us[fn][s], ps[fn2][s2], us[fn2][s2]);
        if (hak_malloc_usable_size(ps[fn][s]) != us[fn][s]) fail_msg("usable_size changed while live");
        hak_free(ps[fn][s]);
      }
    id += FN_COUNT * NS;
  }
  assert_int_equal(ut_live_blocks(), live0);
}

/* Many small blocks with medium alignments: exercises aligned carving from
 * the pooled classes rather than one-off mappings. */
static void test_many_aligned_small(void **state) {
  (void)state;
  enum { N = 300 };
  static const size_t aligns[] = {32, 64, 128, 256, 512, 1024, 4096};
  void *ps[N];
  for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
    for (int i = 0; i < N; i++) {
      size_t size = 1 + (size_t)(i * 37) % 700;
      ps[i] = alloc_aligned(i % FN_COUNT, aligns[a], size);
      if (!ut_aligned(ps[i], aligns[a])) fail_msg("align %zu size %zu: %p", aligns[a], size, ps[i]);
      ut_fill(ps[i], hak_malloc_usable_size(ps[i]), (uint64_t)i);
    }
    for (int i = 0; i < N; i++) {
      size_t bad = ut_check(ps[i], hak_malloc_usable_size(ps[i]), (uint64_t)i);
      if (bad != SIZE_MAX) fail_msg("align %zu block %d corrupted at %zu", aligns[a], i, bad);
      hak_free(ps[i]);
    }
  }
}

static void test_aligned_alloc_bad_alignment(void **state) {
  (void)state;
  static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 96, 3 * 4096, SIZE_MAX};
  uint64_t live0 = ut_live_blocks();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = hak_aligned_alloc(bad[i], 64);
    if (p) fail_msg("aligned_alloc(%zu, 64) = %p, want NULL", bad[i], p);
    if (errno != EINVAL) fail_msg("aligned_alloc(%zu, 64): errno %d, want EINVAL", bad[i], errno);
  }
  assert_int_equal(ut_live_blocks(), live0);
  /* C17: the size need not be a multiple of the alignment */
  void *p = hak_aligned_alloc(64, 10);
  assert_non_null(p);
  assert_true(ut_aligned(p, 64));
  hak_free(p);
}

/* memalign with a non-power-of-two alignment: glibc rounds the alignment up
 * to a power of two.  Accepted behaviours: that, or NULL + EINVAL. */
static void test_memalign_bad_alignment(void **state) {
  (void)state;
  static const size_t bad[] = {3, 5, 12, 24, 48, 96, 3 * 4096};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = hak_memalign(bad[i], 64);
    if (!p) {
      if (errno != EINVAL) fail_msg("memalign(%zu, 64) = NULL with errno %d, want EINVAL", bad[i], errno);
      continue;
    }
    size_t pow2 = 16;
    while (pow2 < bad[i]) pow2 <<= 1;
    if (!ut_aligned(p, pow2)) fail_msg("memalign(%zu, 64) = %p, not aligned to %zu", bad[i], p, pow2);
    assert_true(hak_malloc_usable_size(p) >= 64);
    hak_free(p);
  }
}

static void test_valloc_pvalloc(void **state) {
  (void)state;
  const size_t page = ut_page_size();
  const size_t sizes[] = {0, 1, 100, page - 1, page, page + 1, 3 * page + 5, 70000, (2u << 20) + 1};
  uint64_t live0 = ut_live_blocks();
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    void *v = hak_valloc(n);
    if (!v) fail_msg("valloc(%zu) returned NULL", n);
    if (!ut_aligned(v, page)) fail_msg("valloc(%zu) = %p not page aligned", n, v);
    size_t vu = hak_malloc_usable_size(v);
    if (vu < n) fail_msg("valloc(%zu): usable %zu", n, vu);
    memset(v, 0x11, vu);
    void *pv = hak_pvalloc(n);
    if (!pv) fail_msg("pvalloc(%zu) returned NULL", n);
    if (!ut_aligned(pv, page)) fail_msg("pvalloc(%zu) = %p not page aligned", n, pv);
    size_t want = (n + page - 1) / page * page;
    size_t pu = hak_malloc_usable_size(pv);
    if (pu < want) fail_msg("pvalloc(%zu): usable %zu < %zu (request rounded up to a page)", n, pu, want);
    memset(pv, 0x22, pu);
    if (ut_overlap(v, vu, pv, pu)) fail_msg("valloc and pvalloc blocks overlap");
    hak_free(v);
    hak_free(pv);
  }
  assert_int_equal(ut_live_blocks(), live0);
  static const size_t impossible[] = {SIZE_MAX, SIZE_MAX - 4094, (size_t)PTRDIFF_MAX + 1};
  for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
    errno = 0;
    void *p = hak_valloc(impossible[i]);
    if (p || errno != ENOMEM) fail_msg("valloc(%zu) = %p errno %d, want NULL/ENOMEM", impossible[i], p, errno);
    errno = 0;
    p = hak_pvalloc(impossible[i]);
    if (p || errno != ENOMEM) fail_msg("pvalloc(%zu) = %p errno %d, want NULL/ENOMEM", impossible[i], p, errno);
  }
  assert_int_equal(ut_live_blocks(), live0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_posix_memalign_bad_alignment),
      cmocka_unit_test(test_posix_memalign_impossible),
      cmocka_unit_test(test_power_of_two_alignments),
      cmocka_unit_test(test_many_aligned_small),
      cmocka_unit_test(test_aligned_alloc_bad_alignment),
      cmocka_unit_test(test_memalign_bad_alignment),
      cmocka_unit_test(test_valloc_pvalloc),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_api_align", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
