/* os.c - the OS layer: the only file that calls mmap, munmap, mremap,
 * madvise and mprotect (guard pages of the checked builds), and the home of
 * the OS-level policies.
 *
 * Every call is counted; with HAKMEM_TIMING=1 it is also timed with rdtsc
 * (cycles).  Aligned mappings are made by over-mapping and trimming the
 * unaligned head and tail, so the result is exactly [p, p+size), at an
 * address the kernel's top-down gap search chose: holes left by earlier
 * unmaps are reused, and a process that maps and unmaps in a loop stays in
 * the same addresses.  (A hint "just below the last mapping", tried in
 * 5e8f757, saved the two trims but walked such a process down its address
 * space, one new range per cycle: under ASan, whose shadow of every range
 * touched stays resident, fuzz_trace grew to 4.8 GB RSS in 30 s;
 * test_mapping_addresses_bounded.)
 *
 * Policies for block memory (hk_os_map_data; metadata never gets them):
 *   HAKMEM_HUGETLB=1   MAP_HUGETLB 2 MiB pages; when the kernel has none
 *                      reserved, one log line and normal pages from then on;
 *   HAKMEM_THP=1|2     madvise MADV_HUGEPAGE / MADV_NOHUGEPAGE;
 *   HAKMEM_PREFAULT    1 MAP_POPULATE, 2 MADV_POPULATE_WRITE (falling back
 *                      to touching each page on kernels without it), 3 touch.
 * Lazy zeroing (hk_os_zero_lazy) gives whole pages back with MADV_DONTNEED,
 * so the kernel supplies zero pages on the next touch.
 *
 * Decay clock: hk_now_ms (CLOCK_MONOTONIC_COARSE, read through the vDSO)
 * and the decay epoch (internal.h) that the layers stamp idle memory with.
 *
 * Fault telemetry: with HAKMEM_STATS=1 the layers wrap their first touches
 * of fresh memory in hk_fault_begin/hk_fault_end, which read the thread's
 * minor-fault count (getrusage RUSAGE_THREAD) and charge the difference to
 * a bucket.  (Fresh pages handed out are counted per heap: heap.c.)
 *
 * Fault layer (checked builds; hak_os_fault in hakmem.h, docs/oracle.md
 * "OS faults"): a plan makes chosen mmap/mremap calls fail with ENOMEM
 * (the Nth .. Mth from the plan on, or at a rate drawn from a seed and the
 * call's number) and chooses what MADV_FREE'd pages read afterwards (zero,
 * as after the kernel reclaimed them, done by MADV_DONTNEED; their old
 * contents, the madvise left out; page by page either).  Release builds
 * compile none of it (HK_ON(HARDEN) is 0): their code is the same.
 *
 * Invariants: hk_os_map* never returns memory it has not counted in
 * mapped_bytes; failures return NULL with errno = ENOMEM and leave nothing
 * mapped; errno is preserved across successful calls.  Nothing here
 * allocates from the heap.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <x86intrin.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define HK_MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)

enum { OS_MMAP, OS_MUNMAP, OS_MADVISE, OS_MREMAP, OS_NCALLS };

static struct {
  _Atomic uint64_t calls[OS_NCALLS];
  _Atomic uint64_t cycles[OS_NCALLS];
  _Atomic int64_t mapped;
  _Atomic uint64_t prefaulted, thp_advised, hugetlb_maps, hugetlb_fallbacks;
  _Atomic uint64_t lazy_zeroed;
  _Atomic int hugetlb_off;      /* set after the first refused MAP_HUGETLB */
  _Atomic int populate_missing; /* MADV_POPULATE_WRITE not supported     */
  _Atomic uint64_t faults[HK_BUCKETS];
} os_stat;

static inline uint64_t os_clock(void) {
  return hk_opt.timing ? __rdtsc() : 0;
}
static inline void os_count(int which, uint64_t t0) {
  atomic_fetch_add_explicit(&os_stat.calls[which], 1, memory_order_relaxed);
  if (hk_opt.timing)
    atomic_fetch_add_explicit(&os_stat.cycles[which], __rdtsc() - t0,
                              memory_order_relaxed);
}

/* No mapping larger than the user address space a mapping without an
 * address hint can get (47 bits on x86-64, also under 5-level paging) can
 * succeed: such requests fail here without a system call. */
#define HK_OS_MAP_MAX ((size_t)1 << 47)

static int fault_map(void);

static void *os_mmap(size_t size, int extra_flags) {
  if (size > HK_OS_MAP_MAX) return NULL;
  if (HK_ON(HARDEN) && fault_map()) return NULL;
  uint64_t t0 = os_clock();
  /* MAP_NORESERVE only for normal pages: a hugetlb mapping must reserve its
   * pages at mmap time, so that "none reserved" fails here (and we fall
   * back) instead of raising SIGBUS at the first touch. */
  int noreserve = (extra_flags & MAP_HUGETLB) ? 0 : MAP_NORESERVE;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | noreserve | extra_flags, -1, 0);
  os_count(OS_MMAP, t0);
  if (p == MAP_FAILED) return NULL;
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

static void *map_aligned(size_t size, size_t align, int extra_flags) {
  int saved = errno;
  void *r = NULL;
  if (align <= HK_PAGE) {
    r = os_mmap(size, extra_flags);
  } else if (size <= SIZE_MAX - align) {
    /* Over-map by align - page, then trim both ends. */
    size_t span = size + align - HK_PAGE;
    char *raw = os_mmap(span, extra_flags);
    if (raw != NULL) {
      char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
      size_t head = (size_t)(p - raw);
      size_t tail = span - head - size;
      if (head) hk_os_unmap(raw, head);
      if (tail) hk_os_unmap(p + size, tail);
      r = p;
    }
  }
  if (r == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  errno = saved;
  return r;
}

void *hk_os_map(size_t size, size_t align) {
  HK_ASSERT(size % HK_PAGE == 0 && (align & (align - 1)) == 0);
  return map_aligned(size, align, 0);
}

static int fault_reclaim(void *p, size_t size);

int hk_os_advise(void *p, size_t size, int advice) {
  if (HK_ON(HARDEN) && advice == MADV_FREE && fault_reclaim(p, size)) return 0;
  uint64_t t0 = os_clock();
  int saved = errno;
  int rc = madvise(p, size, advice);
  if (rc != 0) rc = errno;
  errno = saved;
  os_count(OS_MADVISE, t0);
  return rc;
}

static void touch_pages(char *p, size_t size) {
  for (size_t off = 0; off < size; off += HK_PAGE) ((volatile char *)p)[off] = 0;
}

static void prefault(void *p, size_t size) {
  int mode = (int)hk_opt.prefault;
  if (mode == 2 && !atomic_load_explicit(&os_stat.populate_missing, memory_order_relaxed)) {
    int rc = hk_os_advise(p, size, MADV_POPULATE_WRITE);
    if (rc == 0) goto done;
    if (rc == EINVAL) atomic_store(&os_stat.populate_missing, 1); /* old kernel */
  }
  if (mode >= 2) touch_pages(p, size);
done:
  atomic_fetch_add_explicit(&os_stat.prefaulted, size, memory_order_relaxed);
}

void *hk_os_map_data(size_t size, size_t align, int *huge) {
  HK_ASSERT(size % HK_PAGE == 0 && (align & (align - 1)) == 0);
  *huge = 0;
  int populate = hk_opt.prefault == 1 ? MAP_POPULATE : 0;
  void *p = NULL;
  if (hk_opt.hugetlb && !atomic_load_explicit(&os_stat.hugetlb_off, memory_order_relaxed) &&
      size % HK_SS_SIZE == 0 && align <= HK_SS_SIZE && size <= HK_OS_MAP_MAX) {
    int saved = errno;
    p = os_mmap(size, MAP_HUGETLB | HK_MAP_HUGE_2MB | populate);
    errno = saved;
    if (p != NULL) {
      *huge = 1;
      atomic_fetch_add_explicit(&os_stat.hugetlb_maps, 1, memory_order_relaxed);
    } else if (!atomic_exchange(&os_stat.hugetlb_off, 1)) {
      atomic_fetch_add_explicit(&os_stat.hugetlb_fallbacks, 1, memory_order_relaxed);
      hk_line_t l = {.len = 0};
      hk_line_str(&l, "hakmem: HAKMEM_HUGETLB=1 but no 2 MiB huge pages could be "
                      "mapped (see /proc/sys/vm/nr_hugepages); using normal pages");
      hk_line_end(&l, 2);
    }
  }
  if (p == NULL) {
    p = map_aligned(size, align, populate);
    if (p == NULL) return NULL;
    if (hk_opt.thp) {
      hk_os_advise(p, size, hk_opt.thp == 1 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
      atomic_fetch_add_explicit(&os_stat.thp_advised, 1, memory_order_relaxed);
    }
  }
  if (hk_opt.prefault == 1) atomic_fetch_add_explicit(&os_stat.prefaulted, size, memory_order_relaxed);
  /* INJECTED BUG (PREFAULT_OVERREACH): the prefault covers the span
   * map_aligned over-mapped (size + align - page), not the mapping left
   * after the trim: the pages past its end are someone else's, or none */
  else if (hk_opt.prefault >= 2)
    prefault(p, HK_INJECT(PREFAULT_OVERREACH) && align > HK_PAGE ? size + align - HK_PAGE : size);
  return p;
}

void *hk_os_remap(void *p, size_t old_size, size_t new_size, void *fixed) {
  if (HK_ON(HARDEN) && fault_map()) return NULL;
  uint64_t t0 = os_clock();
  int saved = errno;
  void *r = fixed == NULL ? mremap(p, old_size, new_size, 0)
                          : mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, fixed);
  errno = saved;
  os_count(OS_MREMAP, t0);
  if (r == MAP_FAILED) return NULL;
  atomic_fetch_add_explicit(&os_stat.mapped, (int64_t)new_size - (int64_t)old_size,
                            memory_order_relaxed);
  if (fixed != NULL) /* the reservation at fixed was replaced by the move */
    atomic_fetch_sub_explicit(&os_stat.mapped, (int64_t)new_size, memory_order_relaxed);
  return r;
}

uint64_t hk_os_zero_lazy(void *p, size_t n) {
  char *b = p, *e = b + n;
  char *pb = (char *)(((uintptr_t)b + HK_PAGE - 1) & ~(uintptr_t)(HK_PAGE - 1));
  char *pe = (char *)((uintptr_t)e & ~(uintptr_t)(HK_PAGE - 1));
  uint64_t released = 0;
  if (pe <= pb) {
    memset(b, 0, n);
    return 0;
  }
  memset(b, 0, (size_t)(pb - b));
  if (hk_os_advise(pb, (size_t)(pe - pb), MADV_DONTNEED) != 0) {
    memset(pb, 0, (size_t)(pe - pb));
  } else {
    atomic_fetch_add_explicit(&os_stat.lazy_zeroed, (uint64_t)(pe - pb), memory_order_relaxed);
    released = (uint64_t)(pe - pb) / HK_PAGE;
  }
  /* INJECTED BUG (LAZY_ZERO_TAIL): n taken for a whole number of pages,
   * the bytes after the last whole page are left as they were */
  if (!HK_INJECT(LAZY_ZERO_TAIL)) memset(pe, 0, (size_t)(e - pe));
  return released;
}

void hk_os_stats(hak_stats_t *out) {
  out->mmap_calls = atomic_load(&os_stat.calls[OS_MMAP]);
  out->munmap_calls = atomic_load(&os_stat.calls[OS_MUNMAP]);
  out->madvise_calls = atomic_load(&os_stat.calls[OS_MADVISE]);
  out->mremap_calls = atomic_load(&os_stat.calls[OS_MREMAP]);
  out->mmap_cycles = atomic_load(&os_stat.cycles[OS_MMAP]);
  out->munmap_cycles = atomic_load(&os_stat.cycles[OS_MUNMAP]);
  out->madvise_cycles = atomic_load(&os_stat.cycles[OS_MADVISE]);
  out->mremap_cycles = atomic_load(&os_stat.cycles[OS_MREMAP]);
  int64_t m = atomic_load(&os_stat.mapped);
  out->mapped_bytes = m > 0 ? (uint64_t)m : 0;
  out->prefaulted_bytes = atomic_load(&os_stat.prefaulted);
  out->thp_advised = atomic_load(&os_stat.thp_advised);
  out->hugetlb_maps = atomic_load(&os_stat.hugetlb_maps);
  out->hugetlb_fallbacks = atomic_load(&os_stat.hugetlb_fallbacks);
  out->lazy_zeroed_bytes = atomic_load(&os_stat.lazy_zeroed);
}

/* ---- fault telemetry ------------------------------------------------------ */
uint64_t hk_fault_begin(void) {
  if (!hk_opt.stats) return 0;
  struct rusage ru;
  int saved = errno;
  getrusage(RUSAGE_THREAD, &ru);
  errno = saved;
  return (uint64_t)ru.ru_minflt;
}

void hk_fault_end(unsigned bucket, uint64_t begin) {
  if (!hk_opt.stats) return;
  uint64_t now = hk_fault_begin();
  if (now > begin)
    atomic_fetch_add_explicit(&os_stat.faults[bucket], now - begin, memory_order_relaxed);
}

void hk_fault_counts(uint64_t faults[HK_BUCKETS]) {
  for (unsigned b = 0; b < HK_BUCKETS; b++) {
    faults[b] = atomic_load(&os_stat.faults[b]);
  }
}

/* ---- decay clock ------------------------------------------------------------ */
_Atomic uint64_t hk_decay_epoch = 1;
uint64_t hk_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* vDSO: no system call */
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Guard pages (checked builds): make [p, p+size) inaccessible (rw == 0) or
 * readable and writable again (rw == 1). */
int hk_os_protect(void *p, size_t size, int rw) {
  int saved = errno;
  int rc = mprotect(p, size, rw ? PROT_READ | PROT_WRITE : PROT_NONE);
  errno = saved;
  return rc;
}

/* ---- the OS fault layer (checked builds) -----------------------------------
 * One plan for the process, set through hak_os_fault.  `on` is read first
 * (relaxed: a plan is set while no other thread allocates, as the tests and
 * the replayer do), so an unplanned call costs one load.  Calls are
 * numbered from 1 when a map plan is set; a rate plan fails call n when
 * mix(seed, n) mod 65536 is below the rate, so one seed gives one sequence
 * of failures, and a replay of the same operations the same failures.
 * Reclaim: MADV_FREE pages are zeroed (MADV_DONTNEED: what the kernel's
 * reclaim leaves) or kept (the madvise is left out: the kernel had no need
 * of them) at the madvise, the earliest moment the kernel may reclaim
 * them; MIXED draws each page from the seed and a running page count. */
static struct {
  _Atomic int on;                      /* a map plan or a reclaim mode is set */
  _Atomic uint64_t calls;              /* mmap/mremap calls since the map plan */
  _Atomic uint64_t first, last;        /* fail calls first..last (0: none)     */
  _Atomic uint64_t rate, seed;         /* fail at rate / 65536, from seed      */
  _Atomic int reclaim;                 /* HAK_RECLAIM_*                        */
  _Atomic uint64_t reclaim_seed, pages_seen;
  _Atomic uint64_t failed, zeroed, dirty;
} fault;

static uint64_t fault_mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* 1 when this mmap/mremap call is to fail: the caller goes on as after
 * the kernel's ENOMEM (os_mmap's callers set errno, hk_os_remap keeps it). */
static int fault_map(void) {
  if (!atomic_load_explicit(&fault.on, memory_order_relaxed)) return 0;
  uint64_t n = atomic_fetch_add_explicit(&fault.calls, 1, memory_order_relaxed) + 1;
  uint64_t first = atomic_load_explicit(&fault.first, memory_order_relaxed);
  uint64_t rate = atomic_load_explicit(&fault.rate, memory_order_relaxed);
  int fail = first != 0 && n >= first && n <= atomic_load_explicit(&fault.last, memory_order_relaxed);
  if (!fail && rate != 0)
    fail = (fault_mix(atomic_load_explicit(&fault.seed, memory_order_relaxed) ^ fault_mix(n)) &
            0xFFFF) < rate;
  if (!fail) return 0;
  atomic_fetch_add_explicit(&fault.failed, 1, memory_order_relaxed);
  return 1;
}

/* MADV_FREE of [p, p+size) under a reclaim mode: 1 when done here. */
static int fault_reclaim(void *p, size_t size) {
  if (!atomic_load_explicit(&fault.on, memory_order_relaxed)) return 0;
  int mode = atomic_load_explicit(&fault.reclaim, memory_order_relaxed);
  if (mode == HAK_RECLAIM_KERNEL) return 0;
  size_t pages = size / HK_PAGE;
  if (mode == HAK_RECLAIM_ZERO || mode == HAK_RECLAIM_DIRTY) {
    if (mode == HAK_RECLAIM_ZERO) hk_os_advise(p, size, MADV_DONTNEED);
    atomic_fetch_add_explicit(mode == HAK_RECLAIM_ZERO ? &fault.zeroed : &fault.dirty, pages,
                              memory_order_relaxed);
    return 1;
  }
  /* MIXED: runs of pages with the same draw, one madvise per zeroed run */
  uint64_t seed = atomic_load_explicit(&fault.reclaim_seed, memory_order_relaxed);
  uint64_t k0 = atomic_fetch_add_explicit(&fault.pages_seen, pages, memory_order_relaxed);
  size_t i = 0;
  while (i < pages) {
    int zero = (int)(fault_mix(seed ^ fault_mix(k0 + i)) & 1);
    size_t j = i + 1;
    while (j < pages && (int)(fault_mix(seed ^ fault_mix(k0 + j)) & 1) == zero) j++;
    if (zero) hk_os_advise((char *)p + i * HK_PAGE, (j - i) * HK_PAGE, MADV_DONTNEED);
    atomic_fetch_add_explicit(zero ? &fault.zeroed : &fault.dirty, j - i, memory_order_relaxed);
    i = j;
  }
  return 1;
}

static void fault_set_on(void) {
  int on = atomic_load(&fault.first) != 0 || atomic_load(&fault.rate) != 0 ||
           atomic_load(&fault.reclaim) != HAK_RECLAIM_KERNEL;
  atomic_store(&fault.on, on);
}

HK_PUBLIC int hak_os_fault(int kind, uint64_t a, uint64_t b) {
  if (!HK_ON(HARDEN)) {
    errno = ENOSYS;
    return -1;
  }
  switch (kind) {
  case HAK_FAULT_OFF:
    atomic_store(&fault.first, 0);
    atomic_store(&fault.rate, 0);
    atomic_store(&fault.reclaim, HAK_RECLAIM_KERNEL);
    break;
  case HAK_FAULT_MAP:
  case HAK_FAULT_MAP_RATE:
    atomic_store(&fault.on, 0);
    atomic_store(&fault.calls, 0);
    atomic_store(&fault.first, kind == HAK_FAULT_MAP && b != 0 ? (a ? a : 1) : 0);
    atomic_store(&fault.last, kind == HAK_FAULT_MAP && b != 0 ? (a ? a : 1) + b - 1 : 0);
    if (kind == HAK_FAULT_MAP && b != 0 && a + b - 1 < a) atomic_store(&fault.last, UINT64_MAX);
    atomic_store(&fault.rate, kind == HAK_FAULT_MAP_RATE ? (a > 65536 ? 65536 : a) : 0);
    atomic_store(&fault.seed, b);
    break;
  case HAK_FAULT_RECLAIM:
    if (a > HAK_RECLAIM_MIXED) {
      errno = EINVAL;
      return -1;
    }
    atomic_store(&fault.reclaim, (int)a);
    atomic_store(&fault.reclaim_seed, b);
    atomic_store(&fault.pages_seen, 0);
    break;
  default:
    errno = EINVAL;
    return -1;
  }
  fault_set_on();
  return 0;
}

HK_PUBLIC int hak_os_fault_stats(hak_os_fault_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (!HK_ON(HARDEN)) {
    errno = ENOSYS;
    return -1;
  }
  out->map_calls = atomic_load(&fault.calls);
  out->map_failed = atomic_load(&fault.failed);
  out->pages_zeroed = atomic_load(&fault.zeroed);
  out->pages_dirty = atomic_load(&fault.dirty);
  return 0;
}
