/* test_threads.c - cmocka tests of hakmem under many short-lived threads.
 *
 *  - waves of short-lived threads allocate, free some blocks themselves,
 *    free blocks that earlier (already exited) threads left behind, and exit
 *    with their own blocks still live for later threads: exercises remote
 *    frees into abandoned slabs, slab adoption and the thread-exit flush;
 *    contents are verified at every free and live_blocks returns exactly to
 *    its starting value once all threads are joined;
 *  - many sequential threads that each fill and empty their cache, or free
 *    one large block, must not grow the mapped memory without bound
 *    (caches and the per-thread whale slot flushed on thread exit);
 *  - concurrent threads hammering the same classes with constant
 *    cross-thread frees keep every block's contents;
 *  - blocks held in a live thread's remote-free batch count as freed;
 *  - a slab's remote queue joined to its non-empty free list (malloc_trim's
 *    pass, the local free that unparks a full slab) loses and repeats no
 *    block;
 *  - the remote-free storms, many to one: three freeing threads free the
 *    blocks of one owner thread, while the owner allocates and drains
 *    (test_remote_storm) or while it exits (test_remote_storm_exit); every
 *    block freed remotely must come back exactly once: contents intact at
 *    every free (none handed out twice), and after the threads are joined
 *    and malloc_trim ran, the storm's classes hold as many slabs as before
 *    (a block that dropped out of a remote queue keeps its slab from ever
 *    emptying), the live count is back and, in checked builds, the heap
 *    walk is clean.  Run them with HAKMEM_RACE (CMakeLists.txt, ci/mutants)
 *    so that the push's CAS loses attempts and pushes land inside the
 *    drain and abandon windows.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

typedef struct tblk {
  void *p;
  size_t usable;
  uint64_t id;
} tblk_t;

/* ---- a lock-protected pool of blocks whose allocating thread may be gone -- */
enum { POOL_CAP = 4096 };
static tblk_t pool[POOL_CAP];
static size_t pool_n;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int failures;
static char failure_msg[256];

static void thread_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void thread_fail(const char *fmt, ...) {
  if (failures++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure_msg, sizeof failure_msg, fmt, ap);
    va_end(ap);
  }
}

static int pool_take(tblk_t *out) {
  int got = 0;
  pthread_mutex_lock(&pool_lock);
  if (pool_n) {
    *out = pool[--pool_n];
    got = 1;
  }
  pthread_mutex_unlock(&pool_lock);
  return got;
}

static int pool_put(const tblk_t *b) {
  int ok = 0;
  pthread_mutex_lock(&pool_lock);
  if (pool_n < POOL_CAP) {
    pool[pool_n++] = *b;
    ok = 1;
  }
  pthread_mutex_unlock(&pool_lock);
  return ok;
}

static void check_and_free(const tblk_t *b, const char *who) {
  size_t u = hak_malloc_usable_size(b->p);
  if (u != b->usable) thread_fail("%s: usable_size(%p) = %zu, was %zu", who, b->p, u, b->usable);
  size_t o = ut_check(b->p, b->usable, b->id);
  if (o != SIZE_MAX) thread_fail("%s: block %p (usable %zu) corrupted at offset %zu", who, b->p, b->usable, o);
  hak_free(b->p);
}

static size_t pick_size(ut_rng_t *r) {
  uint64_t k = ut_rng_below(r, 100);
  if (k < 70) return ut_rng_below(r, 1025);
  if (k < 95) return 1025 + ut_rng_below(r, 64 * 1024);
  if (k < 99) return 64 * 1024 + ut_rng_below(r, 256 * 1024);
  return (2u << 20) + ut_rng_below(r, 4096);
}

typedef struct wave_arg {
  uint64_t seed;
  int nblocks;
} wave_arg_t;

static void *short_lived(void *arg) {
  const wave_arg_t *a = arg;
  ut_rng_t rng;
  ut_rng_seed(&rng, a->seed);
  tblk_t *mine = calloc((size_t)a->nblocks, sizeof *mine);
  if (!mine) {
    thread_fail("calloc failed");
    return NULL;
  }
  for (int i = 0; i < a->nblocks; i++) {
    size_t n = pick_size(&rng);
    void *p = ut_rng_below(&rng, 4) ? hak_malloc(n) : hak_calloc(1, n);
    if (!p) {
      thread_fail("malloc(%zu) returned NULL in a short-lived thread", n);
      break;
    }
    if (!ut_aligned(p, 16)) thread_fail("malloc(%zu) = %p misaligned", n, p);
    mine[i] = (tblk_t){p, hak_malloc_usable_size(p), (a->seed << 20) + (uint64_t)i};
    if (mine[i].usable < n) thread_fail("usable %zu < %zu", mine[i].usable, n);
    ut_fill(p, mine[i].usable, mine[i].id);
  }
  /* free orphans of earlier threads (remote frees into abandoned slabs) */
  tblk_t b;
  for (int i = 0; i < a->nblocks / 2 && pool_take(&b); i++) check_and_free(&b, "orphan free");
  /* free half of our own, leave the rest for threads that come later */
  for (int i = 0; i < a->nblocks; i++) {
    if (!mine[i].p) continue;
    if (i % 2 == 0 || !pool_put(&mine[i])) check_and_free(&mine[i], "own free");
  }
  free(mine);
  return NULL;
}

static void run_waves(int waves, int per_wave, int nblocks, uint64_t seed0) {
  pthread_t th[16];
  wave_arg_t args[16];
  assert_true(per_wave <= 16);
  for (int w = 0; w < waves; w++) {
    for (int t = 0; t < per_wave; t++) {
      args[t] = (wave_arg_t){seed0 + (uint64_t)(w * per_wave + t), nblocks};
      assert_int_equal(pthread_create(&th[t], NULL, short_lived, &args[t]), 0);
    }
    for (int t = 0; t < per_wave; t++) pthread_join(th[t], NULL);
    if (failures) fail_msg("%s", failure_msg);
  }
}

static void test_short_lived_threads_abandon_adopt(void **state) {
  (void)state;
  hak_stats_t st0, st1;
  ut_stats(&st0);
  run_waves(30, 4, 300, 1);
  /* the main thread frees whatever the last threads left behind */
  tblk_t b;
  while (pool_take(&b)) check_and_free(&b, "main free");
  if (failures) fail_msg("%s", failure_msg);
  ut_stats(&st1);
  if (st1.live_blocks != st0.live_blocks)
    fail_msg("live_blocks %llu after all threads exited and all blocks were freed, started at %llu",
             (unsigned long long)st1.live_blocks, (unsigned long long)st0.live_blocks);
  if (st1.live_bytes != st0.live_bytes)
    fail_msg("live_bytes %llu at the end, started at %llu", (unsigned long long)st1.live_bytes,
             (unsigned long long)st0.live_bytes);
  uint64_t remote = 0, remote0 = 0;
  for (uint32_t c = 0; c < st1.nclasses; c++) {
    remote += st1.cls[c].remote_frees;
    remote0 += st0.cls[c].remote_frees;
  }
  if (remote == remote0) fail_msg("thousands of cross-thread frees, but no class counted a remote free");
  if (st1.threads_exited - st0.threads_exited < 120)
    fail_msg("120 threads exited, threads_exited moved by %llu",
             (unsigned long long)(st1.threads_exited - st0.threads_exited));
}

/* ---- sequential threads: thread-exit flush keeps memory bounded ------------- */
static void *fill_and_empty(void *arg) {
  (void)arg; /* unused */
  enum { N = 8000 };
  void **ps = malloc(N * sizeof *ps);
  if (!ps) return NULL;
  for (int i = 0; i < N; i++) {
    ps[i] = hak_malloc(16 + (size_t)(i % 4) * 16);
    if (!ps[i]) {
      thread_fail("malloc returned NULL");
      break;
    }
    memset(ps[i], 0x77, 16);
  }
  for (int i = 0; i < N; i++) hak_free(ps[i]);
  free(ps);
  return NULL;
}

/* Run `count` threads one after another (thread i gets arg_base + i *
 * arg_step) and return how much mapped_bytes grew; live_blocks must not. */
static int64_t sequential_threads(void *(*fn)(void *), int count, size_t arg_base, size_t arg_step) {
  hak_stats_t st0, st1;
  ut_stats(&st0);
  for (int i = 0; i < count; i++) {
    pthread_t th;
    void *arg = (void *)(uintptr_t)(arg_base + (size_t)i * arg_step);
    assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
    pthread_join(th, NULL);
  }
  if (failures) fail_msg("%s", failure_msg);
  ut_stats(&st1);
  assert_int_equal(st1.live_blocks, st0.live_blocks);
  return (int64_t)st1.mapped_bytes - (int64_t)st0.mapped_bytes;
}

static void test_thread_exit_memory_bounded(void **state) {
  (void)state;
  /* warm up: the first few threads map what the steady state needs */
  sequential_threads(fill_and_empty, 5, 0, 0);
  /* each thread had ~320 KiB live; 200 leaked caches/slabs would be > 60 MiB */
  int64_t grew = sequential_threads(fill_and_empty, 200, 0, 0);
  if (grew > 16ll << 20)
    fail_msg("mapped_bytes grew by %lld bytes over 200 sequential threads that freed everything "
             "(thread caches not flushed / slabs not reused on thread exit?)", (long long)grew);
}

/* Whales (large blocks) have a per-thread cache slot: 200 sequential threads
 * each allocating and freeing a 3 MiB+ block must not leave 200 mappings
 * behind (600+ MiB); the bounded whale cache may keep some. */
static void *whale_and_exit(void *arg) {
  size_t n = (size_t)(uintptr_t)arg;
  void *p = hak_malloc(n);
  if (!p) {
    thread_fail("malloc(%zu) returned NULL", n);
    return NULL;
  }
  memset(p, 1, 4096);
  hak_free(p);
  return NULL;
}

static void test_thread_exit_whales_bounded(void **state) {
  (void)state;
  int64_t grew = sequential_threads(whale_and_exit, 200, 3u << 20, 4096);
  if (grew > 128ll << 20)
    fail_msg("mapped_bytes grew by %lld MiB over 200 threads that each freed their one large block "
             "(per-thread whale slot not released on thread exit?)", (long long)(grew >> 20));
}

/* ---- concurrent cross-thread frees ------------------------------------------ */
enum { XSLOTS = 256 };
static _Atomic(tblk_t *) xslots[XSLOTS];

static void *exchanger(void *arg) {
  ut_rng_t rng;
  ut_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
  for (int i = 0; i < 60000; i++) {
    tblk_t *b = malloc(sizeof *b);
    if (!b) return NULL;
    size_t n = ut_rng_below(&rng, 8) ? ut_rng_below(&rng, 1100) : ut_rng_below(&rng, 70000);
    b->p = hak_malloc(n);
    if (!b->p) {
      thread_fail("malloc(%zu) returned NULL", n);
      free(b);
      return NULL;
    }
    b->usable = hak_malloc_usable_size(b->p);
    b->id = ((uint64_t)(uintptr_t)arg << 32) + (uint64_t)i;
    ut_fill(b->p, b->usable, b->id);
    tblk_t *old = atomic_exchange(&xslots[ut_rng_below(&rng, XSLOTS)], b);
    if (old) {
      check_and_free(old, "exchange free");
      free(old);
    }
  }
  return NULL;
}

static void test_concurrent_cross_thread_frees(void **state) {
  (void)state;
  enum { T = 4 };
  uint64_t live0 = ut_live_blocks();
  pthread_t th[T];
  for (int t = 0; t < T; t++) assert_int_equal(pthread_create(&th[t], NULL, exchanger, (void *)(uintptr_t)(t + 1)), 0);
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  for (int i = 0; i < XSLOTS; i++) {
    tblk_t *b = atomic_exchange(&xslots[i], NULL);
    if (b) {
      check_and_free(b, "final free");
      free(b);
    }
  }
  if (failures) fail_msg("%s", failure_msg);
  assert_int_equal(ut_live_blocks(), live0);
}

/* A thread that frees another thread's blocks and stays alive holds them
 * in its remote-free batch (class.c): the stats count them as freed (and
 * as remote frees) all the same, and nothing changes when the thread exits
 * and hands the batch over. */
enum { RB_N = 48 }; /* 48 blocks of 40 bytes: one batch, not yet full */
static void *rb_blocks[RB_N];
static pthread_barrier_t rb_freed, rb_checked;

static void *rb_freer(void *arg) {
  (void)arg;
  for (int i = 0; i < RB_N; i++) hak_free(rb_blocks[i]);
  pthread_barrier_wait(&rb_freed);
  pthread_barrier_wait(&rb_checked); /* alive while the main thread looks */
  return NULL;
}

static uint64_t remote_frees_total(void) {
  hak_stats_t st;
  assert_int_equal(hak_stats_get(&st), 0);
  uint64_t n = 0;
  for (unsigned c = 0; c < st.nclasses; c++) n += st.cls[c].remote_frees;
  return n;
}

static void test_remote_batch_held_by_live_thread(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks(), remote0 = remote_frees_total();
  for (int i = 0; i < RB_N; i++) {
    rb_blocks[i] = hak_malloc(40);
    assert_non_null(rb_blocks[i]);
    memset(rb_blocks[i], 0xA5, 40);
  }
  assert_int_equal(ut_live_blocks(), live0 + RB_N);
  assert_int_equal(pthread_barrier_init(&rb_freed, NULL, 2), 0);
  assert_int_equal(pthread_barrier_init(&rb_checked, NULL, 2), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, rb_freer, NULL), 0);
  pthread_barrier_wait(&rb_freed);
  uint64_t live_held = ut_live_blocks(), remote_held = remote_frees_total();
  pthread_barrier_wait(&rb_checked);
  pthread_join(t, NULL);
  pthread_barrier_destroy(&rb_freed);
  pthread_barrier_destroy(&rb_checked);
  if (live_held != live0)
    fail_msg("live_blocks %llu while the freeing thread holds its batch, %llu before the mallocs",
             (unsigned long long)live_held, (unsigned long long)live0);
  assert_int_equal(remote_held, remote0 + RB_N);
  assert_int_equal(ut_live_blocks(), live0);
  assert_int_equal(remote_frees_total(), remote0 + RB_N);
}

/* ---- a remote queue joined to a non-empty free list -------------------------- */
/* The owner takes a slab's remote queue while the slab's free list still
 * holds blocks in two places: malloc_trim's pass over the heap (decay), and
 * the local free that unparks an exhausted slab.  The join walks one of the
 * two lists to its tail (class.c drain: release walks the shorter); a join
 * that drops or repeats a block leaves a slab that never empties, or hands
 * a block out twice.  jn_local[i] says which blocks the owner frees itself. */
enum { JN_SIZE = 200, JN_MAX = 1024 };
static void *jn_blocks[JN_MAX];
static int jn_local[JN_MAX], jn_n; /* 0: freed remotely, 1: locally, 2: kept */

static void *jn_freer(void *arg) {
  (void)arg;
  for (int i = 0; i < jn_n; i++) {
    if (jn_local[i] != 0) continue;
    size_t o = ut_check(jn_blocks[i], JN_SIZE, (uint64_t)i);
    if (o != SIZE_MAX) thread_fail("join: block %d corrupted at offset %zu", i, o);
    hak_free(jn_blocks[i]);
  }
  return NULL; /* the batches go to the owner's queues at exit */
}

/* n blocks (n <= JN_MAX); the owner, a new thread, frees those with
 * jn_local 1, before (early) or after the other thread's remote frees of
 * those with 0, and runs malloc_trim; then it mallocs until it has had
 * every remotely freed block back (a block the join dropped never comes
 * back: the bound leaves room for every block its slabs can still carve;
 * a locally freed one may be held back in hardened builds, HAKMEM_DELAY). */
typedef struct jn_arg { int n, every, early; } jn_arg_t;
enum { JN_BOUND = 8192 };
static void *jn_again[JN_BOUND];

static void *jn_owner(void *arg) {
  const jn_arg_t *a = arg;
  int n = a->n;
  jn_n = n;
  for (int i = 0; i < n; i++) {
    jn_blocks[i] = hak_malloc(JN_SIZE);
    if (jn_blocks[i] == NULL) { thread_fail("join: malloc failed"); return NULL; }
    ut_fill(jn_blocks[i], JN_SIZE, (uint64_t)i);
    /* every other block and the last are kept live, so that no slab
     * empties (malloc_trim would give its span back, blocks and all) */
    if (i % 2 == 1 || i == n - 1) jn_local[i] = 2;
    else jn_local[i] = a->every > 0 ? i % a->every == 0 : i < -a->every;
  }
  if (a->early)
    for (int i = 0; i < n; i++)
      if (jn_local[i] == 1) hak_free(jn_blocks[i]);
  pthread_t t;
  if (pthread_create(&t, NULL, jn_freer, NULL) != 0) { thread_fail("join: pthread_create"); return NULL; }
  pthread_join(t, NULL);
  if (!a->early) /* the first of these unparks a full slab: its queue joins one block */
    for (int i = 0; i < n; i++)
      if (jn_local[i] == 1) hak_free(jn_blocks[i]);
  hak_malloc_trim(0); /* the queues left join the free lists (decay's pass) */
  int seen = 0, freed = 0, k = 0;
  for (int i = 0; i < n; i++) freed += jn_local[i] == 0;
  for (; k < JN_BOUND && seen < freed; k++) {
    void *p = hak_malloc(JN_SIZE);
    if (p == NULL) { thread_fail("join: malloc failed"); break; }
    ut_fill(p, JN_SIZE, (uint64_t)k + 7777);
    jn_again[k] = p;
    for (int i = 0; i < n; i++)
      if (jn_blocks[i] == p && jn_local[i] == 0) { jn_blocks[i] = NULL, seen++; break; }
  }
  if (seen < freed)
    thread_fail("join (%d blocks, every %d, early %d): %d remotely freed blocks never came back "
                "in %d mallocs",
                n, a->every, a->early, freed - seen, k);
  for (int j = 0; j < k; j++) {
    size_t o = ut_check(jn_again[j], JN_SIZE, (uint64_t)j + 7777);
    if (o != SIZE_MAX) thread_fail("join: a block handed out twice (%p)", jn_again[j]);
  }
  for (int j = 0; j < k; j++) hak_free(jn_again[j]);
  for (int i = 0; i < n; i++)
    if (jn_local[i] == 2) hak_free(jn_blocks[i]);
  return NULL;
}

static void run_join(int n, int every, int early) {
  hak_stats_t st0, st1;
  hak_malloc_trim(0);
  ut_stats(&st0);
  jn_arg_t a = {n, every, early};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, jn_owner, &a), 0);
  pthread_join(t, NULL);
  if (failures) fail_msg("%s", failure_msg);
  hak_malloc_trim(0);
  ut_stats(&st1);
  assert_int_equal(st1.live_blocks, st0.live_blocks);
  int walk = hak_check_heap();
  if (walk > 0) fail_msg("heap walk after the join: %d problems", walk);
}

static void test_remote_join_free_list(void **state) {
  (void)state;
  run_join(128, -1, 1);   /* one local block, the rest queued */
  run_join(128, -120, 1); /* most local, 4 queued */
  run_join(128, 4, 1);    /* half and half, interleaved */
  run_join(JN_MAX, 4, 0); /* full slabs parked; a local free unparks each */
}

/* ---- many-to-one remote-free storms ------------------------------------------ */
enum { STORM_FREERS = 3, STORM_BLOCKS = 3000, STORM_LOCAL = 16 };
static const size_t storm_size[2] = {200, 3000}; /* a tiny and a mid class */

/* One single-producer, single-consumer queue per freer (an array: a round
 * deals each freer at most its share): the owner deals, the freer takes. */
typedef struct storm_ring {
  tblk_t b[STORM_BLOCKS / STORM_FREERS + 1];
  _Atomic size_t head, tail; /* written by the owner / by the freer */
} storm_ring_t;

typedef struct storm {
  storm_ring_t ring[STORM_FREERS];
  _Atomic int go;        /* freers may start taking */
  _Atomic int dealt;     /* the owner has dealt every block */
  _Atomic size_t freed;  /* blocks the freers freed */
  int exit_early;        /* the owner exits as soon as it has dealt */
  uint64_t seed;
} storm_t;

typedef struct storm_freer_arg {
  storm_t *st;
  unsigned me;
} storm_freer_arg_t;

static void *storm_free_loop(void *arg) {
  storm_freer_arg_t *a = arg;
  storm_t *st = a->st;
  storm_ring_t *r = &st->ring[a->me];
  while (!atomic_load(&st->go)) sched_yield();
  for (;;) {
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t == atomic_load_explicit(&r->head, memory_order_acquire)) {
      if (atomic_load(&st->dealt) && t == atomic_load(&r->head)) break;
      sched_yield();
      continue;
    }
    check_and_free(&r->b[t], "storm remote free");
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    atomic_fetch_add(&st->freed, 1);
  }
  return NULL;
}

/* The owner: allocates the storm's blocks in order and deals them round
 * robin (neighbours in a slab go to different freers), churning a few
 * local blocks of the same classes on the way (its refills drain the
 * queues the freers push to). */
static void *storm_owner(void *arg) {
  storm_t *st = arg;
  ut_rng_t rng;
  ut_rng_seed(&rng, st->seed);
  tblk_t local[STORM_LOCAL] = {{0}};
  if (!st->exit_early) atomic_store(&st->go, 1);
  for (int i = 0; i < STORM_BLOCKS; i++) {
    size_t n = storm_size[i & 1];
    tblk_t b = {hak_malloc(n), 0, (st->seed << 24) + (uint64_t)i};
    if (!b.p) {
      thread_fail("storm: malloc(%zu) returned NULL", n);
      break;
    }
    b.usable = hak_malloc_usable_size(b.p);
    ut_fill(b.p, b.usable, b.id);
    storm_ring_t *r = &st->ring[i % STORM_FREERS];
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    r->b[h] = b;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    tblk_t *l = &local[ut_rng_below(&rng, STORM_LOCAL)];
    if (l->p) check_and_free(l, "storm local free");
    l->p = hak_malloc(storm_size[ut_rng_below(&rng, 2)]);
    if (l->p) {
      l->usable = hak_malloc_usable_size(l->p);
      l->id = ~b.id;
      ut_fill(l->p, l->usable, l->id);
    }
  }
  atomic_store(&st->dealt, 1);
  /* many to one: keep allocating (and so draining) while the freers push */
  while (!st->exit_early && atomic_load(&st->freed) < STORM_BLOCKS && !failures)
    for (int k = 0; k < STORM_LOCAL; k++) {
      tblk_t *l = &local[k];
      if (l->p) check_and_free(l, "storm local free");
      l->p = hak_malloc(storm_size[k & 1]);
      if (l->p) {
        l->usable = hak_malloc_usable_size(l->p);
        ut_fill(l->p, l->usable, l->id);
      }
    }
  for (int k = 0; k < STORM_LOCAL; k++)
    if (local[k].p) check_and_free(&local[k], "storm local free");
  /* exit_early: the freers start now, while this thread's exit abandons
   * its slabs, each holding blocks they are about to free */
  atomic_store(&st->go, 1);
  return NULL;
}

static void run_storm(int rounds, int exit_early) {
  hak_stats_t st0, st1;
  hak_malloc_trim(0);
  ut_stats(&st0);
  int cls[2] = {ut_class_of(&st0, storm_size[0]), ut_class_of(&st0, storm_size[1])};
  assert_true(cls[0] >= 0 && cls[1] >= 0 && cls[0] != cls[1]);
  uint64_t remote0 = 0, remote1 = 0;
  for (uint32_t c = 0; c < st0.nclasses; c++) remote0 += st0.cls[c].remote_frees;
  storm_t *st = calloc(1, sizeof *st);
  assert_non_null(st);
  for (int round = 0; round < rounds && !failures; round++) {
    memset(st, 0, sizeof *st);
    st->exit_early = exit_early;
    st->seed = (uint64_t)round + 1;
    pthread_t owner, freer[STORM_FREERS];
    storm_freer_arg_t fa[STORM_FREERS];
    for (unsigned f = 0; f < STORM_FREERS; f++) {
      fa[f] = (storm_freer_arg_t){st, f};
      assert_int_equal(pthread_create(&freer[f], NULL, storm_free_loop, &fa[f]), 0);
    }
    assert_int_equal(pthread_create(&owner, NULL, storm_owner, st), 0);
    pthread_join(owner, NULL);
    for (unsigned f = 0; f < STORM_FREERS; f++) pthread_join(freer[f], NULL);
    if (atomic_load(&st->freed) != STORM_BLOCKS && !failures)
      thread_fail("storm round %d: the freers freed %zu blocks of %d", round,
                  atomic_load(&st->freed), STORM_BLOCKS);
  }
  free(st);
  if (failures) fail_msg("%s", failure_msg);
  hak_malloc_trim(0);
  ut_stats(&st1);
  for (uint32_t c = 0; c < st1.nclasses; c++) remote1 += st1.cls[c].remote_frees;
  if (remote1 - remote0 < (uint64_t)rounds * STORM_BLOCKS)
    fail_msg("%d remote frees, but the classes counted %llu", rounds * STORM_BLOCKS,
             (unsigned long long)(remote1 - remote0));
  for (int k = 0; k < 2; k++)
    if (st1.cls[cls[k]].slabs != st0.cls[cls[k]].slabs)
      fail_msg("storm: remotely freed blocks failed to come back: class %d (%zu-byte blocks) "
               "holds %llu slabs after every block was freed and malloc_trim ran, %llu before",
               cls[k], storm_size[k], (unsigned long long)st1.cls[cls[k]].slabs,
               (unsigned long long)st0.cls[cls[k]].slabs);
  assert_int_equal(st1.live_blocks, st0.live_blocks);
  int walk = hak_check_heap();
  if (walk > 0) fail_msg("heap walk after the storm: %d problems", walk);
}

static void test_remote_storm(void **state) {
  (void)state;
  run_storm(8, 0);
}

static void test_remote_storm_exit(void **state) {
  (void)state;
  run_storm(12, 1);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_lived_threads_abandon_adopt),
      cmocka_unit_test(test_thread_exit_memory_bounded),
      cmocka_unit_test(test_thread_exit_whales_bounded),
      cmocka_unit_test(test_concurrent_cross_thread_frees),
      cmocka_unit_test(test_remote_batch_held_by_live_thread),
      cmocka_unit_test(test_remote_storm),
      cmocka_unit_test(test_remote_storm_exit),
      cmocka_unit_test(test_remote_join_free_list),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_threads", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
