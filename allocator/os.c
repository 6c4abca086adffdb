/* os.c - the OS layer: the only file that calls mmap, munmap and madvise.
 *
 * Every call is counted; with HAKMEM_TIMING=1 it is also timed with rdtsc
 * (cycles).  Aligned mappings are made by over-mapping and trimming the
 * unaligned head and tail, so the result is exactly [p, p+size).
 *
 * Invariants: hk_os_map never returns memory it has not counted in
 * mapped_bytes; failures return NULL with errno = ENOMEM and leave nothing
 * mapped.  Nothing here allocates from the heap.
 */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <x86intrin.h>

static struct {
  _Atomic uint64_t calls[3];
  _Atomic uint64_t cycles[3];
  _Atomic int64_t mapped;
} os_stat;

enum { OS_MMAP, OS_MUNMAP, OS_MADVISE };

static inline uint64_t os_clock(void) {
  return hk_opt.timing ? __rdtsc() : 0;
}
static inline void os_count(int which, uint64_t t0) {
  atomic_fetch_add_explicit(&os_stat.calls[which], 1, memory_order_relaxed);
  if (hk_opt.timing)
    atomic_fetch_add_explicit(&os_stat.cycles[which], __rdtsc() - t0,
                              memory_order_relaxed);
}

static void *os_mmap(size_t size) {
  uint64_t t0 = os_clock();
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  os_count(OS_MMAP, t0);
  if (p == MAP_FAILED) {
    errno = ENOMEM;
    return NULL;
  }
  atomic_fetch_add_explicit(&os_stat.mapped, (int64_t)size, memory_order_relaxed);
  return p;
}

void hk_os_unmap(void *p, size_t size) {
  if (size == 0) return;
  uint64_t t0 = os_clock();
  int saved = errno;
  munmap(p, size);
  errno = saved;
  os_count(OS_MUNMAP, t0);
  atomic_fetch_sub_explicit(&os_stat.mapped, (int64_t)size, memory_order_relaxed);
}

void *hk_os_map(size_t size, size_t align) {
  HK_ASSERT(size % HK_PAGE == 0 && (align & (align - 1)) == 0);
  if (align <= HK_PAGE) return os_mmap(size);
  if (size > SIZE_MAX - align) {
    errno = ENOMEM;
    return NULL;
  }
  /* Over-map by align - page, then trim both ends. */
  size_t span = size + align - HK_PAGE;
  char *raw = os_mmap(span);
  if (raw == NULL) return NULL;
  char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
  size_t head = (size_t)(p - raw);
  size_t tail = span - head - size;
  if (head) hk_os_unmap(raw, head);
  if (tail) hk_os_unmap(p + size, tail);
  return p;
}

int hk_os_advise(void *p, size_t size, int advice) {
  uint64_t t0 = os_clock();
  int saved = errno;
  int rc = madvise(p, size, advice);
  errno = saved;
  os_count(OS_MADVISE, t0);
  return rc;
}

void hk_os_stats(hk_os_stats_t *out) {
  out->mmap_calls = atomic_load(&os_stat.calls[OS_MMAP]);
  out->munmap_calls = atomic_load(&os_stat.calls[OS_MUNMAP]);
  out->madvise_calls = atomic_load(&os_stat.calls[OS_MADVISE]);
  out->mmap_cycles = atomic_load(&os_stat.cycles[OS_MMAP]);
  out->munmap_cycles = atomic_load(&os_stat.cycles[OS_MUNMAP]);
  out->madvise_cycles = atomic_load(&os_stat.cycles[OS_MADVISE]);
  int64_t m = atomic_load(&os_stat.mapped);
  out->mapped_bytes = m > 0 ? (uint64_t)m : 0;
}
