/* alloc.c - the front end: the hak_ API.
 *
 * Size dispatch: requests up to HK_CLASS_MAX go to the class engine through
 * the fast paths below (pop from / push to the current slab of this
 * thread's heap); larger requests and large alignments go to whale.c.
 *
 * Invariants:
 *   - every pointer returned is 16-byte aligned, or aligned as requested;
 *   - usable size >= request, measured from the returned pointer;
 *   - failure returns NULL with errno ENOMEM (sizes) or EINVAL (alignment);
 *     hak_posix_memalign returns the code and leaves *out untouched;
 *   - realloc(p, 0) frees p and returns NULL (glibc's behaviour);
 *     realloc failure leaves p valid.
 *
 * The libc names are defined only when this file is built for libhakmem.so
 * and libhakmem.a (HAKMEM_LIBC_NAMES, at the end), so hakmem_core can be
 * linked into sanitizer builds.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define HK_STR2(x) #x
#define HK_STR(x) HK_STR2(x)

/* ---- fast paths ----------------------------------------------------------
 * class_alloc hands out a raw block (still no-access for memory tools);
 * callers say what the user may touch with HK_TRACK_ALLOC (track.h). */
HK_INLINE void *class_alloc(size_t n) {
  hk_heap_t *h = hk_tl_heap;
  hk_slab_t *s;
  size_t q = 0; /* size_t: no zero-extension on the fast path */
  unsigned c = 0;
  if (HK_LIKELY(n <= HK_TINY_MAX)) {
#ifdef HAKMEM_INJECT_CLASS_BOUNDARY
    /* INJECTED BUG: a request exactly at a 16-byte class limit (48, 64,
     * ...) indexes the entry of the class below */
    q = (unsigned)((n + 15) >> 4);
#else
    q = (unsigned)((n + 16) >> 4);
#endif
    s = h->direct[q];
  } else {
    c = hk_class_of_size(n);
    s = h->cur[c];
  }
  hk_block_t *b = s->free;
  if (HK_LIKELY(b != NULL)) {
    s->free = hk_pop_next(s, b);
    s->used++;
    s->allocs++;
    HK_ASSERT(((uintptr_t)b & (HK_ALIGN - 1)) == 0 && hk_slab_used(s) <= s->carved);
#if HAKMEM_CHECK_LEVEL >= 2
    hk_debug_alloc(b, n);
#endif
    return b;
  }
#if HAKMEM_CHECK_LEVEL >= 2
  void *r = hk_class_alloc_slow(h, n <= HK_TINY_MAX ? hk_tiny_class_lut[q] : c);
  if (r != NULL) hk_debug_alloc(r, n);
  return r;
#else
  return hk_class_alloc_slow(h, n <= HK_TINY_MAX ? hk_tiny_class_lut[q] : c);
#endif
}

HK_INLINE void *class_malloc(size_t n) {
  void *p = class_alloc(n);
  if (HK_TRACK_MEMORY && p != NULL) HK_TRACK_ALLOC(p, n, 0);
  return p;
}

/* The heap for a whale allocation: made on demand, so that a thread whose
 * first allocation is a whale gets its one-entry whale cache too. */
static hk_heap_t *whale_heap(void) {
  hk_heap_t *h = hk_tl_heap;
  if (HK_UNLIKELY(h == &hk_heap_empty)) {
    h = hk_heap_get();
    if (h == NULL) h = &hk_heap_empty;
  }
  return h;
}

static HK_NOINLINE void *malloc_whale(size_t n) {
  return hk_whale_alloc(whale_heap(), n, HK_ALIGN);
}

HK_INLINE void *do_malloc(size_t n) {
  /* the tiny test first: a tiny request meets one compare, not two */
  if (HK_LIKELY(n <= HK_TINY_MAX) || HK_LIKELY(n <= HK_CLASS_MAX)) return class_malloc(n);
  return malloc_whale(n);
}

/* Start of the block containing p in a slab that holds aligned blocks. */
HK_INLINE hk_block_t *block_start(const hk_slab_t *s, const void *p) {
  uintptr_t off = (uintptr_t)p - s->user0;
  return (hk_block_t *)(s->user0 + off / s->stride * s->stride);
}

#if HAKMEM_CHECK_LEVEL > 0
/* A pointer into a superslab unit that holds no span.  Not declared
 * noreturn, so that the fast path reaches it with a jump. */
static HK_NOIPA void free_no_slab(void *p, int op) {
  if (hk_whale_recently_freed(p))
    hk_fatal(op ? "realloc of a freed block" : "double free", p, -1);
  hk_fatal(op ? "invalid realloc (no slab here)" : "invalid free (no slab here)", p, -1);
}
#endif

static HK_NOINLINE void free_invalid(void *p) {
#if HAKMEM_CHECK_LEVEL > 0
  if (hk_whale_recently_freed(p)) hk_fatal("double free", p, -1);
#endif
  HK_CHECK(HK_LEVEL_HARDENED, 0, "invalid free (not a hakmem pointer)", p, -1);
  /* release: a pointer we never handed out is ignored */
}

/* Free of a block whose slab has flags set or another owner. */
static HK_NOINLINE void free_slab_slow(hk_slab_t *s, void *p) {
#if HAKMEM_CHECK_LEVEL > 0
  if (HK_UNLIKELY(s == HK_SLAB_NOSPAN)) {
    free_no_slab(p, HK_OP_FREE);
    return;
  }
#endif
  hk_block_t *b = (hk_block_t *)p;
  hk_heap_t *h = hk_tl_heap;
  int own = hk_slab_owner(s) == h;
#if HAKMEM_CHECK_LEVEL > 0
  /* a remote free of a live block start needs no more (the owner clears
   * the state bit at its drain); anything else is classified there */
  if (own || HK_UNLIKELY(!hk_live_block(s, p))) b = hk_harden_block(s, p, HK_OP_FREE, own);
#if HAKMEM_CHECK_LEVEL >= 2
  hk_debug_free(s, b);
#endif
#else
  if (hk_slab_flags(s) & HK_SLAB_ALIGNED) b = block_start(s, p);
#endif
  HK_TRACK_FREE(p, hk_class[s->cls].usable - (size_t)((char *)p - (char *)b));
  if (!own) {
    hk_free_remote(s, b);
    return;
  }
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, s->free));
  s->free = b;
  s->used--;
#ifdef HAKMEM_INJECT_DOUBLE_PUSH
  { /* INJECTED BUG: a block of a parked slab also pushed onto the current
     * slab's free list: on two free lists at once */
    hk_slab_t *cur = h->cur[s->cls];
    if ((hk_slab_flags(s) & HK_SLAB_PARKED) &&
        cur != s && cur != &hk_slab_empty) {
      b->next = HK_LINK_ENC(&b->next, cur->free);
      cur->free = b;
    }
  }
#endif
  hk_free_local_slow(h, s);
}

static HK_NOINLINE void free_other(void *p) {
  if (p == NULL) return;
  hk_seg_t *seg = hk_seg_lookup(p);
  if (seg != NULL && seg->kind == HK_SEG_WHALE) {
    hk_whale_free(hk_tl_heap, (hk_whale_t *)seg, p);
    return;
  }
  free_invalid(p);
}

/* Local free into s, a slab of this thread's heap with no flag but perhaps
 * HK_SLAB_MID (mid != 0).  A slab whose count reaches 0 is not the only
 * one of its class (that one is pinned: tiny.c) and goes to the slow path,
 * which keeps one empty spare per class.  A mid or L2.5 slab becomes the
 * current one, so the next allocation reuses this cache-hot block; tiny
 * classes keep their current slab (their blocks share cache lines). */
HK_INLINE void free_local(hk_heap_t *h, hk_slab_t *s, void *p, int mid) {
  hk_block_t *b = (hk_block_t *)p;
#if HAKMEM_CHECK_LEVEL > 0
  if (HK_UNLIKELY(!hk_free_check(s, p))) return; /* reported */
#endif
#if HAKMEM_CHECK_LEVEL >= 2
  hk_debug_free(s, p);
#endif
  HK_TRACK_FREE(p, hk_class[s->cls].usable);
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, s->free));
  s->free = b;
  if (HK_UNLIKELY(--s->used == 0)) {
    hk_free_local_slow(h, s);
    return;
  }
  if (mid) h->cur[s->cls] = s;
}

#if HAKMEM_CHECK_LEVEL > 0
/* An unaligned pointer or one above the 47-bit address space: do_free
 * without its fast path (every path below reports such a pointer). */
static HK_NOINLINE void free_misfit(void *p) {
  if (hk_chunk_of(p) == HK_CHUNK_SS) {
    hk_slab_t *s = hk_slab_of(p);
    if (s == NULL) free_no_slab(p, HK_OP_FREE);
    else free_slab_slow(s, p);
    return;
  }
  free_other(p);
}
#endif

HK_INLINE void do_free(void *p) {
#if HAKMEM_CHECK_LEVEL > 0
  /* one test keeps both kinds off the fast path (HK_FREE_MISFIT) */
  if (HK_UNLIKELY((uintptr_t)p & HK_FREE_MISFIT)) {
    free_misfit(p);
    return;
  }
#endif
  if (HK_LIKELY(hk_chunk_of(p) == HK_CHUNK_SS)) {
    /* checked builds: a unit without a span has HK_SLAB_NOSPAN here, which
     * no heap owns: free_slab_slow reports it (no NULL test on this path) */
    hk_slab_t *s = hk_slab_head(p);
    hk_heap_t *h = hk_tl_heap;
    /* one compare tests the owner and that no flag is set (internal.h) */
    uintptr_t w = atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (HK_LIKELY(w == (uintptr_t)h)) {
      free_local(h, s, p, 0);
      return;
    }
    if (w == (uintptr_t)h + HK_SLAB_MID) {
      free_local(h, s, p, 1);
      return;
    }
    free_slab_slow(s, p);
    return;
  }
  free_other(p);
}

static size_t usable_of(const void *p) {
  if (hk_chunk_of(p) != HK_CHUNK_SS) {
    hk_seg_t *seg = p ? hk_seg_lookup(p) : NULL;
    return seg != NULL && seg->kind == HK_SEG_WHALE ? hk_whale_usable((hk_whale_t *)seg, p) : 0;
  }
  hk_slab_t *s = hk_slab_of(p);
  if (s == NULL || (uintptr_t)p < s->user0) return 0;
  size_t usable = hk_class[s->cls].usable;
#ifdef HAKMEM_INJECT_USABLE_OVERSTATE
  usable = hk_class[s->cls].stride; /* INJECTED BUG: the stride, not the usable bytes */
#endif
#if HAKMEM_CHECK_LEVEL >= 2
  /* the caller may now use every usable byte: no padding left to check */
  hk_debug_resize(block_start(s, p), block_start(s, p), usable);
#endif
  if (hk_slab_flags(s) & HK_SLAB_ALIGNED)
    return usable - (size_t)((const char *)p - (const char *)block_start(s, p));
  return usable;
}

/* Aligned allocation; align is a power of two. */
static void *aligned_alloc_pow2(size_t align, size_t n) {
  HK_DEBUG_OP(HK_DOP_ALIGNED, NULL, n);
  if (align <= HK_ALIGN) return do_malloc(n);
#ifdef HAKMEM_INJECT_ALIGN_DRIFT
  if (align >= 1024) align /= 2; /* INJECTED BUG: large alignments drift by half */
#endif
  if (n > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  if (align <= HK_UNIT_SIZE && n <= HK_CLASS_MAX - (align - HK_ALIGN)) {
    /* Pad a class block: the aligned pointer lies within align - 16 bytes
     * of the block start, so the block's usable bytes cover n from there. */
    char *p = class_alloc(n + align - HK_ALIGN);
    if (p == NULL) return NULL;
    char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (q != p) {
      hk_slab_t *s = hk_slab_of(p);
      unsigned f = hk_slab_flags(s);
      if (!(f & HK_SLAB_ALIGNED)) hk_slab_set_flags(s, f | HK_SLAB_ALIGNED);
#if HK_HARDEN_STATE
      hk_state_put(q, 1); /* q is this block's legitimate pointer */
#endif
    }
#if HAKMEM_CHECK_LEVEL >= 2
    hk_debug_resize(p, q, n);
#endif
    HK_TRACK_ALLOC(q, n, 0); /* [p, q) and the slack stay no-access */
    return q;
  }
  return hk_whale_alloc(whale_heap(), n, align);
}

/* ---- the public API ------------------------------------------------------ */
HK_PUBLIC HK_HOT void *hak_malloc(size_t n) {
  void *p = do_malloc(n);
  HK_DEBUG_OP(HK_DOP_MALLOC, p, n);
  return p;
}
HK_PUBLIC HK_HOT void hak_free(void *p) {
  HK_DEBUG_OP(HK_DOP_FREE, p, 0);
  do_free(p);
}
HK_PUBLIC size_t hak_malloc_usable_size(const void *p) {
  size_t n = usable_of(p);
  /* The caller may use every usable byte: tell the memory tools, which
   * otherwise see only the size asked for (track.h). */
  if (HK_TRACK_MEMORY && n != 0) HK_TRACK_EXPOSE(p, n);
  return n;
}

HK_PUBLIC void *hak_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  HK_DEBUG_OP(HK_DOP_CALLOC, NULL, n);
  if (n > HK_CLASS_MAX) return hk_whale_calloc(whale_heap(), n);
  void *p = class_alloc(n);
  if (p == NULL) return NULL;
  HK_TRACK_ALLOC(p, n, 1);
#ifndef HAKMEM_INJECT_CALLOC_DIRTY /* INJECTED BUG when defined: no zeroing */
  if (hk_opt.lazy_zero && n >= 65536) /* the released pages fault in afresh */
    hk_fresh_pages(hk_bucket_of_class(hk_slab_of(p)->cls), hk_os_zero_lazy(p, n));
  else memset(p, 0, n);
#endif
  return p;
}

#if HAKMEM_CHECK_LEVEL > 0
/* realloc's pointer gets the same checks as free's (hardened). */
static HK_NOINLINE void *realloc_check(void *p) {
  if (hk_chunk_of(p) == HK_CHUNK_SS) {
    hk_slab_t *s = hk_slab_of(p);
    if (s == NULL) {
      free_no_slab(p, HK_OP_REALLOC);
      return NULL;
    }
    return hk_harden_block(s, p, HK_OP_REALLOC, 0);
  }
  hk_seg_t *seg = hk_seg_lookup(p);
  if (seg != NULL && seg->kind == HK_SEG_WHALE) {
    hk_whale_check((hk_whale_t *)seg, p, HK_OP_REALLOC);
    return NULL;
  }
  if (hk_whale_recently_freed(p)) hk_fatal("realloc of a freed block", p, -1);
  hk_fatal("invalid realloc (not a hakmem pointer)", p, -1);
}
#endif

HK_PUBLIC void *hak_realloc(void *p, size_t n) {
  HK_DEBUG_OP(HK_DOP_REALLOC, p, n);
  if (p == NULL) return do_malloc(n);
  if (n == 0) {
    do_free(p);
    return NULL;
  }
#if HAKMEM_CHECK_LEVEL > 0
  void *blk = realloc_check(p);
  (void)blk;
#endif
  size_t old = usable_of(p);
  HK_CHECK(HK_LEVEL_HARDENED, old != 0, "invalid realloc (not a hakmem pointer)", p, -1);
  if (n <= old && n >= old / 2) {
#if HAKMEM_CHECK_LEVEL >= 2
    if (blk != NULL) hk_debug_resize(blk, p, n);
#endif
    HK_TRACK_RESIZE(p, HK_TRACK_LIVE_LEN(p, old), n);
    return p;
  }
  if (old > HK_CLASS_MAX && n > HK_CLASS_MAX) {
    /* whale to whale: mremap, in place or by moving pages, never copying */
    hk_seg_t *seg = hk_seg_lookup(p);
    void *q = hk_whale_resize((hk_whale_t *)seg, p, n);
    if (q != NULL) return q;
  }
  /* Creeping growth (a buffer grown a little at a time, which glibc would
   * extend in place) gets twice the old size, so the copies cost O(1) per
   * byte; a jump to a new size gets exactly what it asks for. */
  size_t want = n;
  if (n > old && n - old <= old / 4 && old <= HK_CLASS_MAX / 2) want = old * 2;
  void *q = do_malloc(want);
  if (q == NULL) return NULL;
  if (want != n) HK_TRACK_RESIZE(q, want, n); /* the user asked for n */
  /* only the bytes the user asked for are copied (all of them, untracked) */
#ifdef HAKMEM_INJECT_REALLOC_TRUNCATE
  memcpy(q, p, HK_TRACK_LIVE_LEN(p, old < n ? old : n) - 1); /* INJECTED BUG: one byte short */
#else
  memcpy(q, p, HK_TRACK_LIVE_LEN(p, old < n ? old : n));
#endif
  do_free(p);
  return q;
}

HK_PUBLIC void *hak_reallocarray(void *p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return hak_realloc(p, n);
}

HK_PUBLIC int hak_posix_memalign(void **out, size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0)
    return EINVAL;
  int saved = errno;
  void *p = aligned_alloc_pow2(align, n);
  if (p == NULL) {
    errno = saved;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

HK_PUBLIC void *hak_aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return aligned_alloc_pow2(align, n);
}

HK_PUBLIC void *hak_memalign(size_t align, size_t n) {
  /* glibc semantics: a non-power-of-two alignment is rounded up; one that
   * cannot be rounded up within size_t is EINVAL. */
  if (align > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
    errno = EINVAL;
    return NULL;
  }
  if (align & (align - 1)) align = (size_t)1 << (64 - __builtin_clzl(align));
  return aligned_alloc_pow2(align, n);
}

HK_PUBLIC void *hak_valloc(size_t n) { return aligned_alloc_pow2(HK_PAGE, n); }

HK_PUBLIC void *hak_pvalloc(size_t n) {
  if (n > SIZE_MAX - HK_PAGE) {
    errno = ENOMEM;
    return NULL;
  }
  size_t r = n == 0 ? HK_PAGE : (n + HK_PAGE - 1) & ~(size_t)(HK_PAGE - 1);
  return aligned_alloc_pow2(HK_PAGE, r);
}

HK_PUBLIC int hak_malloc_trim(size_t pad) {
  (void)pad;
  size_t released = hk_abandoned_trim();
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) hk_whale_flush(h);
  released += hk_whale_trim();
  released += hk_ss_trim();
  return released != 0;
}

HK_PUBLIC const char *hak_variant(void) {
#ifdef HAKMEM_VARIANT_NAME
  return HAKMEM_VARIANT_NAME;
#else
  return HAKMEM_CHECK_LEVEL == 2 ? "debug" : HAKMEM_CHECK_LEVEL == 1 ? "hardened" : "release";
#endif
}
HK_PUBLIC int hak_check_level(void) { return HAKMEM_CHECK_LEVEL; }
HK_PUBLIC const char *hak_injected_bug(void) {
#ifdef HAKMEM_INJECT_NAME
  return HAKMEM_INJECT_NAME;
#else
  return "";
#endif
}

/* The libc names, in libhakmem.so and libhakmem.a only (this file is
 * compiled a second time with HAKMEM_LIBC_NAMES for them): each is an
 * alias of its hak_ function, the same code, so malloc costs no jump more
 * than hak_malloc (measured: tiny_hot 5.95 -> 5.48 CPU ns with the jump
 * gone).  malloc_usable_size and mallinfo2 differ in type from any hak_
 * function and are defined in override.c. */
#ifdef HAKMEM_LIBC_NAMES
#define HK_LIBC_ALIAS(libc, name) \
  extern __typeof(name) libc __attribute__((alias(#name), visibility("default")));
HK_LIBC_ALIAS(malloc, hak_malloc)
HK_LIBC_ALIAS(free, hak_free)
HK_LIBC_ALIAS(calloc, hak_calloc)
HK_LIBC_ALIAS(realloc, hak_realloc)
HK_LIBC_ALIAS(reallocarray, hak_reallocarray)
HK_LIBC_ALIAS(posix_memalign, hak_posix_memalign)
HK_LIBC_ALIAS(aligned_alloc, hak_aligned_alloc)
HK_LIBC_ALIAS(memalign, hak_memalign)
HK_LIBC_ALIAS(valloc, hak_valloc)
HK_LIBC_ALIAS(pvalloc, hak_pvalloc)
HK_LIBC_ALIAS(malloc_trim, hak_malloc_trim)
#endif
