/* alloc.h - the allocation fast path, inline: pop a block from the current
 * slab of this thread's heap, or take the slow path.  Shared by alloc.c
 * (malloc, calloc, the memalign family) and free.c (realloc), so that both
 * compile the same few instructions with nothing between them and the pop.
 *
 * Invariants: a block popped is 16-byte aligned and counted in its slab
 * (used, allocs) before it is returned; hk_class_pop hands out a raw block
 * (still no-access for memory tools), the callers say what the user may
 * touch (HK_TRACK_ALLOC, track.h); a thread without a heap (hk_heap_empty,
 * whose every slab is the empty one) always reaches hk_alloc_slow.
 */
#ifndef HAKMEM_ALLOC_H
#define HAKMEM_ALLOC_H

#include "harden.h"

HK_INLINE void *hk_class_pop(size_t n) {
  hk_heap_t *h = hk_tl_heap;
  hk_slab_t *s;
  size_t q = 0; /* size_t: no zero-extension on the fast path */
  unsigned c = 0;
  if (HK_LIKELY(n <= HK_TINY_MAX)) {
    /* INJECTED BUG (CLASS_BOUNDARY): a request exactly at a 16-byte class
     * limit (48, 64, ...) indexes the entry of the class below */
    q = (unsigned)((n + (HK_INJECT(CLASS_BOUNDARY) ? 15 : 16) + HK_TINY_QBIAS) >> 4);
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
    if (HK_ON(DEBUG)) hk_debug_alloc(b, n);
    if (HK_ON(WIPE)) return hk_wipe_popped(s, b); /* inline, or a tail call */
    return b;
  }
  void *r = hk_alloc_slow(h, n <= HK_TINY_MAX ? hk_tiny_class_lut[q] : c);
  if (HK_ON(DEBUG) && r != NULL) hk_debug_alloc(r, n);
  return r;
}

/* A class block the user may use n bytes of. */
HK_INLINE void *hk_class_malloc(size_t n) {
  void *p = hk_class_pop(n);
  if (HK_TRACK_MEMORY && p != NULL) HK_TRACK_ALLOC(p, n, 0);
  return p;
}

/* Checked builds: n - 1 wraps for n == 0, so malloc(0) fails both size
 * tests below and leaves for hk_malloc_whale, which hands out a pointer
 * into no-access memory (zero.c); release compares n itself. */
#define HK_ZERO_OUT (HK_ON(HARDEN) ? (size_t)1 : (size_t)0)

HK_INLINE void *hk_do_malloc(size_t n) {
  /* the tiny test first: a tiny request meets one compare, a mid one two;
   * the L2.5 classes, whose steps hk_class_of_size computes apart, have a
   * copy of the pop of their own behind a third */
  if (HK_LIKELY(n - HK_ZERO_OUT <= HK_TINY_MAX - HK_ZERO_OUT) ||
      HK_LIKELY(n - HK_ZERO_OUT <= HK_MID_MAX - HK_ZERO_OUT))
    return hk_class_malloc(n);
  if (n - HK_ZERO_OUT <= HK_CLASS_MAX - HK_ZERO_OUT) return hk_class_malloc(n);
  return hk_malloc_whale(n);
}

/* Start of the block containing p in a slab that holds aligned blocks. */
HK_INLINE hk_block_t *hk_block_start(const hk_slab_t *s, const void *p) {
  uintptr_t off = (uintptr_t)p - s->user0;
  return (hk_block_t *)(s->user0 + off / s->stride * s->stride);
}

#endif /* HAKMEM_ALLOC_H */
