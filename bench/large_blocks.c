/* large_blocks.c - a large-block workload: a set of live buffers of several
 * MiB, each value-initialized, replaced one at a time.
 *
 * --live buffers (default 20) of a size drawn from [--min, --max] (default
 * 5-25 MiB) are allocated and zeroed by memset (what C++'s value
 * initialization, `new char[n]()` or std::vector<char>(n), compiles to;
 * the compiler is kept from folding the pair into calloc, as it cannot
 * for operator new); then --ops times (default 2000) a random buffer is
 * freed and replaced by a new one of a new random size, zeroed the same
 * way (--init=calloc uses calloc instead, which may skip the zeroing of
 * fresh pages).  One op
 * is one replacement: free + malloc + zeroing of 15 MiB on average, so
 * ns_per_op is dominated by the page faults an allocator causes (fresh
 * pages, 4 KiB each) and minflt shows how many pages it had to take anew;
 * peak_rss_kb shows what it holds beyond the ~300 MiB live.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
  uint64_t ops = 2000, live = 20, min = 5 << 20, max = 25 << 20, seed = 1;
  const char *init = "memset";
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "replacements"},
      {"live", BOPT_U64, &live, "live buffers (1-1024)"},
      {"min", BOPT_SIZE, &min, "smallest buffer, bytes"},
      {"max", BOPT_SIZE, &max, "largest buffer, bytes"},
      {"init", BOPT_STR, &init, "memset (malloc + memset 0) or calloc"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "large_blocks",
              "replace value-initialized buffers of several MiB.", opts);
  int use_calloc = strcmp(init, "calloc") == 0;
  if (live < 1 || live > 1024 || min < 1 || max < min || max - min >= (1ull << 32) ||
      (!use_calloc && strcmp(init, "memset") != 0)) {
    fprintf(stderr, "large_blocks: need 1 <= live <= 1024, 1 <= min <= max < min + 4G, "
                    "init memset or calloc\n");
    return 2;
  }
  bench_rng rng;
  bench_rng_seed(&rng, seed);
  unsigned char **buf = bench_harness_alloc(live * sizeof *buf);

  bench_run b;
  bench_begin(&b, "large_blocks");
  uint64_t acc = 0;
  for (uint64_t k = 0; k < live; k++) {
    size_t n = bench_rng_range(&rng, min, max);
    buf[k] = use_calloc ? calloc(1, n) : bench_malloc(n);
    if (buf[k] == NULL) bench_oom("calloc", n);
    BENCH_ESCAPE(buf[k]); /* no malloc+memset -> calloc folding */
    if (!use_calloc) memset(buf[k], 0, n);
  }
  bench_start(&b);
  for (uint64_t i = 0; i < ops; i++) {
    uint32_t k = bench_rng_below(&rng, (uint32_t)live);
    acc += buf[k][0];
    free(buf[k]);
    size_t n = bench_rng_range(&rng, min, max);
    unsigned char *p = use_calloc ? calloc(1, n) : bench_malloc(n);
    if (p == NULL) bench_oom("calloc", n);
    BENCH_ESCAPE(p); /* keeps the compiler from folding malloc + memset
                        into calloc, which skips the zeroing of fresh pages */
    if (!use_calloc) memset(p, 0, n);
    p[n - 1] = (unsigned char)i;
    buf[k] = p;
  }
  bench_stop(&b);
  for (uint64_t k = 0; k < live; k++) {
    acc += buf[k][0];
    free(buf[k]);
  }
  bench_harness_free(buf, live * sizeof *buf);
  bench_sink = acc;
  bench_param(&b, "live", "%llu", (unsigned long long)live);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "init", "%s", init);
  return bench_report(&b, ops);
}
