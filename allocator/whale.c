/* whale.c - blocks above the class range (> 64 KiB): one direct mapping
 * per block, with its header at the mapping's 2 MiB-aligned base.
 *
 * Until the L2.5 pools and the whale cache land (issue 5), every request
 * above HK_MID_MAX is served here; that is correct for any size and
 * alignment, and costs an mmap/munmap pair per block.
 *
 * Invariants:
 *   - the mapping base is aligned to max(2 MiB, alignment): its first chunk
 *     is registered HK_CHUNK_WHALE with the header at the base, the others
 *     HK_CHUNK_TAIL, and no other segment starts in those chunks;
 *   - the header lies before the user pointer, outside the usable bytes;
 *   - usable = map_size - user_off >= the request.
 */
#include "internal.h"

#include <errno.h>

static _Atomic uint64_t whale_allocs, whale_frees, whale_live_bytes;

void *hk_whale_alloc(size_t size, size_t align) {
  if (align < 64) align = 64;
  if (size < HK_ALIGN) size = HK_ALIGN; /* the user pointer stays inside the mapping */
  size_t user_off = (sizeof(hk_whale_t) + align - 1) & ~(align - 1);
  if (size > PTRDIFF_MAX || size > SIZE_MAX - user_off - HK_PAGE) {
    errno = ENOMEM;
    return NULL;
  }
  size_t map_size = (user_off + size + HK_PAGE - 1) & ~(size_t)(HK_PAGE - 1);
  size_t map_align = align > HK_SS_SIZE ? align : HK_SS_SIZE;
  char *base = hk_os_map(map_size, map_align);
  if (base == NULL) return NULL;
  hk_whale_t *w = (hk_whale_t *)base;
  w->seg.magic = HK_SEG_MAGIC;
  w->seg.kind = HK_SEG_WHALE;
  w->map_size = map_size;
  w->user_off = user_off;
  w->usable = map_size - user_off;
  hk_registry_set(base, map_size, HK_CHUNK_WHALE);
  atomic_fetch_add_explicit(&whale_allocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&whale_live_bytes, w->usable, memory_order_relaxed);
  HK_TRACK_ALLOC(base + user_off, w->usable, 1);
  return base + user_off;
}

void hk_whale_free(hk_whale_t *w, void *p) {
  HK_CHECK(HK_LEVEL_HARDENED, (char *)p == (char *)w + w->user_off,
           "invalid free (interior pointer of a large block)", p, -1);
  atomic_fetch_add_explicit(&whale_frees, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&whale_live_bytes, w->usable, memory_order_relaxed);
  HK_TRACK_FREE(p, w->usable);
  size_t map_size = w->map_size;
  hk_registry_set(w, map_size, HK_CHUNK_NONE);
  hk_os_unmap(w, map_size);
}

size_t hk_whale_usable(hk_whale_t *w, const void *p) {
  const char *user = (const char *)w + w->user_off;
  if ((const char *)p < user || (const char *)p >= user + w->usable) return 0;
  return w->usable - (size_t)((const char *)p - user);
}

void hk_whale_counts(uint64_t *allocs, uint64_t *frees, uint64_t *live_bytes) {
  *allocs = atomic_load(&whale_allocs);
  *frees = atomic_load(&whale_frees);
  *live_bytes = atomic_load(&whale_live_bytes);
}
