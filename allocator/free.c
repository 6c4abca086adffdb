/* free.c - every free path, and the API calls that take a block back or
 * ask about one: free, realloc, reallocarray, malloc_usable_size,
 * malloc_trim.
 *
 * "What kind of pointer is this" has one answer, classify(): a block of a
 * slab, a superslab unit that holds no span, a whale mapping, or foreign
 * (NULL included).  The fast path of free asks the same registry byte and
 * the same unit head inline, with no more than it needs: a local free into
 * a slab of this thread's heap with no flag but HK_SLAB_MID is a push onto
 * the slab's free list; anything else (another owner: a remote free; a
 * flag; a unit without a span, whose head in checked builds is a
 * descriptor no heap owns) leaves it for free_slab_slow or free_other.
 *
 * Invariants:
 *   - a block is freed exactly once into the list of the slab it came
 *     from: locally by its owner, or onto the slab's remote queue (through
 *     the freeing thread's batch for that slab, class.c);
 *   - checked builds report, and abort on, every pointer that is not a
 *     live block's (harden.c classifies slab pointers, whale.c large ones),
 *     and on a class block whose canaries (harden.h) are not intact;
 *     release ignores a pointer it never handed out;
 *   - realloc(p, 0) frees p and returns NULL (glibc's behaviour); realloc
 *     failure leaves p valid; usable size is 0 for a pointer that is no
 *     block's.
 */
#include "alloc.h"

#include <errno.h>
#include <string.h>

/* ---- the one pointer classifier ------------------------------------------ */
enum { PTR_FOREIGN, PTR_NOSPAN, PTR_SLAB, PTR_WHALE };

/* The kind of p, with its slab (PTR_SLAB) or whale (PTR_WHALE) in *obj. */
HK_INLINE unsigned classify(const void *p, void **obj) {
  if (hk_chunk_of(p) != HK_CHUNK_SS) {
    hk_seg_t *seg = p ? hk_seg_lookup(p) : NULL;
    *obj = seg;
    return seg != NULL && seg->kind == HK_SEG_WHALE ? PTR_WHALE : PTR_FOREIGN;
  }
  hk_slab_t *s = hk_slab_of(p);
  *obj = s;
  return s != NULL ? PTR_SLAB : PTR_NOSPAN;
}

/* A pointer that is no block's (kind PTR_NOSPAN or PTR_FOREIGN) given to
 * op (HK_OP_*): checked builds report it, a recently unmapped large block
 * as a double free; release ignores it.  Not declared noreturn, so that
 * the fast path reaches it with a jump. */
static HK_NOIPA void free_bad(const void *p, int op, unsigned kind) {
  if (!HK_ON(HARDEN)) return;
  if (hk_zero_owns(p)) { /* malloc(0)'s pointers (zero.c) */
    hk_zero_free(p, op);
    return;
  }
  static const char *const fault[2][2] = {
      {"invalid free (not a hakmem pointer)", "invalid free (no slab here)"},
      {"invalid realloc (not a hakmem pointer)", "invalid realloc (no slab here)"}};
  if (hk_whale_recently_freed(p)) hk_fatal(op ? "realloc of a freed block" : "double free", p, -1);
  hk_fatal(fault[op][kind == PTR_NOSPAN], p, -1);
}

/* ---- free ------------------------------------------------------------------ */
/* A remote free from a thread without a heap: the thread gets one here,
 * so that its remote frees are batched and handed over at its exit. */
static HK_NOINLINE void free_remote_heapless(hk_slab_t *s, hk_block_t *b) {
  hk_heap_t *h = hk_thread_heap();
  hk_free_remote(h != NULL ? h : &hk_heap_empty, s, b);
}

/* Free of a block whose slab has flags set or another owner. */
static HK_NOINLINE void free_slab_slow(hk_slab_t *s, void *p) {
  if (HK_ON(HARDEN) && HK_UNLIKELY(s == HK_SLAB_NOSPAN)) {
    free_bad(p, HK_OP_FREE, PTR_NOSPAN);
    return;
  }
  hk_block_t *b = (hk_block_t *)p;
  hk_heap_t *h = hk_tl_heap;
  int own = hk_slab_owner(s) == h;
  if (HK_ON(HARDEN)) {
    /* a remote free of a live block start needs no more (the owner clears
     * the state bit at its drain); anything else is classified there */
    if (own || HK_UNLIKELY(!hk_live_block(s, p))) b = hk_harden_block(s, p, HK_OP_FREE, own);
#if HK_ON(CANARY)
    if (HK_UNLIKELY(hk_canary_bad(s, b))) hk_canary_fault(s, b);
#endif
    if (HK_ON(DEBUG)) hk_debug_free(s, b);
  } else if (hk_slab_flags(s) & HK_SLAB_ALIGNED) {
    b = hk_block_start(s, p);
  }
  HK_TRACK_FREE(p, hk_class[s->cls].usable - (size_t)((char *)p - (char *)b));
  if (HK_ON(WIPE) && s->wipe) hk_wipe_free(s, b); /* before another thread may pop it */
  if (!own) {
    HAKMEM_RACE_POINT(HK_RACE_REMOTE); /* the owner may exit meanwhile */
    if (HK_UNLIKELY(h == &hk_heap_empty)) free_remote_heapless(s, b);
    else hk_free_remote(h, s, b);
    return;
  }
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, s->free));
  s->free = b;
  s->used--;
  if (HK_INJECT(DOUBLE_PUSH)) {
    /* INJECTED BUG: a block of a parked slab also pushed onto the current
     * slab's free list: on two free lists at once */
    hk_slab_t *cur = h->cur[s->cls];
    if ((hk_slab_flags(s) & HK_SLAB_PARKED) && cur != s && cur != &hk_slab_empty) {
      b->next = HK_LINK_ENC(&b->next, cur->free);
      cur->free = b;
    }
  }
  hk_free_local_slow(h, s);
}

/* Free of a pointer outside every superslab: a whale, NULL or foreign. */
static HK_NOINLINE void free_other(void *p) {
  if (p == NULL) return;
  void *obj;
  unsigned kind = classify(p, &obj);
  if (kind == PTR_WHALE) {
    hk_heap_t *h = hk_tl_heap;
    hk_decay_tick(h); /* a slow path: decay is checked here (first, so the
                         free stays a tail call) */
    hk_whale_free(h, obj, p);
    return;
  }
  free_bad(p, HK_OP_FREE, kind);
}

/* Hardened: the last block of s freed locally: the held block goes onto
 * the list and p is zeroed (if not already) before the slab may go back
 * to its superslab. */
static HK_NOINLINE void free_last_hardened(hk_heap_t *h, hk_slab_t *s, void *p) {
  hk_block_t *held = s->held;
  if (HK_ON(DELAY) && held != NULL) {
    s->held = NULL;
    HK_TRACK_SET_NEXT(held, HK_LINK_ENC(&held->next, s->free));
    s->free = held;
  }
  if (s->wipe == HK_WIPE_OUTLINE) hk_wipe_free(s, p); /* (else zeroed inline) */
  hk_free_local_slow(h, s);
}

/* Local free into s, a slab of this thread's heap with no flag but perhaps
 * HK_SLAB_MID (mid != 0).  A slab whose count reaches 0 is not the only
 * one of its class (that one is pinned: class.c) and goes to the slow path,
 * which keeps one empty spare per class.  A mid or L2.5 slab becomes the
 * current one, so the next allocation reuses this cache-hot block; tiny
 * classes keep their current slab (their blocks share cache lines). */
HK_INLINE void free_local(hk_heap_t *h, hk_slab_t *s, void *p, int mid) {
  hk_block_t *b = (hk_block_t *)p;
  if (HK_ON(HARDEN) && HK_UNLIKELY(!hk_free_check(s, p))) return; /* reported */
#if HK_ON(CANARY)
  if (HK_UNLIKELY(hk_canary_bad(s, p))) {
    hk_canary_fault(s, p); /* a jump: no stack frame on this path */
    return;
  }
#endif
  if (HK_ON(DEBUG)) hk_debug_free(s, p);
#if HK_ON(WIPE)
  /* small blocks zeroed inline, before the link is written (harden.h) */
  if (s->wipe > HK_WIPE_OUTLINE) hk_wipe_clear(s, p);
#endif
  HK_TRACK_FREE(p, hk_class[s->cls].usable);
#if HK_ON(DELAY)
  if (s->delay) {
    /* hardened: p is held back; the block held before goes onto the list,
     * its link checked (written after its free: a write after free) */
    hk_block_t *held = s->held;
    s->held = b;
    HK_TRACK_SET_NEXT(b, HK_HELD_LINK(b));
    b = held;
    if (b == NULL) goto pushed; /* the slab's first: nothing to push */
    if (HK_UNLIKELY(HK_TRACK_NEXT(b) != HK_HELD_LINK(b))) {
      hk_held_fault(s, b);
      return;
    }
  }
#endif
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, s->free));
  s->free = b;
#if HK_ON(DELAY)
pushed:
#endif
  if (HK_UNLIKELY(--s->used == 0)) {
    if (HK_ON(WIPE) || HK_ON(DELAY)) free_last_hardened(h, s, p); /* a tail call either way */
    else hk_free_local_slow(h, s);
    return;
  }
  if (mid) h->cur[s->cls] = s;
  /* hardened, blocks not zeroed inline: zeroed after the push (only this
   * thread pops s), in a tail call, so the fast path keeps no stack frame */
  if (HK_ON(WIPE) && s->wipe == HK_WIPE_OUTLINE) hk_wipe_free(s, p);
}

/* Checked builds: an unaligned pointer or one above the 47-bit address
 * space, i.e. do_free without its fast path (every path below reports
 * such a pointer). */
static HK_NOINLINE void free_misfit(void *p) {
  void *obj;
  unsigned kind = classify(p, &obj);
  if (kind == PTR_SLAB) free_slab_slow(obj, p);
  else if (kind == PTR_WHALE) hk_whale_free(hk_tl_heap, obj, p);
  else free_bad(p, HK_OP_FREE, kind);
}

HK_INLINE void do_free(void *p) {
  /* checked builds: one test keeps both kinds off the fast path (harden.h) */
  if (HK_ON(HARDEN) && HK_UNLIKELY((uintptr_t)p & HK_FREE_MISFIT)) {
    free_misfit(p);
    return;
  }
  if (HK_LIKELY(hk_chunk_of(p) == HK_CHUNK_SS)) {
    /* checked builds: a unit without a span has HK_SLAB_NOSPAN here, which
     * no heap owns: free_slab_slow reports it (no NULL test on this path) */
    hk_slab_t *s = hk_slab_head(p);
    hk_heap_t *h = hk_tl_heap;
    /* one compare tests the owner and that no flag is set (types.h) */
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

HK_PUBLIC HK_HOT void hak_free(void *p) {
  if (HK_ON(DEBUG)) hk_debug_op(HK_DOP_FREE, p, 0);
  do_free(p);
}

/* ---- usable size ------------------------------------------------------------ */
static size_t usable_of(const void *p) {
  void *obj;
  unsigned kind = classify(p, &obj);
  switch (kind) {
  case PTR_WHALE: return hk_whale_usable(obj, p);
  case PTR_SLAB: break;
  default: return 0;
  }
  hk_slab_t *s = obj;
  if ((uintptr_t)p < s->user0) return 0;
  /* INJECTED BUG (USABLE_OVERSTATE): the stride, not the usable bytes */
  size_t usable = HK_INJECT(USABLE_OVERSTATE) ? hk_class[s->cls].stride : hk_class[s->cls].usable;
  /* the caller may now use every usable byte: no padding left to check */
  if (HK_ON(DEBUG)) hk_debug_resize(hk_block_start(s, p), hk_block_start(s, p), usable);
  if (hk_slab_flags(s) & HK_SLAB_ALIGNED)
    return usable - (size_t)((const char *)p - (const char *)hk_block_start(s, p));
  return usable;
}

HK_PUBLIC size_t hak_malloc_usable_size(const void *p) {
  size_t n = usable_of(p);
  /* The caller may use every usable byte: tell the memory tools, which
   * otherwise see only the size asked for (track.h). */
  if (HK_TRACK_MEMORY && n != 0) HK_TRACK_EXPOSE(p, n);
  return n;
}

/* ---- realloc ---------------------------------------------------------------- */
/* Checked builds: realloc's pointer gets the same checks as free's; the
 * block start of a slab block, NULL for a whale. */
static HK_NOINLINE void *realloc_check(void *p) {
  void *obj;
  unsigned kind = classify(p, &obj);
  if (kind == PTR_SLAB) return hk_harden_block(obj, p, HK_OP_REALLOC, 0);
  if (kind == PTR_WHALE) hk_whale_check(obj, p, HK_OP_REALLOC);
  else free_bad(p, HK_OP_REALLOC, kind);
  return NULL;
}

HK_PUBLIC void *hak_realloc(void *p, size_t n) {
  if (HK_ON(DEBUG)) hk_debug_op(HK_DOP_REALLOC, p, n);
  if (p == NULL) return hk_do_malloc(n);
  if (n == 0) {
    do_free(p);
    return NULL;
  }
  if (HK_ON(HARDEN) && HK_UNLIKELY(hk_zero_owns(p))) {
    /* a malloc(0) pointer (zero.c): no bytes to copy */
    hk_zero_check(p, HK_OP_REALLOC);
    void *q = hk_do_malloc(n);
    if (q != NULL) hk_zero_free(p, HK_OP_REALLOC);
    return q;
  }
  void *blk = HK_ON(HARDEN) ? realloc_check(p) : NULL;
  (void)blk;
  size_t old = usable_of(p);
  HK_CHECK(HARDEN, old != 0, "invalid realloc (not a hakmem pointer)", p, -1);
  if (n <= old && n >= old / 2) {
    if (HK_ON(DEBUG) && blk != NULL) hk_debug_resize(blk, p, n);
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
  void *q = hk_do_malloc(want);
  if (q == NULL) return NULL;
  if (want != n) HK_TRACK_RESIZE(q, want, n); /* the user asked for n */
  /* only the bytes the user asked for are copied (all of them, untracked);
   * INJECTED BUG (REALLOC_TRUNCATE): one byte short */
  memcpy(q, p, HK_TRACK_LIVE_LEN(p, old < n ? old : n) - (HK_INJECT(REALLOC_TRUNCATE) ? 1 : 0));
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

/* ---- trim ------------------------------------------------------------------- */
HK_PUBLIC int hak_malloc_trim(size_t pad) {
  (void)pad;
  size_t released = hk_abandoned_trim();
  hk_heap_t *h = hk_tl_heap;
  if (h != &hk_heap_empty) {
    released += hk_heap_decay(h, HK_DECAY_NOW); /* this thread's empty spans */
    hk_whale_flush(h);
  }
  released += hk_whale_trim();
  released += hk_ss_trim();
  return released != 0;
}

/* The libc names (see the end of alloc.c). */
#ifdef HAKMEM_LIBC_NAMES
HK_LIBC_ALIAS(free, hak_free)
HK_LIBC_ALIAS(realloc, hak_realloc)
HK_LIBC_ALIAS(reallocarray, hak_reallocarray)
HK_LIBC_ALIAS(malloc_trim, hak_malloc_trim)
#endif
