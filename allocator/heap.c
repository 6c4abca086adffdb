/* heap.c - per-thread heap objects: the empty heap every thread starts
 * with, making and recycling heaps, the metadata memory they live in, and
 * the fresh-page telemetry counted in them.
 *
 * A thread starts with hk_tl_heap == &hk_heap_empty, whose every class
 * points at the empty slab, so the allocation fast path needs no NULL test:
 * the first allocation falls into the slow path, which gets the thread a
 * heap (init.c, through hk_heap_new).  At thread exit the heap's slabs are
 * abandoned (class.c) and the heap goes onto the recycle list here.
 *
 * Invariants:
 *   - heaps are never unmapped, so a stale pointer to one (a remote-free
 *     hint) is always safe to write through;
 *   - a heap is alive exactly while a running thread owns it, and then on
 *     no recycle list; hk_heaps_all lists every heap ever made;
 *   - metadata memory is zeroed, 64-byte aligned and never freed.
 */
#include "internal.h"

hk_slab_t hk_slab_empty;
hk_heap_t hk_heap_empty = {.direct = {[0 ... HK_TINY_QS - 1] = &hk_slab_empty},
                            .cur = {[0 ... HK_NCLASSES - 1] = &hk_slab_empty}};
__thread hk_heap_t *hk_tl_heap __attribute__((tls_model("initial-exec"))) =
    &hk_heap_empty;

pthread_mutex_t hk_heaps_lock = PTHREAD_MUTEX_INITIALIZER;
hk_heap_t *hk_heaps_all;
static hk_heap_t *heaps_free;
uint64_t hk_threads_started, hk_threads_exited;
hk_counters_t hk_orphan_cnt[HK_NCLASSES];
_Atomic uint64_t hk_orphan_fresh[HK_BUCKETS];

/* Fresh-page telemetry: in the calling thread's heap, or in
 * hk_orphan_fresh for a thread without one. */
void hk_fresh_pages(unsigned bucket, uint64_t pages) {
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) HK_CNT_ADD(h->fresh[bucket], pages);
  else atomic_fetch_add_explicit(&hk_orphan_fresh[bucket], pages, memory_order_relaxed);
}

/* ---- metadata memory: bump allocation from OS chunks, never freed ------ */
pthread_mutex_t hk_meta_lock = PTHREAD_MUTEX_INITIALIZER;
static char *meta_cur, *meta_end;

static void *meta_alloc(size_t size) {
  size = (size + 63) & ~(size_t)63;
  pthread_mutex_lock(&hk_meta_lock);
  if (meta_cur == NULL || (size_t)(meta_end - meta_cur) < size) {
    size_t chunk = size > 65536 ? (size + HK_PAGE - 1) & ~(size_t)(HK_PAGE - 1) : 65536;
    char *p = hk_os_map(chunk, HK_PAGE);
    if (p == NULL) {
      pthread_mutex_unlock(&hk_meta_lock);
      return NULL;
    }
    meta_cur = p;
    meta_end = p + chunk;
  }
  void *r = meta_cur;
  meta_cur += size;
  pthread_mutex_unlock(&hk_meta_lock);
  return r;
}

/* ---- heaps ----------------------------------------------------------------- */
void hk_heap_reset(hk_heap_t *h) {
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    hk_set_cur(h, c, &hk_slab_empty);
    h->avail[c] = NULL;
    h->full[c] = NULL;
  }
  atomic_store_explicit(&h->remote_hint, 0, memory_order_relaxed);
  h->calloc_blk = 0; /* (a recycled heap names no block of its last thread) */
}

hk_heap_t *hk_heap_new(void) {
  pthread_mutex_lock(&hk_heaps_lock);
  hk_heap_t *h = heaps_free;
  if (h != NULL) heaps_free = h->next_free;
  pthread_mutex_unlock(&hk_heaps_lock);
  if (h == NULL) {
    h = meta_alloc(sizeof(hk_heap_t));
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
  return h;
}

void hk_heap_recycle(hk_heap_t *h) {
  HAKMEM_RACE_POINT(HK_RACE_RECYCLE); /* pushers may still hint this heap */
  pthread_mutex_lock(&hk_heaps_lock);
  h->alive = 0;
  h->next_free = heaps_free;
  heaps_free = h;
  hk_threads_exited++;
  pthread_mutex_unlock(&hk_heaps_lock);
}
