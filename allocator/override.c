/* override.c - the libc names that are not plain aliases of a hak_
 * function: malloc_usable_size (a non-const pointer in glibc's prototype)
 * and mallinfo2.  The others (malloc, free, calloc, realloc, reallocarray,
 * the memalign family, malloc_trim) are aliases defined at the end of
 * alloc.c and free.c, compiled with HAKMEM_LIBC_NAMES for libhakmem.so and
 * libhakmem.a (allocator/CMakeLists.txt).  Linked into those two libraries,
 * never into hakmem_core, so sanitizer builds keep their own malloc.
 *
 * Invariant: no libc allocation entry point a program may call is left
 * to glibc while its partners are ours (malloc/free/calloc/realloc and the
 * whole memalign family, usable size, trim, mallinfo2).
 */
#include "internal.h"

#include <malloc.h>
#include <string.h>

HK_PUBLIC size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }

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
