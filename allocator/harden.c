/* harden.c - the hardened checks' cold half: the per-process link and
 * canary secrets, the exact classification of a bad pointer given to free
 * or realloc or found on a free list, and the report of an overwritten
 * canary.  (The remote-queue node checks are the drain's, class.c; the
 * large blocks' checks are whale.c's.)
 *
 * The hot half (encoded links, state bits, the fast free check) is inline
 * in harden.h.  Every check reports through hk_fatal:
 * exactly one line "hakmem: <fault>: ptr=0x... class=<n>", then abort.
 * The faults and the tests that feed each one its bug are listed in
 * docs/hardening.md.
 *
 * Invariants:
 *   - hk_link_secret and hk_canary_secret are set once, before the first
 *     block is carved, and never change (fork children keep them);
 *   - a legitimate pointer is never reported: the block start of a live
 *     block, or an aligned pointer whose granule bit marks it (slabs with
 *     HK_SLAB_ALIGNED); the state bits are written by the slab owner only;
 *   - release builds compile none of this (the file is empty at level 0
 *     but for the symbols other files reference unconditionally).
 */
#include "harden.h"

#include <string.h>
#include <sys/random.h>
#include <x86intrin.h>

#if HK_ON(HARDEN)
uintptr_t hk_link_secret;
#if HK_ON(CANARY)
uint64_t hk_canary_secret;
#endif

void hk_harden_init(void) {
  uint64_t s[2] = {0, 0};
  if (getrandom(s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) s[0] = s[1] = 0;
  uint64_t t = (uint64_t)__rdtsc() * UINT64_C(0x9E3779B97F4A7C15);
  t ^= (uintptr_t)&s; /* stack address: ASLR */
  /* odd: a key (link address ^ secret) is odd, so a NULL link never
   * stores as 0 */
  hk_link_secret = (uintptr_t)(s[0] ^ t) | 1u;
#if HK_ON(CANARY)
  /* its own draw: a canary read back reveals nothing of the link secret */
  hk_canary_secret = (s[1] ^ (t * UINT64_C(0xD6E8FEB86659FD93)) ^ (t >> 29)) | HK_CANARY_FIXED;
#endif
}

static const char *const fault_unaligned[2] = {
    "invalid free (unaligned pointer)", "invalid realloc (unaligned pointer)"};
static const char *const fault_interior[2] = {
    "invalid free (interior pointer)", "invalid realloc (interior pointer)"};
static const char *const fault_outside[2] = {
    "invalid free (not a block of its slab)", "invalid realloc (not a block of its slab)"};
static const char *const fault_freed[2] = {"double free", "realloc of a freed block"};

/* A bad pointer that was a large block's, recently unmapped (its chunk now
 * holds a superslab): report the double free, not the pointer's shape. */
__attribute__((noreturn)) static void bad_pointer(const char *const fault[2], int op, void *p, int c) {
  if (hk_whale_recently_freed(p)) hk_fatal(fault_freed[op], p, -1);
  hk_fatal(fault[op], p, c);
}

hk_block_t *hk_harden_block(hk_slab_t *s, void *p, int op, int own) {
  int c = s->cls;
  uintptr_t a = (uintptr_t)p;
  /* the common case first, without a division: p is a live block start */
  if (hk_live_block(s, p)) {
    if (HK_ON(STATE) && own) hk_state_put(p, 0);
    return (hk_block_t *)p;
  }
  if (a & (HK_ALIGN - 1)) bad_pointer(fault_unaligned, op, p, c);
  uintptr_t off = a - s->user0;
  if (a < s->user0 || off >= (uintptr_t)s->carved * s->stride)
    bad_pointer(fault_outside, op, p, c);
  hk_block_t *b = (hk_block_t *)(s->user0 + off / s->stride * s->stride);
  int aligned = (hk_block_t *)p != b;
  /* an aligned interior pointer is legitimate only where its granule bit
   * says the block was handed out there */
  if (aligned && (!(hk_slab_flags(s) & HK_SLAB_ALIGNED) ||
                  (HK_ON(STATE) && !hk_state_get(p))))
    bad_pointer(fault_interior, op, p, c);
  if (hk_class[c].header &&
      (HK_TRACK_GET_U8((uint8_t *)b - 1) & ~HK_HDR_ARRAY) != (uint8_t)(HK_HDR_MAGIC | c))
    hk_fatal("block header corrupt", b, c);
  if (HK_ON(STATE) && !hk_state_get(b)) hk_fatal(fault_freed[op], p, c);
  if (own && HK_ON(STATE)) {
    hk_state_put(b, 0);
    if (aligned) hk_state_put(p, 0);
  }
  return b;
}

void hk_pop_fault(const hk_slab_t *s, const hk_block_t *b) {
  hk_block_t *n = HK_LINK_DEC(&b->next, HK_TRACK_NEXT(b));
  if (n != NULL && !hk_is_block(s, n)) hk_fatal("corrupt free-list link", b, s->cls);
  hk_fatal("free-list node is allocated (double push)", b, s->cls);
}

void hk_harden_fault(hk_slab_t *s, const void *p) {
  hk_harden_block(s, (void *)p, HK_OP_FREE, 0);
  /* hk_harden_block accepted what the fast check rejected: cannot happen */
  hk_fatal("internal error (free check disagrees)", p, s->cls);
}

/* ---- canaries (harden.h) ----------------------------------------------------- */
void hk_canary_fault(const hk_slab_t *s, const void *b) {
#if HK_ON(CANARY)
  uintptr_t after = hk_canary_before(s, b) + s->stride;
  hk_fatal(hk_canary_off(after, s->canary_lim) ? "heap overflow (canary)" : "heap underflow (canary)",
           b, s->cls);
#else
  hk_fatal("internal error (no canaries)", b, s->cls);
#endif
}

/* ---- wipe: zero on free, checked on reuse (harden.h) ----------------------- */
#if HK_ON(WIPE)
/* The out-of-line forms, for any usable size (the fast paths send the
 * classes of fewer than 32 or more than HK_WIPE_INLINE_MAX usable bytes
 * here): the check reads the 16 bytes at 8 and the 16 that end at usable
 * unaligned, and the aligned words between 128 bytes a step; a block of
 * fewer than 24 usable bytes (class 0, 13) is read and zeroed as two words
 * that overlap; the zeroing is memset's. */
static size_t wipe_usable(const hk_slab_t *s) {
  return hk_class[s->cls].usable; /* the canary after it is not the block's */
}

void *hk_wipe_fault(const hk_slab_t *s, hk_block_t *b) {
  static hk_line_t l;
  const uint8_t *p = (const uint8_t *)b;
  size_t u = wipe_usable(s), i = sizeof(hk_block_t);
  while (i < u && p[i] == 0) i++;
  l.len = 0;
  hk_line_str(&l, "write after free at offset ");
  hk_line_u64(&l, i, 0);
  hk_fatal(l.buf, b, s->cls);
}

static int wipe_dirty_big(const uint8_t *p, size_t u) {
  const uint8_t *a = p + 16, *e = p + u;
  hk_wipe16_t x0 = *(const hk_wipe16u_t *)(e - 16) | *(const hk_wipe16u_t *)(p + 8);
  hk_wipe16_t x1 = {0, 0}, x2 = {0, 0}, x3 = {0, 0};
  /* 128 bytes a step, one OR with a memory operand per 16 (the loads, two
   * a cycle, set the pace: four accumulators) */
  for (; a + 128 <= e; a += 128) {
    HK_WIPE_OR(x0, a);
    HK_WIPE_OR(x1, a + 16);
    HK_WIPE_OR(x2, a + 32);
    HK_WIPE_OR(x3, a + 48);
    HK_WIPE_OR(x0, a + 64);
    HK_WIPE_OR(x1, a + 80);
    HK_WIPE_OR(x2, a + 96);
    HK_WIPE_OR(x3, a + 112);
  }
  for (; a + 16 <= e; a += 16) x0 |= *(const hk_wipe16_t *)a;
  x0 |= x1 | x2 | x3;
  return (x0[0] | x0[1]) != 0;
}

/* [8, u) of a block of fewer than 24 usable bytes: two words that
 * overlap, 8 bytes each from 16 usable bytes up, 4 from 12, else bytes. */
typedef uint32_t __attribute__((may_alias, aligned(1))) wipe4_t;
static int wipe_dirty_small(const uint8_t *p, size_t u) {
  if (u >= 16) return (*(const hk_wipe8_t *)(p + 8) | *(const hk_wipe8_t *)(p + u - 8)) != 0;
  if (u >= 12) return (*(const wipe4_t *)(p + 8) | *(const wipe4_t *)(p + u - 4)) != 0;
  uint8_t x = 0;
  for (size_t i = 8; i < u; i++) x |= p[i];
  return x != 0;
}
static void wipe_clear_small(uint8_t *p, size_t u) {
  if (u >= 16) {
    *(hk_wipe8_t *)(p + 8) = 0;
    *(hk_wipe8_t *)(p + u - 8) = 0;
  } else if (u >= 12) {
    *(wipe4_t *)(p + 8) = 0;
    *(wipe4_t *)(p + u - 4) = 0;
  } else {
    for (size_t i = 8; i < u; i++) p[i] = 0;
  }
}

void *hk_wipe_pop(const hk_slab_t *s, hk_block_t *b) {
  const uint8_t *p = (const uint8_t *)b;
  size_t u = wipe_usable(s);
  if (HK_UNLIKELY(u < 24 ? wipe_dirty_small(p, u) : wipe_dirty_big(p, u))) return hk_wipe_fault(s, b);
  b->next = NULL; /* the link is read: the block is handed out all zero */
  return b;
}

void hk_wipe_free(const hk_slab_t *s, void *b) {
  uint8_t *p = b;
  size_t u = wipe_usable(s);
  if (u < 24) wipe_clear_small(p, u); /* the link word may already be written */
  else memset(p + sizeof(hk_block_t), 0, u - sizeof(hk_block_t));
}
#else
void *hk_wipe_pop(const hk_slab_t *s, hk_block_t *b) { (void)s; return b; }
void hk_wipe_free(const hk_slab_t *s, void *b) { (void)s, (void)b; }
void *hk_wipe_fault(const hk_slab_t *s, hk_block_t *b) { (void)s; return b; }
#endif

/* ---- delay: a held block's link was written (harden.h) --------------------- */
void hk_held_fault(const hk_slab_t *s, const hk_block_t *b) {
  hk_fatal("corrupt free-list link", b, s->cls);
}

/* ---- the C++ operators' checks (new.cc) ------------------------------------ */
/* new[]'s mark of the block starting at p, of slab s: bit HK_HDR_ARRAY of
 * the header byte in headered classes (the block's own byte: only its
 * holder writes it); in headerless ones (strides of 1 KiB and more) the
 * bit of p's KiB in its superslab's cxx_array, whose bytes blocks share,
 * so it is set and cleared atomically (a delete[] may run in any thread). */
static uint8_t *cxx_array_byte(void *p, uint8_t *bit) {
  hk_ss_t *ss = (hk_ss_t *)((uintptr_t)p & ~(HK_SS_SIZE - 1));
  uintptr_t k = ((uintptr_t)p & (HK_SS_SIZE - 1)) >> 10;
  *bit = (uint8_t)(1u << (k & 7));
  return &ss->cxx_array[k >> 3];
}
static int cxx_marked(const hk_slab_t *s, void *p) {
  if (s->hdr_mask != 0) return (HK_TRACK_GET_U8((uint8_t *)p - 1) & HK_HDR_ARRAY) != 0;
  uint8_t bit, *b = cxx_array_byte(p, &bit);
  return (__atomic_load_n(b, __ATOMIC_RELAXED) & bit) != 0;
}
static void cxx_mark(const hk_slab_t *s, void *p, int array) {
  if (s->hdr_mask != 0) {
    uint8_t *h = (uint8_t *)p - 1;
    uint8_t v = HK_TRACK_GET_U8(h);
    HK_TRACK_SET_U8(h, (uint8_t)(array ? v | HK_HDR_ARRAY : v & ~HK_HDR_ARRAY));
    return;
  }
  uint8_t bit, *b = cxx_array_byte(p, &bit);
  if (array) __atomic_fetch_or(b, bit, __ATOMIC_RELAXED);
  else if (__atomic_load_n(b, __ATOMIC_RELAXED) & bit) /* (no locked op when clear) */
    __atomic_fetch_and(b, (uint8_t)~bit, __ATOMIC_RELAXED);
}
/* one headerless block start per KiB at most */
#define HK_ROW_ONE_PER_KIB(i, st, h, u, c) \
  _Static_assert((h) || (st) >= 1024u, "headerless class " #i " has a stride of 1 KiB or more");
HK_CLASS_TABLE(HK_ROW_ONE_PER_KIB)

void hk_cxx_new(void *p, int array) {
  if (p == NULL || hk_chunk_of(p) != HK_CHUNK_SS) return;
  cxx_mark(hk_slab_head(p), p, array); /* p was just handed out: a span's block */
}

/* The class a request of size bytes aligned to align is served from
 * (alloc.c), or -1 for a large block. */
static int cxx_class_of(size_t size, size_t align) {
  if (align > HK_ALIGN && (size = hk_aligned_request(size, align)) == 0) return -1;
  return size <= HK_CLASS_MAX ? (int)hk_class_of_size(size) : -1;
}

static const char cxx_wrong_size[] = "sized delete of the wrong size";

/* A live block of s: the size, then the new[] mark (blocks handed out at
 * their start). */
static void cxx_check_block(hk_slab_t *s, void *p, size_t size, size_t align, int array,
                            int at_start) {
  int c = s->cls;
  if (size != SIZE_MAX) HK_CHECK(HARDEN, cxx_class_of(size, align) == c, cxx_wrong_size, p, c);
  if (align <= HK_ALIGN && at_start) {
    HK_CHECK(HARDEN, cxx_marked(s, p) == !!array,
             array ? "delete[] of a block not from new[]" : "delete of a block from new[]", p, c);
    if (array) cxx_mark(s, p, 0);
  }
}

/* Everything but a live block start: an aligned pointer of a slab block,
 * the zero-size region, a large block; anything else is left to free. */
static HK_NOINLINE void cxx_delete_other(void *p, size_t size, size_t align, int array) {
  if (hk_chunk_of(p) == HK_CHUNK_SS) {
    hk_slab_t *s = hk_slab_of(p);
    /* an aligned pointer whose granule bit marks it (HK_SLAB_ALIGNED) */
    if (s != NULL && !((uintptr_t)p & (HK_ALIGN - 1)) && (hk_slab_flags(s) & HK_SLAB_ALIGNED) &&
        (uintptr_t)p >= s->user0 && (uintptr_t)p - s->user0 < (uintptr_t)s->carved * s->stride &&
        hk_state_get(p))
      cxx_check_block(s, p, size, align, array, 0);
    return;
  }
  if (p == NULL) return;
  if (hk_zero_owns(p)) { /* new(0): the zero-size region */
    HK_CHECK(HARDEN, size == 0 || size == SIZE_MAX || align > HK_ALIGN, cxx_wrong_size, p, -1);
    return;
  }
  if (size == SIZE_MAX) return;
  hk_seg_t *seg = hk_seg_lookup(p);
  if (seg == NULL || seg->kind != HK_SEG_WHALE) return;
  hk_whale_t *w = (hk_whale_t *)seg;
  hk_whale_check(w, p, HK_OP_FREE); /* interior pointer, double free */
  HK_CHECK(HARDEN, cxx_class_of(size, align) < 0 && size <= hk_whale_usable(w, p), cxx_wrong_size,
           p, -1);
}

void hk_cxx_delete(void *p, size_t size, size_t align, int array) {
  /* the common case inline: a live block start (grid, header, state bit) */
  if (HK_LIKELY(hk_chunk_of(p) == HK_CHUNK_SS)) {
    hk_slab_t *s = hk_slab_head(p);
    if (HK_LIKELY(hk_live_block(s, p))) {
      cxx_check_block(s, p, size, align, array, 1);
      return;
    }
  }
  cxx_delete_other(p, size, align, array);
}

#else  /* release: keep the symbols the inline helpers would reference */
void hk_harden_init(void) {}
void hk_cxx_new(void *p, int array) { (void)p, (void)array; }
void hk_cxx_delete(void *p, size_t size, size_t align, int array) {
  (void)p, (void)size, (void)align, (void)array;
}
#endif

