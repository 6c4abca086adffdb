/* mid_large_mt.c - the random_mixed operation on mid/large sizes, threads.
 *
 * Each of T threads owns a table of --slots slots (default 256) and runs
 * the random_mixed operation on it (see random_mixed.c: draw a slot; free
 * the block if there is one, else malloc a size drawn from [min, max] and
 * touch it: first byte, one byte per 4 KiB page, last byte).  Defaults:
 * 2 threads, 8..32 KiB, 1M ops in total split evenly; thread i seeds its
 * PRNG with seed+i.  No block crosses threads; this measures the mid path's
 * per-thread caching and its scaling, and page faults of the mid range.
 * ns_per_op is wall time per op over all threads (inverse throughput).
 */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>

typedef struct {
  uint64_t per_thread, slots, min, max, seed;
  void ***table;
  _Atomic uint64_t mallocs;
} mid_t;

static void mid_thread(unsigned idx, void *arg)
{
  mid_t *M = arg;
  bench_rng rng;
  bench_rng_seed(&rng, M->seed + idx);
  uint64_t n = bench_slot_ops(M->table[idx], (uint32_t)M->slots,
                              M->per_thread, M->min, M->max, &rng);
  bench_slot_free(M->table[idx], (uint32_t)M->slots); /* in its own thread */
  atomic_fetch_add_explicit(&M->mallocs, n, memory_order_relaxed);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, ops = 1000000, slots = 256, min = 8192, max = 32768;
  uint64_t seed = 42;
  const bench_opt opts[] = {
      {"threads", BOPT_U64, &threads, "threads"},
      {"ops", BOPT_U64, &ops, "ops in total (each one malloc or one free)"},
      {"slots", BOPT_U64, &slots, "working set: slots per thread"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"seed", BOPT_U64, &seed, "PRNG seed (thread i uses seed+i)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "mid_large_mt",
              "random_mixed on 8-32 KiB blocks, one slot table per thread.",
              opts);
  if (threads < 1 || threads > 256 || slots < 1 || slots > 0xffffffffu ||
      min < 1 || max < min || max - min >= 0xffffffffu) {
    fprintf(stderr, "mid_large_mt: bad parameters (see --help)\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "mid_large_mt");
  mid_t M = {.per_thread = ops / threads, .slots = slots, .min = min,
             .max = max, .seed = seed};
  M.table = bench_harness_alloc(threads * sizeof *M.table);
  for (unsigned i = 0; i < threads; i++)
    M.table[i] = bench_harness_alloc(slots * sizeof(void *));

  /* The clean-up frees of each thread fall inside the clock; they are at
   * most slots per thread, against ops/threads timed ops. */
  bench_run_threads(&b, (unsigned)threads, mid_thread, &M);

  for (unsigned i = 0; i < threads; i++)
    bench_harness_free(M.table[i], slots * sizeof(void *));
  bench_harness_free(M.table, threads * sizeof *M.table);
  bench_param(&b, "threads", "%llu", (unsigned long long)threads);
  bench_param(&b, "slots", "%llu", (unsigned long long)slots);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  bench_param(&b, "mallocs", "%llu",
              (unsigned long long)atomic_load(&M.mallocs));
  return bench_report(&b, M.per_thread * threads);
}
