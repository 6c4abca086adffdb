/* harden.h - the hot half of the hardened checks, inline: per-block state
 * bits, encoded free-list links, the pop sanitizer and the fast free
 * check.  The cold half (classification of a bad pointer, the reports) is
 * harden.c.  Each check is behind its HK_ON switch (config.h): in release
 * every macro and inline here is the identity or empty, so the release
 * fast paths compile exactly as without them.
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
 * stride boundary; every remote-queue node is checked at the drain.
 */
#ifndef HAKMEM_HARDEN_H
#define HAKMEM_HARDEN_H

#include "internal.h"

/* ---- links ---------------------------------------------------------------- */
#if HK_ON(LINKS)
/* per process, set first thing in hk_init; hidden, so read PC-relative */
extern uintptr_t hk_link_secret __attribute__((visibility("hidden")));
#define HK_LINK_KEY(at) ((uintptr_t)(at) ^ hk_link_secret)
#define HK_LINK_ENC(at, v) ((hk_block_t *)((uintptr_t)(v) ^ HK_LINK_KEY(at)))
#else
#define HK_LINK_ENC(at, v) ((hk_block_t *)(v))
#endif
#define HK_LINK_DEC(at, v) HK_LINK_ENC(at, v)

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
hk_block_t *hk_harden_block(hk_slab_t *s, void *p, int op, int own);
/* hk_harden_fault never returns either, but is not declared noreturn (and
 * callers learn nothing of it, HK_NOIPA): the fast free path then reaches
 * it with a jump in tail position, and needs no stack frame for a call. */
HK_NOIPA __attribute__((cold)) void hk_harden_fault(hk_slab_t *s, const void *p);
/* Cold: the pop of b from s failed a check: a corrupt link (reported
 * first) or b marked allocated (a double push).  Aborts. */
__attribute__((noreturn, cold)) void hk_pop_fault(const hk_slab_t *s, const hk_block_t *b);

/* ---- wipe (HK_ON(WIPE)): zero on free, checked on reuse -------------------
 * In slabs with s->wipe set, a free block's bytes [8, usable) are zero
 * (the link lies in [0, 8)); carve zeroes what it carves; the pop checks
 * that [8, usable) is still zero (a write after free aborts: "write after
 * free at offset <i>", debug's report) and zeroes the link, so a block is
 * handed out all zero (calloc skips its memset).
 *
 * s->wipe (set with the span, superslab.c): 0 off; HK_WIPE_OUTLINE: the
 * out-of-line functions below (harden.c: usable below 32 bytes, or above
 * HK_WIPE_INLINE_MAX), reached from the fast paths by a tail call, so they
 * keep no stack frame; otherwise stride - usable (HK_WIPE_MODE), and the
 * fast paths zero and check inline (hk_wipe_clear, hk_wipe_dirty): the
 * block's end e = b + usable from the descriptor's stride, the aligned
 * 16-byte words below e one store or one OR each, and the 16 bytes that
 * end at e unaligned; no call, no stack frame. */
#define HK_WIPE_OUTLINE 1u
#define HK_WIPE_INLINE_MAX 256u
/* The s->wipe of a class of usable bytes u and stride st, wiped: inline
 * for 32 <= u <= HK_WIPE_INLINE_MAX (the gap st - u is at least 2 there:
 * header and canary, or a canary of 8). */
#define HK_WIPE_MODE(u, st)                                                       \
  ((u) >= 32u && (u) <= HK_WIPE_INLINE_MAX && (st) - (u) >= 2u && (st) - (u) <= 255u \
       ? (st) - (u)                                                               \
       : HK_WIPE_OUTLINE)
/* b popped from s (s->wipe == HK_WIPE_OUTLINE): checked, its link zeroed;
 * returns b. */
void *hk_wipe_pop(const hk_slab_t *s, hk_block_t *b);
/* [8, usable) of b zeroed (the link word is the caller's to write); any
 * s->wipe. */
void hk_wipe_free(const hk_slab_t *s, void *b);
/* b's [8, usable) was not zero at its pop: "write after free at offset
 * <i>".  Never returns; not noreturn, so the fast path reaches it with a
 * jump (and returns its result: a tail call). */
HK_NOIPA __attribute__((cold)) void *hk_wipe_fault(const hk_slab_t *s, hk_block_t *b);
#if HK_ON(WIPE)
/* aligned 16-byte words, unaligned 16 and 8 (any alias) */
typedef uint64_t __attribute__((vector_size(16), may_alias)) hk_wipe16_t;
typedef uint64_t __attribute__((vector_size(16), may_alias, aligned(1))) hk_wipe16u_t;
typedef uint64_t __attribute__((may_alias, aligned(1))) hk_wipe8_t;
/* x |= the aligned 16 bytes at q: one POR with a memory operand on x86-64
 * (GCC would pair the loads, with a register move each) */
#if defined(__SSE2__)
#define HK_WIPE_OR(x, q) __asm__("por %1, %0" : "+x"(x) : "m"(*(const hk_wipe16_t *)(q)))
#else
#define HK_WIPE_OR(x, q) ((x) |= *(const hk_wipe16_t *)(q))
#endif
/* The end of b's usable bytes (s->wipe inline: the gap). */
HK_INLINE uint8_t *hk_wipe_end(const hk_slab_t *s, const void *b) {
  return (uint8_t *)b + (s->stride - (uint32_t)s->wipe);
}
/* Zero b's [0, usable) (32 <= usable <= HK_WIPE_INLINE_MAX), before its
 * link is written: the aligned words below e & ~15 two a step (the last
 * one again, as the count may be odd), then the 16 bytes ending at e. */
HK_INLINE void hk_wipe_clear(const hk_slab_t *s, void *b) {
  uint8_t *e = hk_wipe_end(s, b), *q = b;
  uint8_t *a = (uint8_t *)((uintptr_t)e & ~(uintptr_t)15) - 16;
  const hk_wipe16_t z = {0, 0};
  for (; q < a; q += 32) {
    *(hk_wipe16_t *)q = z;
    *(hk_wipe16_t *)(q + 16) = z;
  }
  *(hk_wipe16_t *)a = z;
  *(hk_wipe16u_t *)(e - 16) = z;
}
/* b's [8, usable) is not all zero (s->wipe inline): the 16 bytes at 8,
 * the aligned words from 16 up two a step (the last one apart, as the count
 * may be odd), the 16 bytes ending at usable (overlaps are harmless);
 * OR-reduced, then one compare of each byte with zero (pcmpeqb, pmovmskb
 * on x86-64). */
HK_INLINE int hk_wipe_dirty(const hk_slab_t *s, const hk_block_t *b) {
  const uint8_t *q = (const uint8_t *)b + 16, *e = hk_wipe_end(s, b);
  const uint8_t *a = (const uint8_t *)((uintptr_t)e & ~(uintptr_t)15) - 16;
  hk_wipe16_t acc = *(const hk_wipe16u_t *)(e - 16) | *(const hk_wipe16_t *)a |
                    *(const hk_wipe16u_t *)((const uint8_t *)b + 8);
  for (; q < a; q += 32) {
    HK_WIPE_OR(acc, q);
    HK_WIPE_OR(acc, q + 16);
  }
#if defined(__SSE2__)
  typedef char v16c __attribute__((vector_size(16)));
  return __builtin_ia32_pmovmskb128((v16c)((v16c)acc == (v16c){0})) != 0xFFFF;
#else
  return (acc[0] | acc[1]) != 0;
#endif
}
#endif
/* The pop's wipe: b just popped from s; returns b (checked and its link
 * zeroed when s is wiped), or the fault's result (it never returns): the
 * caller returns what this returns, so every call below is a tail call.
 * One compare sends the inline classes on (the default's common case). */
HK_INLINE void *hk_wipe_popped(const hk_slab_t *s, hk_block_t *b) {
#if HK_ON(WIPE)
  if (HK_UNLIKELY(s->wipe <= HK_WIPE_OUTLINE)) {
    if (s->wipe == HK_WIPE_OUTLINE) return hk_wipe_pop(s, b);
    return b;
  }
  if (HK_UNLIKELY(hk_wipe_dirty(s, b))) return hk_wipe_fault(s, b);
  b->next = NULL; /* the link is read: the block is handed out all zero */
#else
  (void)s;
#endif
  return b;
}

/* ---- delay (HK_ON(DELAY)): the slab's held block ----------------------------
 * The block a local free holds back keeps the encoded NULL as its link; when
 * the next free pushes it, a link that changed is a write after free:
 * "corrupt free-list link" (hk_held_fault, harden.c). */
#if HK_ON(LINKS)
#define HK_HELD_LINK(b) ((hk_block_t *)HK_LINK_KEY(&(b)->next))
#else
#define HK_HELD_LINK(b) ((hk_block_t *)0)
#endif
HK_NOIPA __attribute__((cold)) void hk_held_fault(const hk_slab_t *s, const hk_block_t *b);

/* ---- canaries (HK_ON(CANARY)) ---------------------------------------------
 * Every class block is followed by its canary: the last `canary` bytes (2
 * or 8: layout.h's column) of the 8-byte word at b + canary_at, which ends
 * at the next block's header byte (or the next block); block 0 of a span
 * also has one before it, in first_off (the word at b - header - 8).  So
 * every block lies between two canaries, its own after it and the one
 * before it (the previous block's, or block 0's leading one), and the free
 * checks both: an overflow and an underflow are both seen at once.
 *
 * The canary bytes of the word at address w hold the top bytes of
 *     hk_canary_secret ^ (w << 8)
 * (a per-process secret drawn with the link secret; the address term makes
 * every canary differ, so one copied elsewhere fails).  w << 8 is below
 * 2^55, so byte 0 and byte 7 of the value, and bit 7 of byte 6, are the
 * secret's own; the secret has bit 7 of bytes 0, 6 and 7 set
 * (HK_CANARY_FIXED), so the canary byte next to either end of a block is
 * never 0 nor ASCII: an off-by-one NUL or text byte is always caught (the
 * other bits are secret).  Carve writes them; they lie outside `usable`,
 * so no path of the allocator writes them again.  A 2-byte canary's word
 * also holds the 6 usable bytes before it (the block's own, or for the
 * canary before a block the previous block's): they are read and masked
 * out, never written (carve keeps them). */
#if HK_ON(CANARY)
extern uint64_t hk_canary_secret __attribute__((visibility("hidden")));
#define HK_CANARY_FIXED UINT64_C(0x8080000000000080)
HK_INLINE uint64_t hk_canary_value(uintptr_t w) { return hk_canary_secret ^ ((uint64_t)w << 8); }
/* The word at w differs from its canary value in its canary bytes (lim:
 * the slab's canary_lim, 2^(64 - 8 * canary)). */
HK_INLINE int hk_canary_off(uintptr_t w, uint64_t lim) {
  uint64_t d = HK_TRACK_GET_U64((const void *)w) ^ hk_canary_value(w);
  /* valgrind: a 2-byte canary's word holds a block's last usable bytes,
   * perhaps never written: memcheck must not see the compare use them */
  if (HK_TRACK_VALGRIND) d &= ~(lim - 1);
  return d >= lim;
}
/* The word of the canary before block b of s: it ends at b's header byte
 * (headered classes, hdr_at 0) or at b (hdr_at 1), b - 9 + hdr_at; the
 * canary after b is the next block's, one stride on. */
HK_INLINE uintptr_t hk_canary_before(const hk_slab_t *s, const void *b) {
  return (uintptr_t)b - 9 + s->hdr_at;
}
/* The canary after block b of s, or the one before it, is not intact:
 * two loads, one compare. */
HK_INLINE int hk_canary_bad(const hk_slab_t *s, const void *b) {
  uintptr_t before = hk_canary_before(s, b), after = before + s->stride;
  uint64_t d = (HK_TRACK_GET_U64((const void *)after) ^ hk_canary_value(after)) |
               (HK_TRACK_GET_U64((const void *)before) ^ hk_canary_value(before));
  if (HK_TRACK_VALGRIND) d &= ~(s->canary_lim - 1); /* (as in hk_canary_off) */
  return d >= s->canary_lim;
}
/* Write the canary of the word at w (lim as above; the word's other
 * bytes, a block's last usable bytes for a 2-byte canary, are kept). */
HK_INLINE void hk_canary_put(uintptr_t w, uint64_t lim) {
  uint64_t v = hk_canary_value(w);
  if (lim != 1) {
    uint64_t keep = lim - 1;
    v = (HK_TRACK_GET_U64((const void *)w) & keep) | (v & ~keep);
  }
  HK_TRACK_SET_U64((void *)w, v);
}
#endif
/* A canary around block b of s found overwritten (hk_canary_bad): "heap
 * overflow (canary)" (the one after b) or "heap underflow (canary)" (the
 * one before), naming b.  Never returns; not noreturn, like
 * hk_harden_fault, so the free fast path reaches it with a jump. */
HK_NOIPA __attribute__((cold)) void hk_canary_fault(const hk_slab_t *s, const void *b);

/* Next node of free list s after b (decoded, and sanitized when checked);
 * marks b handed out.  The end of the list (NULL) fails the range test
 * and is told apart from a corrupt link only then. */
HK_INLINE hk_block_t *hk_pop_next(const hk_slab_t *s, hk_block_t *b) {
#if HK_ON(LINKS)
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
#if HK_ON(STATE)
  /* the store may precede the test: a set bit aborts, and hk_pop_fault
   * reads no state bit */
  if (HK_UNLIKELY(hk_state_flip_of(s, b))) goto fault; /* was set: allocated */
#endif
  (void)s;
  return n;
#if HK_ON(LINKS) || HK_ON(STATE)
fault: /* one call site: the prologue it needs stays off the fast path */
  hk_pop_fault(s, b);
#endif
}

/* Fast-path free check (owner; flags 0 or HK_SLAB_MID, so no aligned
 * blocks): block start, header, state.
 * do_free (free.c) has already sent unaligned pointers and pointers
 * above the 47-bit address space to the slow path (HK_FREE_MISFIT). */
#define HK_FREE_MISFIT (~(((uintptr_t)1 << 47) - 1) | (HK_ON(PTR) ? HK_ALIGN - 1 : 0))
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
#if HK_ON(STATE)
  return (int)((*hk_state_word_of(s, p) >> (((uintptr_t)p >> 4) & 63)) & 1);
#else
  return 1;
#endif
}
/* Returns 0 after reporting (the caller returns at once: the report is its
 * tail call), 1 when p may be freed. */
HK_INLINE int hk_free_check(hk_slab_t *s, void *p) {
#if HK_ON(STATE)
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
      (HK_ON(PTR) && HK_UNLIKELY(hk_hdr_bad(s, p)))) {
    hk_harden_fault(s, p);
    return 0;
  }
  hk_state_store(ssb, o, v); /* after the checks: hk_harden_fault reads the bit */
#elif HK_ON(PTR)
  if (HK_UNLIKELY(!hk_is_block(s, p)) || HK_UNLIKELY(hk_hdr_bad(s, p))) {
    hk_harden_fault(s, p);
    return 0;
  }
#endif
  (void)s, (void)p;
  return 1;
}

#endif /* HAKMEM_HARDEN_H */
