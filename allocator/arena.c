/* arena.c - per-thread heaps: creation, thread exit, fork, and start-up.
 *
 * A thread starts with hk_tl_heap == &hk_heap_empty, whose every class
 * points at the empty slab, so the allocation fast path needs no NULL test:
 * the first allocation falls into the slow path, which makes (or recycles)
 * a heap here.  A pthread key destructor abandons the heap's slabs when the
 * thread exits and puts the heap on the recycle list; heaps themselves are
 * never unmapped, so a stale pointer to one (a remote-free hint) is always
 * safe to write through.
 *
 * Fork: the prepare handler takes every allocator lock in a fixed order;
 * parent and child release them.  In the child the heaps of the threads
 * that did not survive the fork are left alone (never adopted, never
 * recycled), because those threads may have stopped inside a lock-free
 * fast path; their blocks stay freeable (remote queue) but are leaked.
 *
 * Start-up: hk_init runs once (options, key, fork handlers, verbose line),
 * from the library constructor, which also makes the loading thread's heap;
 * a recursive allocation from inside it (e.g. glibc's pthread_atfork
 * allocating) proceeds without waiting for itself.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

hk_slab_t hk_slab_empty;
hk_heap_t hk_heap_empty = {.direct = {[0 ... HK_TINY_QS - 1] = &hk_slab_empty},
                            .cur = {[0 ... HK_NCLASSES - 1] = &hk_slab_empty}};
__thread hk_heap_t *hk_tl_heap __attribute__((tls_model("initial-exec"))) =
    &hk_heap_empty;
static __thread int tl_in_init __attribute__((tls_model("initial-exec")));

pthread_mutex_t hk_heaps_lock = PTHREAD_MUTEX_INITIALIZER;
hk_heap_t *hk_heaps_all;
static hk_heap_t *heaps_free;
uint64_t hk_threads_started, hk_threads_exited;
hk_counters_t hk_orphan_cnt[HK_NCLASSES];
_Atomic uint64_t hk_orphan_fresh[HK_BUCKETS];
_Atomic int hk_init_state;
static pthread_key_t heap_key;

/* Fresh-page telemetry (internal.h): in the calling thread's heap, or in
 * hk_orphan_fresh for a thread without one. */
void hk_fresh_pages(unsigned bucket, uint64_t pages) {
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) HK_CNT_ADD(h->fresh[bucket], pages);
  else atomic_fetch_add_explicit(&hk_orphan_fresh[bucket], pages, memory_order_relaxed);
}

/* ---- metadata memory: bump allocation from OS chunks, never freed ------ */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static char *meta_cur, *meta_end;

void *hk_meta_alloc(size_t size) {
  size = (size + 63) & ~(size_t)63;
  pthread_mutex_lock(&meta_lock);
  if (meta_cur == NULL || (size_t)(meta_end - meta_cur) < size) {
    size_t chunk = size > 65536 ? (size + HK_PAGE - 1) & ~(size_t)(HK_PAGE - 1) : 65536;
    char *p = hk_os_map(chunk, HK_PAGE);
    if (p == NULL) {
      pthread_mutex_unlock(&meta_lock);
      return NULL;
    }
    meta_cur = p;
    meta_end = p + chunk;
  }
  void *r = meta_cur;
  meta_cur += size;
  pthread_mutex_unlock(&meta_lock);
  return r;
}

/* ---- thread lifecycle ---------------------------------------------------- */
static void heap_retire(hk_heap_t *h) {
  hk_whale_flush(h);
  hk_heap_abandon(h);
  pthread_mutex_lock(&hk_heaps_lock);
  h->alive = 0;
  h->next_free = heaps_free;
  heaps_free = h;
  hk_threads_exited++;
  pthread_mutex_unlock(&hk_heaps_lock);
}

static void thread_exit(void *value) {
  hk_heap_t *h = value;
  if (h == NULL || h == &hk_heap_empty) return;
  hk_tl_heap = &hk_heap_empty;
  heap_retire(h);
}

hk_heap_t *hk_heap_get(void) {
  hk_init();
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) return h;
  pthread_mutex_lock(&hk_heaps_lock);
  h = heaps_free;
  if (h != NULL) heaps_free = h->next_free;
  pthread_mutex_unlock(&hk_heaps_lock);
  if (h == NULL) {
    h = hk_meta_alloc(sizeof(hk_heap_t));
    if (h == NULL) return NULL;
    hk_heap_reset(h);
    pthread_mutex_lock(&hk_heaps_lock);
    h->next_all = hk_heaps_all;
    hk_heaps_all = h;
    pthread_mutex_unlock(&hk_heaps_lock);
  }
  pthread_mutex_lock(&hk_heaps_lock);
  h->alive = 1;
  h->next_free = NULL;
  hk_threads_started++;
  pthread_mutex_unlock(&hk_heaps_lock);
  HK_ASSERT(h != &hk_heap_empty && h->alive);
  hk_tl_heap = h;
  pthread_setspecific(heap_key, h);
  return h;
}

/* ---- fork ---------------------------------------------------------------- */
/* Lock order: snapshot, heaps, abandoned, superslab, whale, meta.  (The snapshot
 * lock is held while the others are taken, by hak_stats_get.) */
static void fork_prepare(void) {
  pthread_mutex_lock(&hk_snapshot_lock);
  pthread_mutex_lock(&hk_heaps_lock);
  pthread_mutex_lock(&hk_abandoned_lock);
  pthread_mutex_lock(&hk_ss_lock);
  pthread_mutex_lock(hk_whale_lock());
  pthread_mutex_lock(&meta_lock);
}
static void fork_parent(void) {
  pthread_mutex_unlock(&meta_lock);
  pthread_mutex_unlock(hk_whale_lock());
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
void hk_init_slow(void) {
  if (tl_in_init) return; /* recursive allocation during our own init */
  int expect = 0;
  if (atomic_compare_exchange_strong(&hk_init_state, &expect, 1)) {
    tl_in_init = 1;
    hk_harden_init(); /* the link secret, before any block is carved */
    hk_options_init();
    pthread_key_create(&heap_key, thread_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    hk_stats_init();
    if (hk_opt.prewarm) hk_ss_prewarm((unsigned)hk_opt.prewarm);
    if (hk_opt.verbose) hk_options_print(2);
    tl_in_init = 0;
    atomic_store_explicit(&hk_init_state, 2, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&hk_init_state, memory_order_acquire) != 2)
    __builtin_ia32_pause();
}

/* The thread that loads the library (the main thread, as a rule) gets its
 * heap here rather than in its first malloc, as glibc's main arena and
 * mimalloc's main heap exist before main(): the first allocation then pays
 * no heap set-up (a metadata mapping and its first page). */
__attribute__((constructor)) static void hk_constructor(void) {
  hk_init();
  hk_heap_get();
}
