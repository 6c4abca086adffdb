/* internal.h - the one internal header: types and hk_ functions shared
 * between the allocator's layers.  Nothing outside allocator/ includes it.
 *
 * Layers, bottom to top; each calls only the layers below it (docs/architecture.md):
 *   options  check   os          options table, fatal reports, mmap/munmap/madvise
 *   superslab                    registry, 2 MiB superslabs, spans of 64 KiB units
 *   tiny                         the class engine (tiny and mid classes): carve,
 *                                refill, local and remote free, abandon, adopt
 *   whale                        direct mappings above the class range
 *   arena                        per-thread heaps: creation, thread exit, fork
 *   alloc                        the hak_ front end
 *   stats                        snapshot and dump (reads every layer)
 *   override                     libc names onto hak_ (not in hakmem_core)
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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "hakmem.h"
#include "layout.h"
#include "check.h"
#include "track.h"

#define HK_PUBLIC __attribute__((visibility("default")))
/* The malloc and free entry points start on a cache line: their fast paths
 * then sit in one or two lines whatever the code before them (unaligned,
 * tiny_hot moved by 7% between builds with the same instructions). */
#define HK_HOT __attribute__((aligned(64)))
#define HK_NOINLINE __attribute__((noinline))
#define HK_INLINE static inline __attribute__((always_inline))
/* From here on the compiler knows nothing of x's value (no code): it keeps
 * a computation in the order written instead of reassociating it. */
#define HK_OPAQUE(x) __asm__("" : "+r"(x))
/* Callers learn nothing of the function (GCC would otherwise find that a
 * reporting function never returns and reach it with a call, which costs
 * its caller a stack frame on the fast path). */
#if defined(__has_attribute) && __has_attribute(noipa)
#define HK_NOIPA __attribute__((noinline, noipa))
#else
#define HK_NOIPA __attribute__((noinline))
#endif

#define HK_PAGE 4096u

/* relaxed counters: plain increments, but race-free for readers */
#define HK_CNT_ADD(x, n) \
  __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define HK_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* ---- options (options.c) ------------------------------------------------
 * X(NAME, field, default, min, max, help) -- one table drives env parsing
 * (HAKMEM_<NAME>), the verbose printout and docs/options.md. */
#define HK_OPTION_TABLE(X)                                                      \
  X(VERBOSE,  verbose,  0, 0, 2,    "print the effective options at start-up (2: also at exit)") \
  X(STATS,    stats,    0, 0, 1,    "print the statistics dump at exit")   \
  X(TIMING,   timing,   0, 0, 1,    "time mmap/munmap/madvise calls with rdtsc") \
  X(SS_CACHE, ss_cache, 0, 0, 1024, "empty superslabs kept mapped for reuse (0: unmapped at once; no measured gain, see bench/RESULTS.md)") \
  X(CARVE,    carve,    4, 1, 4096, "KiB carved from a slab per refill (at least one block)") \
  X(PREFAULT, prefault, 0, 0, 3,    "prefault new superslabs and whale mappings: 0 off, 1 MAP_POPULATE, 2 MADV_POPULATE_WRITE (touch where unsupported), 3 touch every page") \
  X(PREWARM,  prewarm,  1, 0, 64,   "superslabs mapped at start-up and parked in the cache (the cache grows to hold them)") \
  X(THP,      thp,      0, 0, 2,    "transparent huge pages for superslabs and whales: 0 system default, 1 madvise(MADV_HUGEPAGE), 2 madvise(MADV_NOHUGEPAGE)") \
  X(HUGETLB,  hugetlb,  0, 0, 1,    "back superslabs and whales with reserved 2 MiB pages (MAP_HUGETLB); without reserved pages: one log line, normal pages") \
  X(LAZY_ZERO, lazy_zero, 0, 0, 1,  "calloc of a reused block of 64 KiB or more zeroes its whole pages by MADV_DONTNEED instead of memset") \
  X(WHALE_CACHE_MB, whale_cache_mb, 64, 0, 1048576, "MiB of freed whale mappings kept for reuse") \
  X(WHALE_CACHE_COUNT, whale_cache_count, 16, 0, 4096, "freed whale mappings kept for reuse") \
  X(WHALE_RELEASE, whale_release, 0, 0, 2, "pages of cached whale mappings: 0 kept resident, 1 MADV_DONTNEED, 2 MADV_FREE") \
  X(CHECK_EVERY, check_every, 0, 0, 1000000000, "debug builds: walk the heap (hak_check_heap) every N operations and abort on a problem; 0 = never")

#define HK_OPT_FIELD(N, f, d, lo, hi, help) long f;
typedef struct hk_options { HK_OPTION_TABLE(HK_OPT_FIELD) } hk_options_t;
#undef HK_OPT_FIELD
extern hk_options_t hk_opt;
void hk_options_init(void);
void hk_options_print(int fd);

/* ---- OS layer (os.c): the only file that calls mmap/munmap/madvise ----- */
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
/* Fill the OS-layer fields of a stats snapshot (syscall counts and
 * cycles, mapped bytes, policy counters). */
void  hk_os_stats(hak_stats_t *out);
/* Telemetry of page faults taken inside the allocator, by bucket; active
 * with HAKMEM_STATS=1 (two getrusage calls around each first touch). */
enum { HK_BUCKET_TINY, HK_BUCKET_MID, HK_BUCKET_L25, HK_BUCKET_WHALE,
       HK_BUCKET_META, HK_BUCKETS };
uint64_t hk_fault_begin(void);
void hk_fault_end(unsigned bucket, uint64_t begin);
void hk_fault_counts(uint64_t faults[HK_BUCKETS]);
/* Pages first handed out, by bucket: counted always (no syscall), in the
 * calling thread's heap (arena.c), so threads that carve at once share no
 * counter line. */
void hk_fresh_pages(unsigned bucket, uint64_t pages);
extern _Atomic uint64_t hk_orphan_fresh[HK_BUCKETS]; /* heapless threads */
HK_INLINE unsigned hk_bucket_of_class(unsigned c) {
  return c < HK_TINY_CLASSES ? HK_BUCKET_TINY
       : c < HK_L25_FIRST   ? HK_BUCKET_MID : HK_BUCKET_L25;
}
/* Guard pages (checked builds): rw 0 = PROT_NONE, 1 = read/write again. */
int   hk_os_protect(void *p, size_t size, int rw);
uint64_t hk_os_protect_calls(void);

/* ---- internal error reporting (check.c) --------------------------------- */
extern pthread_mutex_t hk_snapshot_lock; /* stats snapshot and heap walk */
void hk_write_str(int fd, const char *s);
size_t hk_fmt_u64(char *buf, uint64_t v);            /* decimal, returns len */
size_t hk_fmt_hex(char *buf, uint64_t v);            /* 0x..., returns len    */

/* ---- segments and the registry (superslab.c) --------------------------- */
#define HK_SEG_MAGIC 0x6861u  /* "ha" */
enum { HK_SEG_SS = 1, HK_SEG_WHALE = 2 };
typedef struct hk_seg {
  uint16_t magic;
  uint16_t kind;
} hk_seg_t;

/* The registry: one kind byte per 2 MiB chunk of the 47-bit address
 * space (64 MiB of zero-page BSS; only bytes of chunks we map are ever
 * touched).  HK_CHUNK_SS and HK_CHUNK_WHALE chunks have their segment
 * header at the chunk base; HK_CHUNK_TAIL chunks continue a whale mapping
 * whose header lies in an earlier chunk. */
#define HK_REG_BITS  (47 - HK_SS_SHIFT)
enum { HK_CHUNK_NONE = 0, HK_CHUNK_SS = 1, HK_CHUNK_WHALE = 2, HK_CHUNK_TAIL = 3 };
extern uint8_t hk_chunk_kind[(size_t)1 << HK_REG_BITS];

HK_INLINE unsigned hk_chunk_of(const void *p) {
  uintptr_t chunk = (uintptr_t)p >> HK_SS_SHIFT;
#if HAKMEM_CHECK_LEVEL == 0
  /* release: a pointer above 2^47 is never ours; folding it onto a lower
   * chunk only misjudges pointers that are invalid to free anyway */
  chunk &= ((uintptr_t)1 << HK_REG_BITS) - 1;
#else
  if (HK_UNLIKELY(chunk >> HK_REG_BITS)) return HK_CHUNK_NONE;
#endif
  return __atomic_load_n(&hk_chunk_kind[chunk], __ATOMIC_RELAXED);
}
HK_INLINE void *hk_chunk_base(const void *p) {
  return (void *)((uintptr_t)p & ~(HK_SS_SIZE - 1));
}
/* Segment covering p (walking back over whale tail chunks), or NULL. */
hk_seg_t *hk_seg_lookup(const void *p);
/* Mark the chunks of [base, base+size): the first with kind, the rest with
 * HK_CHUNK_TAIL (or all with HK_CHUNK_NONE).  base is 2 MiB-aligned. */
void hk_registry_set(void *base, size_t size, unsigned kind);

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
  uint8_t  pad0_[2];
  uint8_t  unit_kind;       /* HK_UNIT_*                                   */
  /* the class's header byte (HK_HDR_MAGIC | cls), 0xFF and 0, or 0, 0
   * and 1 for a headerless class: the hardened free compares
   * (byte at p - 1 + hdr_at ^ hdr) & hdr_mask with 0, no branch on
   * "headered" (set in every variant, so one layout; in what was padding) */
  uint8_t  hdr, hdr_mask, hdr_at;
  uint8_t  pad1_;
  uintptr_t user0;          /* user pointer of block 0                     */
  uint32_t stride;          /* copy of the table's stride for this span    */
  uint8_t  nunits;          /* 64 KiB units in the span                    */
  uint8_t  unit;            /* index of this unit in its superslab         */
  uint8_t  pad_[2];
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
} __attribute__((aligned(64)));
_Static_assert(sizeof(hk_slab_t) == 128, "unit descriptors are 128 bytes");
_Static_assert(offsetof(hk_slab_t, user0) == 40 && offsetof(hk_slab_t, owner) == 80,
               "the fields the release fast paths use keep their offsets");
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
  /* bit p: page p of the superslab has been handed out (carved) since the
   * superslab was mapped, so it is resident: telemetry of fresh pages
   * (carve, tiny.c); set with atomic OR, units of several owners share a
   * word; never cleared while the mapping lives */
  _Atomic uint64_t handed[HK_SS_SIZE / HK_PAGE / 64];
  hk_slab_t slab[HK_UNITS]; /* one descriptor per 64 KiB unit              */
  uint8_t state[HK_STATE_BYTES]; /* per-block state bits (checked builds)  */
};
_Static_assert(HK_NCLASSES <= 64, "remote_hint has one bit per class");
_Static_assert(sizeof(hk_ss_t) <= HK_SS_META, "superslab header fits HK_SS_META");

/* The head pointer of a unit that holds no span: NULL in release; in
 * checked builds a descriptor no thread owns (owner 0, every flag set),
 * so the free fast path needs no NULL test: such a unit's descriptor
 * fails the owner test and free_slab_slow reports the pointer. */
#if HAKMEM_CHECK_LEVEL > 0
extern hk_slab_t hk_slab_nospan __attribute__((visibility("hidden")));
#define HK_SLAB_NOSPAN (&hk_slab_nospan)
#else
#define HK_SLAB_NOSPAN ((hk_slab_t *)0)
#endif
/* The head field of p's unit: its span's head descriptor, or HK_SLAB_NOSPAN. */
HK_INLINE hk_slab_t *hk_slab_head(const void *p) {
  hk_ss_t *ss = hk_chunk_base(p);
  return ss->slab[((uintptr_t)p >> HK_UNIT_SHIFT) & (HK_UNITS - 1)].head;
}
/* Slab of p, for p in an HK_CHUNK_SS chunk: O(1), no search; NULL when
 * p's unit holds no span. */
HK_INLINE hk_slab_t *hk_slab_of(const void *p) {
  hk_slab_t *s = hk_slab_head(p);
#if HAKMEM_CHECK_LEVEL > 0
  if (s == HK_SLAB_NOSPAN) s = NULL;
#endif
  return s;
}

/* the table, as data (superslab.c) */
typedef struct hk_class_info {
  uint32_t stride, usable, header, units, first_off, cap, cap0;
} hk_class_info_t;
extern const hk_class_info_t hk_class[HK_NCLASSES];
extern const uint8_t hk_tiny_class_lut[HK_TINY_QS];
extern const uint8_t hk_tiny_q_lo[HK_NCLASSES], hk_tiny_q_hi[HK_NCLASSES];

HK_INLINE unsigned hk_class_of_size(size_t n) {
  if (HK_LIKELY(n <= HK_TINY_MAX)) return hk_tiny_class_lut[(n + 16) >> 4];
  size_t n1 = n - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(n1);          /* b >= 10 */
  return HK_MID_FIRST + (b - 10u) * 4u + (unsigned)((n1 >> (b - 2u)) & 3u);
}

/* ---- hardening (harden.c): per-block state, encoded links, checks --------
 * Release (level 0): every macro and inline here is the identity or empty,
 * so the release fast paths compile exactly as without them.
 *
 * Per-block state: hk_ss_t.state has one bit per 16-byte granule of the
 * superslab.  The bit of a block's start granule is 1 while the block is
 * handed out.  For a block handed out at an aligned interior pointer q
 * (slabs flagged HK_SLAB_ALIGNED), the bit of q's granule is also set: it
 * marks q as the legitimate pointer of that block, so free(q) maps to the
 * block start while any other interior pointer is rejected.  Only the
 * slab's owner writes these bits (alloc, local free, drain); a remote free
 * only reads its block's bit, and the owner clears it when it drains.
 * The fast paths read and write the bitmap a 64-bit word at a time (bit g
 * of the superslab is bit g % 64 of word g / 64, the same bit as byte
 * g / 8, bit g % 8, on little-endian x86-64), the slow paths a byte.
 *
 * Free-list and remote-queue links are stored encoded (safe-linking with
 * a key):
 *     stored = next ^ (address of the link) ^ hk_link_secret
 * so the same pointer stores differently at every link, and NULL never
 * stores as 0 (the secret is odd, link addresses even).  Every link popped
 * from a free list is checked: inside the slab's carved range and on a
 * stride boundary; every remote-queue node is checked at the drain. */
#if HK_HARDEN_LINKS
/* per process, set first thing in hk_init; hidden, so read PC-relative */
extern uintptr_t hk_link_secret __attribute__((visibility("hidden")));
#define HK_LINK_KEY(at) ((uintptr_t)(at) ^ hk_link_secret)
#define HK_LINK_ENC(at, v) ((hk_block_t *)((uintptr_t)(v) ^ HK_LINK_KEY(at)))
#else
#define HK_LINK_ENC(at, v) ((hk_block_t *)(v))
#endif
#define HK_LINK_DEC(at, v) HK_LINK_ENC(at, v)
void hk_harden_init(void);

HK_INLINE uint8_t *hk_state_at(const void *p, uint8_t *mask) {
  hk_ss_t *ss = hk_chunk_base(p);
  uintptr_t g = ((uintptr_t)p & (HK_SS_SIZE - 1)) >> 4;
  *mask = (uint8_t)(1u << (g & 7));
  return &ss->state[g >> 3];
}
HK_INLINE int hk_state_get(const void *p) {
  uint8_t m;
  uint8_t *b = hk_state_at(p, &m);
  return (__atomic_load_n(b, __ATOMIC_RELAXED) & m) != 0;
}
/* owner only (the byte is shared with neighbours of the same slab) */
HK_INLINE void hk_state_put(const void *p, int on) {
  uint8_t m;
  uint8_t *b = hk_state_at(p, &m);
  uint8_t v = __atomic_load_n(b, __ATOMIC_RELAXED);
  __atomic_store_n(b, (uint8_t)(on ? v | m : v & ~m), __ATOMIC_RELAXED);
}
/* The 64-bit bitmap word holding p's bit, and the bit's index in it
 * (shift counts are taken mod 64, so p >> 4 needs no mask). */
typedef uint64_t __attribute__((may_alias)) hk_state_word_t;
_Static_assert(offsetof(hk_ss_t, state) % 8 == 0, "state words are aligned");
/* Byte offset of p's word in its superslab's bitmap. */
#define HK_STATE_OFF(p) (((uintptr_t)(p) >> 7) & (HK_STATE_BYTES - 8))
HK_INLINE hk_state_word_t *hk_state_word(const void *p) {
  return (hk_state_word_t *)((char *)((hk_ss_t *)hk_chunk_base(p))->state + HK_STATE_OFF(p));
}
/* The same word from p's slab descriptor (any slab of p's superslab): one
 * load and one shift instead of masking the superslab base. */
HK_INLINE hk_state_word_t *hk_state_word_of(const hk_slab_t *s, const void *p) {
  return (hk_state_word_t *)s->state_bias + ((uintptr_t)p >> 10);
}
HK_INLINE uintptr_t hk_state_bias(const hk_ss_t *ss) {
  return (uintptr_t)ss->state - ((uintptr_t)ss >> 10) * sizeof(hk_state_word_t);
}
/* Flip the bit of p in the word *v; returns the bit's old value.  On
 * x86-64 one BTC, whose carry is the old bit (its register form takes the
 * bit index mod 64, so p >> 4 needs no mask). */
HK_INLINE int hk_state_flip(uint64_t *v, const void *p) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  int was;
  __asm__("btcq %2, %0" : "+r"(*v), "=@ccc"(was) : "r"((uintptr_t)p >> 4));
  return was;
#else
  uint64_t m = (uint64_t)1 << (((uintptr_t)p >> 4) & 63);
  *v ^= m;
  return !(*v & m);
#endif
}
/* Flip b's bit in its word (found from s, hk_state_word_of) and store it;
 * returns the old bit.  On x86-64 the load and the store share one
 * addressing mode (base + index * 8): no LEA for a pointer to the word. */
HK_INLINE int hk_state_flip_of(const hk_slab_t *s, const void *b) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  uint64_t v;
  int was;
  __asm__ volatile("movq (%[w],%[i],8), %[v]\n\t"
                   "btcq %[g], %[v]\n\t"
                   "movq %[v], (%[w],%[i],8)"
                   : [v] "=&r"(v), "=@ccc"(was)
                   : [w] "r"(s->state_bias), [i] "r"((uintptr_t)b >> 10),
                     [g] "r"((uintptr_t)b >> 4)
                   : "memory");
  return was;
#else
  hk_state_word_t *w = hk_state_word_of(s, b);
  uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
  int was = hk_state_flip(&v, b);
  __atomic_store_n(w, v, __ATOMIC_RELAXED);
  return was;
#endif
}
/* The free path's form: p's word at superslab base ssb, offset o (the
 * base the slab lookup computed anyway); load and flip into *v, returning
 * the old bit, and store *v later, once the other checks passed. */
HK_INLINE int hk_state_load_flip(uintptr_t ssb, uintptr_t o, const void *p, uint64_t *v) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  int was;
  __asm__ volatile("movq %c[d](%[b],%[o]), %[v]\n\t"
                   "btcq %[g], %[v]"
                   : [v] "=&r"(*v), "=@ccc"(was)
                   : [b] "r"(ssb), [o] "r"(o), [g] "r"((uintptr_t)p >> 4),
                     [d] "i"(offsetof(hk_ss_t, state))
                   : "memory");
  return was;
#else
  *v = __atomic_load_n((hk_state_word_t *)(ssb + offsetof(hk_ss_t, state) + o), __ATOMIC_RELAXED);
  return hk_state_flip(v, p);
#endif
}
HK_INLINE void hk_state_store(uintptr_t ssb, uintptr_t o, uint64_t v) {
#if defined(__x86_64__)
  __asm__ volatile("movq %[v], %c[d](%[b],%[o])"
                   :
                   : [v] "r"(v), [b] "r"(ssb), [o] "r"(o), [d] "i"(offsetof(hk_ss_t, state))
                   : "memory");
#else
  __atomic_store_n((hk_state_word_t *)(ssb + offsetof(hk_ss_t, state) + o), v, __ATOMIC_RELAXED);
#endif
}
/* x is the start of a carved block of s (offset < carved * stride, and a
 * multiple of the stride: Lemire's divisibility test, one multiply). */
HK_INLINE int hk_is_block(const hk_slab_t *s, const void *x) {
  uintptr_t off = (uintptr_t)x - s->user0;
  return off < (uintptr_t)s->carved * s->stride &&
         (uint64_t)off * s->stride_magic <= s->stride_magic - 1;
}
/* The same test with one 64x64->128 multiply, one compare and no load of
 * the stride: with M = stride_magic = ceil(2^64 / stride), the high half
 * of off * M is off / stride and the low half is below M exactly when the
 * stride divides off (both exact for off < 2^32; a larger off has a high
 * half >= 2^32 / stride > carved, since a span is at most 2 MiB); the two
 * tests fold into one compare (HK_LINK_FOLD, below). */
#define HK_LINK_FOLD HK_SS_SHIFT
HK_INLINE int hk_is_block_off(uintptr_t off, uint64_t magic, uint32_t carved) {
  unsigned __int128 t = (unsigned __int128)off * magic;
  return ((uint64_t)(t >> 64) | ((uint64_t)t >> HK_LINK_FOLD)) < carved;
}
HK_INLINE int hk_is_block_fast(const hk_slab_t *s, const void *x) {
  return hk_is_block_off((uintptr_t)x - s->user0, s->stride_magic, s->carved);
}
/* The one-compare form (high | low >> 21) < carved: on the grid, the low
 * half of t is index * (stride * M - 2^64) < carved * stride <= 2^21 (a
 * span fits in a superslab); off it (off < 2^32, Lemire), at least
 * M >= 2^64 / the largest stride, whose shift by 21 exceeds any carved
 * count; off >= 2^32 gives a high half above carved. */
_Static_assert(((UINT64_C(1) << (64 - HK_LINK_FOLD)) / HK_CLASS_MAX) > HK_SS_SIZE / HK_ALIGN,
               "a block off the grid folds to more than any carved count");
HK_INLINE uint64_t hk_stride_magic(uint32_t stride) {
  return UINT64_C(0xFFFFFFFFFFFFFFFF) / stride + 1;
}

/* Cold: classify a pointer that failed a fast check and abort, or (slow
 * paths) validate p for `op` and return its block start.  op: 0 free,
 * 1 realloc.  own: the caller owns s (clears the state bits). */
enum { HK_OP_FREE = 0, HK_OP_REALLOC = 1 };
hk_block_t *hk_harden_block(hk_slab_t *s, void *p, int op, int own);
/* hk_harden_fault never returns either, but is not declared noreturn (and
 * callers learn nothing of it, HK_NOIPA): the fast free path then reaches
 * it with a jump in tail position, and needs no stack frame for a call. */
HK_NOIPA __attribute__((cold)) void hk_harden_fault(hk_slab_t *s, const void *p);
/* Cold: the pop of b from s failed a check: a corrupt link (reported
 * first) or b marked allocated (a double push).  Aborts. */
__attribute__((noreturn, cold)) void hk_pop_fault(const hk_slab_t *s, const hk_block_t *b);

/* Next node of free list s after b (decoded, and sanitized when checked);
 * marks b handed out.  The end of the list (NULL) fails the range test
 * and is told apart from a corrupt link only then. */
HK_INLINE hk_block_t *hk_pop_next(const hk_slab_t *s, hk_block_t *b) {
#if HK_HARDEN_LINKS
  /* The key is computed apart (opaque), so the chain of dependent loads
   * through the list pays one XOR per link; n is opaque, so that its NULL
   * test below tests n rather than the raw link against the key. */
  uintptr_t key = HK_LINK_KEY(&b->next);
  HK_OPAQUE(key);
  hk_block_t *n = (hk_block_t *)((uintptr_t)HK_TRACK_NEXT(b) ^ key);
  HK_OPAQUE(n);
  /* the common case falls through (one compare, HK_LINK_FOLD) */
  if (HK_UNLIKELY(!hk_is_block_fast(s, n)) && n != NULL) goto fault;
#else
  hk_block_t *n = HK_TRACK_NEXT(b);
#endif
#if HK_HARDEN_STATE
  /* the store may precede the test: a set bit aborts, and hk_pop_fault
   * reads no state bit */
  if (HK_UNLIKELY(hk_state_flip_of(s, b))) goto fault; /* was set: allocated */
#endif
  (void)s;
  return n;
#if HK_HARDEN_LINKS || HK_HARDEN_STATE
fault: /* one call site: the prologue it needs stays off the fast path */
  hk_pop_fault(s, b);
#endif
}

/* Fast-path free check (owner; flags 0 or HK_SLAB_MID, so no aligned
 * blocks): block start, header, state.
 * do_free (alloc.c) has already sent unaligned pointers and pointers
 * above the 47-bit address space to the slow path (HK_FREE_MISFIT). */
#define HK_FREE_MISFIT (~(((uintptr_t)1 << 47) - 1) | (HK_HARDEN_PTR ? HK_ALIGN - 1 : 0))
/* p's header byte is not its class's: (byte ^ hdr) & hdr_mask, where both
 * are 0 for headerless classes.  No branch on "headered": random sizes
 * mispredicted one (about one free in seven is of a headerless class in
 * random_mixed and larson).  A headerless class reads p's own first byte
 * (hdr_at 1) and ignores it: the free writes that line anyway, while the
 * byte before p would be the previous block's last, a line the free does
 * not need (larson: 0.14 more D1 misses per op).  p must be a block start
 * (p - 1 then lies in the same superslab). */
HK_INLINE int hk_hdr_bad(const hk_slab_t *s, const void *p) {
  return ((HK_TRACK_GET_U8((const uint8_t *)p - 1 + s->hdr_at) ^ s->hdr) & s->hdr_mask) != 0;
}
/* p is a live block start of s: carved, on the grid, its header intact,
 * its state bit set (read only).  The common case of hk_harden_block,
 * inline for the remote free (free_slab_slow). */
HK_INLINE int hk_live_block(const hk_slab_t *s, const void *p) {
  if (!hk_is_block_fast(s, p) || hk_hdr_bad(s, p)) return 0;
#if HK_HARDEN_STATE
  return (int)((*hk_state_word_of(s, p) >> (((uintptr_t)p >> 4) & 63)) & 1);
#else
  return 1;
#endif
}
/* Returns 0 after reporting (the caller returns at once: the report is its
 * tail call), 1 when p may be freed. */
HK_INLINE int hk_free_check(hk_slab_t *s, void *p) {
#if HK_HARDEN_STATE
  /* A set bit at a 16-aligned p proves p is a live block start (no
   * HK_SLAB_ALIGNED: no aligned pointers in this slab, and bits are only ever set at block
   * starts; a span's bits, [span start, user0) included, are cleared when
   * it is made), so neither the grid nor the range is tested here, and the
   * header byte at p - 1 is read only once p is known to be a block start
   * (p may be a superslab's first byte).  Any other p finds its bit clear
   * and hk_harden_fault tells which fault it is. */
  uintptr_t ssb = (uintptr_t)hk_chunk_base(p); /* the slab lookup's base */
  uintptr_t o = HK_STATE_OFF(p);
  uint64_t v;
  if (HK_UNLIKELY(!hk_state_load_flip(ssb, o, p, &v)) || /* was clear: not handed out */
      (HK_HARDEN_PTR && HK_UNLIKELY(hk_hdr_bad(s, p)))) {
    hk_harden_fault(s, p);
    return 0;
  }
  hk_state_store(ssb, o, v); /* after the checks: hk_harden_fault reads the bit */
#elif HK_HARDEN_PTR
  if (HK_UNLIKELY(!hk_is_block(s, p)) || HK_UNLIKELY(hk_hdr_bad(s, p))) {
    hk_harden_fault(s, p);
    return 0;
  }
#endif
  (void)s, (void)p;
  return 1;
}

extern pthread_mutex_t hk_ss_lock;
/* Allocate a span of `units` units for class cls; the descriptor comes back
 * initialised (capacity, user0, nothing carved).  NULL on ENOMEM. */
hk_slab_t *hk_span_alloc(unsigned cls);
/* Give a span back (all its blocks free).  May release the superslab. */
void hk_span_free(hk_slab_t *s);
/* Release cached empty superslabs; returns bytes released. */
size_t hk_ss_trim(void);
void hk_ss_prewarm(unsigned n);
/* Call fn on every mapped superslab, holding hk_ss_lock. */
void hk_ss_foreach(void (*fn)(hk_ss_t *ss, void *arg), void *arg);
void hk_ss_counts(uint64_t *live, uint64_t *cached, uint64_t *mapped, uint64_t *unmapped);

/* ---- heaps and the class engine (arena.c, tiny.c) ---------------------- */
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
};

extern hk_heap_t hk_heap_empty;     /* the heap of threads that have none   */
extern hk_slab_t hk_slab_empty;     /* the current slab of hk_heap_empty    */
extern __thread hk_heap_t *hk_tl_heap __attribute__((tls_model("initial-exec")));

/* tiny.c */
void *hk_class_alloc_slow(hk_heap_t *h, unsigned cls);
void  hk_free_local_slow(hk_heap_t *h, hk_slab_t *s);
/* Make s the current slab of class c (updating the direct table). */
HK_INLINE void hk_set_cur(hk_heap_t *h, unsigned c, hk_slab_t *s) {
  h->cur[c] = s;
  if (c < HK_TINY_CLASSES)
    for (unsigned q = hk_tiny_q_lo[c]; q <= hk_tiny_q_hi[c]; q++) h->direct[q] = s;
}
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
void  hk_free_remote(hk_slab_t *s, hk_block_t *b);
void  hk_span_release(hk_slab_t *s);
uint32_t hk_slab_live(const hk_slab_t *s); /* used - pending remote frees */
/* Blocks handed out and not back on s->free (remote frees count until
 * drained).  s->used also holds the pin: the only slab on its class's
 * avail list is pinned, so the fast free path's `--used == 0` never fires
 * for the slab a steady working set lives in (tiny.c). */
HK_INLINE uint32_t hk_slab_used(const hk_slab_t *s) { return s->used - s->pin; }
extern _Atomic uint64_t hk_class_spans[HK_NCLASSES]; /* spans per class    */
void  hk_heap_abandon(hk_heap_t *h);      /* thread exit: give up every slab */
void  hk_heap_reset(hk_heap_t *h);        /* point every class at the empty slab */
size_t hk_abandoned_trim(void);
extern pthread_mutex_t hk_abandoned_lock;
extern uint64_t hk_slabs_abandoned, hk_slabs_adopted;

/* arena.c */
hk_heap_t *hk_heap_get(void);            /* this thread's heap, made on demand */
extern pthread_mutex_t hk_heaps_lock;
extern hk_heap_t *hk_heaps_all;
extern uint64_t hk_threads_started, hk_threads_exited;
extern hk_counters_t hk_orphan_cnt[HK_NCLASSES]; /* remote frees by heapless threads */
void hk_init_slow(void);
extern _Atomic int hk_init_state;         /* 0 none, 1 running, 2 done */
HK_INLINE void hk_init(void) {
  if (HK_UNLIKELY(atomic_load_explicit(&hk_init_state, memory_order_acquire) != 2))
    hk_init_slow();
}
void *hk_meta_alloc(size_t size);         /* zeroed, never freed          */

/* ---- whale: mappings above the class range (whale.c) -------------------- */
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
};
typedef struct hk_whale_counts {
  hk_whale_cnt_t orphan;    /* counts of threads without a heap */
  uint64_t misses, evictions, remaps, cached_bytes, cached_count;
} hk_whale_counts_t;
/* h: the calling thread's heap (or &hk_heap_empty): its one-entry cache
 * and its counters. */
void  *hk_whale_alloc(hk_heap_t *h, size_t size, size_t align);
void  *hk_whale_calloc(hk_heap_t *h, size_t size);
void   hk_whale_free(hk_heap_t *h, hk_whale_t *w, void *p);
size_t hk_whale_usable(hk_whale_t *w, const void *p);
void  *hk_whale_resize(hk_whale_t *w, void *p, size_t size);
void   hk_whale_flush(hk_heap_t *h);
size_t hk_whale_trim(void);
void   hk_whale_counts(hk_whale_counts_t *out);
pthread_mutex_t *hk_whale_lock(void);
#define HK_WHALE_LIVE 0xA1u
/* checked builds (harden.c): state and pointer of a large block for op
 * (HK_OP_*); a small ring of recently unmapped large blocks, so that a
 * second free of one is reported as a double free, not a foreign pointer */
void hk_whale_check(hk_whale_t *w, const void *p, int op);
void hk_whale_note_freed(const void *p);
void hk_whale_note_alloc(const void *p);
int  hk_whale_recently_freed(const void *p);

/* ---- debug builds (debug.c): fill patterns, recent operations --------- */
enum { HK_DOP_MALLOC, HK_DOP_FREE, HK_DOP_CALLOC, HK_DOP_REALLOC, HK_DOP_ALIGNED };
#if HAKMEM_CHECK_LEVEL >= 2
void hk_debug_carve(const hk_slab_t *s, void *b);
void hk_debug_alloc(void *p, size_t n);
void hk_debug_resize(void *b, const void *q, size_t n);
void hk_debug_free(const hk_slab_t *s, void *p);
void hk_debug_op(int op, const void *p, size_t n);
void hk_debug_dump(int fd);
#define HK_DEBUG_OP(op, p, n) hk_debug_op((op), (p), (n))
#else
#define HK_DEBUG_OP(op, p, n) ((void)0)
#endif
/* check.c: heap walk that also returns the first problem (checked builds) */
int hk_check_heap_first(const void **at, int *cls);

/* ---- stats (stats.c) ---------------------------------------------------- */
void hk_stats_init(void);   /* at start-up: keep a stderr for the exit dump */

#endif /* HAKMEM_INTERNAL_H */
