/* check.c - the heap walk (hardened and debug builds): hak_check_heap.
 *
 * Release has no heap walk and returns -1.  Each problem found is one line,
 * "hakmem: heap check: <what>: at=0x... class=<n>", and the walk goes on.
 * The lock here serialises the whole-heap readers (this walk and the stats
 * snapshot), which use static buffers; the fork handlers take it first.
 *
 * Invariant: the walk only reads; other threads must not allocate or free
 * during it.
 */
#include "harden.h"

#include <string.h>

pthread_mutex_t hk_snapshot_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the heap walk (hardened and debug builds) --------------------------
 * Checks, for every superslab: the header, the unit map against free_mask,
 * and for every span: geometry against the layout table (no guard page
 * inside it, its capacity without its guard pages), carved <= capacity,
 * used <= carved, the free list (every node inside the carved range, on a
 * stride boundary, no node twice, exactly carved - used nodes), the remote
 * queue (same node checks), every carved block's header byte, the
 * per-block state bits (free-list nodes clear, every other carved block
 * set), and every carved block's canary and block 0's leading one
 * (harden.h; reported as the free reports them: "heap overflow (canary)"
 * naming the block before the canary, "heap underflow (canary)" naming
 * block 0).
 * Other threads must not allocate or free during the walk. */
#if HK_ON(HARDEN)
typedef struct walk {
  unsigned problems;
  const void *first_at; /* first problem */
  int first_cls;
  uint8_t seen[HK_UNIT_SIZE / 16 / 8 * 8]; /* one bit per block of a span */
} walk_t;

static void problem(walk_t *w, const char *what, const void *where, int cls) {
  hk_line_t l = {.len = 0};
  hk_line_fault(&l, "hakmem: heap check: ", what, "at", where, cls);
  hk_line_end(&l, 2);
  if (w->problems++ == 0) {
    w->first_at = where;
    w->first_cls = cls;
  }
}

/* Index of block b in s, or -1 when b is not a carved block start. */
static long block_index(const hk_slab_t *s, uintptr_t b) {
  if (b < s->user0) return -1;
  uintptr_t off = b - s->user0;
  if (off % s->stride != 0 || off / s->stride >= s->carved) return -1;
  return (long)(off / s->stride);
}

/* Walk a block list; returns nodes counted, or -1 after reporting. */
static long walk_list(walk_t *w, const hk_slab_t *s, const hk_block_t *b,
                      const char *which) {
  long n = 0;
  int free_list = which[0] == 'f';
  for (; b != NULL; b = HK_LINK_DEC(&b->next, HK_TRACK_NEXT(b))) {
    long i = block_index(s, (uintptr_t)b);
    if (i < 0) {
      problem(w, which[0] == 'f' ? "free-list node off the stride grid"
                                 : "remote-queue node off the stride grid",
              b, s->cls);
      return -1;
    }
    if (w->seen[i >> 3] & (1u << (i & 7))) {
      problem(w, which[0] == 'f' ? "free-list node seen twice (double free or cycle)"
                                 : "remote-queue node seen twice (double free or cycle)",
              b, s->cls);
      return -1;
    }
    w->seen[i >> 3] |= (uint8_t)(1u << (i & 7));
    if (HK_ON(STATE) && hk_state_get(b) != !free_list)
      problem(w, free_list ? "free-list node marked allocated"
                           : "remote-queue node marked free", b, s->cls);
    n++;
  }
  return n;
}

static void walk_span(walk_t *w, hk_ss_t *ss, unsigned u) {
  hk_slab_t *s = &ss->slab[u];
  if (s->cls >= HK_NCLASSES) {
    problem(w, "slab class out of range", s, s->cls);
    return;
  }
  const hk_class_info_t *ci = &hk_class[s->cls];
  int c = s->cls;
  uintptr_t base = (uintptr_t)ss + ((uintptr_t)u << HK_UNIT_SHIFT);
  if (s->nunits != ci->units || u + s->nunits > HK_UNITS) {
    problem(w, "span length disagrees with the layout table", s, c);
    return;
  }
  for (unsigned k = 0; k < s->nunits; k++) {
    const hk_slab_t *t = &ss->slab[u + k];
    if (t->head != s || t->unit_kind != (k ? HK_UNIT_TAIL : HK_UNIT_HEAD) ||
        (ss->free_mask >> (u + k) & 1u))
      problem(w, "unit map disagrees with its span", t, c);
  }
  /* guard pages: none inside a span but its last page (layout.h) */
  if (HK_GUARD_UNIT_MASK & (uint32_t)((((uint64_t)1 << s->nunits) - 1u) >> 1 << u))
    problem(w, "span runs across a guard page", s, c);
  if (s->stride != ci->stride ||
      s->capacity != hk_span_capacity((unsigned)c, u) ||
      s->user0 != base + (u == 0 ? HK_SS_FIRST : 0) + ci->first_off)
    problem(w, "span geometry disagrees with the layout table", s, c);
  if (s->carved > s->capacity) {
    problem(w, "carved beyond capacity", s, c);
    return;
  }
  uint32_t used = hk_slab_used(s);
  if (used > s->carved) problem(w, "more blocks in use than carved", s, c);
  memset(w->seen, 0, (s->carved + 7) / 8);
  long nfree = walk_list(w, s, s->free, "free");
  if (HK_ON(DELAY) && s->held != NULL && nfree >= 0) { /* held back: free, off the list */
    uintptr_t off = (uintptr_t)s->held - s->user0;
    uint32_t i = (uint32_t)(off / s->stride);
    if (off % s->stride || i >= s->carved || (w->seen[i >> 3] & (1u << (i & 7))))
      problem(w, "held block not a free block of its slab", s->held, c);
    else {
      w->seen[i >> 3] |= (uint8_t)(1u << (i & 7));
      nfree++;
    }
  }
  uintptr_t rv = atomic_load_explicit(&s->remote, memory_order_acquire);
  long nremote = walk_list(w, s, HK_REMOTE_HEAD(rv), "remote");
  if (nremote >= 0 && (uint64_t)nremote != HK_REMOTE_COUNT(rv))
    problem(w, "remote-queue count != its length", s, c);
  if (nfree >= 0 && (uint64_t)nfree + used != s->carved)
    problem(w, "free-list length + used != carved", s, c);
  if (nremote > (long)used) problem(w, "more remote frees than blocks in use", s, c);
  if (HK_ON(STATE) && nfree >= 0 && nremote >= 0)
    for (uint32_t i = 0; i < s->carved; i++)
      if (!(w->seen[i >> 3] & (1u << (i & 7))) &&
          !hk_state_get((void *)(s->user0 + (uintptr_t)i * s->stride)))
        problem(w, "allocated block marked free", (void *)(s->user0 + (uintptr_t)i * s->stride), c);
  if (ci->header) {
    uint8_t want = (uint8_t)(HK_HDR_MAGIC | c);
    for (uint32_t i = 0; i < s->carved; i++) {
      const uint8_t *h = (const uint8_t *)(s->user0 + (uintptr_t)i * s->stride) - 1;
      if ((HK_TRACK_GET_U8(h) & ~HK_HDR_ARRAY) != want) problem(w, "block header overwritten", h + 1, c);
    }
  }
#if HK_ON(CANARY)
  /* every carved block's canary, live or free, and block 0's leading one */
  if (s->carved > 0 && hk_canary_off(s->user0 + ci->canary_at - s->stride, s->canary_lim))
    problem(w, "heap underflow (canary)", (void *)s->user0, c);
  for (uint32_t i = 0; i < s->carved; i++) {
    uintptr_t b = s->user0 + (uintptr_t)i * s->stride;
    if (hk_canary_off(b + ci->canary_at, s->canary_lim)) problem(w, "heap overflow (canary)", (void *)b, c);
  }
#endif
}

static void walk_ss(hk_ss_t *ss, void *arg) {
  walk_t *w = arg;
  if (ss->seg.magic != HK_SEG_MAGIC || ss->seg.kind != HK_SEG_SS) {
    problem(w, "superslab header corrupt", ss, -1);
    return;
  }
  if ((unsigned)__builtin_popcount(ss->free_mask) != ss->nfree)
    problem(w, "superslab free count disagrees with its mask", ss, -1);
  for (unsigned u = 0; u < HK_UNITS; u++) {
    const hk_slab_t *s = &ss->slab[u];
    if (ss->free_mask >> u & 1u) {
      if (s->unit_kind != HK_UNIT_FREE) problem(w, "free unit marked in use", s, -1);
      continue;
    }
    if (s->unit_kind == HK_UNIT_HEAD) walk_span(w, ss, u);
    else if (s->unit_kind != HK_UNIT_TAIL) problem(w, "used unit marked free", s, -1);
  }
}
#endif

int hk_check_heap_first(const void **at, int *cls) {
#if !HK_ON(HARDEN)
  (void)at, (void)cls;
  return -1;
#else
  static walk_t w;
  pthread_mutex_lock(&hk_snapshot_lock);
  w.problems = 0;
  w.first_at = NULL;
  w.first_cls = -1;
  hk_ss_foreach(walk_ss, &w);
  int n = (int)w.problems;
  *at = w.first_at;
  *cls = w.first_cls;
  pthread_mutex_unlock(&hk_snapshot_lock);
  return n;
#endif
}

HK_PUBLIC int hak_check_heap(void) {
  const void *at;
  int cls;
  return hk_check_heap_first(&at, &cls);
}
