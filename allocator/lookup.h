/* lookup.h - the address-to-metadata lookups the fast paths inline: the
 * chunk registry (defined in superslab.c) and a block's slab descriptor.
 *
 * The registry: one kind byte (HK_CHUNK_*) per 2 MiB chunk of the 47-bit
 * address space, in two levels: hk_reg_top holds one pointer per 128 GiB
 * (8 KiB in all), each at the shared all-zero leaf (every chunk
 * HK_CHUNK_NONE; never written) until a segment is registered in its
 * range, when a 64 KiB leaf of its own is mapped (os.c; leaves are never
 * unmapped).  So the registry costs 72 KiB of address space up front, not
 * the 64 MiB of one flat byte array, and a lookup is two dependent loads
 * with no NULL test.  HK_CHUNK_SS and HK_CHUNK_WHALE chunks have their
 * segment header at the chunk base; HK_CHUNK_TAIL chunks continue a whale
 * mapping whose header lies in an earlier chunk.
 *
 * Invariants: a chunk's kind is set before any pointer into it is handed
 * out and cleared only after its segment is unmapped; the head field of a
 * unit names the descriptor of the span that holds it, or HK_SLAB_NOSPAN.
 * Included by internal.h only. */
#ifndef HAKMEM_LOOKUP_H
#define HAKMEM_LOOKUP_H

#include "config.h"
#include "layout.h"
#include "types.h"

#define HK_REG_BITS (47 - HK_SS_SHIFT)
#define HK_REG_LEAF_BITS 16
#define HK_REG_TOP_BITS (HK_REG_BITS - HK_REG_LEAF_BITS)
extern uint8_t *hk_reg_top[(size_t)1 << HK_REG_TOP_BITS];
HK_INLINE unsigned hk_chunk_of(const void *p) {
  uintptr_t chunk = (uintptr_t)p >> HK_SS_SHIFT;
  /* checked builds: a pointer above 2^47 is never ours; release folds it
   * onto a lower chunk, which misjudges only pointers invalid to free */
  if (HK_ON(HARDEN)) {
    if (HK_UNLIKELY(chunk >> HK_REG_BITS)) return HK_CHUNK_NONE;
  } else {
    chunk &= ((uintptr_t)1 << HK_REG_BITS) - 1;
  }
  const uint8_t *leaf = __atomic_load_n(&hk_reg_top[chunk >> HK_REG_LEAF_BITS], __ATOMIC_ACQUIRE);
  return __atomic_load_n(&leaf[chunk & (((uintptr_t)1 << HK_REG_LEAF_BITS) - 1)],
                         __ATOMIC_RELAXED);
}
/* The head pointer of a unit that holds no span: NULL in release; in
 * checked builds a descriptor no thread owns (owner 0, every flag set),
 * so the free fast path needs no NULL test: such a unit's descriptor
 * fails the owner test and the slow free reports the pointer. */
extern hk_slab_t hk_slab_nospan __attribute__((visibility("hidden")));
#define HK_SLAB_NOSPAN (HK_ON(HARDEN) ? &hk_slab_nospan : (hk_slab_t *)0)
/* The head field of p's unit: its span's head descriptor, or HK_SLAB_NOSPAN. */
HK_INLINE hk_slab_t *hk_slab_head(const void *p) {
  hk_ss_t *ss = hk_chunk_base(p);
  return ss->slab[((uintptr_t)p >> HK_UNIT_SHIFT) & (HK_UNITS - 1)].head;
}
/* Slab of p, for p in an HK_CHUNK_SS chunk; NULL when its unit holds no span. */
HK_INLINE hk_slab_t *hk_slab_of(const void *p) {
  hk_slab_t *s = hk_slab_head(p);
  return HK_ON(HARDEN) && s == HK_SLAB_NOSPAN ? NULL : s;
}

#endif /* HAKMEM_LOOKUP_H */
