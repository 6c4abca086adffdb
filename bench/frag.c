/* frag.c - fragmentation and RSS over time: allocate, free most, repeat.
 *
 * Each of --rounds rounds (default 6):
 *   1. mallocs --count blocks (default 50k) and touches each; even rounds
 *      draw sizes from [--min, --mid] (16..512 B), odd rounds from
 *      [--mid, --max] (512..4096 B), so the freed small blocks do not fit
 *      the next round's requests as they are;
 *   2. reads the resident set (rss_alloc_kb);
 *   3. frees every block but one in --keep (default 50): the survivors,
 *      spread over all the round's pages, stay live to the end and pin
 *      whatever the allocator cannot give back;
 *   4. reads the resident set again (rss_free_kb).
 * The line lists both series (KiB, '/'-separated), the bytes still
 * requested at the end (live_kb) and frag = last rss_free / live, the
 * resident bytes per requested byte.  Smaller is better; 1.0 is perfect.
 * One op is one malloc or free.  Blocks are freed after the clock stops.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
  uint64_t rounds = 6, count = 50000, keep = 50, min = 16, mid = 512;
  uint64_t max = 4096, seed = 42;
  const bench_opt opts[] = {
      {"rounds", BOPT_U64, &rounds, "rounds (at most 64)"},
      {"count", BOPT_U64, &count, "blocks malloc'ed per round"},
      {"keep", BOPT_U64, &keep, "1 block in keep survives each round"},
      {"min", BOPT_SIZE, &min, "smallest request of even rounds, bytes"},
      {"mid", BOPT_SIZE, &mid, "largest of even, smallest of odd rounds"},
      {"max", BOPT_SIZE, &max, "largest request of odd rounds, bytes"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "frag", "Allocate, free most, allocate again.",
              opts);
  if (rounds < 1 || rounds > 64 || count < 1 || keep < 1 || min < 1 ||
      mid < min || max < mid || max - min >= 0xffffffffu) {
    fprintf(stderr, "frag: bad parameters (see --help)\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "frag");
  uint64_t survivors = rounds * ((count + keep - 1) / keep);
  void **blk = bench_harness_alloc(count * sizeof *blk);
  void **live = bench_harness_alloc(survivors * sizeof *live);
  uint64_t nlive = 0, live_bytes = 0, ops = 0, acc = 0;
  uint64_t rss_alloc[64], rss_free[64];
  bench_rng rng;
  bench_rng_seed(&rng, seed);

  bench_start(&b);
  for (uint64_t r = 0; r < rounds; r++) {
    size_t lo = r % 2 ? mid : min, hi = r % 2 ? max : mid;
    for (uint64_t i = 0; i < count; i++) {
      size_t size = bench_rng_range(&rng, lo, hi);
      blk[i] = bench_malloc(size);
      bench_touch(blk[i], size, (uint8_t)i);
      if (i % keep == 0)
        live_bytes += size;
    }
    ops += count;
    rss_alloc[r] = bench_rss_kb();
    for (uint64_t i = 0; i < count; i++) {
      if (i % keep == 0) {
        live[nlive++] = blk[i];
        continue;
      }
      acc += *(unsigned char *)blk[i];
      free(blk[i]);
      ops++;
    }
    rss_free[r] = bench_rss_kb();
  }
  bench_stop(&b);

  for (uint64_t i = 0; i < nlive; i++)
    free(live[i]);
  bench_sink = acc;
  bench_harness_free(blk, count * sizeof *blk);
  bench_harness_free(live, survivors * sizeof *live);

  char sa[64 * 12] = "", sf[64 * 12] = "";
  for (uint64_t r = 0; r < rounds; r++) {
    size_t na = strlen(sa), nf = strlen(sf);
    snprintf(sa + na, sizeof sa - na, "%s%llu", r ? "/" : "",
             (unsigned long long)(rss_alloc[r] - b.rss0));
    snprintf(sf + nf, sizeof sf - nf, "%s%llu", r ? "/" : "",
             (unsigned long long)(rss_free[r] - b.rss0));
  }
  double live_kb = (double)live_bytes / 1024.0;
  bench_param(&b, "rounds", "%llu", (unsigned long long)rounds);
  bench_param(&b, "count", "%llu", (unsigned long long)count);
  bench_param(&b, "keep", "%llu", (unsigned long long)keep);
  bench_param(&b, "live_kb", "%.0f", live_kb);
  bench_param(&b, "frag", "%.2f",
              (double)(rss_free[rounds - 1] - b.rss0) / live_kb);
  bench_param(&b, "rss_alloc_kb", "%s", sa);
  bench_param(&b, "rss_free_kb", "%s", sf);
  return bench_report(&b, ops);
}
