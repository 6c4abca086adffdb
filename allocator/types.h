/* types.h - every struct the allocator's layers share, with the accessors
 * that read or write one field of them and touch no global.  Declarations
 * of functions and globals are in internal.h, the hot checks in harden.h.
 *
 * Invariants stated on the structs:
 *   - a slab descriptor is 128 bytes, and the fields the release fast paths
 *     read keep their offsets (user0 at 40, owner at 80);
 *   - the owner word is heap pointer | HK_SLAB_* flags (heaps are aligned
 *     above the flags), written by the owner only;
 *   - the remote word is list head | count << 47 | HK_REMOTE_PARKED;
 *   - a superslab header fits HK_SS_META.
 */
#ifndef HAKMEM_TYPES_H
#define HAKMEM_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "layout.h"

/* ---- segments ------------------------------------------------------------ */
#define HK_SEG_MAGIC 0x6861u  /* "ha" */
enum { HK_SEG_SS = 1, HK_SEG_WHALE = 2 };
typedef struct hk_seg {
  uint16_t magic;
  uint16_t kind;
} hk_seg_t;

/* Kinds of the registry byte of a 2 MiB chunk (superslab.c). */
enum { HK_CHUNK_NONE = 0, HK_CHUNK_SS = 1, HK_CHUNK_WHALE = 2, HK_CHUNK_TAIL = 3 };

/* ---- slabs and superslabs ----------------------------------------------- */
typedef struct hk_block { struct hk_block *next; } hk_block_t;

/* Slab flags.  They live in the low bits of the slab's owner word (below),
 * so the free fast path tests owner and flags with one compare: a local
 * free of a slab whose word is exactly the heap (a tiny class, no flag) or
 * the heap + HK_SLAB_MID stays on the fast path; any other flag, or another
 * owner, sends it to the slow path.  Only the owner writes them. */
enum {
  HK_SLAB_ALIGNED = 1u,  /* holds blocks handed out at an interior offset */
  HK_SLAB_PARKED = 2u,   /* on the owner's full list                      */
  HK_SLAB_MID = 4u,      /* a mid or L2.5 class, for the span's lifetime:
                            a local free also makes it the current slab  */
  HK_SLAB_FLAGS = 7u,    /* the mask of all flags                         */
};
enum { HK_UNIT_FREE = 0, HK_UNIT_HEAD = 1, HK_UNIT_TAIL = 2 };

typedef struct hk_slab hk_slab_t;
struct hk_slab {
  /* owner-thread fields (hot) */
  hk_block_t *free;         /* blocks ready to hand out                    */
  uint32_t used;            /* handed out and not back on `free`, + pin    */
  uint32_t pin;             /* 1 while the only slab on its avail list     */
  uint64_t allocs;          /* blocks handed out from this span, ever      */
  uint32_t carved;          /* blocks carved so far (bump index)           */
  uint32_t capacity;        /* blocks the span holds (layout table)        */
  uint8_t  cls;             /* class index                                 */
  uint8_t  wipe;            /* hardened: blocks zeroed on free (WIPE): 0,
                               HK_WIPE_OUTLINE, or stride - usable for the
                               inline forms (harden.h)                     */
  uint8_t  delay;           /* checked builds: frees held back one (DELAY) */
  uint8_t  unit_kind;       /* HK_UNIT_*                                   */
  /* the class's header byte (HK_HDR_MAGIC | cls), ~HK_HDR_ARRAY and 0, or 0, 0
   * and 1 for a headerless class: the hardened free compares
   * (byte at p - 1 + hdr_at ^ hdr) & hdr_mask with 0, no branch on
   * "headered" (set in every variant, so one layout; in what was padding) */
  uint8_t  hdr, hdr_mask, hdr_at;
  uint8_t  pad1_;
  uintptr_t user0;          /* user pointer of block 0                     */
  uint32_t stride;          /* copy of the table's stride for this span    */
  uint8_t  nunits;          /* 64 KiB units in the span                    */
  uint8_t  unit;            /* index of this unit in its superslab         */
  /* decay (class.c hk_heap_decay): 0, or HK_SLAB_IDLE(allocs, epoch):
   * the decay epoch in which the owner's pass first found the span empty,
   * and its allocation count then (low bits; owner only) */
  uint16_t idle;
  hk_slab_t *next, *prev;   /* heap class list, full list or abandoned list */
  hk_slab_t *head;          /* span head descriptor (itself for the head)  */
  /* shared fields */
  /* owning hk_heap_t (0 when abandoned or free) | HK_SLAB_* flags: read
   * through hk_slab_owner / hk_slab_flags, written through
   * hk_slab_set_owner / hk_slab_set_flags.  The owner writes it; an adopter
   * writes it under the abandoned-list lock while the owner is 0. */
  _Atomic uintptr_t owner;
  /* MPSC queue of frees from other threads: the list head (bits 4-46),
   * the number of blocks on the list (bits 47-63, HK_REMOTE_COUNT) and
   * HK_REMOTE_PARKED (bit 0) while the owner has the slab on its full
   * list.  The count lets the owner take a list without walking it. */
  _Atomic uintptr_t remote;
  /* ceil(2^64 / stride): "offset is a multiple of the stride" is one
   * multiply (checked builds; set in every variant, so one layout) */
  uint64_t stride_magic;
  /* &superslab->state[0] - (superslab >> 10) * 8: the bitmap word of p is
   * word p >> 10 from here (hk_state_word_of; set in every variant) */
  uintptr_t state_bias;
  /* checked builds (DELAY): the block freed last, held back from `free` until
   * the next local free of this slab pushes it (its link holds the
   * encoded NULL meanwhile); counted free in `used` (in what was padding) */
  hk_block_t *held;
  /* checked builds (CANARY): 2^(64 - 8 * canary); the canary is intact
   * when (word ^ its value) is below it, i.e. its top `canary` bytes are
   * 0 (harden.h hk_canary_bad; set in checked builds only, in what was
   * padding) */
  uint64_t canary_lim;
} __attribute__((aligned(64)));
_Static_assert(sizeof(hk_slab_t) == 128, "unit descriptors are 128 bytes");
_Static_assert(offsetof(hk_slab_t, user0) == 40 && offsetof(hk_slab_t, owner) == 80,
               "the fields the release fast paths use keep their offsets");
#define HK_SLAB_IDLE(allocs, epoch) \
  ((uint16_t)(0x8000u | ((uint32_t)(epoch) & 0x7Fu) << 8 | ((uint32_t)(allocs) & 0xFFu)))
#define HK_SLAB_IDLE_EPOCH(mark) (((uint32_t)(mark) >> 8) & 0x7Fu)
#define HK_REMOTE_PARKED ((uintptr_t)1)
#define HK_REMOTE_CSHIFT 47
#define HK_REMOTE_ONE    ((uintptr_t)1 << HK_REMOTE_CSHIFT)
#define HK_REMOTE_HEAD(v) \
  ((hk_block_t *)((v) & (HK_REMOTE_ONE - 1) & ~HK_REMOTE_PARKED))
#define HK_REMOTE_COUNT(v) ((uint32_t)((v) >> HK_REMOTE_CSHIFT))
/* a slab's blocks all fit the count (capacity < 2^16, layout.h) */
_Static_assert(HK_REMOTE_CSHIFT + 17 == 64, "17 count bits above a 47-bit pointer");

typedef struct hk_ss hk_ss_t;
struct hk_ss {
  hk_seg_t seg;
  uint32_t free_mask;       /* bit u: unit u is free (under hk_ss_lock)    */
  uint32_t nfree;
  uint32_t cached;          /* 1 while parked in the empty-superslab cache */
  hk_ss_t *next, *prev;     /* partial or cache list                       */
  hk_ss_t *all_next, *all_prev; /* every mapped superslab                  */
  uint32_t *dbg_req;        /* debug builds: request end per granule       */
  /* decay (under hk_ss_lock): bit u: unit u is free and its pages may be
   * resident (a span was freed there since they were last given back);
   * idle_epoch: the decay epoch of the last such free, or of the
   * superslab's entry into the cache */
  uint32_t dirty;
  uint64_t idle_epoch;
  /* bit p: page p of the superslab has been handed out (carved) since the
   * superslab was mapped, so it is resident: telemetry of fresh pages
   * (carve, class.c); set with atomic OR, units of several owners share a
   * word; cleared only for pages given back by MADV_DONTNEED
   * (superslab.c release_units), so a page whose bit is clear reads zero:
   * the hardened carve of a wiped class skips its memset then (class.c) */
  _Atomic uint64_t handed[HK_SS_SIZE / HK_PAGE / 64];
  hk_slab_t slab[HK_UNITS]; /* one descriptor per 64 KiB unit              */
  uint8_t state[HK_STATE_BYTES]; /* per-block state bits (checked builds)  */
  /* checked builds: operator new[]'s mark of headerless blocks (strides of
   * 1 KiB and more: at most one block start per KiB), bit k for the block
   * starting in the superslab's k-th KiB (harden.c); release never
   * touches it */
  uint8_t cxx_array[HK_SS_SIZE >> 10 >> 3];
};
_Static_assert(HK_NCLASSES <= 64, "remote_hint has one bit per class");

/* A row of the layout table, as data (layout.c). */
typedef struct hk_class_info {
  uint32_t stride, usable, header, units, first_off, cap, cap0;
#if HK_ON(CANARY) /* (release keeps the 28-byte rows its code indexes) */
  uint32_t canary;    /* canary bytes                                        */
  uint32_t canary_at; /* offset of the 8-byte word ending with the canary    */
#endif
} hk_class_info_t;
/* canary bytes of class info ci: 0 in release */
#if HK_ON(CANARY)
#define HK_CLASS_CANARY(ci) ((ci)->canary)
#else
#define HK_CLASS_CANARY(ci) 0u
#endif

/* Page-fault and fresh-page telemetry buckets (os.c, heap.c). */
enum { HK_BUCKET_TINY, HK_BUCKET_MID, HK_BUCKET_L25, HK_BUCKET_WHALE,
       HK_BUCKET_META, HK_BUCKETS };

/* Per heap and class, bumped on slow paths only.  Allocations are counted
 * per slab (hk_slab_t.allocs, folded into hk_retired_allocs when the span
 * goes back); frees are not counted at all: the live count comes from the
 * slabs (used - pending remote frees) and frees = allocs - live. */
typedef struct hk_counters {
  uint64_t remote_frees, refills;
} hk_counters_t;
extern _Atomic uint64_t hk_retired_allocs[HK_NCLASSES];

/* Whale counters, per heap: bytes_in - bytes_out = live whale bytes. */
typedef struct hk_whale_cnt {
  uint64_t allocs, frees, hits, bytes_in, bytes_out;
} hk_whale_cnt_t;

/* A batch of remote frees to one slab, gathered by the freeing thread
 * (class.c hk_free_remote): first..last, linked first to last, last's link
 * NULL until the batch is handed over in one CAS.  slab is NULL when the
 * slot is empty.  The blocks count in slab->used until then, so the slab
 * cannot go back to its superslab under the batch. */
typedef struct hk_rbatch {
  hk_slab_t *slab;
  hk_block_t *first, *last;
  uint32_t n;                       /* blocks gathered                     */
  uint16_t max;                     /* the flush point (<= HK_RBATCH_MAX)  */
  uint8_t cls;                      /* slab->cls, for the stats (stats.c)  */
  uint8_t pad_;
} hk_rbatch_t;
#define HK_RBATCH_SLOTS 32          /* slots per heap: unit index of a slab */
#define HK_RBATCH_MAX   64          /* blocks per batch at most            */

typedef struct hk_heap hk_heap_t;
struct hk_heap {
  /* direct[q]: the current slab of the tiny class serving requests with
   * (n + 16) >> 4 == q; the tiny fast path's only lookup. */
  hk_slab_t *direct[HK_TINY_QS];
  hk_slab_t *cur[HK_NCLASSES];      /* current slab per class, never NULL  */
  hk_slab_t *avail[HK_NCLASSES];    /* slabs with blocks to hand out       */
  hk_counters_t cnt[HK_NCLASSES];
  hk_slab_t *full[HK_NCLASSES];     /* slabs with nothing left to hand out */
  _Atomic uint64_t remote_hint;     /* bit c: a remote free reached a parked
                                       slab of class c (c < 64)             */
  int alive;                        /* owned by a running thread           */
  hk_heap_t *next_all;              /* every heap ever made                */
  hk_heap_t *next_free;             /* recycled heaps                      */
  uint64_t drains;                  /* remote queues drained               */
  struct hk_whale *whale;           /* one freed whale mapping, for reuse  */
  hk_whale_cnt_t wcnt;
  uint64_t fresh[HK_BUCKETS];       /* pages first handed out (stats)      */
  uint64_t decay_epoch;             /* decay epoch of the last decay pass  */
  uint32_t decay_skip;              /* slow paths left before a clock read */
  /* calloc (alloc.c): the block a carve of one block made last, and the
   * address from which its bytes are known zero (pages never handed out
   * since they were mapped or given back), or 0; class.c's carve sets it,
   * calloc clears it before its pop and reads it after */
  uintptr_t calloc_blk, calloc_zero;
  /* remote frees this thread has gathered and not yet handed over
   * (owner thread only; class.c) */
  hk_rbatch_t rbatch[HK_RBATCH_SLOTS];
};

typedef struct hk_whale hk_whale_t;
struct hk_whale {
  hk_seg_t seg;
  uint8_t huge;             /* MAP_HUGETLB-backed: never remapped          */
  uint8_t reused;           /* handed out before: contents not known zero  */
  uint8_t released;         /* pages given back while cached               */
  uint8_t state;            /* HK_WHALE_LIVE while handed out (checked builds) */
  size_t map_size;          /* bytes mapped, from the segment base        */
  size_t user_off;          /* user pointer = base + user_off             */
  size_t usable;            /* bytes from the user pointer to the end     */
  hk_whale_t *next, *prev;  /* the cache list                             */
  uint64_t idle_epoch;      /* decay epoch of the free that cached it      */
};
typedef struct hk_whale_counts {
  hk_whale_cnt_t orphan;    /* counts of threads without a heap */
  uint64_t misses, evictions, remaps, cached_bytes, cached_count;
} hk_whale_counts_t;
#define HK_WHALE_LIVE 0xA1u

/* ---- accessors ----------------------------------------------------------- */
/* The owner word (hk_slab_t.owner): heap pointer | flags. */
_Static_assert(_Alignof(hk_heap_t) > HK_SLAB_FLAGS, "flags fit below the heap pointer");
HK_INLINE hk_heap_t *hk_slab_owner(const hk_slab_t *s) {
  return (hk_heap_t *)(atomic_load_explicit(&((hk_slab_t *)s)->owner, memory_order_relaxed) &
                       ~(uintptr_t)HK_SLAB_FLAGS);
}
HK_INLINE unsigned hk_slab_flags(const hk_slab_t *s) {
  return (unsigned)(atomic_load_explicit(&((hk_slab_t *)s)->owner, memory_order_relaxed) &
                    HK_SLAB_FLAGS);
}
/* Owner only: its own heap stays in the word. */
HK_INLINE void hk_slab_set_flags(hk_slab_t *s, unsigned f) {
  uintptr_t w = atomic_load_explicit(&s->owner, memory_order_relaxed);
  atomic_store_explicit(&s->owner, (w & ~(uintptr_t)HK_SLAB_FLAGS) | f, memory_order_relaxed);
}
/* The flags stay; release order where a new owner must see the slab's
 * fields as the last owner left them. */
HK_INLINE void hk_slab_set_owner(hk_slab_t *s, hk_heap_t *h, memory_order mo) {
  uintptr_t w = atomic_load_explicit(&s->owner, memory_order_relaxed);
  atomic_store_explicit(&s->owner, (uintptr_t)h | (w & HK_SLAB_FLAGS), mo);
}
/* Blocks handed out and not back on s->free (remote frees count until
 * drained).  s->used also holds the pin: the only slab on its class's
 * avail list is pinned, so the fast free path's `--used == 0` never fires
 * for the slab a steady working set lives in (class.c). */
HK_INLINE uint32_t hk_slab_used(const hk_slab_t *s) { return s->used - s->pin; }
HK_INLINE void *hk_chunk_base(const void *p) {
  return (void *)((uintptr_t)p & ~(HK_SS_SIZE - 1));
}
HK_INLINE unsigned hk_bucket_of_class(unsigned c) {
  return c < HK_TINY_CLASSES ? HK_BUCKET_TINY
       : c < HK_L25_FIRST   ? HK_BUCKET_MID : HK_BUCKET_L25;
}

#endif /* HAKMEM_TYPES_H */
