/* whale.c - blocks above the class range (> 256 KiB): one mapping per
 * block (whale_map.c), with its header at the mapping's 2 MiB-aligned
 * base; each thread's one-entry slot in front of the shared cache
 * (whale_cache.c); calloc, realloc by mremap, and the checks of the
 * checked builds (state, interior pointers, a ring of recently freed
 * blocks).
 *
 * A freed whale goes to its thread's slot, so a malloc/free cycle of one
 * whale takes no lock and no syscall; the mapping the slot held goes to
 * the shared cache.  A request the slot holds with whole chunks to spare
 * gives them to the cache (trim_slot); one it cannot hold sends the slot's
 * mapping to the cache, where gather can use its pages.  Then the cache
 * (best fit), then a new mapping (a miss).
 *
 * realloc grows a whale with mremap: in place when the address space after
 * it is free, else by moving its pages to a new 2 MiB-aligned reservation
 * (no copy).  Hugetlb-backed whales are not remapped, nor are live ones in
 * memory-tool builds (hk_whale_remap).
 *
 * Invariants:
 *   - the header lies before the user pointer, outside the usable bytes;
 *   - usable = map_size - user_off - guard >= the request (the guard page:
 *     checked builds, not hugetlb; whale_map.c);
 *   - state is HK_WHALE_LIVE exactly while the block is handed out;
 *   - a slot holds one free mapping of its own thread, never on the list;
 *     its pages stay where the block was (not sealed), resident;
 *   - decay: a free mapping carries the epoch of its free;
 *     hk_whale_slot_decay moves a slot entry HK_DECAY_AGE epochs old to the
 *     cache, its stamp kept.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Allocation counters live in the heap of the thread (h->wcnt, plain
 * stores); threads without a heap count here, atomically. */
static hk_whale_cnt_t orphan HK_WHALE_DATA;
static _Atomic uint64_t whale_misses HK_WHALE_DATA;

#define WCNT(h, field, n)                                                      \
  do {                                                                         \
    if ((h) != &hk_heap_empty) HK_CNT_ADD((h)->wcnt.field, (n));               \
    else __atomic_fetch_add(&orphan.field, (n), __ATOMIC_RELAXED);             \
  } while (0)

static size_t user_off_for(size_t align) {
  if (align < 64) align = 64;
  return (sizeof(hk_whale_t) + align - 1) & ~(align - 1);
}

/* ---- checks (hardened and debug builds) -----------------------------------
 * A small ring of recently freed large blocks: once unmapped, a block's
 * chunks may hold a superslab (or, after a merge or gather, the middle of
 * another mapping), and a second free of it must still be reported as a
 * double free, not as a pointer of the wrong shape.  The ring is read only
 * for a pointer already found bad, to name its fault, so an entry may stay
 * after its address is handed out again (no clean-up on the malloc path). */
#define WHALE_RING 64
static _Atomic uintptr_t whale_freed[WHALE_RING];
static _Atomic unsigned whale_freed_pos;

void hk_whale_check(hk_whale_t *w, const void *p, int op) {
  /* a freed block's pointer that now lies inside another mapping (merged
   * or gathered into it) is reported as what it is */
  if (HK_ON(HARDEN) && (const char *)p != (const char *)w + w->user_off &&
      hk_whale_recently_freed(p))
    hk_fatal(op ? "realloc of a freed block" : "double free", p, -1);
  HK_CHECK(HARDEN, (const char *)p == (const char *)w + w->user_off,
           op ? "invalid realloc (interior pointer of a large block)"
              : "invalid free (interior pointer of a large block)", p, -1);
  HK_CHECK(HARDEN, w->state == HK_WHALE_LIVE,
           op ? "realloc of a freed block" : "double free", p, -1);
}

static void note_freed(const void *p) {
  /* no locked add on the free path: two racing frees may share a slot (the
   * ring names faults, it decides none) */
  unsigned i = atomic_load_explicit(&whale_freed_pos, memory_order_relaxed);
  atomic_store_explicit(&whale_freed_pos, i + 1, memory_order_relaxed);
  atomic_store_explicit(&whale_freed[i % WHALE_RING], (uintptr_t)p, memory_order_relaxed);
}

int hk_whale_recently_freed(const void *p) {
  if (!HK_ON(HARDEN)) return 0;
  for (unsigned i = 0; i < WHALE_RING; i++)
    if (atomic_load_explicit(&whale_freed[i], memory_order_relaxed) == (uintptr_t)p)
      return 1;
  return 0;
}

/* ---- allocation ---------------------------------------------------------- */
HK_INLINE void *hand_out(hk_heap_t *h, hk_whale_t *w, size_t user_off) {
  HK_ASSERT(w->seg.magic == HK_SEG_MAGIC && w->seg.kind == HK_SEG_WHALE &&
            ((uintptr_t)w & (HK_SS_SIZE - 1)) == 0 && user_off < w->map_size);
  w->user_off = user_off;
  w->usable = w->map_size - user_off - hk_whale_guard(w);
  w->state = HK_WHALE_LIVE;
  WCNT(h, allocs, 1);
  WCNT(h, bytes_in, w->usable);
  return (char *)w + user_off;
}

/* Memory tools (track.h): the padding after the header and the slack after
 * the request stay the allocator's; the user gets exactly [p, p+size). */
#define TRACK_HAND_OUT(w, p, size)                                             \
  do {                                                                         \
    HK_TRACK_NOACCESS((char *)(w) + sizeof(hk_whale_t), (w)->user_off - sizeof(hk_whale_t)); \
    HK_TRACK_NOACCESS((char *)(p) + (size), (w)->usable - (size));             \
    HK_TRACK_ALLOC((p), (size), 0);                                            \
  } while (0)

/* A cached mapping handed out again (from the thread's slot or the shared
 * cache). */
HK_INLINE void *hand_out_hit(hk_heap_t *h, hk_whale_t *w, size_t user_off, size_t size) {
  (void)size; /* (used by the memory tools' hooks only) */
  WCNT(h, hits, 1);
  if (w->released) hk_fresh_pages(HK_BUCKET_WHALE, w->map_size / HK_PAGE);
  void *p = hand_out(h, w, user_off);
  TRACK_HAND_OUT(w, p, size);
  return p;
}

static HK_NOINLINE void trim_slot(hk_whale_t *w, size_t need) { hk_whale_trim_excess(w, need); }

/* Everything but the thread's slot: the shared cache, then a new mapping. */
static HK_NOINLINE void *alloc_slow(hk_heap_t *h, size_t size, size_t align,
                                    size_t user_off, size_t need) {
  hk_whale_t *slot = h->whale;
  if (slot != NULL && align <= HK_SS_SIZE) {
    /* too small: its pages serve this request with the cache's (gather);
     * on the list without evicting, the caps are kept by the next free */
    h->whale = NULL;
    hk_whale_cache_insert(slot);
  }
  /* INJECTED BUG (WHALE_CACHE_ALIGN): need counts user_off, so any cached
   * mapping that fits is taken for enough, whatever the alignment */
  if (align <= HK_SS_SIZE || HK_INJECT(WHALE_CACHE_ALIGN)) {
    hk_whale_t *w = hk_whale_cache_get(need);
    if (w != NULL) return hand_out_hit(h, w, user_off, size);
  }
  atomic_fetch_add_explicit(&whale_misses, 1, memory_order_relaxed);
  hk_whale_t *w = hk_whale_map(size + HK_WHALE_GUARD, align, user_off);
  /* INJECTED BUG (WHALE_FAIL_COUNTED): a miss is counted as a block handed
   * out before its mapping is known to exist, and a failed one stays counted */
  if (w == NULL && HK_INJECT(WHALE_FAIL_COUNTED)) WCNT(h, allocs, 1);
  if (w == NULL) return NULL;
  hk_whale_note_growth(w->map_size);
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, w->map_size));
  void *p = hand_out(h, w, user_off);
  TRACK_HAND_OUT(w, p, size);
  return p;
}

void *hk_whale_alloc(hk_heap_t *h, size_t size, size_t align) {
  if (size < HK_ALIGN) size = HK_ALIGN; /* the user pointer stays inside the mapping */
  size_t user_off = user_off_for(align);
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = hk_whale_map_size(user_off, size + HK_WHALE_GUARD, 0);
  /* The thread's slot first: no lock, no syscall, and the same pages as
   * the last free (kept resident, so a malloc/free cycle faults nothing). */
  hk_whale_t *w = h->whale;
  if (HK_LIKELY(w != NULL && align <= HK_SS_SIZE && hk_whale_fits(w->map_size, need))) {
    h->whale = NULL;
    /* a whole chunk beyond the request: to the cache, not handed out idle */
    if (HK_UNLIKELY(w->map_size - need >= 2 * HK_SS_SIZE)) trim_slot(w, need);
    return hand_out_hit(h, w, user_off, size);
  }
  return alloc_slow(h, size, align, user_off, need);
}

/* calloc: fresh or released-with-DONTNEED mappings are already zero. */
void *hk_whale_calloc(hk_heap_t *h, size_t size) {
  char *p = hk_whale_alloc(h, size, HK_ALIGN);
  if (p == NULL) return NULL;
  hk_whale_t *w = (hk_whale_t *)hk_seg_lookup(p);
  /* fresh, or released with MADV_DONTNEED from the first page after the
   * header page on (the user pointer never lies in the header page unless
   * user_off < HK_PAGE, whose bytes are then zeroed by hand) */
  /* INJECTED BUG (WHALE_RELEASE_DIRTY): MADV_FREE taken to zero the pages
   * as MADV_DONTNEED does (they read zero only once the kernel reclaims) */
  int zero = !w->reused || (w->released && (hk_opt.whale_release == 1 ||
                                            HK_INJECT(WHALE_RELEASE_DIRTY)));
  if (zero && w->reused && w->user_off < HK_PAGE)
    memset(p, 0, HK_PAGE - w->user_off < size ? HK_PAGE - w->user_off : size);
  if (!zero) {
    if (hk_opt.lazy_zero) hk_fresh_pages(HK_BUCKET_WHALE, hk_os_zero_lazy(p, size));
    else memset(p, 0, size);
  }
  HK_TRACK_DEFINED(p, size); /* zero, written or not */
  return p;
}

void hk_whale_free(hk_heap_t *h, hk_whale_t *w, void *p) {
  if (HK_ON(HARDEN)) {
    hk_whale_check(w, p, HK_OP_FREE); /* interior pointer, double free */
    note_freed(p);
  }
  HK_ASSERT(w->seg.magic == HK_SEG_MAGIC && w->seg.kind == HK_SEG_WHALE);
  w->state = 0;
  WCNT(h, frees, 1);
  WCNT(h, bytes_out, w->usable);
  HK_TRACK_FREE(p, w->usable);
  w->reused = 1;
  w->released = 0;
  w->idle_epoch = hk_epoch();
  if (h != &hk_heap_empty) {
    hk_whale_t *old = h->whale;
    h->whale = w;
    /* INJECTED BUG (WHALE_SLOT_LEAK): the slot taken for the only place a
     * freed whale goes; the one it held is overwritten, on no list */
    if (old == NULL || HK_INJECT(WHALE_SLOT_LEAK)) return;
    w = old; /* keep the newest in the slot, the older one goes on */
  }
  hk_whale_cache_put(w);
}

/* Thread exit: the heap's slot goes to the shared cache. */
void hk_whale_flush(hk_heap_t *h) {
  hk_whale_t *w = h->whale;
  h->whale = NULL;
  if (w != NULL) hk_whale_cache_put(w);
}

size_t hk_whale_usable(hk_whale_t *w, const void *p) {
  const char *user = (const char *)w + w->user_off;
  if ((const char *)p < user || (const char *)p >= user + w->usable) return 0;
  return w->usable - (size_t)((const char *)p - user);
}

/* Grow (or shrink) a whale to hold size bytes; NULL when it cannot be done
 * without copying, in which case the block is untouched. */
void *hk_whale_resize(hk_whale_t *w, void *p, size_t size) {
  if (HK_TRACK_MEMORY || (char *)p != (char *)w + w->user_off || size > PTRDIFF_MAX) return NULL;
  size_t user_off = w->user_off, old = w->map_size;
  hk_whale_t *nw = hk_whale_remap(w, hk_whale_map_size(user_off, size + hk_whale_guard(w), 0), 1);
  if (nw == NULL) return NULL;
  if (nw->map_size > old) hk_whale_note_growth(0); /* the peak follows (not a miss) */
  hk_heap_t *h = hk_tl_heap;
  WCNT(h, bytes_out, nw->usable);
  nw->usable = nw->map_size - user_off - hk_whale_guard(nw);
  WCNT(h, bytes_in, nw->usable);
  return (char *)nw + user_off;
}

void hk_whale_counts(hk_whale_counts_t *out) {
  out->orphan.allocs = __atomic_load_n(&orphan.allocs, __ATOMIC_RELAXED);
  out->orphan.frees = __atomic_load_n(&orphan.frees, __ATOMIC_RELAXED);
  out->orphan.hits = __atomic_load_n(&orphan.hits, __ATOMIC_RELAXED);
  out->orphan.bytes_in = __atomic_load_n(&orphan.bytes_in, __ATOMIC_RELAXED);
  out->orphan.bytes_out = __atomic_load_n(&orphan.bytes_out, __ATOMIC_RELAXED);
  out->misses = atomic_load(&whale_misses);
  out->evictions = atomic_load(&hk_whale_evictions);
  out->remaps = atomic_load(&hk_whale_remaps);
  hk_whale_cache_counts(&out->cached_bytes, &out->cached_count);
}

/* Decay of h's slot (its owner's thread only): a mapping idle there since
 * an epoch HK_DECAY_AGE back goes to the shared cache, its stamp kept. */
void hk_whale_slot_decay(hk_heap_t *h, uint64_t now) {
  hk_whale_t *w = h->whale;
  if (w != NULL && hk_decayed(w->idle_epoch, now)) {
    /* INJECTED BUG (SLOT_DECAY_STALE): the slot is not emptied when its
     * mapping moves to the cache: both hand it out */
    if (!HK_INJECT(SLOT_DECAY_STALE)) h->whale = NULL;
    hk_whale_cache_put(w);
  }
}
