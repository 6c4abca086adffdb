/* test_api_stats.c - cmocka tests of introspection: hak_variant,
 * hak_check_level, hak_injected_bug, hak_check_heap, hak_stats_get and
 * hak_stats_print.
 *
 * In a single thread the live set is exact: live_blocks moves by exactly one
 * per allocation/free through every API function and live_bytes by the
 * block's usable size; per-class alloc/free counters move by exactly the
 * number of blocks handed out; the class table reported by the stats obeys
 * the layout invariants of the brief (stride multiple of 16, header 0 or 1,
 * usable = what usable_size reports for every request of the class); after
 * freeing everything, hak_malloc_trim gives the mapped memory back;
 * steady whale alloc/free cycles stay within the whale cache's bound;
 * map/unmap cycles stay in the same addresses; and
 * the fresh-page telemetry counts each page of a superslab once.
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

#include "ut_cmocka.h"
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
  /* release has no walk (-1); hardened and debug walk and find nothing */
  int rc = hak_check_heap();
  if (hak_check_level() == 0)
    assert_int_equal(rc, -1);
  else if (rc != 0)
    fail_msg("hak_check_heap() = %d on a healthy heap (%s build)", rc, hak_variant());
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
    /* the canary (checked builds, layout.h) is the rest of the stride */
    if (k->usable + k->header + k->canary != k->stride)
      fail_msg("class %u: usable %u + header %u + canary %u != stride %u", c, k->usable, k->header, k->canary,
               k->stride);
    if ((hak_check_level() == 0) != (k->canary == 0))
      fail_msg("class %u: canary %u in the %s build", c, k->canary, hak_variant());
    if (c > 0 && k->size <= st.cls[c - 1].size)
      fail_msg("class table not sorted: class %u size %u after %u", c, k->size, st.cls[c - 1].size);
    if (k->stride == 1024 && k->header != 0) fail_msg("1 KiB class must be headerless (brief section 3)");
    if (k->stride < 1024 && k->header != 1)
      fail_msg("tiny class %u (stride %u) must carry a 1-byte header", c, k->stride);
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
      if (n == 0 && hak_check_level() >= 1) continue; /* no bytes: allocator/zero.c */
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

/* Every API function, in one thread: live_blocks exact after each
 * operation, and live_bytes moves by exactly one block size per operation.
 * hakmem.h: live_bytes sums the live blocks' block sizes, which equal
 * usable_size(p) except for a block handed out at an aligned interior offset
 * (then usable_size(p) <= size < usable_size(p) + alignment - 15).  Each
 * block's size is measured when it is allocated and must be given back
 * exactly when it is freed or reallocated. */
typedef struct live_slot {
  void *p;
  size_t bytes; /* the block's contribution to live_bytes */
  size_t align; /* 16, or the alignment it was allocated with */
} live_slot_t;

static void check_block_bytes(int op, const char *what, const live_slot_t *s) {
  size_t u = hak_malloc_usable_size(s->p);
  if (s->bytes < u || s->bytes > u + s->align - 16)
    fail_msg("op %d (%s): live_bytes moved by %zu for a block with usable_size %zu and alignment %zu", op, what,
             s->bytes, u, s->align);
}

static void test_live_set_exact(void **state) {
  (void)state;
  enum { SLOTS = 128, OPS = 6000 };
  live_slot_t slot[SLOTS] = {{0}};
  hak_stats_t st0, prev, st;
  ut_stats(&st0);
  prev = st0;
  uint64_t live = 0;
  ut_rng_t rng;
  ut_rng_seed(&rng, 99);
  for (int op = 0; op < OPS; op++) {
    live_slot_t *s = &slot[ut_rng_below(&rng, SLOTS)];
    size_t n = ut_rng_below(&rng, 4) == 0 ? ut_rng_below(&rng, 200000) : ut_rng_below(&rng, 1100);
    if (ut_rng_below(&rng, 500) == 0) n = (3u << 20) + ut_rng_below(&rng, 100);
    int kind = (int)ut_rng_below(&rng, 10);
    const char *what = "?";
    int64_t want_delta = 0; /* for free: the block's bytes must come back */
    if (s->p && kind >= 8) { /* realloc family */
      void *q = kind == 8 ? hak_realloc(s->p, n + 1) : hak_reallocarray(s->p, n + 1, 1);
      what = kind == 8 ? "realloc" : "reallocarray";
      assert_non_null(q);
      if (q != s->p) s->align = 16; /* moved: a fresh, unaligned block */
      s->p = q;
    } else if (s->p) {
      what = "free";
      hak_free(s->p);
      want_delta = -(int64_t)s->bytes;
      *s = (live_slot_t){0};
      live--;
    } else {
      void *p = NULL;
      size_t align = (size_t)16 << ut_rng_below(&rng, 9);
      s->align = 16;
      switch (kind) {
      case 0: case 1: p = hak_malloc(n); what = "malloc"; break;
      case 2: p = hak_calloc(1, n); what = "calloc"; break;
      case 3: assert_int_equal(hak_posix_memalign(&p, align, n), 0); what = "posix_memalign"; s->align = align; break;
      case 4: p = hak_aligned_alloc(align, n); what = "aligned_alloc"; s->align = align; break;
      case 5: p = hak_memalign(align, n); what = "memalign"; s->align = align; break;
      case 6: p = hak_valloc(n); what = "valloc"; s->align = ut_page_size(); break;
      case 7: p = hak_pvalloc(n); what = "pvalloc"; s->align = ut_page_size(); break;
      case 8: p = hak_realloc(NULL, n); what = "realloc(NULL)"; break;
      default: p = hak_reallocarray(NULL, n, 1); what = "reallocarray(NULL)"; break;
      }
      assert_non_null(p);
      s->p = p;
      s->bytes = 0;
      live++;
    }
    ut_stats(&st);
    if (st.live_blocks != st0.live_blocks + live)
      fail_msg("op %d (%s, size %zu): live_blocks %llu, expected %llu", op, what, n,
               (unsigned long long)st.live_blocks, (unsigned long long)(st0.live_blocks + live));
    int64_t delta = (int64_t)(st.live_bytes - prev.live_bytes);
    if (s->p) { /* allocated or reallocated: the block's new size */
      s->bytes = (size_t)((int64_t)s->bytes + delta);
      check_block_bytes(op, what, s);
    } else if (delta != want_delta) {
      fail_msg("op %d (free): live_bytes moved by %lld, the block had added %lld", op, (long long)delta,
               (long long)-want_delta);
    }
    prev = st;
  }
  for (int i = 0; i < SLOTS; i++) hak_free(slot[i].p);
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

/* Free everything, trim: the mapped memory comes back down (superslabs,
 * spans and cached whales are given back to the OS). */
static void test_trim_returns_memory(void **state) {
  (void)state;
  enum { N = 100000 };
  void **ps = malloc(N * sizeof *ps);
  assert_non_null(ps);
  hak_malloc_trim(0);
  hak_stats_t st0, peak, st1;
  ut_stats(&st0);
  for (int i = 0; i < N; i++) {
    size_t n = i % 10 == 0 ? 20000 + (size_t)(i % 7) * 1000 : (size_t)(i % 1000) + 1;
    if (i % 5000 == 0) n = 3u << 20;
    ps[i] = hak_malloc(n);
    assert_non_null(ps[i]);
    memset(ps[i], 1, n < 64 ? n : 64);
  }
  ut_stats(&peak);
  for (int i = 0; i < N; i++) hak_free(ps[i]);
  free(ps);
  int r = hak_malloc_trim(0);
  ut_stats(&st1);
  int64_t kept = (int64_t)st1.mapped_bytes - (int64_t)st0.mapped_bytes;
  int64_t grew = (int64_t)peak.mapped_bytes - (int64_t)st0.mapped_bytes;
  if (r != 1) fail_msg("hak_malloc_trim(0) = %d after freeing %lld MiB, want 1", r, (long long)(grew >> 20));
  if (kept > 64ll << 20)
    fail_msg("after freeing everything and trimming, mapped_bytes is still %lld MiB above the start (peak +%lld MiB)",
             (long long)(kept >> 20), (long long)(grew >> 20));
  assert_int_equal(st1.live_blocks, st0.live_blocks);
}

/* Large blocks freed in a steady cycle are reused or given back: mapped
 * memory stays within the whale cache's bound whatever HAKMEM_WHALE_RELEASE
 * does to the cached pages (CTest also runs this with it set to 1 and 2). */
static void test_whale_cycles_bounded(void **state) {
  (void)state;
  hak_stats_t st0, st1;
  ut_stats(&st0);
  for (int i = 0; i < 100; i++) {
    void *a = hak_malloc(3u << 20), *b = hak_malloc((3u << 20) + 4096);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, 3u << 20);
    memset(b, 2, 3u << 20);
    hak_free(a);
    hak_free(b);
  }
  ut_stats(&st1);
  int64_t grew = (int64_t)st1.mapped_bytes - (int64_t)st0.mapped_bytes;
  if (grew > 128ll << 20)
    fail_msg("100 cycles of two 3 MiB blocks left mapped_bytes %lld MiB higher (cached mappings not reused?)",
             (long long)(grew >> 20));
  hak_malloc_trim(0);
  ut_stats(&st1);
  grew = (int64_t)st1.mapped_bytes - (int64_t)st0.mapped_bytes;
  if (grew > 16ll << 20)
    fail_msg("after hak_malloc_trim(0), mapped_bytes still %lld MiB higher than before the cycles",
             (long long)(grew >> 20));
  assert_int_equal(st1.live_blocks, st0.live_blocks);
}

/* A process that maps and unmaps in a loop stays in the same addresses:
 * 200 cycles of a 3 MiB block, each mapped fresh (the trim unmaps the
 * cached one), land within 256 MiB of each other.  A mapping hint "just
 * below the last mapping" (5e8f757, reverted) put each cycle 4 MiB lower:
 * 800 MiB of address space walked, which ASan's shadow keeps resident. */
static void test_mapping_addresses_bounded(void **state) {
  (void)state;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < 200; i++) {
    char *p = hak_malloc(3u << 20);
    assert_non_null(p);
    p[0] = 1;
    if ((uintptr_t)p < lo) lo = (uintptr_t)p;
    if ((uintptr_t)p > hi) hi = (uintptr_t)p;
    hak_free(p);
    hak_malloc_trim(0);
  }
  if (hi - lo > (256u << 20))
    fail_msg("200 map/unmap cycles of a 3 MiB block spread over %llu MiB of addresses (0x%llx-0x%llx)",
             (unsigned long long)((hi - lo) >> 20), (unsigned long long)lo, (unsigned long long)hi);
}

/* A request larger than the 47-bit user address space fails with ENOMEM
 * without asking the kernel (fuzz_trace's huge-size ops had cost one
 * failing mmap each); one that might fit still asks. */
static void test_impossible_size_no_syscall(void **state) {
  (void)state;
  hak_stats_t st0, st1;
  ut_stats(&st0);
  size_t sizes[] = {(size_t)1 << 47 | 1, (size_t)1 << 48, SIZE_MAX / 4};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    errno = 0;
    void *p = hak_malloc(sizes[i]);
    if (p != NULL || errno != ENOMEM)
      fail_msg("hak_malloc(%zu) = %p, errno %d; want NULL, ENOMEM", sizes[i], p, errno);
    assert_null(hak_calloc(1, sizes[i]));
  }
  ut_stats(&st1);
  if (st1.mmap_calls != st0.mmap_calls)
    fail_msg("impossible sizes made %llu mmap calls, want 0",
             (unsigned long long)(st1.mmap_calls - st0.mmap_calls));
}

/* Fresh pages count a page the first time it is handed out, not each time
 * a span is carved again over units another class gave back.  One cycle of
 * six mid sizes (N blocks each, freed after each size) sets up the spans;
 * 20 more cycles of the same churn may count as fresh only the pages of
 * superslabs they map, plus one cycle's worth (spans may land on units
 * never handed out); counting each re-carve counted about 20 cycles' worth
 * (60,520 pages against a bound of 3,800).  CTest also runs it with
 * HAKMEM_SS_CACHE=64, where the emptied superslabs stay mapped, so the
 * spans are carved again over resident pages rather than fresh mappings.
 * A cycle that maps a superslab must count some fresh pages. */
static uint64_t fresh_sum(const hak_stats_t *st) {
  return st->fresh_pages[HAK_BUCKET_TINY] + st->fresh_pages[HAK_BUCKET_MID] +
         st->fresh_pages[HAK_BUCKET_L25];
}

static void test_fresh_pages_bounded(void **state) {
  (void)state;
  static const size_t sizes[] = {2000, 3000, 5000, 7000, 12000, 40000};
  enum { CYCLES = 20, N = 200, PAGES_PER_SS = (2u << 20) / 4096 };
  void *ps[N];
  uint64_t cycle_pages = 0;
  hak_stats_t st0, st1, st2;
  ut_stats(&st0);
  for (int c = 0; c <= CYCLES; c++) {
    for (int r = 0; r < 6; r++) {
      for (int i = 0; i < N; i++) {
        ps[i] = hak_malloc(sizes[r]);
        assert_non_null(ps[i]);
        memset(ps[i], r, sizes[r]);
        if (c == 0) cycle_pages += (hak_malloc_usable_size(ps[i]) + 4095) / 4096;
      }
      for (int i = 0; i < N; i++) hak_free(ps[i]);
    }
    if (c == 0) ut_stats(&st1);
  }
  ut_stats(&st2);
  if (st1.superslabs_mapped > st0.superslabs_mapped && fresh_sum(&st1) == fresh_sum(&st0))
    fail_msg("the first cycle mapped %llu superslabs and counted no fresh page",
             (unsigned long long)(st1.superslabs_mapped - st0.superslabs_mapped));
  uint64_t fresh = fresh_sum(&st2) - fresh_sum(&st1);
  uint64_t bound = (st2.superslabs_mapped - st1.superslabs_mapped) * PAGES_PER_SS + cycle_pages;
  if (fresh > bound)
    fail_msg("%d cycles of span churn counted %llu fresh pages, more than %llu (new "
             "superslabs' pages plus one cycle's %llu)", CYCLES, (unsigned long long)fresh,
             (unsigned long long)bound, (unsigned long long)cycle_pages);
  assert_int_equal(st2.live_blocks, st0.live_blocks);
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
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_variant_matches_build),
      cmocka_unit_test(test_check_heap_by_variant),
      cmocka_unit_test(test_class_table_invariants),
      cmocka_unit_test(test_usable_matches_class),
      cmocka_unit_test(test_live_set_exact),
      cmocka_unit_test(test_per_class_counters),
      cmocka_unit_test(test_large_counters),
      cmocka_unit_test(test_trim_returns_memory),
      cmocka_unit_test(test_whale_cycles_bounded),
      cmocka_unit_test(test_mapping_addresses_bounded),
      cmocka_unit_test(test_impossible_size_no_syscall),
      cmocka_unit_test(test_fresh_pages_bounded),
      cmocka_unit_test(test_stats_print),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_api_stats", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
