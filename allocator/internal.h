/* internal.h - the hk_ functions and globals shared between the allocator's
 * files, grouped by the file that defines them, bottom layer first.  Each
 * file calls only files listed above it (docs/architecture.md; ci/layers
 * checks it at link level).  Nothing outside allocator/ includes it.
 *
 * Structs are in types.h, the options table in options.h, the registry
 * and slab lookups in lookup.h, the hot checks in harden.h, the allocation
 * fast path in alloc.h.
 *
 * Invariants kept across layers:
 *   - every pointer handed out lies in a registered segment (superslab or
 *     whale mapping), and the registry maps its 2 MiB chunk to that segment;
 *   - the slab descriptor found from an address is the source of truth for
 *     the block's class; the header byte is only a check;
 *   - allocator metadata (segment headers, slab descriptors, heaps) never
 *     lies inside a block's usable bytes.
 */
#ifndef HAKMEM_INTERNAL_H
#define HAKMEM_INTERNAL_H

#include <pthread.h>

#include "hakmem.h"
#include "config.h"
#include "layout.h"
#include "types.h"
#include "track.h"
#include "options.h"
#include "lookup.h"

/* ---- report.c: report lines (hk_fatal in config.h), the debug ring ------ */
/* A line under construction: appends are cut, never overflow; the text
 * stays NUL-terminated (buf is then a C string). */
typedef struct hk_line { size_t len; char buf[400]; } hk_line_t;
void hk_line_str(hk_line_t *l, const char *s);
void hk_line_u64(hk_line_t *l, uint64_t v, int width); /* decimal, right-aligned */
void hk_line_hex(hk_line_t *l, uint64_t v);            /* 0x...                  */
/* "<prefix><what>: <key>=0x<p> class=<cls, or - when < 0>" */
void hk_line_fault(hk_line_t *l, const char *prefix, const char *what,
                   const char *key, const void *p, int cls);
void hk_line_end(hk_line_t *l, int fd);   /* append '\n', write, empty it */
/* The ring of recent operations (debug builds): hk_fatal prints it after
 * its line, each entry "hakmem: recent: <op> ptr=... size=... heap=...". */
enum { HK_DOP_MALLOC, HK_DOP_FREE, HK_DOP_CALLOC, HK_DOP_REALLOC, HK_DOP_ALIGNED };
void hk_ring_note(int op, const void *p, size_t n, uintptr_t heap);

/* ---- options.c: the HAKMEM_* table (options.h), and the build identity - */
/* Forced races (checked and TSan builds, HK_ON(RACE)): race points in the
 * remote-free push, the drain, and the abandon and adopt paths.  A yield
 * point, HAKMEM_RACE_POINT(id), calls sched_yield when it fires; a CAS
 * point, HAKMEM_RACE_CAS(id, obj, expected), is written before a
 * compare-and-swap attempt and, when it fires, yields, loads *obj into
 * *expected and is true: the attempt counts as lost (never two running in
 * one thread, so a retry loop ends).  Which points fire: HAKMEM_RACE per
 * mille from a per-thread stream of HAKMEM_RACE_SEED, or the hook of
 * hak_race_hook (fuzz_mt: the input's bytes; no yield then, the hook's
 * scheduler decides who runs).  Release: nothing. */
enum { HK_RACE_PUSH, HK_RACE_PARK,           /* CAS points   */
       HK_RACE_YIELDS,                       /* yield points: */
       HK_RACE_DRAIN = HK_RACE_YIELDS, HK_RACE_ABANDON, HK_RACE_ADOPT,
       HK_RACE_RECLAIM, HK_RACE_REMOTE, HK_RACE_RECYCLE, HK_RACE_POINTS };
#if HK_ON(RACE)
extern int hk_race_on;
int hk_race(unsigned point);
#define HAKMEM_RACE_POINT(id) ((void)(HK_UNLIKELY(hk_race_on) && hk_race(id)))
#define HAKMEM_RACE_CAS(id, obj, expected)                                     \
  (HK_UNLIKELY(hk_race_on) && hk_race(id) &&                                   \
   (*(expected) = atomic_load_explicit((obj), memory_order_relaxed), 1))
#else
#define HAKMEM_RACE_POINT(id) ((void)0)
#define HAKMEM_RACE_CAS(id, obj, expected) 0
#endif

/* ---- os.c: the only file that calls mmap/munmap/mremap/madvise/mprotect -- */
/* Map size bytes (a multiple of HK_PAGE) aligned to align (a power of two
 * >= HK_PAGE), for allocator metadata.  NULL on failure with errno set. */
void *hk_os_map(size_t size, size_t align);
/* Map memory for blocks (superslabs, whales): applies the HUGETLB, THP and
 * PREFAULT policies.  *huge is set when the mapping uses MAP_HUGETLB (its
 * size is then a multiple of HK_SS_SIZE and it must not be remapped). */
void *hk_os_map_data(size_t size, size_t align, int *huge);
void  hk_os_unmap(void *p, size_t size);
int   hk_os_advise(void *p, size_t size, int advice);
/* Grow or shrink a mapping: in place when fixed == NULL, else move it to
 * fixed (which the caller reserved).  Returns the new address or NULL. */
void *hk_os_remap(void *p, size_t old_size, size_t new_size, void *fixed);
/* Zero [p, p+n): memset the partial pages, MADV_DONTNEED the whole ones.
 * Returns the pages given back (the next touch faults each in again). */
uint64_t hk_os_zero_lazy(void *p, size_t n);
/* Guard pages (checked builds): rw 0 = PROT_NONE, 1 = read/write again. */
int   hk_os_protect(void *p, size_t size, int rw);
/* Fill the OS-layer fields of a stats snapshot (syscall counts and
 * cycles, mapped bytes, policy counters). */
void  hk_os_stats(hak_stats_t *out);
/* Page faults taken inside the allocator, by bucket (HK_BUCKET_*); active
 * with HAKMEM_STATS=1 (two getrusage calls around each first touch). */
uint64_t hk_fault_begin(void);
void hk_fault_end(unsigned bucket, uint64_t begin);
void hk_fault_counts(uint64_t faults[HK_BUCKETS]);
/* Decay (init.c drives it): a coarse monotonic clock in ms, and the decay
 * epoch, advanced every HAKMEM_DECAY_MS / HK_DECAY_AGE by whichever
 * thread's slow path notices first.  Idle memory is stamped with the epoch
 * it went idle in and given back once HK_DECAY_AGE epochs have passed (so
 * after 0.75 to 1.25 times HAKMEM_DECAY_MS, at a slow path); HK_DECAY_NOW
 * marks what malloc_trim gives back at once. */
uint64_t hk_now_ms(void);
extern _Atomic uint64_t hk_decay_epoch;
#define HK_DECAY_AGE 4
#define HK_DECAY_NOW UINT64_MAX
HK_INLINE uint64_t hk_epoch(void) {
  return atomic_load_explicit(&hk_decay_epoch, memory_order_relaxed);
}
/* Stamped at `since`, idle long enough at epoch `now` (HK_DECAY_NOW: yes). */
HK_INLINE int hk_decayed(uint64_t since, uint64_t now) {
  return now == HK_DECAY_NOW || now >= since + HK_DECAY_AGE;
}

/* ---- leak.c: declared in track.h (ASan builds only) ---------------------- */

/* ---- layout.c: the layout table as data ---------------------------------- */
extern const hk_class_info_t hk_class[HK_NCLASSES];
extern const uint8_t hk_tiny_class_lut[HK_TINY_QS];
extern const uint8_t hk_tiny_q_lo[HK_NCLASSES], hk_tiny_q_hi[HK_NCLASSES];
/* checked builds: the capacities of a span ending at a guarded unit,
 * [cls][starts at unit 0] (layout.h; hk_class keeps release's size) */
extern const uint32_t hk_class_capg[HK_NCLASSES][2];
/* The capacity of a span of class cls that starts at unit `start`: the
 * superslab header (and its guard page) and a guard page at the span's end
 * counted out. */
HK_INLINE uint32_t hk_span_capacity(unsigned cls, unsigned start) {
  const hk_class_info_t *ci = &hk_class[cls];
  if (HK_GUARD_TAIL(start + ci->units - 1u)) return hk_class_capg[cls][start == 0];
  return start == 0 ? ci->cap0 : ci->cap;
}
/* The class of a request n <= HK_CLASS_MAX: the tiny lookup, else the step
 * of the power of two of n - 1 - HK_MID_OVER among the rows' strides (four
 * per doubling to 64 KiB, eight to 128 KiB, four to 256 KiB: layout.h,
 * HK_GEOM_STRIDE). */
HK_INLINE unsigned hk_class_of_size(size_t n) {
  if (HK_LIKELY(n <= HK_TINY_MAX)) return hk_tiny_class_lut[HK_TINY_Q(n)];
  size_t n1 = n - 1 - HK_MID_OVER; /* the class holds its row's stride + HK_MID_OVER */
  if (HK_LIKELY(n <= HK_MID_MAX)) {
    unsigned b = 63u - (unsigned)__builtin_clzl(n1); /* 10..15 */
    return HK_MID_FIRST + (b - 10u) * 4u + (unsigned)((n1 >> (b - 2u)) & 3u);
  }
  if (n1 < (1u << 17)) return HK_L25_FIRST + (unsigned)((n1 >> 13) & 7u); /* 64-128 KiB */
  return HK_L25_FIRST + 8u + (unsigned)((n1 >> 15) & 3u);
}
/* The class request of n bytes aligned to align (a power of two above
 * HK_ALIGN): n padded by align - HK_ALIGN, so that an aligned pointer lies
 * in the block; 0 when a whale serves it (align above a unit, or the
 * padded size above the classes). */
HK_INLINE size_t hk_aligned_request(size_t n, size_t align) {
  return align <= HK_UNIT_SIZE && n <= HK_CLASS_MAX - (align - HK_ALIGN) ? n + align - HK_ALIGN : 0;
}

/* ---- superslab.c: the registry, superslabs, spans ------------------------
 * (the registry and its inline lookups: lookup.h) */
/* Segment covering p (walking back over whale tail chunks), or NULL. */
hk_seg_t *hk_seg_lookup(const void *p);
/* Map the leaves [base, base+size) needs; 0, or -1 (ENOMEM) with nothing
 * changed.  Once reserved, hk_registry_set on that range cannot fail. */
int hk_registry_reserve(const void *base, size_t size);
/* Mark the chunks of [base, base+size): the first with kind, the rest with
 * HK_CHUNK_TAIL (or all with HK_CHUNK_NONE, which never fails).  base is
 * 2 MiB-aligned.  0, or -1 (ENOMEM: a leaf could not be mapped) with
 * nothing marked. */
int hk_registry_set(void *base, size_t size, unsigned kind);
extern pthread_mutex_t hk_ss_lock;
/* A span for class cls, its descriptor initialised (capacity, user0,
 * nothing carved); NULL on ENOMEM. */
hk_slab_t *hk_span_alloc(unsigned cls);
/* All of s's blocks are free: its units go back to the superslab (which
 * may be unmapped); idle: their pages go back to the OS at once, else
 * they decay with the superslab's other free units. */
void hk_span_free(hk_slab_t *s, int idle);
/* Decay at epoch now (HK_DECAY_NOW: everything, as hk_ss_trim does): the
 * free units of live superslabs and the cached superslabs idle since an
 * epoch HK_DECAY_AGE back go to the OS; returns the bytes given back. */
size_t hk_ss_decay(uint64_t now);
size_t hk_ss_trim(void);                  /* hk_ss_decay(HK_DECAY_NOW)       */
void hk_ss_prewarm(unsigned n);
/* Call fn on every mapped superslab, holding hk_ss_lock. */
void hk_ss_foreach(void (*fn)(hk_ss_t *ss, void *arg), void *arg);
void hk_ss_counts(uint64_t *live, uint64_t *cached, uint64_t *mapped, uint64_t *unmapped);

/* ---- heap.c: heap objects, metadata memory, fresh-page telemetry -------- */
extern hk_heap_t hk_heap_empty;     /* the heap of threads that have none   */
extern hk_slab_t hk_slab_empty;     /* the current slab of hk_heap_empty    */
extern __thread hk_heap_t *hk_tl_heap __attribute__((tls_model("initial-exec")));
extern pthread_mutex_t hk_heaps_lock;
extern hk_heap_t *hk_heaps_all;
extern uint64_t hk_threads_started, hk_threads_exited;
extern hk_counters_t hk_orphan_cnt[HK_NCLASSES]; /* remote frees by heapless threads */
extern _Atomic uint64_t hk_orphan_fresh[HK_BUCKETS];
extern pthread_mutex_t hk_meta_lock;
hk_heap_t *hk_heap_new(void);             /* recycled or made; alive; NULL on ENOMEM */
void hk_heap_recycle(hk_heap_t *h);       /* its slabs gone: onto the recycle list */
void hk_heap_reset(hk_heap_t *h);         /* every class at the empty slab  */
/* Pages first handed out, by bucket: counted always (no syscall), in the
 * calling thread's heap, so threads that carve at once share no line. */
void hk_fresh_pages(unsigned bucket, uint64_t pages);
/* Make s the current slab of class c (updating the direct table). */
HK_INLINE void hk_set_cur(hk_heap_t *h, unsigned c, hk_slab_t *s) {
  h->cur[c] = s;
  if (c < HK_TINY_CLASSES)
    for (unsigned q = hk_tiny_q_lo[c]; q <= hk_tiny_q_hi[c]; q++) h->direct[q] = s;
}

/* ---- zero.c: malloc(0) in checked builds -------------------------------- */
/* A unique pointer into a PROT_NONE region, or NULL (none left: the caller
 * hands out a class block).  Release: always NULL, and owns nothing. */
void *hk_zero_alloc(void);
int   hk_zero_owns(const void *p);            /* p lies in the region       */
void  hk_zero_check(const void *p, int op);   /* aborts unless p is live    */
void  hk_zero_free(const void *p, int op);    /* checks, then gives it back */
void  hk_zero_counts(uint64_t *allocs, uint64_t *frees);

/* ---- whale_map.c: a whale mapping made, guarded, remapped, sealed, unmapped */
/* The whale files' globals sit in .data, not .bss.  The linker puts .bss
 * after the registry's zero leaf onto a page of its own, which a program
 * whose first allocation is a whale would touch there first: a read (the
 * kernel maps the shared zero page), then a write (a second fault, copy on
 * write): two minor faults in its first malloc.  .data (a few KiB) shares
 * its pages with the options, which start-up writes. */
#define HK_WHALE_DATA __attribute__((section(".data")))
/* checked builds keep the last page of a mapping PROT_NONE (not hugetlb) */
#define HK_WHALE_GUARD (HK_ON(HARDEN) ? HK_PAGE : 0)
HK_INLINE size_t hk_whale_guard(const hk_whale_t *w) { return w->huge ? 0 : HK_WHALE_GUARD; }
/* Bytes to map for size at user_off (hugetlb mappings round to 2 MiB). */
HK_INLINE size_t hk_whale_map_size(size_t user_off, size_t size, int huge) {
  size_t round = huge ? HK_SS_SIZE : HK_PAGE;
  return (user_off + size + round - 1) & ~(round - 1);
}
/* A free mapping of map_size bytes holds need bytes (whatever it has
 * beyond them is split off: hk_whale_trim_excess). */
HK_INLINE int hk_whale_fits(size_t map_size, size_t need) {
  /* INJECTED BUG (WHALE_UNDERSIZE): half the request taken for enough */
  return map_size >= (HK_INJECT(WHALE_UNDERSIZE) ? need / 2 : need);
}
/* guards the cache's list (whale_cache.c) and LSan's calls (below); defined
 * in whale_map.c, the lowest file that takes it; fork_prepare holds it */
extern pthread_mutex_t hk_whale_lock;
/* bytes of every whale mapping (live, in a slot or cached), changed only
 * where a mapping is made, remapped or unmapped; mappings evicted or
 * unmapped for want of a cache; remaps */
extern _Atomic uint64_t hk_whale_mapped, hk_whale_evictions, hk_whale_remaps;
#define HK_WHALE_MAPPED_ADD(n) atomic_fetch_add_explicit(&hk_whale_mapped, (uint64_t)(n), memory_order_relaxed)
#define HK_WHALE_MAPPED_SUB(n) atomic_fetch_sub_explicit(&hk_whale_mapped, (uint64_t)(n), memory_order_relaxed)
#define HK_WHALE_EVICTED() atomic_fetch_add_explicit(&hk_whale_evictions, 1, memory_order_relaxed)
/* LSan's root-region calls (HK_TRACK_SEGMENT/UNMAP) take LSan's own lock:
 * made under hk_whale_lock, which fork_prepare holds, no fork can copy
 * that lock taken into a child (which then hung in its next call).  Only
 * ASan builds take the lock (and only they have work to do); the caller
 * never holds hk_whale_lock. */
#define HK_TRACK_UNDER_WHALE_LOCK(stmt)                                        \
  do {                                                                         \
    if (HK_TRACK_ASAN) {                                                       \
      pthread_mutex_lock(&hk_whale_lock);                                      \
      stmt;                                                                    \
      pthread_mutex_unlock(&hk_whale_lock);                                    \
    }                                                                          \
  } while (0)
/* A new mapping for size bytes (the guard counted in) at user_off, aligned
 * to max(2 MiB, align), registered; NULL with errno ENOMEM. */
hk_whale_t *hk_whale_map(size_t size, size_t align, size_t user_off);
void hk_whale_unmap(hk_whale_t *w);             /* unregistered and unmapped */
void hk_whale_guard_set(hk_whale_t *w, int on); /* the guard page on / off   */
/* The pages of [src, src+len) moved to dst by mremap, whatever kernel
 * areas the range is made of. */
void hk_whale_move_pages(char *src, size_t len, char *dst);
/* Checked builds: free mapping w moved to a new address, its old range
 * unmapped; NULL when it could not be (w unmapped).  Else w. */
hk_whale_t *hk_whale_seal(hk_whale_t *w);
/* w remapped to new_size bytes (in place or moved, no copy); NULL with w
 * untouched when it cannot be.  count_fresh: growth counted as fresh pages. */
hk_whale_t *hk_whale_remap(hk_whale_t *w, size_t new_size, int count_fresh);

/* ---- whale_cache.c: the shared cache of free whale mappings -------------- */
/* w (free, off every list) goes to the cache (released as
 * HAKMEM_WHALE_RELEASE says, sealed, merged), the caps kept by eviction. */
void hk_whale_cache_put(hk_whale_t *w);
void hk_whale_cache_insert(hk_whale_t *w);   /* the same, no eviction       */
hk_whale_t *hk_whale_cache_get(size_t need); /* fitted to need, or NULL     */
/* w (free, off every list) about to serve need bytes: its whole chunks
 * beyond them go to the cache. */
void hk_whale_trim_excess(hk_whale_t *w, size_t need);
void hk_whale_cache_counts(uint64_t *bytes, uint64_t *count);
/* A miss (fresh: the bytes it mapped) or a realloc's growth (fresh 0) has
 * just raised the whale bytes held: the cache's history, which its
 * capacity follows, notes it (its own hits it notes itself). */
void hk_whale_note_growth(size_t fresh);
size_t hk_whale_trim(void);               /* hk_whale_decay(HK_DECAY_NOW)    */
size_t hk_whale_decay(uint64_t now);      /* old cached mappings: unmapped   */

/* ---- whale.c: blocks above the class range, their slot and checks ------- */
/* h: the calling thread's heap (or &hk_heap_empty): its one-entry cache
 * and its counters. */
void  *hk_whale_alloc(hk_heap_t *h, size_t size, size_t align);
void  *hk_whale_calloc(hk_heap_t *h, size_t size);
void   hk_whale_free(hk_heap_t *h, hk_whale_t *w, void *p);
size_t hk_whale_usable(hk_whale_t *w, const void *p);
void  *hk_whale_resize(hk_whale_t *w, void *p, size_t size);
void   hk_whale_flush(hk_heap_t *h);
void   hk_whale_slot_decay(hk_heap_t *h, uint64_t now); /* owner's thread */
void   hk_whale_counts(hk_whale_counts_t *out);
/* checked builds: the state and pointer of a large block for op (HK_OP_*),
 * and a ring of recently unmapped large blocks, so that a second free of
 * one is reported as a double free, not as a foreign pointer */
enum { HK_OP_FREE = 0, HK_OP_REALLOC = 1 };
void hk_whale_check(hk_whale_t *w, const void *p, int op);
int  hk_whale_recently_freed(const void *p);

/* ---- harden.c: the link secret and the cold half of the checks ---------- */
void hk_harden_init(void);
/* The C++ operators (new.cc), checked builds only: hk_cxx_new marks what
 * operator new (array 0) or new[] (array 1) handed out at p (the header
 * byte's HK_HDR_ARRAY, headered classes); hk_cxx_delete checks a delete of
 * p before it is freed: the size (SIZE_MAX: unsized) against the block,
 * given the alignment (0: none), and the array form against the mark.
 * Declared again in new.cc, which cannot include this header. */
void hk_cxx_new(void *p, int array);
void hk_cxx_delete(void *p, size_t size, size_t align, int array);
/* (the rest is declared in harden.h, beside the inlines that call it) */

/* ---- check.c: the heap walk ---------------------------------------------- */
extern pthread_mutex_t hk_snapshot_lock; /* stats snapshot and heap walk */
/* Problems found (each reported on one line), -1 in release; the first
 * problem's address and class in *at, *cls. */
int hk_check_heap_first(const void **at, int *cls);

/* ---- debug.c: fill patterns, the operation hook (debug builds) ---------- */
void hk_debug_carve(const hk_slab_t *s, void *b);
void hk_debug_alloc(void *p, size_t n);
void hk_debug_resize(void *b, const void *q, size_t n);
void hk_debug_free(const hk_slab_t *s, void *p);
void hk_debug_op(int op, const void *p, size_t n); /* ring, HAKMEM_CHECK_EVERY */

/* ---- class.c: the class engine's slow paths, abandon and adopt ---------- */
/* Refill h's current slab of class cls and pop a block (h is a real heap). */
void *hk_class_alloc_slow(hk_heap_t *h, unsigned cls);
void  hk_free_local_slow(hk_heap_t *h, hk_slab_t *s);
/* A free of b into s, which thread heap h (or &hk_heap_empty) does not
 * own: gathered in h's batch for s, or pushed at once. */
void  hk_free_remote(hk_heap_t *h, hk_slab_t *s, hk_block_t *b);
/* Hand over every batch h has gathered (thread exit, fork, decay, stats). */
void  hk_remote_flush(hk_heap_t *h);
/* Blocks h's batches hold, added per class to pending[] (stats.c). */
void  hk_remote_pending(const hk_heap_t *h, uint64_t pending[HK_NCLASSES]);
uint32_t hk_slab_live(const hk_slab_t *s); /* used - pending remote frees */
extern _Atomic uint64_t hk_class_spans[HK_NCLASSES]; /* spans per class    */
extern _Atomic uint64_t hk_retired_allocs[HK_NCLASSES];
void  hk_heap_abandon(hk_heap_t *h);      /* thread exit: give up every slab */
size_t hk_abandoned_trim(void);
/* Decay pass of h (its owner's thread): empty spans idle since the last
 * pass, or all empty spans for HK_DECAY_NOW, go back; bytes given back. */
size_t hk_heap_decay(hk_heap_t *h, uint64_t now);
extern pthread_mutex_t hk_abandoned_lock;
extern uint64_t hk_slabs_abandoned, hk_slabs_adopted;

/* ---- stats.c ------------------------------------------------------------- */
void hk_stats_init(void);   /* at start-up: keep a stderr for the exit dump */

/* ---- init.c: start-up, the thread's heap, thread exit, fork ------------- */
/* This thread's heap, made on demand (and the process initialised first);
 * NULL on ENOMEM. */
hk_heap_t *hk_thread_heap(void);
/* The allocation slow path of a thread that may have no heap yet. */
void *hk_alloc_slow(hk_heap_t *h, unsigned cls);
/* Decay (HAKMEM_DECAY_MS): hk_decay_tick is called on slow paths with the
 * calling thread's heap (or &hk_heap_empty).  One call in 16 of a thread
 * reads the coarse clock (hk_decay_check), and runs a pass when one is
 * due: a malloc/free cycle of one whale, a slow path each time, stays at
 * its speed (bench whale: 152 -> 208 instructions per cycle with a clock
 * read on every free, 186 with the count in the function). */
void hk_decay_check(hk_heap_t *h);
HK_INLINE void hk_decay_tick(hk_heap_t *h) {
  if (h != &hk_heap_empty && h->decay_skip != 0) {
    h->decay_skip--;
    return;
  }
  hk_decay_check(h);
}

/* ---- alloc.c ------------------------------------------------------------- */
void *hk_malloc_whale(size_t n);          /* a whale for this thread        */

#endif /* HAKMEM_INTERNAL_H */
