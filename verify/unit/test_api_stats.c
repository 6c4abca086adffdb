/* test_api_stats.c - cmocka tests of introspection: hak_variant,
 * hak_check_level, hak_injected_bug, hak_check_heap, hak_stats_get and
 * hak_stats_print.
 *
 * In a single thread the live set is exact: live_blocks moves by exactly one
 * per allocation/free through every API function and live_bytes by the
 * block's usable size; per-class alloc/free counters move by exactly the
 * number of blocks handed out; the class table reported by the stats obeys
 * the layout invariants of the brief (stride multiple of 16, header 0 or 1,
 * usable = what usable_size reports for every request of the class).
 *
 * UT_EXPECT_VARIANT / UT_EXPECT_INJECT are set by CMake from the build.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ut_common.h"

#ifndef UT_EXPECT_VARIANT
#error "UT_EXPECT_VARIANT must be defined by the build"
#endif
#ifndef UT_EXPECT_INJECT
#define UT_EXPECT_INJECT ""
#endif

static void test_variant_matches_build(void **state) {
  (void)state;
  assert_string_equal(hak_variant(), UT_EXPECT_VARIANT);
  int want = strcmp(UT_EXPECT_VARIANT, "release") == 0 ? 0 : strcmp(UT_EXPECT_VARIANT, "hardened") == 0 ? 1 : 2;
  assert_int_equal(hak_check_level(), want);
  assert_string_equal(hak_injected_bug(), UT_EXPECT_INJECT);
}

static void test_check_heap_by_variant(void **state) {
  (void)state;
  void *ps[64];
  for (int i = 0; i < 64; i++) ps[i] = hak_malloc((size_t)i * 33);
  for (int i = 0; i < 64; i += 2) hak_free(ps[i]);
  int rc = hak_check_heap();
  /* release has no walk (-1).  debug/hardened must never report problems on
   * a healthy heap; the debug walk itself belongs to the checks issue, so
   * until it lands -1 ("no walk") is accepted there too (FINDINGS.md). */
  if (hak_check_level() == 0)
    assert_int_equal(rc, -1);
  else if (rc > 0 || rc < -1)
    fail_msg("hak_check_heap() = %d on a healthy heap (%s build)", rc, hak_variant());
  else if (rc == -1 && hak_check_level() == 2)
    print_message("note: debug build has no heap walk yet (hak_check_heap() = -1)\n");
  for (int i = 1; i < 64; i += 2) hak_free(ps[i]);
}

static void test_class_table_invariants(void **state) {
  (void)state;
  hak_stats_t st;
  ut_stats(&st);
  assert_int_equal(st.version, HAKMEM_API_VERSION);
  assert_true(st.nclasses > 0 && st.nclasses <= HAK_STATS_MAX_CLASSES);
  for (uint32_t c = 0; c < st.nclasses; c++) {
    const hak_class_stats_t *k = &st.cls[c];
    if (k->stride % 16) fail_msg("class %u (size %u): stride %u not a multiple of 16", c, k->size, k->stride);
    if (k->header > 1) fail_msg("class %u: header %u", c, k->header);
    if (k->usable < k->size) fail_msg("class %u: usable %u < size %u", c, k->usable, k->size);
    if (k->usable + k->header > k->stride)
      fail_msg("class %u: usable %u + header %u > stride %u", c, k->usable, k->header, k->stride);
    if (c > 0 && k->size <= st.cls[c - 1].size)
      fail_msg("class table not sorted: class %u size %u after %u", c, k->size, st.cls[c - 1].size);
    if (k->size == 1024 && k->header != 0) fail_msg("1 KiB class must be headerless (brief section 3)");
    if (k->size < 1024 && k->header != 1) fail_msg("tiny class %u (size %u) must carry a 1-byte header", c, k->size);
  }
}

/* usable_size reports the class's usable bytes for every request the class
 * serves (usable_overstate, class_boundary, stale_geometry). */
static void test_usable_matches_class(void **state) {
  (void)state;
  hak_stats_t st;
  ut_stats(&st);
  for (uint32_t c = 0; c < st.nclasses; c++) {
    size_t lo = c ? st.cls[c - 1].size + 1 : 0, hi = st.cls[c].size;
    size_t probes[] = {lo, lo + 1, (lo + hi) / 2, hi - 1, hi};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
      size_t n = probes[i];
      if (n < lo || n > hi) continue;
      void *p = hak_malloc(n);
      assert_non_null(p);
      size_t u = hak_malloc_usable_size(p);
      if (u != st.cls[c].usable)
        fail_msg("malloc(%zu) -> class %u (size %u): usable_size %zu, table says %u", n, c, st.cls[c].size, u,
                 st.cls[c].usable);
      hak_free(p);
    }
  }
}

/* Every API function, in one thread: live_blocks and live_bytes exact after
 * each operation. */
static void test_live_set_exact(void **state) {
  (void)state;
  enum { SLOTS = 128, OPS = 6000 };
  void *slot[SLOTS] = {0};
  size_t slot_u[SLOTS] = {0};
  hak_stats_t st0, st;
  ut_stats(&st0);
  uint64_t live = 0, bytes = 0;
  ut_rng_t rng;
  ut_rng_seed(&rng, 99);
  for (int op = 0; op < OPS; op++) {
    int i = (int)ut_rng_below(&rng, SLOTS);
    size_t n = ut_rng_below(&rng, 4) == 0 ? ut_rng_below(&rng, 200000) : ut_rng_below(&rng, 1100);
    if (ut_rng_below(&rng, 500) == 0) n = (3u << 20) + ut_rng_below(&rng, 100);
    int kind = (int)ut_rng_below(&rng, 10);
    const char *what = "?";
    if (slot[i] && kind >= 8) { /* realloc family */
      void *q = kind == 8 ? hak_realloc(slot[i], n + 1) : hak_reallocarray(slot[i], n + 1, 1);
      what = kind == 8 ? "realloc" : "reallocarray";
      assert_non_null(q);
      bytes -= slot_u[i];
      slot[i] = q;
      slot_u[i] = hak_malloc_usable_size(q);
      bytes += slot_u[i];
    } else if (slot[i]) {
      what = "free";
      hak_free(slot[i]);
      slot[i] = NULL;
      live--;
      bytes -= slot_u[i];
    } else {
      void *p = NULL;
      size_t align = (size_t)16 << ut_rng_below(&rng, 9);
      switch (kind) {
      case 0: case 1: p = hak_malloc(n); what = "malloc"; break;
      case 2: p = hak_calloc(1, n); what = "calloc"; break;
      case 3: assert_int_equal(hak_posix_memalign(&p, align, n), 0); what = "posix_memalign"; break;
      case 4: p = hak_aligned_alloc(align, n); what = "aligned_alloc"; break;
      case 5: p = hak_memalign(align, n); what = "memalign"; break;
      case 6: p = hak_valloc(n); what = "valloc"; break;
      case 7: p = hak_pvalloc(n); what = "pvalloc"; break;
      case 8: p = hak_realloc(NULL, n); what = "realloc(NULL)"; break;
      default: p = hak_reallocarray(NULL, n, 1); what = "reallocarray(NULL)"; break;
      }
      assert_non_null(p);
      slot[i] = p;
      slot_u[i] = hak_malloc_usable_size(p);
      live++;
      bytes += slot_u[i];
    }
    ut_stats(&st);
    if (st.live_blocks != st0.live_blocks + live)
      fail_msg("op %d (%s, size %zu): live_blocks %llu, expected %llu", op, what, n,
               (unsigned long long)st.live_blocks, (unsigned long long)(st0.live_blocks + live));
    if (st.live_bytes != st0.live_bytes + bytes)
      fail_msg("op %d (%s, size %zu): live_bytes %llu, expected %llu", op, what, n,
               (unsigned long long)st.live_bytes, (unsigned long long)(st0.live_bytes + bytes));
  }
  for (int i = 0; i < SLOTS; i++) hak_free(slot[i]);
  ut_stats(&st);
  assert_int_equal(st.live_blocks, st0.live_blocks);
  assert_int_equal(st.live_bytes, st0.live_bytes);
  assert_int_equal(st.allocs - st0.allocs, st.frees - st0.frees);
}

/* Per-class counters: K blocks of class c move cls[c].allocs and .frees by
 * exactly K and no other class's counters; no remote frees in one thread. */
static void test_per_class_counters(void **state) {
  (void)state;
  enum { K = 300 };
  hak_stats_t st0, st1, st2;
  ut_stats(&st0);
  void **ps = calloc(K, sizeof *ps);
  assert_non_null(ps);
  for (uint32_t c = 0; c < st0.nclasses; c++) {
    size_t n = st0.cls[c].size;
    ut_stats(&st0);
    for (int i = 0; i < K; i++) {
      ps[i] = hak_malloc(n);
      assert_non_null(ps[i]);
    }
    ut_stats(&st1);
    for (int i = 0; i < K; i++) hak_free(ps[i]);
    ut_stats(&st2);
    for (uint32_t d = 0; d < st0.nclasses; d++) {
      uint64_t da = st1.cls[d].allocs - st0.cls[d].allocs, df = st2.cls[d].frees - st1.cls[d].frees;
      uint64_t want = d == c ? K : 0;
      if (da != want) fail_msg("%d x malloc(%zu): class %u allocs moved by %llu, want %llu", K, n, d, (unsigned long long)da, (unsigned long long)want);
      if (df != want) fail_msg("%d x free(%zu): class %u frees moved by %llu, want %llu", K, n, d, (unsigned long long)df, (unsigned long long)want);
      if (st2.cls[d].remote_frees != st0.cls[d].remote_frees) fail_msg("remote_frees moved in a single thread");
    }
    if (st1.cls[c].slabs == 0) fail_msg("class %u has %d live blocks but 0 slabs", c, K);
    if (st1.live_blocks - st0.live_blocks != K) fail_msg("class %u: live_blocks moved by %llu", c, (unsigned long long)(st1.live_blocks - st0.live_blocks));
  }
  free(ps);
  ut_stats(&st2);
  uint64_t refills = 0;
  for (uint32_t c = 0; c < st2.nclasses; c++) refills += st2.cls[c].refills;
  assert_true(refills > 0);
  assert_true(st2.superslabs_mapped > 0);
}

static void test_large_counters(void **state) {
  (void)state;
  const size_t n = 8u << 20;
  hak_stats_t st0, st1, st2;
  ut_stats(&st0);
  void *p = hak_malloc(n);
  assert_non_null(p);
  memset(p, 3, n);
  ut_stats(&st1);
  assert_int_equal(st1.large_allocs - st0.large_allocs, 1);
  assert_true(st1.large_live_bytes - st0.large_live_bytes >= n);
  assert_true(st1.mmap_calls > 0);
  assert_true(st1.mapped_bytes >= n);
  assert_int_equal(st1.live_blocks - st0.live_blocks, 1);
  hak_free(p);
  ut_stats(&st2);
  assert_int_equal(st2.large_frees - st1.large_frees, 1);
  assert_int_equal(st2.large_live_bytes, st0.large_live_bytes);
  assert_int_equal(st2.live_blocks, st0.live_blocks);
  int t = hak_malloc_trim(0);
  assert_true(t == 0 || t == 1);
}

static void test_stats_print(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  void *p = hak_malloc(48);
  hak_stats_print(fileno(f));
  hak_free(p);
  char buf[256];
  rewind(f);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  if (got == 0) fail_msg("hak_stats_print wrote nothing");
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]); /* one test per CTest entry */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_variant_matches_build),
      cmocka_unit_test(test_check_heap_by_variant),
      cmocka_unit_test(test_class_table_invariants),
      cmocka_unit_test(test_usable_matches_class),
      cmocka_unit_test(test_live_set_exact),
      cmocka_unit_test(test_per_class_counters),
      cmocka_unit_test(test_large_counters),
      cmocka_unit_test(test_stats_print),
  };
  return cmocka_run_group_tests_name("hakmem_api_stats", tests, NULL, NULL);
}
