/* zero.c - malloc(0) in the checked builds: a unique pointer into memory
 * that no access reaches.  Release hands out a 15-byte class block instead
 * and compiles none of this.
 *
 * One 2 MiB region, reserved on the first malloc(0) (hk_os_map, then
 * hk_os_protect to PROT_NONE: no page of it is ever made accessible), is cut
 * into 131072 slots of 16 bytes; a bitmap (BSS) keeps which are handed out.
 * A cursor walks the slots round the region, so a freed slot comes back
 * only after every other slot has been handed out once (delayed reuse).
 * The region fills its own 2 MiB chunk, which the registry keeps as
 * HK_CHUNK_NONE: to every other path its pointers are foreign, and free,
 * realloc and usable size ask hk_zero_owns first on their foreign branch.
 *
 * Invariants:
 *   - a slot's bit is set exactly while its pointer is handed out; set and
 *     cleared with atomic read-modify-writes (any thread may free); the
 *     counts of both (hk_zero_counts) enter hak_stats_get's totals as
 *     blocks of 0 bytes;
 *   - the region is never unmapped nor made accessible, so a read or a
 *     write through any of its pointers, live or freed, faults (SIGSEGV);
 *   - with every slot handed out (or no region) hk_zero_alloc returns
 *     NULL and the caller falls back to a class block.
 */
#include "internal.h"

#if HK_ON(HARDEN)
#define ZERO_SIZE  HK_SS_SIZE
#define ZERO_SLOTS (ZERO_SIZE / HK_ALIGN)
#define ZERO_PROBES 64                   /* slots tried before giving up */

static _Atomic uintptr_t zero_base;      /* 0 until the region is made   */
static _Atomic uint64_t zero_live[ZERO_SLOTS / 64];
static _Atomic uint32_t zero_cursor;
static _Atomic uint64_t zero_allocs, zero_frees; /* for hak_stats_get */

static uintptr_t zero_region(void) {
  uintptr_t b = atomic_load_explicit(&zero_base, memory_order_acquire);
  if (HK_LIKELY(b != 0)) return b;
  void *m = hk_os_map(ZERO_SIZE, ZERO_SIZE);
  if (m == NULL) return 0;
  if (hk_os_protect(m, ZERO_SIZE, 0) != 0) {
    hk_os_unmap(m, ZERO_SIZE);
    return 0;
  }
  uintptr_t expect = 0;
  if (!atomic_compare_exchange_strong_explicit(&zero_base, &expect, (uintptr_t)m,
                                               memory_order_acq_rel, memory_order_acquire)) {
    hk_os_unmap(m, ZERO_SIZE); /* another thread made it first */
    return expect;
  }
  return (uintptr_t)m;
}

void *hk_zero_alloc(void) {
  uintptr_t b = zero_region();
  if (b == 0) return NULL;
  for (unsigned t = 0; t < ZERO_PROBES; t++) {
    uint32_t i = atomic_fetch_add_explicit(&zero_cursor, 1, memory_order_relaxed) % ZERO_SLOTS;
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (!(atomic_fetch_or_explicit(&zero_live[i >> 6], bit, memory_order_relaxed) & bit)) {
      atomic_fetch_add_explicit(&zero_allocs, 1, memory_order_relaxed);
      return (void *)(b + (uintptr_t)i * HK_ALIGN);
    }
  }
  return NULL;
}

int hk_zero_owns(const void *p) {
  uintptr_t b = atomic_load_explicit(&zero_base, memory_order_relaxed);
  return b != 0 && (uintptr_t)p - b < ZERO_SIZE;
}

/* The slot of p, after the checks for op (HK_OP_*): a slot start, handed
 * out.  Aborts otherwise. */
static uint32_t zero_slot(const void *p, int op) {
  static const char *const unaligned[2] = {"invalid free (unaligned pointer)",
                                           "invalid realloc (unaligned pointer)"};
  static const char *const freed[2] = {"double free", "realloc of a freed block"};
  uintptr_t off = (uintptr_t)p - atomic_load_explicit(&zero_base, memory_order_relaxed);
  HK_CHECK(HARDEN, off % HK_ALIGN == 0, unaligned[op], p, -1);
  uint32_t i = (uint32_t)(off / HK_ALIGN);
  HK_CHECK(HARDEN, atomic_load_explicit(&zero_live[i >> 6], memory_order_relaxed) >> (i & 63) & 1,
           freed[op], p, -1);
  return i;
}

void hk_zero_check(const void *p, int op) { (void)zero_slot(p, op); }

void hk_zero_free(const void *p, int op) {
  uint32_t i = zero_slot(p, op);
  uint64_t bit = (uint64_t)1 << (i & 63);
  /* two frees racing: the loser finds the bit clear */
  HK_CHECK(HARDEN, atomic_fetch_and_explicit(&zero_live[i >> 6], ~bit, memory_order_relaxed) & bit,
           op ? "realloc of a freed block" : "double free", p, -1);
  atomic_fetch_add_explicit(&zero_frees, 1, memory_order_relaxed);
}

void hk_zero_counts(uint64_t *allocs, uint64_t *frees) {
  *allocs = atomic_load_explicit(&zero_allocs, memory_order_relaxed);
  *frees = atomic_load_explicit(&zero_frees, memory_order_relaxed);
}

#else  /* release: malloc(0) is a class block; nothing is ever owned here */
void *hk_zero_alloc(void) { return NULL; }
int hk_zero_owns(const void *p) { (void)p; return 0; }
void hk_zero_check(const void *p, int op) { (void)p, (void)op; }
void hk_zero_free(const void *p, int op) { (void)p, (void)op; }
void hk_zero_counts(uint64_t *allocs, uint64_t *frees) { *allocs = *frees = 0; }
#endif
