/* hakmem.h - public API of the hakmem allocator.
 *
 * Every libc allocation entry point has a hak_ twin here.  libhakmem.so and
 * libhakmem.a also export the libc names (malloc, free, ...) so the library
 * can replace the system allocator by LD_PRELOAD or by static linking.
 *
 * Invariants the API guarantees in every variant (release, debug, hardened):
 *  - returned pointers are 16-byte aligned (or the requested alignment);
 *  - hak_malloc_usable_size(p) >= the requested size, and every usable byte
 *    is writable;
 *  - failure returns NULL (or an error code for hak_posix_memalign) with
 *    errno ENOMEM for impossible sizes / exhausted memory and EINVAL for bad
 *    alignments; running out of memory never crashes.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: hak_class_stats_t.canary (the layout of hak_stats_t changed) */
#define HAKMEM_API_VERSION 2

/* ---- allocation API ------------------------------------------------------ */
void  *hak_malloc(size_t size);
void   hak_free(void *ptr);
void  *hak_calloc(size_t count, size_t size);
void  *hak_realloc(void *ptr, size_t size);
void  *hak_reallocarray(void *ptr, size_t count, size_t size);
int    hak_posix_memalign(void **out, size_t alignment, size_t size);
void  *hak_aligned_alloc(size_t alignment, size_t size);
void  *hak_memalign(size_t alignment, size_t size);
void  *hak_valloc(size_t size);
void  *hak_pvalloc(size_t size);
size_t hak_malloc_usable_size(const void *ptr);
/* Return cached free memory to the OS.  Returns 1 if memory was released. */
int    hak_malloc_trim(size_t pad);

/* ---- introspection ------------------------------------------------------- */
/* "release", "debug" or "hardened". */
const char *hak_variant(void);
/* 0 = release, 1 = hardened, 2 = debug (see allocator/config.h). */
int hak_check_level(void);
/* Name of the compiled-in bug (HAKMEM_INJECT), or "" for none. */
const char *hak_injected_bug(void);

/* Write the table of HAKMEM_* environment options as markdown to fd
 * (the source of docs/options.md). */
void hak_options_markdown(int fd);

/* Forced races (hardened, debug and TSan builds; HAKMEM_RACE, docs/options.md):
 * decide(point, arg) is asked at every race point instead of HAKMEM_RACE's
 * rate; a nonzero answer at a compare-and-swap point (the remote-free push,
 * the slab park) makes that attempt fail.  hakmem does not yield for a
 * hook: decide may yield or switch threads itself.  NULL goes back to
 * HAKMEM_RACE.  Set it while no other thread uses the allocator.
 * Returns 0, or -1 in builds without race points (release). */
int hak_race_hook(int (*decide)(unsigned point, void *arg), void *arg);

/* Full heap walk.  Returns 0 when the heap is consistent, a positive count of
 * problems found (each also reported on stderr), or -1 when this build has
 * no heap walk (release). */
int hak_check_heap(void);

/* The OS fault layer (checked builds: hardened, debug and the fuzz builds;
 * docs/oracle.md, "OS faults").  Deterministic faults under the OS layer,
 * so that tests run the allocator's out-of-memory paths and see what the
 * kernel may do with the pages it is given back:
 *   HAK_FAULT_MAP, a = n, b = k      the mmap and mremap calls numbered
 *       n .. n+k-1 from now (n = 1: the next one) fail with ENOMEM, as the
 *       kernel's do when memory or address space runs out (k = 0: none);
 *   HAK_FAULT_MAP_RATE, a = r, b = seed   from now each mmap and mremap
 *       call fails with probability r / 65536, drawn from the seed and the
 *       call's number (r = 0: none);
 *   HAK_FAULT_RECLAIM, a = mode, b = seed   pages given back with MADV_FREE
 *       read zero from then on (HAK_RECLAIM_ZERO: the kernel reclaimed
 *       them), keep their contents (HAK_RECLAIM_DIRTY: it did not), or
 *       either, page by page, drawn from the seed (HAK_RECLAIM_MIXED);
 *       HAK_RECLAIM_KERNEL: as the kernel does.  MADV_DONTNEED pages read
 *       zero in every mode, as anonymous private pages do;
 *   HAK_FAULT_OFF                    every plan ends.
 * A MAP or MAP_RATE plan replaces the map plan before it and numbers the
 * calls from 1 again; the reclaim mode is set on its own.  Returns 0, or -1
 * with errno ENOSYS (release builds: no fault layer) or EINVAL (unknown
 * kind or mode). */
enum { HAK_FAULT_OFF = 0, HAK_FAULT_MAP = 1, HAK_FAULT_MAP_RATE = 2, HAK_FAULT_RECLAIM = 3 };
enum { HAK_RECLAIM_KERNEL = 0, HAK_RECLAIM_ZERO = 1, HAK_RECLAIM_DIRTY = 2,
       HAK_RECLAIM_MIXED = 3 };
int hak_os_fault(int kind, uint64_t a, uint64_t b);
typedef struct hak_os_fault_stats {
  uint64_t map_calls;     /* mmap and mremap calls since the map plan was set */
  uint64_t map_failed;    /* calls failed by the layer, in all               */
  uint64_t pages_zeroed;  /* MADV_FREE pages made to read zero, in all        */
  uint64_t pages_dirty;   /* MADV_FREE pages left with their contents, in all */
} hak_os_fault_stats_t;
/* 0, or -1 with errno ENOSYS in release builds (*out zeroed). */
int hak_os_fault_stats(hak_os_fault_stats_t *out);

#define HAK_STATS_MAX_CLASSES 64

typedef struct hak_class_stats {
  uint32_t size;        /* largest request served by the class */
  uint32_t stride;      /* bytes between consecutive blocks    */
  uint32_t usable;      /* usable bytes of one block           */
  uint32_t header;      /* in-band header bytes (0 or 1)       */
  uint32_t canary;      /* canary bytes after the usable ones (checked
                           builds; 0 in release): stride = usable +
                           header + canary */
  uint64_t allocs;      /* blocks handed out                   */
  uint64_t frees;       /* blocks given back (local + remote)  */
  uint64_t remote_frees;/* frees from a thread other than the owner */
  uint64_t refills;     /* slow-path refills (carve or drain)  */
  uint64_t slabs;       /* slabs currently assigned to the class */
} hak_class_stats_t;

typedef struct hak_stats {
  uint32_t version;          /* HAKMEM_API_VERSION */
  uint32_t nclasses;         /* entries used in cls[] */
  /* live set, exact when no other thread is allocating */
  uint64_t live_blocks;      /* blocks allocated and not yet freed       */
  uint64_t live_bytes;       /* sum of the live blocks' block sizes: each
                                block's full usable size, so for a block
                                handed out at an aligned interior offset
                                it exceeds hak_malloc_usable_size(ptr) by
                                that offset; always >= the bytes requested */
  uint64_t allocs, frees;    /* totals over all paths                    */
  /* blocks served by direct mappings (above the pooled classes) */
  uint64_t large_allocs, large_frees, large_live_bytes;
  /* superslabs */
  uint64_t superslabs_live;      /* mapped and in use          */
  uint64_t superslabs_cached;    /* empty, kept for reuse      */
  uint64_t superslabs_mapped;    /* total ever mapped          */
  uint64_t superslabs_unmapped;  /* total given back to the OS */
  /* threads */
  uint64_t threads_started, threads_exited;
  uint64_t slabs_abandoned, slabs_adopted, remote_drains;
  /* OS layer */
  uint64_t mmap_calls, munmap_calls, madvise_calls;
  uint64_t mmap_cycles, munmap_cycles, madvise_cycles; /* HAKMEM_TIMING=1 */
  uint64_t mapped_bytes;     /* currently mapped by hakmem */
  hak_class_stats_t cls[HAK_STATS_MAX_CLASSES];
  /* whale path (blocks above the class range) and its cache */
  uint64_t whale_hits, whale_misses, whale_evictions, whale_remaps;
  uint64_t whale_cached_bytes, whale_cached_count;
  /* OS layer, continued */
  uint64_t mremap_calls, mremap_cycles;
  uint64_t prefaulted_bytes, thp_advised, hugetlb_maps, hugetlb_fallbacks;
  uint64_t lazy_zeroed_bytes;  /* zeroed by MADV_DONTNEED (HAKMEM_LAZY_ZERO) */
  /* Page-fault telemetry by bucket (HAK_BUCKET_*): minor faults taken
   * inside the allocator (counted with HAKMEM_STATS=1 only), and pages the
   * allocator handed out for the first time since their superslab or whale
   * mapping was made, or since lazy zeroing gave them back (each costs one
   * minor fault when first touched, by the allocator or the program, unless
   * prefaulted). */
  uint64_t faults[5], fresh_pages[5];
} hak_stats_t;

/* Buckets of the page-fault telemetry. */
enum { HAK_BUCKET_TINY, HAK_BUCKET_MID, HAK_BUCKET_L25, HAK_BUCKET_WHALE,
       HAK_BUCKET_META };

/* Fill *out with a snapshot.  Returns 0 on success. */
int  hak_stats_get(hak_stats_t *out);
/* Print the stats dump (the HAKMEM_STATS=1 output) to fd. */
void hak_stats_print(int fd);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */
