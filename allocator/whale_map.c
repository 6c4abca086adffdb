/* whale_map.c - one whale mapping's own operations: made (hk_whale_map:
 * 2 MiB-aligned or aligned as asked, its header at the base, registered),
 * guarded (the checked builds' guard page), remapped (hk_whale_remap:
 * grown in place or moved to a new reservation by mremap, or shrunk; no
 * copy), its pages moved (hk_whale_move_pages), sealed (the checked
 * builds move a freed mapping away from the address it was handed out
 * at) and unmapped.  Which mapping to reuse, split or give back is the
 * cache's (whale_cache.c); handing blocks out is whale.c's.
 *
 * Invariants:
 *   - a mapping's base is aligned to max(2 MiB, alignment): its first chunk
 *     is registered HK_CHUNK_WHALE with the header at the base, the others
 *     HK_CHUNK_TAIL, and no other segment starts in those chunks; a range
 *     is unregistered before any of it is given back to the kernel (another
 *     thread may map and register a segment there at once), and registered
 *     again where a failed remap left it;
 *   - the checked builds keep a mapping's last page PROT_NONE (the guard;
 *     not for hugetlb mappings, whose pages cannot be split); it is made
 *     ordinary memory before a remap or unmap and set again at the new end;
 *   - hk_whale_mapped is the bytes of every whale mapping (live, slot,
 *     cached), changed here and where gather gives pages to another mapping;
 *   - a mapping may be several kernel areas (after a merge or a gather):
 *     its pages move with hk_whale_move_pages, which splits a failed mremap,
 *     and it grows in place from its last page;
 *   - hugetlb mappings are never remapped, nor any in valgrind builds; under
 *     ASan only free ones are (hk_whale_resize leaves live ones to realloc's
 *     copy), their shadow cleared and LSan's root region moved.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t hk_whale_lock HK_WHALE_DATA = PTHREAD_MUTEX_INITIALIZER;
/* bytes of every whale mapping (live, in a slot or cached): changed only
 * where a mapping is made, remapped or unmapped */
_Atomic uint64_t hk_whale_mapped HK_WHALE_DATA;
_Atomic uint64_t hk_whale_evictions HK_WHALE_DATA, hk_whale_remaps HK_WHALE_DATA;

/* Checked builds (not under a memory tool, whose own poisoning catches a
 * use after free, and not for hugetlb mappings): a mapping put on the
 * shared list is first moved away (hk_whale_seal, below): its pages go to a
 * new address by mremap, so the range the program was given is unmapped
 * and a use of the freed block faults, while the pages stay resident for
 * reuse (a cached mapping is handed out at its new address).  The slot's
 * mapping stays where it is: a cached cycle costs no system call
 * (docs/hardening.md). */
#define HK_WHALE_SEAL (HK_ON(HARDEN) && !HK_TRACK_MEMORY)
#define SEALING (HK_WHALE_SEAL && hk_opt.whale_seal) /* HAKMEM_WHALE_SEAL=0: off */
/* checked builds: make the last page of the mapping a guard (on = 1) or
 * ordinary memory again (on = 0, before a remap or an unmap) */
void hk_whale_guard_set(hk_whale_t *w, int on) {
  if (hk_whale_guard(w)) hk_os_protect((char *)w + w->map_size - HK_PAGE, HK_PAGE, !on);
}

void hk_whale_unmap(hk_whale_t *w) {
  size_t map_size = w->map_size;
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, map_size)); /* (only ASan has work here) */
  hk_registry_set(w, map_size, HK_CHUNK_NONE);
  hk_os_unmap(w, map_size);
  HK_WHALE_MAPPED_SUB(map_size);
}

/* A new mapping (size counts the guard page) for a block at user_off. */
hk_whale_t *hk_whale_map(size_t size, size_t align, size_t user_off) {
  size_t map_align = align > HK_SS_SIZE ? align : HK_SS_SIZE;
  int huge = 0;
  if (size > PTRDIFF_MAX || size > SIZE_MAX - user_off - HK_SS_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  /* the size a hugetlb mapping would take; hk_os_map_data decides */
  size_t map_size = hk_whale_map_size(user_off, size, hk_opt.hugetlb != 0);
  uint64_t f0 = hk_fault_begin();
  char *base = hk_os_map_data(map_size, map_align, &huge);
  if (base == NULL) return NULL;
  if (!huge && hk_opt.hugetlb) { /* fell back: give the rounding back */
    size_t exact = hk_whale_map_size(user_off, size, 0);
    hk_os_unmap(base + exact, map_size - exact);
    map_size = exact;
  }
  hk_whale_t *w = (hk_whale_t *)base;
  w->seg.magic = HK_SEG_MAGIC;
  w->seg.kind = HK_SEG_WHALE;
  w->map_size = map_size;
  w->huge = (uint8_t)huge;
  w->reused = 0;
  w->released = 0;
  w->next = w->prev = NULL;
  if (hk_whale_guard(w) && hk_os_protect(base + map_size - HK_PAGE, HK_PAGE, 0) != 0) {
    hk_os_unmap(base, map_size);
    errno = ENOMEM;
    return NULL;
  }
  if (hk_registry_set(base, map_size, HK_CHUNK_WHALE) != 0) {
    hk_os_unmap(base, map_size);
    errno = ENOMEM;
    return NULL;
  }
  hk_fault_end(HK_BUCKET_WHALE, f0);
  hk_fresh_pages(HK_BUCKET_WHALE, map_size / HK_PAGE);
  HK_WHALE_MAPPED_ADD(map_size);
  return w;
}

/* Move the pages of [src, src+len) to dst (page multiples), replacing what
 * is mapped there.  The range may be several of the kernel's areas (the
 * pieces of a merge or a gather), which one mremap cannot move: a failed
 * move is split in halves, and a single page that still cannot move (the
 * kernel's area count at its limit) is copied and unmapped. */
void hk_whale_move_pages(char *src, size_t len, char *dst) {
  if (hk_os_remap(src, len, len, dst) != NULL) return;
  if (len <= HK_PAGE) {
    memcpy(dst, src, len);
    hk_os_unmap(src, len);
    return;
  }
  size_t half = (len / 2) & ~(size_t)(HK_PAGE - 1);
  hk_whale_move_pages(src, half, dst);
  hk_whale_move_pages(src + half, len - half, dst + half);
}

/* Checked builds: free mapping w (off every list) moved to a new 2 MiB-
 * aligned address, its old range unmapped (above); the moved mapping, or
 * NULL when no new address could be had (w is then unmapped: freed either
 * way).  The guard page moves as a piece of its own (another kernel area). */
hk_whale_t *hk_whale_seal(hk_whale_t *w) {
  if (!SEALING || w->huge) return w;
  size_t n = w->map_size, g = hk_whale_guard(w);
  char *dst = hk_os_map(n, HK_SS_SIZE);
  if (dst != NULL && hk_registry_reserve(dst, n) != 0) {
    hk_os_unmap(dst, n);
    dst = NULL;
  }
  if (dst == NULL) {
    HK_WHALE_EVICTED();
    hk_whale_unmap(w);
    return NULL;
  }
  hk_registry_set(w, n, HK_CHUNK_NONE); /* before the range is given up */
  hk_whale_move_pages((char *)w, n - g, dst);
  /* the guard page has nothing to copy, and cannot be read: when mremap
   * fails (ENOMEM) it is made anew at dst instead */
  if (g != 0 && hk_os_remap((char *)w + n - g, g, g, dst + n - g) == NULL) {
    hk_os_unmap((char *)w + n - g, g);
    hk_whale_guard_set((hk_whale_t *)dst, 1); /* dst's header came with the pages */
  }
  hk_registry_set(dst, n, HK_CHUNK_WHALE);
  return (hk_whale_t *)dst;
}

/* Remap w to new_size bytes (a page multiple): in place, or when growing
 * and the address space after it is taken, by moving its pages to a fresh
 * 2 MiB-aligned reservation (no copy).  Returns the header (moved or not),
 * or NULL with w untouched.  Hugetlb mappings are never remapped.
 * Memory tools keep per-address state that mremap leaves behind: valgrind
 * builds never remap (realloc copies, the cache maps anew); under ASan a
 * cached (free) whale is remapped with its shadow cleared and LSan's root
 * region moved, and the hand-out sets the block's shadow afresh, but a live
 * block is not (hk_whale_resize: realloc copies), whose shadow and leak
 * registry entry would have to move with it. */
hk_whale_t *hk_whale_remap(hk_whale_t *w, size_t new_size, int count_fresh) {
  size_t old_size = w->map_size;
  if (new_size == old_size) return w;
  if (HK_TRACK_VALGRIND || w->huge) return NULL;
  /* the registry leaves of an in-place growth, before anything changes */
  if (hk_registry_reserve(w, new_size) != 0) return NULL;
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, old_size));
  hk_whale_guard_set(w, 0); /* one mapping again; the guard moves to the new end */
  /* Unregister while the range is still ours: once mremap gives part of it
   * back, another thread may map and register a segment there. */
  hk_registry_set(w, old_size, HK_CHUNK_NONE);
  hk_whale_t *nw = NULL;
  if (new_size < old_size) {
    hk_os_unmap((char *)w + new_size, old_size - new_size);
    nw = w;
  } else if (hk_os_remap((char *)w + old_size - HK_PAGE, HK_PAGE,
                         HK_PAGE + new_size - old_size, NULL) != NULL) {
    nw = w; /* grown in place (its last page's area: w may be several areas) */
  } else {
    void *dst = hk_os_map(new_size, HK_SS_SIZE);
    if (dst != NULL && hk_registry_reserve(dst, new_size) != 0) {
      hk_os_unmap(dst, new_size);
      dst = NULL;
    }
    if (dst != NULL) {
      hk_whale_move_pages((char *)w, old_size, dst);
      nw = dst;
    }
  }
  if (nw == NULL) {
    /* INJECTED BUG (WHALE_REMAP_UNREGISTERED): the failure path takes the
     * mapping for gone with the failed mremap and leaves it unregistered */
    if (!HK_INJECT(WHALE_REMAP_UNREGISTERED))
      hk_registry_set(w, old_size, HK_CHUNK_WHALE); /* untouched: ours again */
    hk_whale_guard_set(w, 1);
    HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, old_size));
    return NULL;
  }
  /* whatever the shadow of the new range held (the extension's, or the
   * reservation's) is cleared; the hand-out poisons what is not the user's */
  HK_TRACK_DEFINED(nw, new_size);
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(nw, new_size));
  hk_registry_set(nw, new_size, HK_CHUNK_WHALE);
  nw->map_size = new_size;
  HK_WHALE_MAPPED_ADD(new_size - old_size); /* (wraps to a subtraction when shrinking) */
  hk_whale_guard_set(nw, 1);
  if (new_size > old_size && count_fresh)
    hk_fresh_pages(HK_BUCKET_WHALE, (new_size - old_size) / HK_PAGE);
  atomic_fetch_add_explicit(&hk_whale_remaps, 1, memory_order_relaxed);
  return nw;
}

