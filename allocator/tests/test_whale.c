/* test_whale.c - cmocka tests of the whale cache's capacity
 * (allocator/whale_cache.c, cache_cap): misses that follow the cap's
 * evictions raise it, and that history is forgotten after HK_DECAY_AGE
 * idle decay epochs.
 *
 *   - cache_keeps_after_misses: rounds of eight 4 MiB whales, all freed:
 *     within 12 rounds (6 here) one is served without a miss, and the
 *     cache keeps at least 24 MiB after it (with a capacity of a quarter of
 *     the whale bytes held, every round missed 6 times and the floor of
 *     4 MiB was all it kept); malloc_trim gives every cached byte back;
 *   - cache_demand_decays: the same rounds until the cache keeps them,
 *     then the eight held through many decay epochs of light activity
 *     (HAKMEM_DECAY_MS=100), and freed: the history that raised the cap is
 *     forgotten, so the cache keeps no more than its floor and a mapping
 *     (at most 12 MiB), as it does for a program that has not needed them
 *     again.
 *   - cache_kept_on_impossible: a request no mapping can hold (256 TiB)
 *     fails with ENOMEM and unmaps nothing (it used to cost the largest
 *     cached mapping, taken to be grown, the growth failing).
 *   - cache_grows_after_fresh_hits: rounds of two 16 MiB whales, both
 *     freed: the one that goes to the cache is cut to the cap (a quarter
 *     of 32 MiB), and the next round's request grows it back with fresh
 *     pages, a hit; those fresh bytes raise the cap as a miss's do, so by
 *     round 9 a round maps an eighth of round 1's fresh pages or fewer
 *     (counted only for misses, every round mapped 8 MiB anew); and the
 *     fresh pages of each growth are counted once (gather without donors
 *     counted them twice, once in the remap).
 *
 * The program runs itself again with the HAKMEM_DECAY_MS its test wants
 * (options are read at start-up): 0 (never) for the first, so no epoch
 * passes during it, 100 for the second.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

#define MIB ((size_t)1 << 20)
enum { N = 8 };
#define SIZE (4 * MIB)

static void sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void alloc_all(char **p) {
  for (int i = 0; i < N; i++) {
    p[i] = hak_malloc(SIZE);
    assert_non_null(p[i]);
    p[i][0] = (char)i;
    p[i][SIZE - 1] = (char)i;
  }
}

static void free_all(char **p) {
  for (int i = 0; i < N; i++) {
    hak_free(p[i]);
    p[i] = NULL;
  }
}

static void test_cache_keeps_after_misses(void **state) {
  (void)state;
  char *p[N];
  hak_stats_t s0, s1;
  int round = 0;
  uint64_t misses = 0;
  /* rounds of eight 4 MiB whales, all freed: the first round's misses
   * fill the cache, its cap evicts all but 4 MiB, and each later round's
   * misses raise the cap by half their bytes */
  for (; round < 12; round++) {
    ut_stats(&s0);
    alloc_all(p);
    free_all(p);
    ut_stats(&s1);
    misses = s1.whale_misses - s0.whale_misses;
    print_message("cache_keeps_after_misses: round %d: %llu misses, then %llu bytes in %llu cached mappings\n",
                  round, (unsigned long long)misses, (unsigned long long)s1.whale_cached_bytes,
                  (unsigned long long)s1.whale_cached_count);
    if (round == 0 && misses < N)
      fail_msg("%d fresh 4 MiB whales: %llu misses, want %d", N, (unsigned long long)misses, N);
    if (misses == 0) break;
  }
  if (misses != 0)
    fail_msg("12 rounds of %d 4 MiB whales, each freed: the last one still missed %llu times "
             "(the cache keeps %llu KiB)",
             N, (unsigned long long)misses, (unsigned long long)(s1.whale_cached_bytes >> 10));
  if (s1.whale_cached_bytes < 24 * MIB)
    fail_msg("a round served without a miss, yet the cache keeps %llu KiB after it (want >= 24 MiB)",
             (unsigned long long)(s1.whale_cached_bytes >> 10));
  hak_malloc_trim(0);
  ut_stats(&s1);
  if (s1.whale_cached_bytes != 0 || s1.whale_cached_count != 0)
    fail_msg("after malloc_trim the cache still holds %llu bytes in %llu mappings",
             (unsigned long long)s1.whale_cached_bytes, (unsigned long long)s1.whale_cached_count);
}

static void test_cache_demand_decays(void **state) {
  (void)state;
  const char *d = getenv("HAKMEM_DECAY_MS");
  if (d == NULL || strcmp(d, "100") != 0) skip(); /* run alone, it gets 100 */
  char *p[N];
  hak_stats_t s;
  /* rounds until the cache serves one without a miss (as above) */
  for (int round = 0; round < 12; round++) {
    hak_stats_t s0;
    ut_stats(&s0);
    alloc_all(p);
    free_all(p);
    ut_stats(&s);
    if (s.whale_misses == s0.whale_misses) break;
  }
  if (s.whale_cached_bytes < 24 * MIB)
    fail_msg("after rounds of %d 4 MiB whales the cache keeps only %llu KiB (want >= 24 MiB)", N,
             (unsigned long long)(s.whale_cached_bytes >> 10));
  alloc_all(p); /* held, from the cache */
  /* light activity through a slow path (a whale free ticks the decay
   * clock, read in one call of 16): 1.5 s at 1-2 ms a cycle is about
   * 60 epochs of 25 ms, and at least HK_DECAY_AGE however the reads fall */
  for (int ms = 0; ms < 1500; ms++) {
    hak_free(hak_malloc(MIB));
    sleep_ms(1);
  }
  free_all(p);
  ut_stats(&s);
  print_message("cache_demand_decays: %llu bytes in %llu cached mappings after the frees\n",
                (unsigned long long)s.whale_cached_bytes, (unsigned long long)s.whale_cached_count);
  if (s.whale_cached_bytes > 12 * MIB)
    fail_msg("whales held idle for many decay epochs, then freed: the cache keeps %llu KiB "
             "(want <= 12 MiB: their demand is old)",
             (unsigned long long)(s.whale_cached_bytes >> 10));
}

static void test_cache_kept_on_impossible(void **state) {
  (void)state;
  char *p[3];
  hak_stats_t s0, s1;
  for (int i = 0; i < 3; i++) {
    p[i] = hak_malloc(MIB);
    assert_non_null(p[i]);
  }
  for (int i = 0; i < 3; i++) hak_free(p[i]); /* one in the slot, two cached (under 4 MiB) */
  ut_stats(&s0);
  if (s0.whale_cached_count == 0) fail_msg("three 1 MiB whales freed: nothing cached");
  for (int i = 0; i < 4; i++) {
    errno = 0;
    void *q = hak_malloc((size_t)1 << 48); /* larger than any mapping can be */
    assert_null(q);
    assert_int_equal(errno, ENOMEM);
  }
  ut_stats(&s1);
  /* (the slot's mapping moves to the cache: the whale bytes mapped count) */
  if (s1.mapped_bytes != s0.mapped_bytes || s1.whale_evictions != s0.whale_evictions)
    fail_msg("four requests of 256 TiB (NULL, ENOMEM) took mapped_bytes from %llu to %llu "
             "(%llu evictions; cache: %llu mappings, %llu bytes)",
             (unsigned long long)s0.mapped_bytes, (unsigned long long)s1.mapped_bytes,
             (unsigned long long)(s1.whale_evictions - s0.whale_evictions),
             (unsigned long long)s1.whale_cached_count, (unsigned long long)s1.whale_cached_bytes);
}

static void test_cache_grows_after_fresh_hits(void **state) {
  (void)state;
  uint64_t fresh[10];
  hak_stats_t s0, s1;
  for (int round = 0; round < 10; round++) {
    ut_stats(&s0);
    char *a = hak_malloc(16 * MIB), *b = hak_malloc(16 * MIB);
    assert_non_null(a);
    assert_non_null(b);
    a[0] = b[0] = 1;
    hak_free(a); /* to the slot */
    hak_free(b); /* to the slot; a to the cache, over the cap of a quarter of 32 MiB */
    ut_stats(&s1);
    fresh[round] = s1.fresh_pages[HAK_BUCKET_WHALE] - s0.fresh_pages[HAK_BUCKET_WHALE];
    /* the slot serves one request, the cached mapping grows to the other:
     * what is fresh is at most that growth (counted once) */
    if (round > 0 && fresh[round] * 4096 > 16 * MIB + 16384 - s0.whale_cached_bytes)
      fail_msg("round %d: %llu fresh whale pages counted for one 16 MiB whale grown from %llu cached "
               "bytes (counted twice?)", round, (unsigned long long)fresh[round],
               (unsigned long long)s0.whale_cached_bytes);
    print_message("cache_grows_after_fresh_hits: round %d: %llu fresh whale pages, %llu misses, "
                  "then %llu bytes cached\n", round, (unsigned long long)fresh[round],
                  (unsigned long long)(s1.whale_misses - s0.whale_misses),
                  (unsigned long long)s1.whale_cached_bytes);
  }
  if (fresh[1] == 0) fail_msg("round 1 took no fresh page: the test's premise (a hit that grows) is gone");
  if (fresh[9] * 8 > fresh[1])
    fail_msg("two 16 MiB whales allocated and freed in rounds: round 9 still maps %llu fresh pages "
             "(round 1: %llu); the hits that grow with fresh pages do not raise the cap",
             (unsigned long long)fresh[9], (unsigned long long)fresh[1]);
}

int main(int argc, char **argv) {
  const char *want = argc > 1 && strcmp(argv[1], "test_cache_demand_decays") == 0 ? "100" : "0";
  if (ut_rerun_with(argv, "UT_WHALE_EXEC", (const char *const[]){"HAKMEM_DECAY_MS", want, NULL}))
    return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cache_keeps_after_misses),
      cmocka_unit_test(test_cache_demand_decays),
      cmocka_unit_test(test_cache_kept_on_impossible),
      cmocka_unit_test(test_cache_grows_after_fresh_hits),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_whale", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
