/* burst.c - a burst of allocations, then idle: does the memory go back?
 *
 * Burst: blocks of mixed sizes (3/8 of them 16 B - 1 KiB, 2/8 1-64 KiB,
 * 2/8 64-256 KiB, 1/8 256 KiB - 4 MiB), every page written, are allocated
 * and freed at random slots, at most --live bytes (default 128 MiB) live at
 * once, until --total bytes (default 1 GiB) have been allocated; then
 * every block is freed.  Idle: --idle seconds (default 15) in which the
 * program either only sleeps (--activity=0) or, every 10 ms, mallocs and
 * frees one 1 MiB block (--activity=1, the default: light work, which gives
 * an allocator without a background thread the calls it needs to give
 * memory back).  malloc_trim is never called.
 *
 * Output: one "# t_ms=<ms since the idle began> rss_kb=<RSS>" line every
 * --sample ms (default 500; t_ms=-1 is the start, before the burst), the
 * series to plot, then the result line: ops = blocks of the burst, secs =
 * the burst; rss_start_kb, rss_burst_kb (right after the frees), rss_end_kb
 * (after the idle) and end_minus_start_kb, which should be small.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void sleep_ms(unsigned ms)
{
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
  uint64_t total = 1ull << 30, live_max = 128 << 20, idle = 15, sample = 500;
  uint64_t activity = 1, seed = 19;
  const bench_opt opts[] = {
      {"total", BOPT_SIZE, &total, "bytes allocated in the burst"},
      {"live", BOPT_SIZE, &live_max, "most bytes live at once"},
      {"idle", BOPT_U64, &idle, "seconds of idle after the burst"},
      {"sample", BOPT_U64, &sample, "ms between RSS samples (>= 10)"},
      {"activity", BOPT_U64, &activity, "1: a 1 MiB malloc/free every 10 ms while idle; 0: sleep only"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "burst", "a burst of allocations, then idle; RSS over time.", opts);
  if (sample < 10 || activity > 1) {
    fprintf(stderr, "burst: need sample >= 10 and activity 0 or 1\n");
    return 2;
  }
  enum { SLOTS = 4096 };
  void **slot = bench_harness_alloc(SLOTS * sizeof *slot);
  size_t *len = bench_harness_alloc(SLOTS * sizeof *len);
  bench_rng rng;
  bench_rng_seed(&rng, seed);

  bench_run b;
  bench_begin(&b, "burst");
  uint64_t rss_start = bench_rss_kb();
  printf("# t_ms=-1 rss_kb=%llu\n", (unsigned long long)rss_start);
  uint64_t done = 0, live = 0, blocks = 0;
  bench_start(&b);
  while (done < total) {
    uint32_t k = bench_rng_below(&rng, SLOTS);
    if (slot[k] != NULL) {
      free(slot[k]);
      live -= len[k];
      slot[k] = NULL;
      continue;
    }
    size_t n;
    switch (bench_rng_below(&rng, 8)) {
    case 0: case 1: case 2: n = bench_rng_range(&rng, 16, 1024); break;
    case 3: case 4: n = bench_rng_range(&rng, 1024, 64 << 10); break;
    case 5: case 6: n = bench_rng_range(&rng, 64 << 10, 256 << 10); break;
    default: n = bench_rng_range(&rng, 256 << 10, 4 << 20); break;
    }
    if (live + n > live_max) continue;
    unsigned char *p = bench_malloc(n);
    bench_touch(p, n, (uint8_t)k);
    slot[k] = p;
    len[k] = n;
    live += n;
    done += n;
    blocks++;
  }
  for (uint32_t k = 0; k < SLOTS; k++) {
    free(slot[k]);
    slot[k] = NULL;
  }
  bench_stop(&b);
  uint64_t rss_burst = bench_rss_kb();
  double t0 = bench_now();
  uint64_t rss = rss_burst;
  for (uint64_t ms = 0; ms <= idle * 1000; ms += sample) {
    while ((bench_now() - t0) * 1000.0 < (double)ms) {
      if (activity) {
        void *p = bench_malloc(1 << 20);
        BENCH_ESCAPE(p);
        free(p);
      }
      sleep_ms(activity ? 10 : 1);
    }
    rss = bench_rss_kb();
    printf("# t_ms=%llu rss_kb=%llu\n", (unsigned long long)ms, (unsigned long long)rss);
  }
  bench_harness_free(slot, SLOTS * sizeof *slot);
  bench_harness_free(len, SLOTS * sizeof *len);
  bench_param(&b, "total", "%llu", (unsigned long long)total);
  bench_param(&b, "idle", "%llu", (unsigned long long)idle);
  bench_param(&b, "activity", "%llu", (unsigned long long)activity);
  bench_param(&b, "rss_start_kb", "%llu", (unsigned long long)rss_start);
  bench_param(&b, "rss_burst_kb", "%llu", (unsigned long long)rss_burst);
  bench_param(&b, "rss_end_kb", "%llu", (unsigned long long)rss);
  bench_param(&b, "end_minus_start_kb", "%lld", (long long)rss - (long long)rss_start);
  return bench_report(&b, blocks);
}
