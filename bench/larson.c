/* larson.c - cross-thread malloc/free (Larson-style remote frees).
 *
 * Two modes, both over T threads; --ops is the total over all threads.
 *
 * --mode=swap (default, in the spirit of Larson & Krishnan's server model):
 *   each thread owns a table of --slots blocks, filled before the clock
 *   starts.  One op is one replacement: draw a slot uniformly, read the
 *   old block's first byte and free it, malloc a new block of random size
 *   in [min, max] and touch it (bench_touch).  After every --round ops the
 *   threads meet at a barrier and pass their tables one step round the ring
 *   (thread i takes the table thread i-1 had), so the blocks a thread frees
 *   in its next round were mostly malloc'ed by another thread.  With
 *   --respawn=1 the threads instead exit after each round and new threads
 *   take over the tables, as in the original program: every round then
 *   also exercises thread start-up, thread-cache flush on exit, and reuse
 *   of the memory (or slabs) an exited thread left behind.
 *
 * --mode=pc (pure producer/consumer): the threads form a ring; thread i
 *   mallocs and touches blocks and hands them in batches of --batch to
 *   thread (i+1) mod T through a bounded single-producer/single-consumer
 *   ring of --inflight pointers; every thread also drains its inbox, reads
 *   each block's first byte and frees it.  With T >= 2 every free is remote.
 *   One op is one block: its malloc plus its (remote) free.
 *
 * ns_per_op is wall time per op over the whole run, i.e. the inverse of the
 * throughput of all threads together.  Neither mode is the original Larson
 * program (which passes a table to a newly created thread); both isolate
 * its cost: memory malloc'ed by one thread and freed by another.
 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  _Alignas(64) _Atomic uint64_t tail; /* written by the producer */
  _Alignas(64) _Atomic uint64_t head; /* written by the consumer */
  _Alignas(64) void **slot;
} ring_t;

typedef struct {
  unsigned threads;
  uint64_t per_thread, extra, min, max, seed, batch, cap;
  ring_t *ring;    /* pc: ring[i] goes from thread i to thread i+1 */
  void ***table;   /* swap: T tables of `slots` blocks */
  uint64_t slots, round, respawn, r; /* r: the round, with respawn */
  pthread_barrier_t bar;
  _Atomic uint64_t acc;
} larson_t;

static uint64_t share(const larson_t *L, unsigned i)
{
  return L->per_thread + (i == 0 ? L->extra : 0);
}

/* Frees every block waiting in the inbox; returns how many. */
static uint64_t drain(ring_t *in, uint64_t mask, uint64_t *acc)
{
  uint64_t head = atomic_load_explicit(&in->head, memory_order_relaxed);
  uint64_t tail = atomic_load_explicit(&in->tail, memory_order_acquire);
  for (uint64_t k = head; k < tail; k++) {
    unsigned char *p = in->slot[k & mask];
    *acc += p[0];
    free(p);
  }
  atomic_store_explicit(&in->head, tail, memory_order_release);
  return tail - head;
}

/* --mode=swap: random replacement in a table that moves round the ring. */
static void swap_thread(unsigned idx, void *arg)
{
  larson_t *L = arg;
  uint64_t mine = L->per_thread, acc = 0;
  bench_rng rng;
  bench_rng_seed(&rng, L->seed + idx + L->r * L->threads);
  /* Every thread runs the same number of rounds, so the barriers match;
   * the remainder ops % threads is not run (the report counts the ops
   * actually run). */
  if (L->respawn) /* one round per thread lifetime */
    mine = mine - L->r * L->round < L->round ? mine - L->r * L->round
                                             : L->round;
  for (uint64_t done = 0, r = L->r; done < mine; r++) {
    void **t = L->table[(idx + r) % L->threads];
    uint64_t n = mine - done < L->round ? mine - done : L->round;
    for (uint64_t j = 0; j < n; j++) {
      uint32_t k = bench_rng_below(&rng, (uint32_t)L->slots);
      unsigned char *old = t[k];
      acc += old[0];
      free(old);
      size_t size = bench_rng_range(&rng, L->min, L->max);
      void *p = bench_malloc(size);
      bench_touch(p, size, (uint8_t)j);
      t[k] = p;
    }
    done += n;
    if (!L->respawn)
      pthread_barrier_wait(&L->bar);
  }
  atomic_fetch_add(&L->acc, acc);
}

/* --mode=pc: producer/consumer ring. */
static void pc_thread(unsigned idx, void *arg)
{
  larson_t *L = arg;
  unsigned prev = (idx + L->threads - 1) % L->threads;
  ring_t *out = &L->ring[idx], *in = &L->ring[prev];
  uint64_t mine = share(L, idx), expected = share(L, prev);
  uint64_t mask = L->cap - 1, made = 0, freed = 0, acc = 0;
  void *buf[1024];
  bench_rng rng;
  bench_rng_seed(&rng, L->seed + idx);

  while (made < mine) {
    uint64_t n = mine - made < L->batch ? mine - made : L->batch;
    for (uint64_t j = 0; j < n; j++) {
      size_t size = bench_rng_range(&rng, L->min, L->max);
      void *p = bench_malloc(size);
      bench_touch(p, size, (uint8_t)j);
      buf[j] = p;
    }
    uint64_t tail = atomic_load_explicit(&out->tail, memory_order_relaxed);
    for (unsigned spin = 0;
         tail + n - atomic_load_explicit(&out->head, memory_order_acquire) >
         L->cap;
         spin++) {
      freed += drain(in, mask, &acc); /* keeps the ring moving */
      if (spin > 64)
        sched_yield();
    }
    for (uint64_t j = 0; j < n; j++)
      out->slot[(tail + j) & mask] = buf[j];
    atomic_store_explicit(&out->tail, tail + n, memory_order_release);
    made += n;
    freed += drain(in, mask, &acc);
  }
  for (unsigned spin = 0; freed < expected; spin++) {
    uint64_t got = drain(in, mask, &acc);
    freed += got;
    if (!got && spin > 64)
      sched_yield();
  }
  atomic_fetch_add(&L->acc, acc);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, ops = 2000000, min = 16, max = 1040, seed = 42;
  uint64_t batch = 64, inflight = 4096, slots = 1000, round = 10000;
  uint64_t respawn = 0;
  const char *mode = "swap";
  const bench_opt opts[] = {
      {"mode", BOPT_STR, &mode, "swap (tables change hands) or pc "
                                "(producer/consumer)"},
      {"threads", BOPT_U64, &threads, "threads"},
      {"ops", BOPT_U64, &ops, "ops in total (see the modes)"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"slots", BOPT_U64, &slots, "swap: blocks per thread table"},
      {"round", BOPT_U64, &round, "swap: ops per thread between hand-overs"},
      {"respawn", BOPT_U64, &respawn,
       "swap: 1 = new threads take over the tables each round"},
      {"batch", BOPT_U64, &batch, "pc: blocks handed over at once (<= 1024)"},
      {"inflight", BOPT_U64, &inflight,
       "pc: ring capacity per thread pair (power of 2)"},
      {"seed", BOPT_U64, &seed, "PRNG seed (thread i uses seed+i)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "larson",
              "Cross-thread malloc/free: blocks freed by another thread.",
              opts);
  int pc = !strcmp(mode, "pc");
  if ((!pc && strcmp(mode, "swap")) || threads < 1 || threads > 256 ||
      min < 1 || max < min || max - min >= 0xffffffffu || batch < 1 ||
      batch > 1024 || inflight < batch || (inflight & (inflight - 1)) ||
      slots < 1 || slots > 0xffffffffu || round < 1) {
    fprintf(stderr, "larson: bad parameters (see --help)\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "larson");
  larson_t L = {.threads = (unsigned)threads, .per_thread = ops / threads,
                .extra = pc ? ops % threads : 0, .min = min, .max = max,
                .seed = seed, .batch = batch, .cap = inflight,
                .slots = slots, .round = round, .respawn = respawn};
  if (pc) {
    L.ring = bench_harness_alloc(threads * sizeof *L.ring);
    for (unsigned i = 0; i < threads; i++)
      L.ring[i].slot = bench_harness_alloc(inflight * sizeof(void *));
  } else {
    /* Fill the tables outside the clock, each from its first user's seed. */
    pthread_barrier_init(&L.bar, NULL, (unsigned)threads);
    L.table = bench_harness_alloc(threads * sizeof *L.table);
    bench_rng rng;
    bench_rng_seed(&rng, seed ^ 0x5eedULL);
    for (unsigned i = 0; i < threads; i++) {
      L.table[i] = bench_harness_alloc(slots * sizeof(void *));
      for (uint64_t k = 0; k < slots; k++) {
        size_t size = bench_rng_range(&rng, min, max);
        L.table[i][k] = bench_malloc(size);
        bench_touch(L.table[i][k], size, 1);
      }
    }
  }

  if (pc || !respawn) {
    bench_run_threads(&b, (unsigned)threads, pc ? pc_thread : swap_thread,
                      &L);
  } else {
    bench_start(&b);
    for (L.r = 0; L.r * round < L.per_thread; L.r++)
      bench_run_threads(NULL, (unsigned)threads, swap_thread, &L);
    bench_stop(&b);
  }

  bench_sink = atomic_load(&L.acc);
  for (unsigned i = 0; i < threads; i++) {
    if (pc) {
      bench_harness_free(L.ring[i].slot, inflight * sizeof(void *));
      continue;
    }
    for (uint64_t k = 0; k < slots; k++)
      free(L.table[i][k]);
    bench_harness_free(L.table[i], slots * sizeof(void *));
  }
  if (pc)
    bench_harness_free(L.ring, threads * sizeof *L.ring);
  else
    bench_harness_free(L.table, threads * sizeof *L.table);
  bench_param(&b, "mode", "%s", pc ? "pc" : "swap");
  bench_param(&b, "threads", "%llu", (unsigned long long)threads);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  if (pc) {
    bench_param(&b, "batch", "%llu", (unsigned long long)batch);
    bench_param(&b, "inflight", "%llu", (unsigned long long)inflight);
  } else {
    bench_param(&b, "slots", "%llu", (unsigned long long)slots);
    bench_param(&b, "round", "%llu", (unsigned long long)round);
    bench_param(&b, "respawn", "%llu", (unsigned long long)respawn);
  }
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  return bench_report(&b, pc ? ops : L.per_thread * threads);
}
