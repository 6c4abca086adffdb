/* override.c - the libc allocation names, mapped onto the hak_ API.
 *
 * Linked into libhakmem.so (for LD_PRELOAD) and libhakmem.a (for static
 * linking), never into hakmem_core, so sanitizer builds keep their own
 * malloc.  Each function is a tail call to a hidden alias in alloc.c.
 *
 * Invariant: no libc allocation entry point a program may call is left
 * to glibc while its partners are ours (malloc/free/calloc/realloc and the
 * whole memalign family, usable size, trim, mallinfo2).
 */
#include "internal.h"

#include <malloc.h>
#include <string.h>

void *hk_api_malloc(size_t);
void hk_api_free(void *);
void *hk_api_calloc(size_t, size_t);
void *hk_api_realloc(void *, size_t);
void *hk_api_reallocarray(void *, size_t, size_t);
int hk_api_posix_memalign(void **, size_t, size_t);
void *hk_api_aligned_alloc(size_t, size_t);
void *hk_api_memalign(size_t, size_t);
void *hk_api_valloc(size_t);
void *hk_api_pvalloc(size_t);
size_t hk_api_usable_size(const void *);
int hk_api_malloc_trim(size_t);

HK_PUBLIC void *malloc(size_t n) { return hk_api_malloc(n); }
HK_PUBLIC void free(void *p) { hk_api_free(p); }
HK_PUBLIC void *calloc(size_t c, size_t n) { return hk_api_calloc(c, n); }
HK_PUBLIC void *realloc(void *p, size_t n) { return hk_api_realloc(p, n); }
HK_PUBLIC void *reallocarray(void *p, size_t c, size_t n) {
  return hk_api_reallocarray(p, c, n);
}
HK_PUBLIC int posix_memalign(void **out, size_t a, size_t n) {
  return hk_api_posix_memalign(out, a, n);
}
HK_PUBLIC void *aligned_alloc(size_t a, size_t n) { return hk_api_aligned_alloc(a, n); }
HK_PUBLIC void *memalign(size_t a, size_t n) { return hk_api_memalign(a, n); }
HK_PUBLIC void *valloc(size_t n) { return hk_api_valloc(n); }
HK_PUBLIC void *pvalloc(size_t n) { return hk_api_pvalloc(n); }
HK_PUBLIC size_t malloc_usable_size(void *p) { return hk_api_usable_size(p); }
HK_PUBLIC int malloc_trim(size_t pad) { return hk_api_malloc_trim(pad); }

HK_PUBLIC struct mallinfo2 mallinfo2(void) {
  struct mallinfo2 mi;
  hak_stats_t st;
  memset(&mi, 0, sizeof mi);
  if (hak_stats_get(&st) == 0) {
    mi.arena = st.mapped_bytes;
    mi.hblks = st.large_allocs - st.large_frees;
    mi.hblkhd = st.large_live_bytes;
    mi.uordblks = st.live_bytes;
    mi.fordblks = st.mapped_bytes > st.live_bytes ? st.mapped_bytes - st.live_bytes : 0;
  }
  return mi;
}
