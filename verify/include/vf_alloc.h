/* vf_alloc.h - allocator vtable used by the shadow-heap oracle.
 *
 * A vf_alloc_t describes one malloc implementation: the libc-shaped entry
 * points plus optional introspection (stats, heap walk, class bound).  The
 * oracle only ever calls an allocator through this table, so the same checks
 * run against hakmem (hak_* API), the system malloc, or any malloc-compatible
 * shared object loaded with dlopen.
 *
 * Invariants:
 *  - malloc, free, calloc, realloc are never NULL in a usable table;
 *    the memalign family and usable_size may be NULL (the oracle then skips
 *    those ops or assumes usable == requested size);
 *  - a block is only ever freed through the table that allocated it.
 */
#ifndef VF_ALLOC_H
#define VF_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Live-set summary an allocator may report (hakmem: hak_stats_get). */
typedef struct vf_stats {
  uint64_t live_blocks; /* blocks allocated and not yet freed */
  uint64_t live_bytes;  /* usable bytes of those blocks        */
  uint64_t mapped_bytes; /* memory the allocator holds from the OS (its
                            footprint); 0 when it does not say */
} vf_stats_t;

typedef struct vf_alloc {
  const char *name;
  void *(*malloc)(size_t size);
  void (*free)(void *ptr);
  void *(*calloc)(size_t nmemb, size_t size);
  void *(*realloc)(void *ptr, size_t size);
  int (*posix_memalign)(void **out, size_t align, size_t size);
  void *(*aligned_alloc)(size_t align, size_t size);
  void *(*memalign)(size_t align, size_t size);
  size_t (*usable_size)(void *ptr);
  /* optional: 0 on success */
  int (*stats_get)(vf_stats_t *out);
  /* optional: 0 = consistent, >0 = problems found, <0 = no heap walk */
  int (*check_heap)(void);
  /* optional: largest usable size the allocator may hand out for a request
   * of `size` bytes (alignment `align`, 0 = default); 0 = no bound known */
  size_t (*usable_bound)(size_t size, size_t align);
  /* alignment every result must have: 16, or 0 for the size-dependent rule
   * (a request of n < 16 bytes needs only the largest power of two <= n,
   * as jemalloc's 8-byte class does) */
  size_t min_align;
  /* optional: give cached memory back to the OS (malloc_trim(pad)) */
  int (*trim)(size_t pad);
  /* optional: the OS fault layer (hakmem's checked builds: hak_os_fault,
   * kind and numbers as there; vf_fault.h), 0 on success; and the count of
   * mmap/mremap calls it has failed so far */
  int (*os_fault)(int kind, uint64_t a, uint64_t b);
  uint64_t (*os_failed)(void);
  /* optional: cleanup for dlopen handles etc. */
  void (*close)(struct vf_alloc *self);
  void *handle; /* backend private */
} vf_alloc_t;

/* The C library's allocator (whatever `malloc` binds to in this process). */
const vf_alloc_t *vf_alloc_system(void);

/* hakmem through the hak_* API; NULL when this build has no hakmem. */
const vf_alloc_t *vf_alloc_hakmem(void);

/* Load a malloc-compatible shared object with dlopen(RTLD_LOCAL|RTLD_NOW).
 * Optional hak_stats_get / hak_check_heap exports are used when present.
 * Returns NULL and fills err on failure.  Free with vf_alloc_close. */
vf_alloc_t *vf_alloc_dlopen(const char *path, char *err, size_t errlen);

/* "system", "hakmem", or a path to a .so (anything containing '/' or ending
 * in .so).  Short names "jemalloc", "mimalloc", "tcmalloc" map to the Debian
 * library paths. */
vf_alloc_t *vf_alloc_by_name(const char *name, char *err, size_t errlen);
void vf_alloc_close(vf_alloc_t *a);

#ifdef __cplusplus
}
#endif
#endif
