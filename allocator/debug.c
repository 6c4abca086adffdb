/* debug.c - the debug variant's checks (check level 2: HK_ON(DEBUG)), on top of
 * the hardened ones: fill patterns with byte-exact reports, the ring of
 * recent operations, and HAKMEM_CHECK_EVERY=N heap walks.
 *
 * Fill patterns, for class blocks (usable bytes U, request end R measured
 * from the block start, so an aligned block's R includes its offset):
 *   - handed out:  [0, R) = HK_FILL_ALLOC, [R, U) = HK_FILL_PAD;
 *   - free (carved, or freed):  [8, U) = HK_FILL_FREE (bytes 0..7 hold the
 *     encoded free-list link, which the hardened pop sanitizes);
 *   - at free, [R, U) must still be HK_FILL_PAD: else "heap overflow at
 *     offset <i> (requested <R>)", naming the block and the first bad byte;
 *   - at the next hand-out, [8, U) must still be HK_FILL_FREE: else
 *     "write after free at offset <i>".
 * A free of a block whose R says "free" is a double free (caught at once,
 * even for a second remote free, whose state bit waits for the drain).
 * R is kept per block in a side table of each superslab (hk_ss_t.dbg_req,
 * one uint32 per 16-byte granule, mapped only in debug builds), so the
 * block layout is the same as in every other variant.  Large blocks get
 * no fill check; their guard page catches overruns past the mapping.
 *
 * hk_debug_op notes every operation (op, pointer, size, heap) in the ring
 * of recent operations (report.c), which hk_fatal prints after its
 * one-line report, and runs the HAKMEM_CHECK_EVERY heap walks.
 *
 * While a memory tool watches (track.h HK_TRACK_ACTIVE: ASan, or a run
 * under valgrind of a build with client requests) the fill patterns are off: the tool sees every byte of them exactly, and free and
 * padding bytes are no-access to everyone but the allocator's accessors;
 * the request slots (double free at once) stay.
 *
 * Invariants: nothing here allocates; every report goes through hk_fatal.
 */
#include "internal.h"

#include <string.h>

#if HK_ON(DEBUG)

#define HK_FILL_ALLOC 0xABu
#define HK_FILL_PAD   0xCCu
#define HK_FILL_FREE  0xDDu
#define HK_REQ_FREED  UINT32_MAX /* request slot of a block that is free */

static uint32_t *req_slot(const void *b) {
  hk_ss_t *ss = hk_chunk_base(b);
  if (ss->dbg_req == NULL) return NULL;
  return &ss->dbg_req[((uintptr_t)b & (HK_SS_SIZE - 1)) >> 4];
}

static size_t first_not(const uint8_t *p, size_t from, size_t to, uint8_t v) {
  for (size_t i = from; i < to; i++)
    if (p[i] != v) return i;
  return to;
}

/* "<a><x>" or, with b, "<a><x><b><y><c>": a fault text with numbers (the
 * fatal path only, so one static line) */
static hk_line_t msg;
static const char *fmt2(const char *a, size_t x, const char *b, size_t y, const char *c) {
  msg.len = 0;
  hk_line_str(&msg, a);
  hk_line_u64(&msg, x, 0);
  if (b != NULL) {
    hk_line_str(&msg, b);
    hk_line_u64(&msg, y, 0);
    hk_line_str(&msg, c);
  }
  return msg.buf;
}

void hk_debug_carve(const hk_slab_t *s, void *b) {
  size_t u = hk_class[s->cls].usable;
  if (!HK_TRACK_ACTIVE)
    memset((uint8_t *)b + sizeof(hk_block_t), HK_FILL_FREE, u - sizeof(hk_block_t));
  uint32_t *r = req_slot(b);
  if (r) *r = HK_REQ_FREED;
}

void hk_debug_alloc(void *p, size_t n) {
  hk_slab_t *s = hk_slab_of(p);
  size_t u = hk_class[s->cls].usable;
  uint8_t *b = p;
  if (n > u) n = u;
  if (!HK_TRACK_ACTIVE) {
    size_t bad = first_not(b, sizeof(hk_block_t), u, HK_FILL_FREE);
    HK_CHECK(DEBUG, bad >= u, fmt2("write after free at offset ", bad, NULL, 0, NULL), p, s->cls);
    memset(b, HK_FILL_ALLOC, n);
    memset(b + n, HK_FILL_PAD, u - n);
  }
  uint32_t *r = req_slot(p);
  if (r) *r = (uint32_t)n;
}

/* An aligned block q inside block b serves n bytes from q. */
void hk_debug_resize(void *b, const void *q, size_t n) {
  hk_slab_t *s = hk_slab_of(b);
  size_t u = hk_class[s->cls].usable;
  uint32_t *r = req_slot(b);
  size_t end = (size_t)((const uint8_t *)q - (uint8_t *)b) + n;
  if (end > u) end = u;
  if (r && *r == HK_REQ_FREED) return;
  if (r && end < *r && !HK_TRACK_ACTIVE) memset((uint8_t *)b + end, HK_FILL_PAD, *r - end);
  if (r) *r = (uint32_t)end;
}

void hk_debug_free(const hk_slab_t *s, void *p) {
  size_t u = hk_class[s->cls].usable;
  uint8_t *b = p;
  uint32_t *r = req_slot(p);
  /* a block already freed (its remote free not drained yet, so its state
   * bit is still set): the request slot says so at once */
  HK_CHECK(DEBUG, !r || *r != HK_REQ_FREED, "double free", p, s->cls);
  if (r && *r < u && !HK_TRACK_ACTIVE) {
    size_t bad = first_not(b, *r, u, HK_FILL_PAD);
    HK_CHECK(DEBUG, bad >= u, fmt2("heap overflow at offset ", bad, " (requested ", *r, ")"), p, s->cls);
  }
  if (!HK_TRACK_ACTIVE) memset(b + sizeof(hk_block_t), HK_FILL_FREE, u - sizeof(hk_block_t));
  if (r) *r = HK_REQ_FREED;
}

/* ---- every operation: the ring, HAKMEM_CHECK_EVERY ----------------------- */
static _Atomic unsigned long ops_seen;

void hk_debug_op(int op, const void *p, size_t n) {
  hk_ring_note(op, p, n, (uintptr_t)hk_tl_heap);
  if (hk_opt.check_every > 0) {
    unsigned long k = atomic_fetch_add_explicit(&ops_seen, 1, memory_order_relaxed) + 1;
    if (k % (unsigned long)hk_opt.check_every == 0) {
      const void *at;
      int cls;
      HK_CHECK(DEBUG, hk_check_heap_first(&at, &cls) <= 0, "heap check failed", at, cls);
    }
  }
}
#endif
