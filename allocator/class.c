/* class.c - the class engine: every class, tiny (<= 1 KiB), mid (<= 64 KiB)
 * and L2.5 (<= 256 KiB), is served here from slabs (spans of 64 KiB units).
 *
 * Per thread and class, the heap keeps a list of slabs it owns with blocks
 * to hand out (h->avail[c]), the current slab the fast path pops from
 * (h->cur[c], one of that list; for mid and L2.5 classes it follows the
 * slab of the last local free; tiny classes are also reached through the
 * direct table h->direct[]), and a list of parked slabs with none left
 * (h->full[c]).  The fast
 * paths (alloc.h, free.c) pop from the current slab's `free` list and push to the
 * freed block's slab; this file is the slow path behind them.
 *
 * Refill order for class c, slab by slab along the list: a slab with
 * blocks on its free list as it is, else its remote queue drained, else a
 * batch of never-used blocks carved (HAKMEM_CARVE KiB, stride from the
 * layout table), else the slab parked; then adopt an abandoned slab, and
 * only then take a new span from a superslab.
 *
 * Remote free protocol (MPSC per slab, see docs/architecture.md):
 *   - a freeing thread gathers its frees to a slab in a batch of its heap
 *     (hk_rbatch_t: one slot per unit index, HAKMEM_REMOTE_BATCH KiB) and
 *     pushes the batch as one list with one CAS when it is full, its slot
 *     is wanted by another slab, or on hk_remote_flush (thread exit, fork,
 *     decay pass, stats); batched blocks count in s->used, so the span
 *     cannot go back under a batch;
 *   - any thread pushes with a CAS on s->remote, which holds the list head
 *     and its length; the owner takes the whole list with one exchange, so
 *     there is exactly one consumer, and needs no walk to know how many
 *     blocks it took (release walks only to append to a non-empty free
 *     list; checked builds walk to validate every node);
 *   - the owner parks a slab by CAS(remote: 0 -> PARKED).  A pusher whose
 *     CAS removes PARKED sets the class bit in the owner's remote_hint, and
 *     the owner's next slow path unparks the slabs of that class;
 *   - a pusher reads everything it needs from the slab before its CAS: once
 *     the block is published the owner may reuse it and release the span.
 *   Checked builds mark the protocol's windows with race points
 *   (HAKMEM_RACE_POINT, HAKMEM_RACE_CAS: internal.h), which HAKMEM_RACE
 *   makes lose CAS attempts and yield (docs/architecture.md).
 *
 * The pin: the only slab on a class's avail list carries one extra count
 * in s->used (s->pin == 1), so the fast free path's `--used == 0` test
 * fires only for a slab that has company, and a working set that lives in
 * one slab (a malloc/free loop) never leaves the fast path.  The list
 * helpers below are the only place that pins and unpins.
 *
 * Invariants:
 *   - hk_slab_used(s) == s->used - s->pin == blocks handed out and not yet
 *     back on s->free (remote frees count until drained), so 0 means no
 *     live block;
 *   - s->pin == 1 exactly while s is the only slab on its owner's avail
 *     list;
 *   - a slab is on exactly one list: its owner's avail list, its owner's
 *     full list (flag HK_SLAB_PARKED), the abandoned list of its class (owner 0),
 *     or none while it is being handed over;
 *   - only the owner touches free, used, carved, flags and the lists.
 */
#include "harden.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t hk_abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_slab_t *abandoned[HK_NCLASSES];
uint64_t hk_slabs_abandoned, hk_slabs_adopted;
_Atomic uint64_t hk_class_spans[HK_NCLASSES];
_Atomic uint64_t hk_retired_allocs[HK_NCLASSES];

/* ---- list helpers --------------------------------------------------------
 * h->avail[c] heads the list of slabs with blocks to hand out; h->cur[c]
 * is the one the fast path pops from: any slab of that list (the one a
 * block was last freed into, so the next malloc reuses a cache-hot block),
 * or the empty slab. */
static void set_pin(hk_slab_t *s, uint32_t pin) {
  s->used = s->used - s->pin + pin;
  s->pin = pin;
}
static void avail_remove(hk_heap_t *h, hk_slab_t *s) {
  unsigned c = s->cls;
  set_pin(s, 0);
  if (s->prev) s->prev->next = s->next;
  else h->avail[c] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  hk_slab_t *only = h->avail[c];
  if (only != NULL && only->next == NULL) set_pin(only, 1);
  if (h->cur[c] == s) hk_set_cur(h, c, only ? only : &hk_slab_empty);
}
static void avail_push_front(hk_heap_t *h, hk_slab_t *s) {
  unsigned c = s->cls;
  s->prev = NULL;
  s->next = h->avail[c];
  if (s->next) {
    s->next->prev = s;
    set_pin(s->next, 0); /* may leave it empty: the class's one spare */
  }
  set_pin(s, s->next == NULL);
  h->avail[c] = s;
}
static void full_push(hk_heap_t *h, hk_slab_t *s) {
  unsigned c = s->cls;
  s->prev = NULL;
  s->next = h->full[c];
  if (s->next) s->next->prev = s;
  h->full[c] = s;
  hk_slab_set_flags(s, hk_slab_flags(s) | HK_SLAB_PARKED);
}
static void full_remove(hk_heap_t *h, hk_slab_t *s) {
  if (s->prev) s->prev->next = s->next;
  else h->full[s->cls] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  hk_slab_set_flags(s, hk_slab_flags(s) & ~HK_SLAB_PARKED);
}

/* ---- carving and draining ------------------------------------------------ */
/* The bits set in x: one instruction where the build targets popcnt,
 * else a few shifts and masks inline (the builtin would call libgcc). */
HK_INLINE unsigned popcount64(uint64_t x) {
#ifdef __POPCNT__
  return (unsigned)__builtin_popcountll(x);
#else
  x -= (x >> 1) & 0x5555555555555555u;
  x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
  return (unsigned)((x * 0x0101010101010101u) >> 56);
#endif
}

/* Set the handed-out bits (hk_ss_t.handed) of the pages [lo, hi) touches
 * (one superslab); returns how many were clear. */
static uint64_t mark_handed(uintptr_t lo, uintptr_t hi) {
  hk_ss_t *ss = (hk_ss_t *)(lo & ~(HK_SS_SIZE - 1));
  uint64_t fresh = 0;
  uintptr_t pg = (lo & (HK_SS_SIZE - 1)) / HK_PAGE;
  uintptr_t end = ((hi - (uintptr_t)ss) + HK_PAGE - 1) / HK_PAGE;
  while (pg < end) {
    unsigned sh = (unsigned)(pg & 63);
    uintptr_t n = end - pg < 64 - sh ? end - pg : 64 - sh;
    uint64_t bits = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << sh;
    uint64_t old = atomic_fetch_or_explicit(&ss->handed[pg / 64], bits, memory_order_relaxed);
    fresh += popcount64(bits & ~old);
    pg += n;
  }
  return fresh;
}

/* Are all the pages [lo, hi) (one superslab, page-aligned) never handed
 * out since the superslab was mapped or they were given back, i.e. zero? */
static int pages_fresh(uintptr_t lo, uintptr_t hi) {
  hk_ss_t *ss = (hk_ss_t *)(lo & ~(HK_SS_SIZE - 1));
  for (uintptr_t pg = (lo - (uintptr_t)ss) / HK_PAGE; pg < (hi - (uintptr_t)ss) / HK_PAGE; pg++)
    if (atomic_load_explicit(&ss->handed[pg / 64], memory_order_relaxed) >> (pg % 64) & 1u)
      return 0;
  return 1;
}

/* Carve up to HAKMEM_CARVE KiB of never-used blocks; returns them as a list
 * in address order.  The stride and header come from the layout table.
 * A batch of one block whose pages past its link word were never handed
 * out is named in h->calloc_blk / calloc_zero, so that calloc clears only
 * the bytes before those pages (glibc does not clear fresh memory either:
 * a calloc'd table touched in part stays in part resident). */
static hk_block_t *carve(hk_heap_t *h, hk_slab_t *s) {
  const hk_class_info_t *ci = &hk_class[s->cls];
  uint32_t stride = ci->stride, header = ci->header;
  if (HK_INJECT(STRIDE_MISMATCH))
    stride = ci->usable; /* INJECTED BUG: the bare class size, not the stride */
  /* INJECTED BUG (STALE_GEOMETRY): a stale local copy of the geometry (the
   * seed's: its 1 KiB class carved at a 2048 B stride) */
  if (HK_INJECT(STALE_GEOMETRY) && s->cls == HK_TINY_CLASSES - 1) stride = 2048;
  if (HK_INJECT(HEADERLESS_CONFUSION))
    header = 1; /* INJECTED BUG: the headerless class written as if headered */
  uint32_t left = s->capacity - s->carved;
  uint32_t batch = (uint32_t)((size_t)hk_opt.carve * 1024u / stride);
  if (batch == 0) batch = 1;
  if (batch > left) batch = left;
  uintptr_t u = s->user0 + (uintptr_t)s->carved * stride;
  if (HK_ON(HARDEN)) {
    /* the bound check: the batch's last block ends inside the span (before
     * its guard page), within the slab's capacity */
    uintptr_t span_end = (s->user0 & ~(HK_UNIT_SIZE - 1)) +
                         ((uintptr_t)s->nunits << HK_UNIT_SHIFT) -
                         HK_GUARD_TAIL(s->unit + s->nunits - 1u);
    uintptr_t last_end = u + (uintptr_t)batch * stride - ci->header;
    HK_CHECK(HARDEN, s->carved + batch <= s->capacity && last_end <= span_end,
             "carve beyond the slab's usable bytes", (void *)last_end, s->cls);
  }
  hk_block_t *first = (hk_block_t *)u;
  /* telemetry: pages of the batch handed out for the first time since the
   * superslab was mapped (a span carved again over released units finds
   * them resident) */
  uintptr_t lo = s->carved ? u : u - ci->first_off;
  uintptr_t hi = u + (uintptr_t)batch * stride;
  uintptr_t zfrom = hi - header; /* from here on the batch reads zero */
  if (batch == 1 && !HK_ON(DEBUG)) { /* (debug fills the block: debug.c) */
    /* every page from zlo to the block's end, its last (partial) one
     * included: that page may be the first of a unit another span
     * dirtied and released (test_calloc_next_to_released_units) */
    uintptr_t zlo = (u + sizeof(hk_block_t) + HK_PAGE - 1) & ~(uintptr_t)(HK_PAGE - 1);
    uintptr_t zhi = (u + stride) & ~(uintptr_t)(HK_PAGE - 1);
    uintptr_t zend = (u + stride + HK_PAGE - 1) & ~(uintptr_t)(HK_PAGE - 1);
    if (zlo < zhi && pages_fresh(zlo, zend)) {
      h->calloc_blk = u;
      h->calloc_zero = zfrom = zlo;
    }
  }
  uint64_t fresh = mark_handed(lo, u + (uintptr_t)batch * stride);
  unsigned bucket = hk_bucket_of_class(s->cls);
  uint64_t f0 = hk_fault_begin();
  uint8_t hdr = (uint8_t)(HK_HDR_MAGIC | s->cls);
  /* wipe: a wiped slab's blocks start zero (the span may have held
   * blocks); pages never handed out since the superslab was mapped are
   * zero already and stay untouched (no RSS for a block's unused pages):
   * a batch of such pages only, or a lone block's pages past zfrom */
  if (HK_ON(WIPE) && s->wipe &&
      fresh != (hi + HK_PAGE - 1) / HK_PAGE - lo / HK_PAGE)
    memset((void *)u, 0, zfrom - u);
#if HK_ON(CANARY)
  /* the canaries (harden.h): block 0's leading one with the first batch,
   * then each block's own, after the wipe's memset and before the link
   * (a 2-byte canary's word holds the block's last usable bytes too) */
  const uint64_t lim = s->canary_lim;
  if (s->carved == 0) hk_canary_put(u + ci->canary_at - stride, lim);
#endif
  /* headers and links are written into no-access memory (track.h) */
  for (uint32_t i = 0; i < batch; i++, u += stride) {
#if HK_ON(CANARY)
    hk_canary_put(u + ci->canary_at, lim);
#endif
    if (header) HK_TRACK_SET_U8((uint8_t *)u - 1, hdr);
    if (HK_ON(DEBUG)) hk_debug_carve(s, (void *)u);
    HK_TRACK_SET_NEXT((hk_block_t *)u,
        HK_LINK_ENC(u, i + 1 < batch ? (hk_block_t *)(u + stride) : NULL));
  }
  hk_fault_end(bucket, f0);
  hk_fresh_pages(bucket, fresh);
  s->carved += batch;
  return first;
}

/* Move every remotely freed block onto s->free.  Clears HK_REMOTE_PARKED. */
static void drain(hk_heap_t *h, hk_slab_t *s) {
  /* INJECTED BUG (MULTI_DRAINER, with the second drainer in
   * hk_free_remote): the queue is read here and emptied only after the
   * walk below, not taken with one exchange, so two drainers can both take
   * the same nodes */
  uintptr_t v = HK_INJECT(MULTI_DRAINER)
                    ? atomic_load_explicit(&s->remote, memory_order_acquire)
                    : atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
  hk_block_t *b = HK_REMOTE_HEAD(v);
  HAKMEM_RACE_POINT(HK_RACE_DRAIN); /* pushers go on while the owner walks */
  if (HK_INJECT(MULTI_DRAINER) && b == NULL)
    atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
  if (b == NULL) return;
  const uint32_t count = HK_REMOTE_COUNT(v);
  if (HK_INJECT(REMOTE_DROP)) {
    /* INJECTED BUG: the queue's head taken for a sentinel and skipped */
    hk_block_t *second = HK_LINK_DEC(&b->next, HK_TRACK_NEXT(b));
    if (second != NULL) b = second;
  }
  HK_TRACK_ACQUIRE(&s->remote);
  uint32_t n = 1;
  hk_block_t *tail = b;
#if HK_ON(HARDEN)
  /* validate every node: a block of this slab, handed out (state bit set,
   * cleared here: the owner's half of a remote free).  The geometry is
   * read once (the state stores could alias it for all the compiler
   * knows); `used` is read at every node, so that a second drainer racing
   * this one (a bug) is seen as soon as it has spliced its nodes. */
  const uintptr_t user0 = s->user0;
  const uint64_t magic = s->stride_magic;
  const uint32_t carved = s->carved, stride = s->stride;
  const int aligned = (hk_slab_flags(s) & HK_SLAB_ALIGNED) != 0;
  HK_CHECK(HARDEN, hk_is_block_off((uintptr_t)b - user0, magic, carved),
           "corrupt remote-queue node", b, s->cls);
  for (;;) {
    /* a node seen twice (a block pushed twice) finds its bit clear */
    HK_CHECK(STATE, hk_state_flip_of(s, tail), "double free", tail, s->cls);
    if (HK_ON(STATE) && aligned)
      for (uint32_t g = 16; g < stride; g += 16) hk_state_put((char *)tail + g, 0);
    HK_CHECK(HARDEN, n <= hk_slab_used(s), "corrupt remote-queue node", tail, s->cls);
    hk_block_t *next = HK_LINK_DEC(&tail->next, HK_TRACK_NEXT(tail));
    if (next == NULL) break;
    HK_CHECK(HARDEN, hk_is_block_off((uintptr_t)next - user0, magic, carved),
             "corrupt remote-queue node", tail, s->cls);
    tail = next;
    n++;
  }
  (void)aligned, (void)stride;
  HK_CHECK(HARDEN, n == count, "corrupt remote-queue node", b, s->cls);
#else
  /* the list ends in NULL: onto an empty free list it goes as it is.  To
   * join two lists one of them is walked to its tail: the free list when
   * it is not longer than the queue (its blocks were freed or carved by
   * this thread, so its links are mostly in this core's cache), else the
   * queue (each node a line the freeing thread wrote last).  The free
   * list holds carved - used blocks (release keeps no block elsewhere). */
  n = count;
  hk_block_t *own = s->free;
  if (own != NULL && s->carved - hk_slab_used(s) <= count) {
    while (HK_TRACK_NEXT(own) != NULL) own = HK_TRACK_NEXT(own);
    HK_TRACK_SET_NEXT(own, b); /* the queue after the free list */
    b = s->free;               /* the joined list starts where the free list did */
    s->free = NULL;            /* and goes on s->free as it is, below */
  } else if (own != NULL) {
    while (HK_TRACK_NEXT(tail) != NULL) tail = HK_TRACK_NEXT(tail);
  }
#endif
  if (HK_INJECT(MULTI_DRAINER)) atomic_store_explicit(&s->remote, 0, memory_order_release);
  HK_ASSERT(n <= hk_slab_used(s));
  if (s->free != NULL || HK_ON(LINKS))
    HK_TRACK_SET_NEXT(tail, HK_LINK_ENC(&tail->next, s->free));
  s->free = b;
  s->used -= n;
  if (h) HK_CNT_ADD(h->drains, 1);
}

/* Try to park an exhausted slab: succeeds only if its remote queue is empty
 * at that instant.  Returns 0 if remote frees arrived (caller drains). */
static int park(hk_heap_t *h, hk_slab_t *s) {
  uintptr_t expect = 0;
  if (HAKMEM_RACE_CAS(HK_RACE_PARK, &s->remote, &expect) ||
      !atomic_compare_exchange_strong_explicit(&s->remote, &expect,
                                               HK_REMOTE_PARKED,
                                               memory_order_acq_rel,
                                               memory_order_acquire))
    return 0;
  avail_remove(h, s);
  full_push(h, s);
  return 1;
}

/* An empty, unpinned span leaves its heap: unowned, its class's span
 * count down, its allocation count kept for the stats, and its units back
 * to the superslab (hk_span_free).  idle: the span has sat empty through
 * decay's delay (or malloc_trim asks): its pages go back to the OS now. */
static void span_retire(hk_slab_t *s, int idle) {
  HK_ASSERT(s->used == 0 && s->pin == 0);
  hk_slab_set_owner(s, NULL, memory_order_relaxed);
  atomic_fetch_sub_explicit(&hk_class_spans[s->cls], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hk_retired_allocs[s->cls], s->allocs, memory_order_relaxed);
  hk_span_free(s, idle);
}
static void span_release(hk_slab_t *s) { span_retire(s, 0); }

/* Is there an empty slab other than s on the class list? */
static int other_empty(const hk_heap_t *h, const hk_slab_t *s) {
  for (const hk_slab_t *t = h->avail[s->cls]; t != NULL; t = t->next)
    if (t != s && hk_slab_used(t) == 0) return 1;
  return 0;
}

/* Unpark the slabs of the classes named in the remote hint.  A slab the
 * drain empties is kept as the class's one spare, as a local free keeps
 * it (hk_free_local_slow), unless the class has one already. */
static void collect_hinted(hk_heap_t *h) {
  uint64_t mask = atomic_exchange_explicit(&h->remote_hint, 0, memory_order_acquire);
  while (mask) {
    unsigned c = (unsigned)__builtin_ctzll(mask);
    mask &= mask - 1;
    hk_slab_t *next;
    for (hk_slab_t *s = h->full[c]; s != NULL; s = next) {
      next = s->next;
      if (HK_REMOTE_HEAD(atomic_load_explicit(&s->remote, memory_order_relaxed)) == NULL)
        continue;
      full_remove(h, s);
      drain(h, s);
      if (hk_slab_used(s) == 0 && other_empty(h, s)) span_release(s);
      else avail_push_front(h, s);
    }
  }
}

/* ---- adoption ------------------------------------------------------------ */
/* Take s off abandoned list c; hk_abandoned_lock held. */
static void abandoned_unlink(hk_slab_t *s, unsigned c) {
  if (s->prev) s->prev->next = s->next;
  else __atomic_store_n(&abandoned[c], s->next, __ATOMIC_RELAXED);
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static hk_slab_t *adopt(hk_heap_t *h, unsigned c) {
  if (__atomic_load_n(&abandoned[c], __ATOMIC_RELAXED) == NULL) return NULL;
  pthread_mutex_lock(&hk_abandoned_lock);
  hk_slab_t *s = abandoned[c];
  if (s != NULL) {
    abandoned_unlink(s, c); /* the head: no prev */
    hk_slabs_adopted++;
  }
  pthread_mutex_unlock(&hk_abandoned_lock);
  if (s == NULL) return NULL;
  HAKMEM_RACE_POINT(HK_RACE_ADOPT); /* off the list, no owner yet */
  hk_slab_set_owner(s, h, memory_order_release);
  drain(h, s);
  return s;
}

/* ---- the refill slow path ------------------------------------------------ */
static hk_slab_t *refill(hk_heap_t *h, unsigned c) {
  if (HK_UNLIKELY(atomic_load_explicit(&h->remote_hint, memory_order_relaxed)))
    collect_hinted(h);
  hk_slab_t *next;
  for (hk_slab_t *s = h->avail[c]; s != NULL; s = next) {
    next = s->next;
    for (;;) {
      /* a slab with blocks on its free list is used as it is: its queue
       * waits until that list runs dry and is then taken whole, with no
       * walk to join it to the free list (drain) */
      if (s->free != NULL) return s;
      if (atomic_load_explicit(&s->remote, memory_order_relaxed)) drain(h, s);
      if (s->free == NULL && s->carved < s->capacity) s->free = carve(h, s);
      if (s->free != NULL) return s;
      if (park(h, s)) break;
    }
  }
  hk_slab_t *s;
  while ((s = adopt(h, c)) != NULL) {
    avail_push_front(h, s);
    if (s->free == NULL && s->carved < s->capacity) s->free = carve(h, s);
    if (s->free != NULL) return s;
    if (!park(h, s)) {
      drain(h, s);
      if (s->free != NULL) return s;
    }
  }
  s = hk_span_alloc(c);
  if (s == NULL) return NULL;
  atomic_fetch_add_explicit(&hk_class_spans[c], 1, memory_order_relaxed);
  hk_slab_set_owner(s, h, memory_order_relaxed);
  s->free = carve(h, s);
  avail_push_front(h, s);
  return s;
}

void *hk_class_alloc_slow(hk_heap_t *h, unsigned c) {
  hk_slab_t *s = h->cur[c];
  h->calloc_blk = 0; /* names only a block carved by this call's refill */
  if (s->free == NULL) {
    s = refill(h, c);
    /* INJECTED BUG (REFILL_FAIL_CURRENT): the refill's result is made the
     * class's current slab before it is checked: a failed refill (no
     * superslab could be mapped) leaves the class with none */
    if (HK_INJECT(REFILL_FAIL_CURRENT)) hk_set_cur(h, c, s);
    if (s == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    hk_set_cur(h, c, s);
    HK_CNT_ADD(h->cnt[c].refills, 1);
  }
  hk_block_t *b = s->free;
  s->free = hk_pop_next(s, b);
  /* INJECTED BUG (COUNTER_UNDERFLOW): the block handed out by the refill
   * path is not counted */
  if (!HK_INJECT(COUNTER_UNDERFLOW)) s->used++;
  s->allocs++;
  if (HK_ON(WIPE)) {
    /* a lone block this refill carved is zero (carve): reading it back
     * would fault its untouched pages in, and it was never freed */
    if ((uintptr_t)b == h->calloc_blk && s->wipe) {
      b->next = NULL;
      return b;
    }
    return hk_wipe_popped(s, b);
  }
  return b;
}

/* A local free made the slab empty or landed on a parked slab.  An empty
 * slab goes back to its superslab only when the class already keeps
 * another empty one: one spare per class and thread absorbs the
 * empty/refill ping-pong (and its superslab lock) of a steady working set;
 * otherwise the slab becomes the current one, as on the fast path. */
void hk_free_local_slow(hk_heap_t *h, hk_slab_t *s) {
  HK_ASSERT(hk_slab_owner(s) == h);
  unsigned c = s->cls;
  if (hk_slab_flags(s) & HK_SLAB_PARKED) {
    /* Unpark: the CAS-free path may race with pushers, so take the queue. */
    full_remove(h, s);
    drain(h, s);
    avail_push_front(h, s);
  }
  if (hk_slab_used(s) == 0 && other_empty(h, s)) {
    avail_remove(h, s);
    /* INJECTED BUG (SPAN_ORPHAN): the emptied span leaves its heap's list
     * but never goes back to its superslab */
    if (!HK_INJECT(SPAN_ORPHAN)) span_release(s);
    return;
  }
  if (c >= HK_MID_FIRST) hk_set_cur(h, c, s);
}

/* The live count of an abandoned slab, read without its lock: a hint only
 * (reclaim_abandoned decides under the lock).  Plain volatile read, as in
 * hk_slab_live: an adopter may be writing it. */
HK_NO_TSAN static uint32_t used_hint(const hk_slab_t *s) {
  return *(const volatile uint32_t *)&s->used;
}

/* A remote free has left no live block in abandoned slab s (the heap of an
 * exited thread): unless an adopter took it meanwhile, its span goes back
 * now, not at the next trim.  s is looked for on the list before it is
 * touched: once adopted it may be gone. */
static void reclaim_abandoned(hk_slab_t *s, unsigned c) {
  pthread_mutex_lock(&hk_abandoned_lock);
  hk_slab_t *t = abandoned[c];
  while (t != NULL && t != s) t = t->next;
  if (t != NULL) {
    drain(NULL, s);
    if (s->used == 0) {
      abandoned_unlink(s, c);
      span_release(s);
    }
  }
  pthread_mutex_unlock(&hk_abandoned_lock);
}

/* Hand the list first..last (n blocks, linked first to last, last's link
 * about to be set) over to s's remote queue with one CAS, counted as
 * remote frees of the calling thread (heap h, or none). */
static void remote_push(hk_heap_t *h, hk_slab_t *s, hk_block_t *first, hk_block_t *last,
                        uint32_t n) {
  /* Read the slab before publishing the blocks (see the protocol above). */
  unsigned c = s->cls;
  hk_heap_t *owner = hk_slab_owner(s);
  uint32_t abandoned_used = owner == NULL ? used_hint(s) : 0;
  uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed);
  const uintptr_t add = (uintptr_t)n << HK_REMOTE_CSHIFT;
  HK_TRACK_HANDOFF(&s->remote);
  uintptr_t nv;
  /* INJECTED BUG (REMOTE_STALE_LINK): the link is written once, before the
   * loop: a retry after a lost race publishes the list linked to the
   * stale head (the winner's blocks drop out of the queue) */
  if (HK_INJECT(REMOTE_STALE_LINK))
    HK_TRACK_SET_NEXT(last, HK_LINK_ENC(&last->next, HK_REMOTE_HEAD(old)));
  do {
    if (!HK_INJECT(REMOTE_STALE_LINK))
      HK_TRACK_SET_NEXT(last, HK_LINK_ENC(&last->next, HK_REMOTE_HEAD(old)));
    nv = (uintptr_t)first | ((old & ~(HK_REMOTE_ONE - 1)) + add);
  } while (HAKMEM_RACE_CAS(HK_RACE_PUSH, &s->remote, &old) ||
           !atomic_compare_exchange_weak_explicit(&s->remote, &old, nv,
                                                  memory_order_release,
                                                  memory_order_relaxed));
  if ((old & HK_REMOTE_PARKED) && owner != NULL)
    atomic_fetch_or_explicit(&owner->remote_hint, (uint64_t)1 << c,
                             memory_order_release);
  /* INJECTED BUG (MULTI_DRAINER): "help" the owner by draining the queue
   * here: a second consumer of an MPSC queue, racing the owner on s->free
   * and s->used */
  else if (HK_INJECT(MULTI_DRAINER) && owner != NULL)
    drain(NULL, s);
  /* the last live block of an exited thread's slab: the span goes back */
  if (owner == NULL && abandoned_used != 0 && HK_REMOTE_COUNT(nv) == abandoned_used) {
    HAKMEM_RACE_POINT(HK_RACE_RECLAIM); /* an adopter may take it first */
    reclaim_abandoned(s, c);
  }
  if (h != &hk_heap_empty)
    HK_CNT_ADD(h->cnt[c].remote_frees, n);
  else
    __atomic_fetch_add(&hk_orphan_cnt[c].remote_frees, n, __ATOMIC_RELAXED);
}

/* Hand batch r over and empty its slot.  Checked builds: the first block
 * gathered must still hold the NULL link it got then; a second free of it
 * by this thread has overwritten that (any other block freed twice is
 * found by the drain's walk). */
static HK_NOINLINE void rbatch_flush(hk_heap_t *h, hk_rbatch_t *r) {
  hk_slab_t *s = r->slab;
  r->slab = NULL;
  HK_CHECK(HARDEN, HK_LINK_DEC(&r->last->next, HK_TRACK_NEXT(r->last)) == NULL, "double free",
           r->last, s->cls);
  remote_push(h, s, r->first, r->last, r->n);
}

void hk_remote_flush(hk_heap_t *h) {
  if (h == &hk_heap_empty) return;
  for (unsigned i = 0; i < HK_RBATCH_SLOTS; i++)
    if (h->rbatch[i].slab != NULL) rbatch_flush(h, &h->rbatch[i]);
}

/* A free of block b of s by a thread (heap h) that does not own s.  With a
 * heap, the block joins the batch of its slab's slot (a slot held by
 * another slab is handed over first) and the batch goes when it reaches
 * its flush point: HAKMEM_REMOTE_BATCH KiB of the class's blocks, at most
 * HK_RBATCH_MAX.  A class whose flush point is one block, a thread without
 * a heap (no exit hook to flush at) and a slab with no owner (abandoned)
 * start no batch: the block is pushed at once. */
static HK_NOINLINE void rbatch_miss(hk_heap_t *h, hk_rbatch_t *r, hk_slab_t *s, hk_block_t *b) {
  /* an abandoned slab (owner 0): no owner polls its queue, and the free of
   * its last live block must reach the queue to give the span back */
  if (h == &hk_heap_empty || hk_slab_owner(s) == NULL) {
    remote_push(h, s, b, b, 1);
    return;
  }
  if (r->slab != NULL) rbatch_flush(h, r);
  uint32_t max = (uint32_t)((size_t)hk_opt.remote_batch * 1024u / hk_class[s->cls].stride);
  if (max <= 1) {
    remote_push(h, s, b, b, 1);
    return;
  }
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, NULL));
  r->first = r->last = b;
  r->n = 1;
  r->max = (uint16_t)(max < HK_RBATCH_MAX ? max : HK_RBATCH_MAX);
  r->cls = s->cls;
  r->slab = s;
}

/* Add the blocks h's batches hold, per class, to pending[] (the stats:
 * they are freed, though still counted in their slabs' used).  Plain
 * volatile reads of another thread's slots, as in hk_slab_live: exact
 * while that thread neither frees nor flushes; the slab is not touched. */
HK_NO_TSAN void hk_remote_pending(const hk_heap_t *h, uint64_t pending[HK_NCLASSES]) {
  for (unsigned i = 0; i < HK_RBATCH_SLOTS; i++) {
    const volatile hk_rbatch_t *r = &h->rbatch[i];
    if (r->slab != NULL) pending[r->cls] += r->n;
  }
}

void hk_free_remote(hk_heap_t *h, hk_slab_t *s, hk_block_t *b) {
  /* the slot of s's unit index: the spans of one superslab never share one */
  hk_rbatch_t *r = &h->rbatch[((uintptr_t)s / sizeof(hk_slab_t)) % HK_RBATCH_SLOTS];
  if (HK_UNLIKELY(r->slab != s)) {
    rbatch_miss(h, r, s, b);
    return;
  }
  HK_TRACK_SET_NEXT(b, HK_LINK_ENC(&b->next, r->first));
  r->first = b;
  if (HK_UNLIKELY(++r->n >= r->max)) rbatch_flush(h, r);
}

/* Blocks of s that are live: handed out and not freed, i.e. used minus
 * the frees still waiting on the remote queue (its count, read with the
 * head in one load). */
HK_NO_TSAN uint32_t hk_slab_live(const hk_slab_t *s) {
  /* Plain (volatile) reads on purpose: the owner writes these fields with
   * plain stores, and TSan instruments atomic loads even in HK_NO_TSAN
   * functions (allocator/tests/FINDINGS.md F10); a snapshot may be stale
   * by contract.  The owner may pin or unpin between the two reads (used
   * and pin change together in set_pin), so a stale pair must not wrap
   * below 0. */
  uint32_t used = *(const volatile uint32_t *)&s->used;
  uint32_t pin = *(const volatile uint32_t *)&s->pin;
  used = used > pin ? used - pin : 0;
  uintptr_t v = atomic_load_explicit(&((hk_slab_t *)s)->remote, memory_order_acquire);
  uint32_t pending = HK_REMOTE_COUNT(v);
  return used > pending ? used - pending : 0;
}

/* ---- thread exit ------------------------------------------------------- */
static void abandon_one(hk_heap_t *h, hk_slab_t *s) {
  s->next = s->prev = NULL;
  set_pin(s, 0);
  hk_slab_set_flags(s, hk_slab_flags(s) & ~HK_SLAB_PARKED);
  drain(h, s);
  HAKMEM_RACE_POINT(HK_RACE_ABANDON); /* pushes land after the drain */
  /* INJECTED BUG (ABANDON_CLEAR_QUEUE): the queue word is cleared with a
   * plain store "so that no PARKED bit is left": a push that landed since
   * the drain is lost (its block never comes back, the slab never empties) */
  if (HK_INJECT(ABANDON_CLEAR_QUEUE)) atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
  if (s->used == 0) {
    span_release(s);
    return;
  }
  hk_slab_set_owner(s, NULL, memory_order_release);
  /* A push may have landed between the drain and the owner change; it is
   * drained by whoever adopts the slab. */
  pthread_mutex_lock(&hk_abandoned_lock);
  s->next = abandoned[s->cls];
  if (s->next) s->next->prev = s;
  __atomic_store_n(&abandoned[s->cls], s, __ATOMIC_RELAXED);
  hk_slabs_abandoned++;
  pthread_mutex_unlock(&hk_abandoned_lock);
}

void hk_heap_abandon(hk_heap_t *h) {
  hk_remote_flush(h); /* (a batch may be for one of h's own adopted slabs) */
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    hk_slab_t *s = h->avail[c], *next;
    for (; s != NULL; s = next) {
      next = s->next;
      abandon_one(h, s);
    }
    for (s = h->full[c]; s != NULL; s = next) {
      next = s->next;
      abandon_one(h, s);
    }
  }
  hk_heap_reset(h);
}

/* ---- decay ----------------------------------------------------------------
 * The owner's pass (init.c runs it on a slow path once per decay epoch):
 * a span goes back, its pages to the OS, once it has been found empty in
 * an epoch HK_DECAY_AGE back with no allocation from it since (s->idle
 * holds that epoch and the allocation count); the current span too (the
 * next allocation refills).  now == HK_DECAY_NOW (malloc_trim) gives
 * every empty span back at once.  Returns the bytes given back. */
size_t hk_heap_decay(hk_heap_t *h, uint64_t now) {
  hk_remote_flush(h); /* gathered remote frees wait one decay epoch at most */
  if (atomic_load_explicit(&h->remote_hint, memory_order_relaxed)) collect_hinted(h);
  size_t bytes = 0;
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    hk_slab_t *next;
    for (hk_slab_t *s = h->avail[c]; s != NULL; s = next) {
      next = s->next;
      if (atomic_load_explicit(&s->remote, memory_order_relaxed)) drain(h, s);
      if (hk_slab_used(s) != 0) {
        s->idle = 0;
        continue;
      }
      uint16_t mark = s->idle;
      if (now != HK_DECAY_NOW) {
        if (mark == 0 || (mark & 0xFFu) != (s->allocs & 0xFFu)) {
          s->idle = HK_SLAB_IDLE(s->allocs, now); /* empty from this epoch */
          continue;
        }
        if (((now - HK_SLAB_IDLE_EPOCH(mark)) & 0x7Fu) < HK_DECAY_AGE) continue;
      }
      avail_remove(h, s);
      bytes += (size_t)s->nunits << HK_UNIT_SHIFT;
      span_retire(s, 1);
    }
  }
  return bytes;
}

/* Release abandoned slabs whose blocks have all been freed. */
size_t hk_abandoned_trim(void) {
  size_t released = 0;
  pthread_mutex_lock(&hk_abandoned_lock);
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    hk_slab_t *s = abandoned[c], *next;
    for (; s != NULL; s = next) {
      next = s->next;
      drain(NULL, s);
      if (s->used != 0) continue;
      abandoned_unlink(s, c);
      released += (size_t)s->nunits << HK_UNIT_SHIFT;
      span_retire(s, 1); /* (decay or malloc_trim: its pages go back too) */
    }
  }
  pthread_mutex_unlock(&hk_abandoned_lock);
  return released;
}
