/* init.c - the process's and each thread's life around the allocator:
 * start-up, the thread's heap on its first allocation, thread exit, fork.
 *
 * Start-up: hk_init runs once (link secret, options, thread-exit key, fork
 * handlers, stats, prewarm, verbose line), from the library constructor,
 * which also gives the loading thread its heap, or from the first
 * allocation of any thread before it; a recursive allocation from inside
 * it (e.g. glibc's pthread_atfork allocating) proceeds without waiting for
 * itself.
 *
 * Thread exit: a pthread key destructor sends the heap's whale slot to the
 * shared cache, abandons its slabs (class.c) and recycles the heap (heap.c).
 *
 * Decay: hk_decay_tick (below) gives idle memory back on slow paths.
 *
 * Fork: the prepare handler takes every allocator lock in a fixed order;
 * parent and child release them.  In the child the heaps of the threads
 * that did not survive the fork are left alone (never adopted, never
 * recycled), because those threads may have stopped inside a lock-free
 * fast path; their blocks stay freeable (remote queue) but are leaked.
 *
 * Invariants: no heap is made before hk_init has finished (or is running
 * on this very thread); a heap is this thread's (hk_tl_heap and the key's
 * value) from hk_thread_heap until thread exit.
 */
#include "internal.h"

#include <errno.h>

static __thread int tl_in_init __attribute__((tls_model("initial-exec")));
static _Atomic int init_state; /* 0 none, 1 running, 2 done */
static pthread_key_t heap_key;

/* ---- thread exit ----------------------------------------------------------- */
static void thread_exit(void *value) {
  hk_heap_t *h = value;
  if (h == NULL || h == &hk_heap_empty) return;
  hk_tl_heap = &hk_heap_empty;
  hk_whale_flush(h);
  hk_heap_abandon(h);
  hk_heap_recycle(h);
  hk_decay_tick(&hk_heap_empty);
}

/* ---- decay ------------------------------------------------------------------
 * No background thread: the slow paths (class refills, whale frees, thread
 * exit) call hk_decay_tick (internal.h), which reads a coarse clock in one
 * call of 16 of a thread (hk_decay_check).  Every HAKMEM_DECAY_MS /
 * HK_DECAY_AGE the first thread to notice advances the decay epoch and runs
 * the global pass: abandoned slabs (heaps of exited threads) that remote
 * frees have emptied go back, and cached whale mappings, free units of
 * superslabs and cached superslabs idle for HK_DECAY_AGE epochs go to the
 * OS.  A thread's own heap (its empty spans, its whale slot) is passed over
 * by the thread itself once per epoch, before the global pass. */
static _Atomic uint64_t decay_next_ms;

void hk_decay_check(hk_heap_t *h) {
  if (hk_opt.decay_ms == 0) {
    if (h != &hk_heap_empty) h->decay_skip = UINT32_MAX; /* off: rarely here */
    return;
  }
  if (h != &hk_heap_empty) h->decay_skip = 15;
  uint64_t now = hk_now_ms();
  uint64_t next = atomic_load_explicit(&decay_next_ms, memory_order_relaxed);
  int global = 0;
  if (HK_UNLIKELY(now >= next)) {
    uint64_t period = hk_opt.decay_ms / HK_DECAY_AGE ? (uint64_t)hk_opt.decay_ms / HK_DECAY_AGE : 1;
    if (atomic_compare_exchange_strong(&decay_next_ms, &next, now + period)) {
      atomic_fetch_add(&hk_decay_epoch, 1);
      global = 1;
    }
  }
  uint64_t e = hk_epoch();
  /* this thread's heap first: what its pass moves to the shared caches
   * keeps its stamp, and the global pass below may give it back at once */
  if (h != &hk_heap_empty && e != h->decay_epoch) {
    h->decay_epoch = e;
    hk_heap_decay(h, e);
    hk_whale_slot_decay(h, e);
  }
  if (global) {
    hk_abandoned_trim();
    hk_whale_decay(e);
    hk_ss_decay(e);
  }
}

/* ---- fork ---------------------------------------------------------------- */
/* Lock order: snapshot, heaps, abandoned, superslab, whale, meta.  (The snapshot
 * lock is held while the others are taken, by hak_stats_get.) */
static void fork_prepare(void) {
  hk_remote_flush(hk_tl_heap); /* (may take the abandoned lock) */
  pthread_mutex_lock(&hk_snapshot_lock);
  pthread_mutex_lock(&hk_heaps_lock);
  pthread_mutex_lock(&hk_abandoned_lock);
  pthread_mutex_lock(&hk_ss_lock);
  pthread_mutex_lock(&hk_whale_lock);
  pthread_mutex_lock(&hk_meta_lock);
}
static void fork_parent(void) {
  pthread_mutex_unlock(&hk_meta_lock);
  pthread_mutex_unlock(&hk_whale_lock);
  pthread_mutex_unlock(&hk_ss_lock);
  pthread_mutex_unlock(&hk_abandoned_lock);
  pthread_mutex_unlock(&hk_heaps_lock);
  pthread_mutex_unlock(&hk_snapshot_lock);
}
static void fork_child(void) {
  /* This thread took every lock in fork_prepare and is the one thread of
   * the child, so it releases them, as the parent does. */
  fork_parent();
  /* Threads other than this one are gone, possibly in the middle of a
   * lock-free fast path on one of their slabs: those slabs are never
   * reused in the child (adopting them could hand out a half-pushed
   * block).  Their heaps stay owned by nobody and are not recycled, so no
   * new thread inherits their slabs; frees into them queue remotely and
   * are never drained.  The child leaks them, as glibc leaks the dead
   * threads' tcaches. */
  hk_heap_t *me = hk_tl_heap;
  for (hk_heap_t *h = hk_heaps_all; h != NULL; h = h->next_all) {
    if (h != me && h->alive) {
      h->alive = 0;
      hk_threads_exited++;
    }
  }
}

/* ---- start-up ------------------------------------------------------------ */
static HK_NOINLINE void init_slow(void) {
  if (tl_in_init) return; /* recursive allocation during our own init */
  int expect = 0;
  if (atomic_compare_exchange_strong(&init_state, &expect, 1)) {
    tl_in_init = 1;
    hk_harden_init(); /* the link secret, before any block is carved */
    hk_options_init();
    pthread_key_create(&heap_key, thread_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    hk_stats_init();
    if (hk_opt.prewarm) hk_ss_prewarm((unsigned)hk_opt.prewarm);
    if (hk_opt.verbose) hk_options_print(2);
    tl_in_init = 0;
    atomic_store_explicit(&init_state, 2, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
    __builtin_ia32_pause();
}

HK_INLINE void init(void) {
  if (HK_UNLIKELY(atomic_load_explicit(&init_state, memory_order_acquire) != 2)) init_slow();
}

/* ---- the thread's heap ----------------------------------------------------- */
hk_heap_t *hk_thread_heap(void) {
  init();
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) return h;
  h = hk_heap_new();
  if (h == NULL) return NULL;
  hk_tl_heap = h;
  pthread_setspecific(heap_key, h);
  return h;
}

void *hk_alloc_slow(hk_heap_t *h, unsigned cls) {
  if (h == &hk_heap_empty) {
    h = hk_thread_heap();
    if (h == NULL) {
      errno = ENOMEM;
      return NULL;
    }
  }
  hk_decay_tick(h);
  return hk_class_alloc_slow(h, cls);
}

/* The thread that loads the library (the main thread, as a rule) gets its
 * heap here rather than in its first malloc, as glibc's main arena and
 * mimalloc's main heap exist before main(): the first allocation then pays
 * no heap set-up (a metadata mapping and its first page). */
__attribute__((constructor)) static void hk_constructor(void) { hk_thread_heap(); }
