/* alloc.c - the allocating half of the hak_ API: malloc, calloc and the
 * memalign family.  (free, realloc and usable size are free.c's.)
 *
 * Size dispatch: requests up to HK_CLASS_MAX go to the class engine through
 * the fast path (alloc.h: pop from the current slab of this thread's
 * heap); larger requests and large alignments go to whale.c.
 *
 * Invariants:
 *   - every pointer returned is 16-byte aligned, or aligned as requested;
 *   - usable size >= request, measured from the returned pointer;
 *   - failure returns NULL with errno ENOMEM (sizes) or EINVAL (alignment);
 *     hak_posix_memalign returns the code and leaves *out untouched.
 *
 * The libc names are defined only when this file is built for libhakmem.so
 * and libhakmem.a (HAKMEM_LIBC_NAMES, at the end), so hakmem_core can be
 * linked into sanitizer builds.
 */
#include "alloc.h"

#include <errno.h>
#include <string.h>

/* The heap for a whale allocation: made on demand, so that a thread whose
 * first allocation is a whale gets its one-entry whale cache too. */
static hk_heap_t *whale_heap(void) {
  hk_heap_t *h = hk_tl_heap;
  if (HK_UNLIKELY(h == &hk_heap_empty)) {
    h = hk_thread_heap();
    if (h == NULL) h = &hk_heap_empty;
  }
  return h;
}

/* Checked builds: malloc(0) is a unique pointer into no-access memory
 * (zero.c), or a class block when none is left. */
static HK_NOINLINE void *zero_malloc(void) {
  void *p = hk_zero_alloc();
  return p != NULL ? p : hk_class_malloc(0);
}

/* Above the class range; in checked builds also malloc(0) (hk_do_malloc). */
HK_NOINLINE void *hk_malloc_whale(size_t n) {
  if (HK_ON(HARDEN) && n == 0) return zero_malloc();
  return hk_whale_alloc(whale_heap(), n, HK_ALIGN);
}

/* Aligned allocation; align is a power of two. */
static void *aligned_alloc_pow2(size_t align, size_t n) {
  if (HK_ON(DEBUG)) hk_debug_op(HK_DOP_ALIGNED, NULL, n);
  if (align <= HK_ALIGN) return hk_do_malloc(n);
  if (HK_INJECT(ALIGN_DRIFT) && align >= 1024)
    align /= 2; /* INJECTED BUG: large alignments drift by half */
  if (n > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  size_t m = hk_aligned_request(n, align);
  if (m != 0) {
    /* Pad a class block: the aligned pointer lies within align - 16 bytes
     * of the block start, so the block's usable bytes cover n from there. */
    char *p = hk_class_pop(m);
    if (p == NULL) return NULL;
    char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (q != p) {
      hk_slab_t *s = hk_slab_of(p);
      unsigned f = hk_slab_flags(s);
      if (!(f & HK_SLAB_ALIGNED)) hk_slab_set_flags(s, f | HK_SLAB_ALIGNED);
      if (HK_ON(STATE)) hk_state_put(q, 1); /* q is this block's legitimate pointer */
    }
    if (HK_ON(DEBUG)) hk_debug_resize(p, q, n);
    HK_TRACK_ALLOC(q, n, 0); /* [p, q) and the slack stay no-access */
    return q;
  }
  return hk_whale_alloc(whale_heap(), n, align);
}

/* ---- the public API ------------------------------------------------------ */
HK_PUBLIC HK_HOT void *hak_malloc(size_t n) {
  void *p = hk_do_malloc(n);
  if (HK_ON(DEBUG)) hk_debug_op(HK_DOP_MALLOC, p, n);
  return p;
}

HK_PUBLIC void *hak_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  if (HK_ON(DEBUG)) hk_debug_op(HK_DOP_CALLOC, NULL, n);
  if (n - HK_ZERO_OUT > HK_CLASS_MAX - HK_ZERO_OUT)
    return HK_ON(HARDEN) && n == 0 ? zero_malloc() : hk_whale_calloc(whale_heap(), n);
  /* a block that a carve made for this very pop is zero from
   * h->calloc_zero on (class.c carve): those pages are not touched */
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) h->calloc_blk = 0;
  void *p = hk_class_pop(n);
  if (p == NULL) return NULL;
  HK_TRACK_ALLOC(p, n, 1);
  if (HK_INJECT(CALLOC_DIRTY)) return p; /* INJECTED BUG: no zeroing */
  if (HK_ON(WIPE) && hk_slab_head(p)->wipe) return p; /* handed out all zero */
  h = hk_tl_heap; /* (the pop may have made the thread's heap) */
  if ((uintptr_t)p == h->calloc_blk && h->calloc_zero - (uintptr_t)p < n) {
    memset(p, 0, h->calloc_zero - (uintptr_t)p);
    return p;
  }
  if (hk_opt.lazy_zero && n >= 65536) /* the released pages fault in afresh */
    hk_fresh_pages(hk_bucket_of_class(hk_slab_of(p)->cls), hk_os_zero_lazy(p, n));
  else memset(p, 0, n);
  return p;
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

/* The libc names, in libhakmem.so and libhakmem.a only (this file and
 * free.c are compiled a second time with HAKMEM_LIBC_NAMES for them): each
 * is an alias of its hak_ function, the same code, so malloc costs no jump
 * more than hak_malloc (measured: tiny_hot 5.95 -> 5.48 CPU ns with the
 * jump gone).  malloc_usable_size and mallinfo2 differ in type from any
 * hak_ function and are defined in override.c. */
#ifdef HAKMEM_LIBC_NAMES
HK_LIBC_ALIAS(malloc, hak_malloc)
HK_LIBC_ALIAS(calloc, hak_calloc)
HK_LIBC_ALIAS(posix_memalign, hak_posix_memalign)
HK_LIBC_ALIAS(aligned_alloc, hak_aligned_alloc)
HK_LIBC_ALIAS(memalign, hak_memalign)
HK_LIBC_ALIAS(valloc, hak_valloc)
HK_LIBC_ALIAS(pvalloc, hak_pvalloc)
#endif
