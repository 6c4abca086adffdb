/* prodcons.c - producer/consumer: one thread mallocs, another frees (the
 * xmalloc-test kind).
 *
 * The threads form pairs: thread 2p only mallocs, thread 2p+1 only frees.
 * The producer mallocs blocks of random size in [min, max], writes each
 * one's first byte, and hands them over in batches of --batch through a
 * bounded single-producer/single-consumer ring of --inflight / --batch
 * batches (rounded down); the consumer takes a batch, reads each
 * block's first byte and frees it.  Every free is therefore remote, and
 * --batch sets how many blocks of one producer arrive together: 1 is the
 * worst case for an allocator that pays per remote free, large batches
 * let it amortise.  With --threads=1 the one thread frees its own batch
 * right after making it (no remote free: the local reference).
 *
 * One op is one block: its malloc plus its free.  The producers work in
 * chunks of --ops / pairs blocks and stop after the first chunk that ends
 * --ms milliseconds or more after the clock started; the consumers stop
 * when they have freed every block made.  ns_per_op is wall time per op
 * over all threads (the inverse of throughput); cpu_ns_per_op includes
 * the time a thread spins on a full or empty ring.
 *
 * Waiting: a thread facing a full (producer) or empty (consumer) ring spins
 * --spin times, then sleeps on a futex until the other side moves (as
 * xmalloc-test's threads block on a condition variable).  Spinning with
 * sched_yield instead made the run bimodal on a loaded 2-core machine: when
 * both threads shared one core, the yielding one often kept it, and a run
 * took 10-30 times longer for every allocator.
 *
 * Invariants: the harness's rings come from mmap (never the allocator);
 * each ring has exactly one writer of tail (the producer) and one of head
 * (the consumer), both 64-byte aligned apart.
 */
#include "common.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* One side of a ring: a position only its thread advances, and a futex
 * word that moves with it: a sequence number (bits 1-31) and, in bit 0,
 * whether the other thread sleeps on the word. */
typedef struct {
  _Alignas(64) _Atomic uint64_t pos;
  _Atomic uint32_t word;    /* seq << 1 | the other side sleeps on it */
} side_t;

typedef struct {
  side_t tail;                         /* batches published (producer) */
  side_t head;                         /* batches freed (consumer) */
  _Atomic uint64_t freed;              /* blocks freed (consumer) */
  _Alignas(64) _Atomic uint64_t made;  /* blocks made, valid once done */
  _Atomic int done;                    /* the producer has stopped */
  _Alignas(64) void **slot;            /* nb batches of `batch` pointers */
} pair_t;

typedef struct {
  bench_run *b;
  unsigned pairs;
  uint64_t chunk, min, max, seed, batch, nb, ms, spin, stall;
  pair_t *pair;
} pc_t;

/* --stall: the thread pauses this many microseconds (tests the wake-up
 * protocol by widening its window). */
static void stall(uint64_t us)
{
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* Moves this side to pos, bumps the sequence and clears the sleeper bit in
 * one CAS, and wakes the other thread if the bit was set.  The sleeper
 * sets the bit in the same word it sleeps on, so a wake spent before its
 * sleep began cannot be lost: the word it sleeps on has changed, and the
 * sleep returns at once.  (With the bit in a word of its own, a waker
 * could take a bit raised for the other thread's next sleep and spend its
 * wake before that sleep began, leaving both threads asleep: the
 * --batch=1 hangs of 2026-12-07, reproduced with --stall.) */
static void advance(const pc_t *P, side_t *me, uint64_t pos)
{
  atomic_store(&me->pos, pos);
  if (P->stall)
    stall(P->stall);
  uint32_t old = atomic_load(&me->word);
  while (!atomic_compare_exchange_weak(&me->word, &old, (old | 1u) + 1u))
    ;
  if (old & 1u)
    syscall(SYS_futex, &me->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Waits until ready(other side's pos) holds: spins, then sets the sleeper
 * bit, checks pos again and sleeps on the word as it was with the bit set
 * (any advance since has changed it). */
static uint64_t await(const pc_t *P, side_t *other, uint64_t mine,
                      int (*ready)(const pc_t *, uint64_t, uint64_t),
                      const _Atomic int *done)
{
  for (uint64_t i = 0;; i++) {
    uint64_t pos = atomic_load_explicit(&other->pos, memory_order_acquire);
    if (ready(P, pos, mine) || (done && atomic_load(done)))
      return pos;
    if (i < P->spin)
      continue;
    uint32_t w = atomic_load(&other->word);
    if (!(w & 1u) && !atomic_compare_exchange_strong(&other->word, &w, w | 1u))
      continue; /* the other side moved: look again */
    w |= 1u;
    pos = atomic_load(&other->pos);
    if (ready(P, pos, mine) || (done && atomic_load(done)))
      return pos; /* the bit stays: the next advance clears it */
    syscall(SYS_futex, &other->word, FUTEX_WAIT_PRIVATE, w, NULL, NULL, 0);
  }
}

/* The producer at tail may publish when the consumer's head leaves room. */
static int has_room(const pc_t *P, uint64_t head, uint64_t tail)
{
  return tail - head < P->nb;
}

/* The consumer at head has work when the producer's tail is past it. */
static int has_work(const pc_t *P, uint64_t tail, uint64_t head)
{
  (void)P;
  return tail > head;
}

static void produce(pc_t *P, pair_t *q, unsigned idx)
{
  bench_rng rng;
  bench_rng_seed(&rng, P->seed + idx);
  uint64_t made = 0, tail = 0;
  do {
    for (uint64_t c = 0; c < P->chunk; c += P->batch) {
      await(P, &q->head, tail, has_room, NULL);
      void **out = q->slot + (tail % P->nb) * P->batch;
      for (uint64_t j = 0; j < P->batch; j++) {
        size_t size = bench_rng_range(&rng, P->min, P->max);
        unsigned char *p = bench_malloc(size);
        p[0] = (unsigned char)j;
        BENCH_ESCAPE(p);
        out[j] = p;
      }
      advance(P, &q->tail, ++tail);
      made += P->batch;
    }
  } while (bench_more(P->b, P->ms));
  atomic_store_explicit(&q->made, made, memory_order_relaxed);
  atomic_store(&q->done, 1);
  advance(P, &q->tail, tail); /* wakes a consumer asleep on an empty ring */
}

static void consume(pc_t *P, pair_t *q)
{
  uint64_t head = 0, acc = 0;
  for (;;) {
    uint64_t tail = await(P, &q->tail, head, has_work, &q->done);
    if (tail == head) { /* done: the producer's last tail is final */
      if (atomic_load(&q->tail.pos) == head)
        break;
      continue;
    }
    for (; head < tail; head++) {
      void **in = q->slot + (head % P->nb) * P->batch;
      for (uint64_t j = 0; j < P->batch; j++) {
        unsigned char *p = in[j];
        acc += p[0];
        free(p);
      }
      advance(P, &q->head, head + 1);
    }
  }
  atomic_store_explicit(&q->freed, head * P->batch, memory_order_relaxed);
  __atomic_fetch_add(&bench_sink, acc, __ATOMIC_RELAXED);
}

/* --threads=1: make a batch, free it, on one thread. */
static void alone(pc_t *P, pair_t *q)
{
  bench_rng rng;
  bench_rng_seed(&rng, P->seed);
  uint64_t made = 0, acc = 0;
  do {
    for (uint64_t c = 0; c < P->chunk; c += P->batch) {
      for (uint64_t j = 0; j < P->batch; j++) {
        size_t size = bench_rng_range(&rng, P->min, P->max);
        unsigned char *p = bench_malloc(size);
        p[0] = (unsigned char)j;
        BENCH_ESCAPE(p);
        q->slot[j] = p;
      }
      for (uint64_t j = 0; j < P->batch; j++) {
        unsigned char *p = q->slot[j];
        acc += p[0];
        free(p);
      }
      made += P->batch;
    }
  } while (bench_more(P->b, P->ms));
  atomic_store_explicit(&q->made, made, memory_order_relaxed);
  atomic_store_explicit(&q->freed, made, memory_order_relaxed);
  __atomic_fetch_add(&bench_sink, acc, __ATOMIC_RELAXED);
}

static void pc_thread(unsigned idx, void *arg)
{
  pc_t *P = arg;
  pair_t *q = &P->pair[idx / 2];
  if (P->pairs == 0)
    alone(P, q);
  else if (idx / 2 >= P->pairs) /* an odd thread out stays idle */
    return;
  else if (idx % 2 == 0)
    produce(P, q, idx);
  else
    consume(P, q);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, ops = 1000000, min = 16, max = 128, batch = 64;
  uint64_t inflight = 4096, seed = 42, ms = 1000, spin = 4096, stall_us = 0;
  const bench_opt opts[] = {
      {"threads", BOPT_U64, &threads,
       "threads: producer/consumer pairs (1: one thread frees its own)"},
      {"ops", BOPT_U64, &ops, "blocks per chunk, over all producers"},
      {"ms", BOPT_U64, &ms, "repeat chunks until this many ms have passed "
                            "(0: one chunk)"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"batch", BOPT_U64, &batch, "blocks handed over at once"},
      {"inflight", BOPT_U64, &inflight,
       "blocks the ring of one pair holds (rounded down to whole batches)"},
      {"spin", BOPT_U64, &spin,
       "polls of a full or empty ring before sleeping on it"},
      {"seed", BOPT_U64, &seed, "PRNG seed (producer i uses seed+i)"},
      {"stall", BOPT_U64, &stall_us,
       "microseconds a thread pauses after moving its ring position, before "
       "it looks for a sleeper (a test of the wake-up; 0: none)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "prodcons",
              "Producer/consumer: blocks malloc'ed by one thread, freed by "
              "another, in batches.",
              opts);
  if (threads < 1 || threads > 256 || min < 1 || max < min ||
      max - min >= 0xffffffffu || batch < 1 || inflight < batch ||
      inflight > (1u << 24)) {
    fprintf(stderr, "prodcons: bad parameters (see --help)\n");
    return 2;
  }
  unsigned pairs = (unsigned)threads / 2;
  uint64_t per = ops / (pairs ? pairs : 1);
  pc_t P = {.pairs = pairs, .min = min, .max = max, .seed = seed,
            .batch = batch, .nb = inflight / batch, .ms = ms, .spin = spin,
            .stall = stall_us,
            .chunk = per > batch ? per - per % batch : batch};
  unsigned n = pairs ? pairs : 1;
  P.pair = bench_harness_alloc(n * sizeof *P.pair);
  for (unsigned i = 0; i < n; i++)
    P.pair[i].slot = bench_harness_alloc(inflight * sizeof(void *));

  bench_run b;
  bench_begin(&b, "prodcons");
  P.b = &b;
  bench_run_threads(&b, (unsigned)threads, pc_thread, &P);

  uint64_t made = 0;
  for (unsigned i = 0; i < n; i++) {
    uint64_t m = atomic_load(&P.pair[i].made);
    if (m != atomic_load(&P.pair[i].freed)) {
      fprintf(stderr, "prodcons: pair %u made %llu blocks, freed %llu\n", i,
              (unsigned long long)m,
              (unsigned long long)atomic_load(&P.pair[i].freed));
      return 1;
    }
    made += m;
    bench_harness_free(P.pair[i].slot, inflight * sizeof(void *));
  }
  bench_harness_free(P.pair, n * sizeof *P.pair);
  bench_param(&b, "threads", "%llu", (unsigned long long)threads);
  bench_param(&b, "batch", "%llu", (unsigned long long)batch);
  bench_param(&b, "inflight", "%llu", (unsigned long long)inflight);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "ms", "%llu", (unsigned long long)ms);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  return bench_report(&b, made);
}
