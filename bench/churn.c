/* churn.c - thread churn: short-lived threads that malloc, free and exit,
 * over and over (the mstress kind).
 *
 * A generation is --threads threads started together; each lives for
 * --life ops and exits, then the next generation starts.  A thread's op is
 * random_mixed's (a table of --slots blocks of [min, max] bytes: a full
 * slot is freed, an empty one gets a new block), except that with
 * probability --share percent a block leaving a full slot is not freed but
 * swapped (atomic exchange) into a random cell of one table of --shared
 * cells common to all threads, and the block that comes out of the cell,
 * malloc'ed by some other thread, often one that has exited since, is
 * freed instead.  Before exiting, a thread frees what is left in its own
 * table.  So each generation pays thread start-up in the allocator, frees
 * of blocks whose owner is gone, and the flush of a dying thread's caches;
 * a new thread may reuse what the dead ones left.
 *
 * Sizes: uniform in [min, max], or with --log=1 log-uniform (a power of
 * two drawn uniformly between min and max, then a size uniform below the
 * next one, clipped to max: as many requests of 16-32 B as of 16-32 KiB,
 * the mstress kind's spread of small, mid-size and large blocks).
 *
 * One op is one malloc or one free (the end-of-life frees included).
 * Generations run until --ms milliseconds have passed (at least
 * --gens generations).  Reported: gens (generations run), ops.
 *
 * Invariants: the per-thread tables and the shared cells come from mmap;
 * a thread's table is empty again when it exits; blocks left in the shared
 * cells are freed after the clock.
 */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  bench_run *b;
  unsigned threads;
  uint64_t life, slots, min, max, share, shared, seed, gen, log;
  void ***table;             /* one table of `slots` blocks per thread */
  _Atomic(void *) *cell;     /* the shared cells */
  _Atomic uint64_t ops;
} churn_t;

/* A request size: uniform, or log-uniform with C->log. */
static size_t draw_size(const churn_t *C, bench_rng *rng)
{
  if (!C->log)
    return bench_rng_range(rng, C->min, C->max);
  unsigned lo = 63 - (unsigned)__builtin_clzll(C->min);
  unsigned hi = 63 - (unsigned)__builtin_clzll(C->max);
  unsigned k = lo + bench_rng_below(rng, hi - lo + 1);
  size_t base = (size_t)1 << k, size = base + bench_rng_below(rng, (uint32_t)base);
  return size < C->min ? C->min : size > C->max ? C->max : size;
}

static void churn_thread(unsigned idx, void *arg)
{
  churn_t *C = arg;
  void **t = C->table[idx];
  uint64_t acc = 0, ops = 0;
  bench_rng rng;
  bench_rng_seed(&rng, C->seed + idx + C->gen * C->threads);
  for (uint64_t i = 0; i < C->life; i++) {
    uint32_t k = bench_rng_below(&rng, (uint32_t)C->slots);
    unsigned char *p = t[k];
    if (!p) {
      size_t size = draw_size(C, &rng);
      p = bench_malloc(size);
      bench_touch(p, size, (uint8_t)i);
      t[k] = p;
      ops++;
      continue;
    }
    acc += p[0];
    t[k] = NULL;
    if (bench_rng_below(&rng, 100) < C->share) {
      uint32_t c = bench_rng_below(&rng, (uint32_t)C->shared);
      p = atomic_exchange_explicit(&C->cell[c], p, memory_order_acq_rel);
      if (!p)
        continue; /* an empty cell: nothing freed this op */
      acc += p[0];
    }
    free(p);
    ops++;
  }
  for (uint64_t k = 0; k < C->slots; k++)
    if (t[k]) {
      free(t[k]);
      t[k] = NULL;
      ops++;
    }
  atomic_fetch_add(&C->ops, ops);
  __atomic_fetch_add(&bench_sink, acc, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, life = 2000, slots = 256, min = 16, max = 1040;
  uint64_t share = 25, shared = 1024, gens = 1, ms = 1000, seed = 42;
  uint64_t log = 0;
  const bench_opt opts[] = {
      {"threads", BOPT_U64, &threads, "threads per generation"},
      {"life", BOPT_U64, &life, "ops in one thread's life"},
      {"slots", BOPT_U64, &slots, "blocks a thread keeps (its table)"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"log", BOPT_U64, &log, "1 = sizes log-uniform in [min, max]"},
      {"share", BOPT_U64, &share,
       "percent of frees swapped through the shared cells"},
      {"shared", BOPT_U64, &shared, "shared cells"},
      {"gens", BOPT_U64, &gens, "generations at least"},
      {"ms", BOPT_U64, &ms, "run generations until this many ms have "
                            "passed (0: --gens only)"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "churn",
              "Thread churn: threads that malloc, free and exit, "
              "repeatedly.",
              opts);
  if (threads < 1 || threads > 256 || life < 1 || slots < 1 ||
      slots > 0xffffffffu || min < 1 || max < min ||
      max - min >= 0xffffffffu || share > 100 || shared < 1 ||
      shared > 0xffffffffu || gens < 1 || max >= (1ull << 31)) {
    fprintf(stderr, "churn: bad parameters (see --help)\n");
    return 2;
  }
  churn_t C = {.threads = (unsigned)threads, .life = life, .slots = slots,
               .min = min, .max = max, .share = share, .shared = shared,
               .seed = seed, .log = log};
  C.table = bench_harness_alloc(threads * sizeof *C.table);
  for (unsigned i = 0; i < threads; i++)
    C.table[i] = bench_harness_alloc(slots * sizeof(void *));
  C.cell = bench_harness_alloc(shared * sizeof *C.cell);

  bench_run b;
  bench_begin(&b, "churn");
  C.b = &b;
  bench_start(&b);
  for (C.gen = 0; C.gen < gens || bench_more(&b, ms); C.gen++)
    bench_run_threads(NULL, (unsigned)threads, churn_thread, &C);
  bench_stop(&b);

  for (uint64_t c = 0; c < shared; c++)
    free(atomic_load(&C.cell[c]));
  for (unsigned i = 0; i < threads; i++)
    bench_harness_free(C.table[i], slots * sizeof(void *));
  bench_harness_free(C.table, threads * sizeof *C.table);
  bench_harness_free(C.cell, shared * sizeof *C.cell);
  bench_param(&b, "threads", "%llu", (unsigned long long)threads);
  bench_param(&b, "gens", "%llu", (unsigned long long)C.gen);
  bench_param(&b, "life", "%llu", (unsigned long long)life);
  bench_param(&b, "slots", "%llu", (unsigned long long)slots);
  bench_param(&b, "log", "%llu", (unsigned long long)log);
  bench_param(&b, "share", "%llu", (unsigned long long)share);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "ms", "%llu", (unsigned long long)ms);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  return bench_report(&b, atomic_load(&C.ops));
}
