/* test_os_fault.c - cmocka tests of the OS fault layer (hak_os_fault,
 * allocator/os.c; docs/oracle.md "OS faults"): each fault kind is fed to
 * the allocator through the public API, and the test watches the result.
 *
 *   - map_fail_*: mmap/mremap calls failed by a plan (the Nth, the Nth to
 *     Mth, every one, at a rate from a seed): the request that needed the
 *     mapping returns NULL with errno ENOMEM (posix_memalign: returns
 *     ENOMEM), no block is counted live, the heap walk finds nothing wrong,
 *     and the same request succeeds once the plan ends;
 *   - realloc_*: a whale's growth whose mremap fails moves by copying, and
 *     when every call fails returns NULL with the block as it was (builds
 *     with memory-tool hooks, which never remap a live whale: the copy's
 *     mapping fails);
 *   - rate_replays: one seed gives one sequence of failures;
 *   - reclaim_*: under HAKMEM_WHALE_RELEASE=2 (cached whales' pages given
 *     back with MADV_FREE) a cached whale handed out again reads zero
 *     (RECLAIM_ZERO), its old contents (RECLAIM_DIRTY), or page by page
 *     either, the same pages for the same seed (RECLAIM_MIXED);
 *   - release: a release build has no layer (ENOSYS) and its calls fail as
 *     the kernel's do.
 * The program runs itself again with HAKMEM_WHALE_RELEASE=2 and decay off
 * (HAKMEM_DECAY_MS=0), so that the caches change only when a test says.
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

#define MIB ((size_t)1 << 20)

static int checked(void) { return hak_check_level() >= 1; }

/* Tests that count mapping calls exactly: under ASan the whale paths map
 * differently (no seal or gather, memory-tool remap rules: whale.c), so
 * the call numbers they name are another build's. */
#define COUNTS_CALLS_EXACTLY() \
  do {                           \
    if (UT_ASAN) skip();         \
  } while (0)

static hak_os_fault_stats_t fstats(void) {
  hak_os_fault_stats_t f;
  assert_int_equal(hak_os_fault_stats(&f), 0);
  return f;
}

static uint64_t live_blocks(void) {
  hak_stats_t s;
  ut_stats(&s);
  return s.live_blocks;
}

/* Empty caches (no cached whale or superslab can serve the next request),
 * no plan. */
static void fresh(void) {
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
  hak_malloc_trim(0);
}

static void heap_ok(void) { assert_int_equal(hak_check_heap(), 0); }

static void test_map_fail_nth(void **state) {
  (void)state;
  if (!checked()) skip();
  fresh();
  uint64_t live = live_blocks(), failed = fstats().map_failed;
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP, 1, 1), 0); /* the next call */
  errno = 0;
  assert_null(hak_malloc(5 * MIB));
  assert_int_equal(errno, ENOMEM);
  assert_int_equal(fstats().map_failed, failed + 1);
  assert_int_equal(live_blocks(), live);
  heap_ok();
  void *p = hak_malloc(5 * MIB); /* call 2: the plan is over */
  assert_non_null(p);
  memset(p, 1, 5 * MIB);
  hak_free(p);
  heap_ok();
}

static void test_map_fail_range(void **state) {
  (void)state;
  COUNTS_CALLS_EXACTLY();
  if (!checked()) skip();
  fresh();
  /* calls 2 and 3 fail: the first whale maps, the next two do not */
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP, 2, 2), 0);
  void *a = hak_malloc(3 * MIB);
  assert_non_null(a);
  errno = 0;
  assert_null(hak_calloc(1, 4 * MIB));
  assert_int_equal(errno, ENOMEM);
  void *b = (void *)1;
  assert_int_equal(hak_posix_memalign(&b, 4 * MIB, 4 * MIB), ENOMEM);
  assert_ptr_equal(b, (void *)1); /* *out left alone */
  void *c = hak_malloc(6 * MIB);
  assert_non_null(c);
  assert_int_equal(fstats().map_calls, 4);
  heap_ok();
  hak_free(a);
  hak_free(c);
  fresh();
}

static void test_map_fail_class(void **state) {
  (void)state;
  if (!checked()) skip();
  fresh();
  uint64_t live = live_blocks();
  /* every mapping fails: small blocks come until the thread's spans and
   * the superslabs already mapped are full, then NULL with ENOMEM */
  enum { N = 200000 };
  void **v = calloc(N, sizeof *v);
  assert_non_null(v);
  size_t n = 0;
  int err = 0;
  for (; n < 8; n++) { /* a span of the class, mapped before the plan */
    v[n] = hak_malloc(4000);
    assert_non_null(v[n]);
    ut_fill(v[n], 4000, n);
  }
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP_RATE, 65536, 1), 0);
  for (; n < N; n++) {
    errno = 0;
    v[n] = hak_malloc(4000);
    if (v[n] == NULL) {
      err = errno;
      break;
    }
    ut_fill(v[n], 4000, n);
  }
  assert_true(n > 8 && n < N);
  assert_int_equal(err, ENOMEM);
  assert_int_equal(live_blocks(), live + n);
  heap_ok();
  /* still usable: frees, reuse of what was freed, and new mappings once
   * the plan ends */
  hak_free(v[0]);
  v[0] = hak_malloc(4000);
  assert_non_null(v[0]);
  ut_fill(v[0], 4000, 0);
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
  void *more = hak_malloc(4000);
  assert_non_null(more);
  hak_free(more);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(ut_check(v[i], 4000, i), SIZE_MAX);
    hak_free(v[i]);
  }
  free(v);
  assert_int_equal(live_blocks(), live);
  heap_ok();
}

static uint64_t remaps(void) {
  hak_stats_t s;
  ut_stats(&s);
  return s.whale_remaps;
}

static void test_realloc_remap_fails(void **state) {
  (void)state;
  COUNTS_CALLS_EXACTLY();
  if (!checked()) skip();
  fresh();
  char *p = hak_malloc(3 * MIB);
  assert_non_null(p);
  ut_fill(p, 3 * MIB, 7);
  /* builds with memory-tool hooks (the CMake debug preset: valgrind's)
   * never remap a live whale: realloc maps anew and copies */
  uint64_t r0 = remaps();
  p = hak_realloc(p, 4 * MIB);
  assert_non_null(p);
  int remapping = remaps() > r0;
  /* remapping builds: the in-place mremap and the reservation to move to
   * fail, the block is copied into a new mapping (call 3); the others:
   * the new mapping is call 1, and the plan starts after it) */
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP, remapping ? 1 : 2, remapping ? 2 : 1), 0);
  char *q = hak_realloc(p, 9 * MIB);
  assert_non_null(q);
  assert_int_equal(fstats().map_calls, remapping ? 3 : 1);
  assert_int_equal(ut_check(q, 3 * MIB, 7), SIZE_MAX);
  assert_true(hak_malloc_usable_size(q) >= 9 * MIB);
  heap_ok();
  /* every call fails: NULL, ENOMEM, the block as it was */
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP, 1, 1000), 0);
  size_t u = hak_malloc_usable_size(q);
  errno = 0;
  assert_null(hak_realloc(q, 40 * MIB));
  assert_int_equal(errno, ENOMEM);
  assert_int_equal(hak_malloc_usable_size(q), u);
  assert_int_equal(ut_check(q, 3 * MIB, 7), SIZE_MAX);
  heap_ok();
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
  hak_free(q);
  heap_ok();
  fresh();
}

/* Which of 24 whale requests fail under rate r, seed s (as a bit mask). */
static uint32_t rate_run(uint64_t r, uint64_t s) {
  fresh();
  assert_int_equal(hak_os_fault(HAK_FAULT_MAP_RATE, r, s), 0);
  uint32_t mask = 0;
  void *v[24];
  for (unsigned i = 0; i < 24; i++) {
    errno = 0;
    v[i] = hak_malloc((3 + i % 3) * MIB);
    if (v[i] == NULL) {
      assert_int_equal(errno, ENOMEM);
      mask |= 1u << i;
    }
  }
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
  for (unsigned i = 0; i < 24; i++) hak_free(v[i]);
  heap_ok();
  return mask;
}

static void test_rate_replays(void **state) {
  (void)state;
  COUNTS_CALLS_EXACTLY();
  if (!checked()) skip();
  uint32_t a = rate_run(20000, 42), b = rate_run(20000, 42);
  assert_int_equal(a, b);
  assert_int_not_equal(a, 0);          /* some fail ...  */
  assert_int_not_equal(a, 0xFFFFFFu);  /* ... not all    */
  assert_int_equal(rate_run(0, 42), 0); /* rate 0: none   */
}

/* Bytes of a cached whale that read non-zero when handed out again after
 * a reclaim mode was set: two 3 MiB whales filled with 0xAB, freed (the
 * second takes the thread's slot, the first goes to the shared cache and
 * its pages but the header's are given back with MADV_FREE), then two
 * requests: the slot's, and the cache's (the first whale, moved to a new
 * address when it went on the cache: docs/hardening.md, the seal). */
static size_t reclaim_run(int mode, uint64_t seed, unsigned char *pages_out) {
  fresh();
  assert_int_equal(hak_os_fault(HAK_FAULT_RECLAIM, (uint64_t)mode, seed), 0);
  char *a = hak_malloc(3 * MIB), *b = hak_malloc(3 * MIB);
  assert_non_null(a);
  assert_non_null(b);
  memset(a, 0xAB, 3 * MIB);
  memset(b, 0xAB, 3 * MIB);
  hak_free(a);
  hak_free(b);
  char *c = hak_malloc(3 * MIB), *d = hak_malloc(3 * MIB);
  assert_ptr_equal(c, b);
  (void)a; /* d is a's mapping, at a new address: the checked builds' seal moved it */
  size_t nonzero = 0, page = (size_t)sysconf(_SC_PAGESIZE);
  /* from the first whole page after the header's on */
  size_t from = (page - ((uintptr_t)d & (page - 1))) & (page - 1);
  from += page * ((((uintptr_t)d + from) & (2 * MIB - 1)) < page);
  for (size_t i = from; i < 3 * MIB; i++) nonzero += d[i] != 0;
  if (pages_out)
    for (size_t k = 0; k < 64; k++) pages_out[k] = d[from + k * page] != 0;
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
  hak_free(c);
  hak_free(d);
  heap_ok();
  return nonzero;
}

static void test_reclaim_zero(void **state) {
  (void)state;
  if (!checked()) skip();
  uint64_t z = fstats().pages_zeroed;
  assert_int_equal(reclaim_run(HAK_RECLAIM_ZERO, 0, NULL), 0);
  assert_true(fstats().pages_zeroed >= z + (3 * MIB) / 4096 - 2);
}

static void test_reclaim_dirty(void **state) {
  (void)state;
  if (!checked()) skip();
  uint64_t d = fstats().pages_dirty;
  size_t nz = reclaim_run(HAK_RECLAIM_DIRTY, 0, NULL);
  assert_true(nz > 3 * MIB - 2 * 4096); /* every page still 0xAB */
  assert_true(fstats().pages_dirty > d);
}

static void test_reclaim_mixed(void **state) {
  (void)state;
  if (!checked()) skip();
  unsigned char p1[64], p2[64], p3[64];
  size_t n1 = reclaim_run(HAK_RECLAIM_MIXED, 5, p1);
  size_t n2 = reclaim_run(HAK_RECLAIM_MIXED, 5, p2);
  size_t n3 = reclaim_run(HAK_RECLAIM_MIXED, 6, p3);
  assert_true(n1 > 0 && n1 < 3 * MIB - 2 * 4096); /* some pages of each */
  assert_int_equal(n1, n2);                        /* one seed, one draw */
  assert_memory_equal(p1, p2, sizeof p1);
  assert_memory_not_equal(p1, p3, sizeof p1);      /* another seed, another */
  (void)n3;
}

static void test_bad_arguments(void **state) {
  (void)state;
  if (!checked()) {
    hak_os_fault_stats_t f;
    errno = 0;
    assert_int_equal(hak_os_fault(HAK_FAULT_MAP, 1, 1), -1);
    assert_int_equal(errno, ENOSYS);
    assert_int_equal(hak_os_fault_stats(&f), -1);
    void *p = hak_malloc(5 * MIB); /* no layer: nothing fails */
    assert_non_null(p);
    hak_free(p);
    return;
  }
  errno = 0;
  assert_int_equal(hak_os_fault(99, 0, 0), -1);
  assert_int_equal(errno, EINVAL);
  errno = 0;
  assert_int_equal(hak_os_fault(HAK_FAULT_RECLAIM, 4, 0), -1);
  assert_int_equal(errno, EINVAL);
  assert_int_equal(hak_os_fault(HAK_FAULT_OFF, 0, 0), 0);
}

int main(int argc, char **argv) {
  /* Options are read at start-up: run again with the ones the tests want. */
  if (ut_rerun_with(argv, "UT_OS_FAULT_EXEC",
                    (const char *const[]){"HAKMEM_WHALE_RELEASE", "2", "HAKMEM_DECAY_MS", "0", NULL}))
    return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_fail_nth),
      cmocka_unit_test(test_map_fail_range),
      cmocka_unit_test(test_map_fail_class),
      cmocka_unit_test(test_realloc_remap_fails),
      cmocka_unit_test(test_rate_replays),
      cmocka_unit_test(test_reclaim_zero),
      cmocka_unit_test(test_reclaim_dirty),
      cmocka_unit_test(test_reclaim_mixed),
      cmocka_unit_test(test_bad_arguments),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_os_fault", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
