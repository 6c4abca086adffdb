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
 * Length: --ops is the work of one chunk; the run repeats chunks (swap:
 * rounds, each thread --round ops; pc: each thread its share of --ops)
 * until --ms milliseconds have passed since the clock started, so a
 * measurement lasts about as long on every allocator (--ms=0: one chunk).
 *
 * --sized=1 frees every block with the allocator's sized free, the one the
 * object that defines malloc exports (free_sized, sdallocx, mi_free_size or
 * tc_free_sized, first found), else with free; the line says which
 * (sized_free=NAME or free).  The size travels in the block's first four
 * bytes (so --min >= 4).
 *
 * ns_per_op is wall time per op over the whole run, i.e. the inverse of the
 * throughput of all threads together.  Neither mode is the original Larson
 * program (which passes a table to a newly created thread); both isolate
 * its cost: memory malloc'ed by one thread and freed by another.
 */
#include "common.h"

#include <dlfcn.h>
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

/* The allocator's sized free, or NULL (--sized=0, or none exported). */
static void (*sized_free)(void *, size_t);
static void (*sized_free3)(void *, size_t, int); /* sdallocx's flags form */

static void via_sdallocx(void *p, size_t size)
{
  sized_free3(p, size, 0);
}

/* Looks for a sized free in the object that defines malloc; its name, or
 * "free" when there is none. */
static const char *find_sized_free(void)
{
  static const char *const names[] = {"free_sized", "sdallocx",
                                      "mi_free_size", "tc_free_sized"};
  void *(*volatile mp)(size_t) = malloc;
  Dl_info m, f;
  if (!dladdr((void *)mp, &m))
    return "free";
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
    void *fn = dlsym(RTLD_DEFAULT, names[i]);
    if (!fn || !dladdr(fn, &f) || f.dli_fbase != m.dli_fbase)
      continue;
    if (i == 1) {
      sized_free3 = (void (*)(void *, size_t, int))fn;
      sized_free = via_sdallocx;
    } else {
      sized_free = (void (*)(void *, size_t))fn;
    }
    return names[i];
  }
  return "free";
}

/* A block of `size` bytes, touched; with a sized free, its size is kept
 * in its first four bytes. */
static void *make(size_t size, uint8_t v)
{
  unsigned char *p = bench_malloc(size);
  bench_touch(p, size, v);
  if (sized_free) {
    uint32_t s32 = (uint32_t)size;
    memcpy(p, &s32, sizeof s32);
  }
  return p;
}

/* Reads the block's first byte into *acc and frees it. */
static void release(unsigned char *p, uint64_t *acc)
{
  *acc += p[0];
  if (sized_free) {
    uint32_t s32;
    memcpy(&s32, p, sizeof s32);
    sized_free(p, s32);
  } else {
    free(p);
  }
}

typedef struct {
  _Alignas(64) _Atomic uint64_t made; /* pc: blocks made, once done */
  _Atomic int done;                   /* pc: the producer has stopped */
} pc_end_t;

typedef struct {
  bench_run *b;
  uint64_t ms;
  _Atomic uint64_t last;   /* swap: the round after which all stop */
  _Atomic uint64_t rounds; /* swap: rounds run */
  pc_end_t *end;           /* pc: per producer */
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
  for (uint64_t k = head; k < tail; k++)
    release(in->slot[k & mask], acc);
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
  /* Every thread runs the same number of whole rounds, so the barriers
   * match (the report counts the ops actually run). */
  if (L->respawn) /* one round per thread lifetime */
    mine = L->round;
  /* Rounds go on past `mine` ops until thread 0 finds --ms has passed; it
   * names that round in L->last before the barrier, so every thread sees
   * the same decision after it (a later round's decision names another
   * round, so a late reader cannot mistake it). */
  for (uint64_t done = 0, r = L->r;; r++) {
    void **t = L->table[(idx + r) % L->threads];
    uint64_t n = L->round;
    for (uint64_t j = 0; j < n; j++) {
      uint32_t k = bench_rng_below(&rng, (uint32_t)L->slots);
      release(t[k], &acc);
      t[k] = make(bench_rng_range(&rng, L->min, L->max), (uint8_t)j);
    }
    done += n;
    if (L->respawn)
      break;
    if (idx == 0 && done >= mine && !bench_more(L->b, L->ms))
      atomic_store(&L->last, r);
    pthread_barrier_wait(&L->bar);
    if (done >= mine && atomic_load(&L->last) == r) {
      if (idx == 0)
        atomic_store(&L->rounds, r + 1);
      break;
    }
  }
  atomic_fetch_add(&L->acc, acc);
}

/* --mode=pc: producer/consumer ring. */
static void pc_thread(unsigned idx, void *arg)
{
  larson_t *L = arg;
  unsigned prev = (idx + L->threads - 1) % L->threads;
  ring_t *out = &L->ring[idx], *in = &L->ring[prev];
  uint64_t mine = share(L, idx), chunk = mine;
  uint64_t mask = L->cap - 1, made = 0, freed = 0, acc = 0;
  void *buf[1024];
  bench_rng rng;
  bench_rng_seed(&rng, L->seed + idx);

  for (;;) {
    if (made == mine) { /* a chunk done: another while --ms has not passed */
      if (!bench_more(L->b, L->ms))
        break;
      mine += chunk;
    }
    uint64_t n = mine - made < L->batch ? mine - made : L->batch;
    for (uint64_t j = 0; j < n; j++)
      buf[j] = make(bench_rng_range(&rng, L->min, L->max), (uint8_t)j);
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
  atomic_store_explicit(&L->end[idx].made, made, memory_order_relaxed);
  atomic_store_explicit(&L->end[idx].done, 1, memory_order_release);
  pc_end_t *from = &L->end[prev];
  for (unsigned spin = 0;; spin++) {
    int done = atomic_load_explicit(&from->done, memory_order_acquire);
    uint64_t got = drain(in, mask, &acc);
    freed += got;
    if (done && freed == atomic_load_explicit(&from->made,
                                              memory_order_relaxed))
      break;
    if (!got && spin > 64)
      sched_yield();
  }
  atomic_fetch_add(&L->acc, acc);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, ops = 2000000, min = 16, max = 1040, seed = 42;
  uint64_t batch = 64, inflight = 4096, slots = 1000, round = 10000;
  uint64_t respawn = 0, ms = 1000, sized = 0;
  const char *mode = "swap";
  const bench_opt opts[] = {
      {"mode", BOPT_STR, &mode, "swap (tables change hands) or pc "
                                "(producer/consumer)"},
      {"threads", BOPT_U64, &threads, "threads"},
      {"ops", BOPT_U64, &ops, "ops in one chunk, over all threads"},
      {"ms", BOPT_U64, &ms, "repeat chunks until this many ms have passed "
                            "(0: one chunk)"},
      {"sized", BOPT_U64, &sized, "1 = free with the allocator's sized "
                                  "free when it has one"},
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
      slots < 1 || slots > 0xffffffffu || round < 1 || (sized && min < 4)) {
    fprintf(stderr, "larson: bad parameters (see --help)\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "larson");
  const char *sized_name = sized ? find_sized_free() : "-";
  larson_t L = {.b = &b, .ms = ms, .last = UINT64_MAX, .threads = (unsigned)threads, .per_thread = ops / threads,
                .extra = pc ? ops % threads : 0, .min = min, .max = max,
                .seed = seed, .batch = batch, .cap = inflight,
                .slots = slots, .round = round, .respawn = respawn};
  if (pc) {
    L.ring = bench_harness_alloc(threads * sizeof *L.ring);
    L.end = bench_harness_alloc(threads * sizeof *L.end);
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
      for (uint64_t k = 0; k < slots; k++)
        L.table[i][k] = make(bench_rng_range(&rng, min, max), 1);
    }
  }

  if (pc || !respawn) {
    bench_run_threads(&b, (unsigned)threads, pc ? pc_thread : swap_thread,
                      &L);
  } else {
    bench_start(&b);
    for (L.r = 0; L.r * round < L.per_thread || bench_more(&b, ms); L.r++)
      bench_run_threads(NULL, (unsigned)threads, swap_thread, &L);
    bench_stop(&b);
    L.rounds = L.r;
  }

  uint64_t done = 0, acc = 0;
  if (pc) {
    for (unsigned i = 0; i < threads; i++)
      done += atomic_load(&L.end[i].made);
  } else {
    done = atomic_load(&L.rounds) * round * threads;
  }
  bench_sink = atomic_load(&L.acc);
  for (unsigned i = 0; i < threads; i++) {
    if (pc) {
      bench_harness_free(L.ring[i].slot, inflight * sizeof(void *));
      continue;
    }
    for (uint64_t k = 0; k < slots; k++)
      release(L.table[i][k], &acc);
    bench_harness_free(L.table[i], slots * sizeof(void *));
  }
  if (pc) {
    bench_harness_free(L.ring, threads * sizeof *L.ring);
    bench_harness_free(L.end, threads * sizeof *L.end);
  } else
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
  bench_param(&b, "ms", "%llu", (unsigned long long)ms);
  bench_param(&b, "sized_free", "%s", sized_name);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  return bench_report(&b, done);
}
