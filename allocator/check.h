/* check.h - variant checks: the only place that decides what each build
 * variant verifies.
 *
 * HAKMEM_CHECK_LEVEL (set by the build from HAKMEM_VARIANT):
 *   0  release   no checks; every HK_CHECK compiles to nothing, and so does
 *                every block guarded by the switches below.
 *   1  hardened  cheap checks that are fatal: pointer validity on free and
 *                realloc (foreign, interior, unaligned), header vs slab
 *                descriptor, double free through per-block state, encoded
 *                and sanitized free-list links, remote-queue node checks on
 *                drain, the carve bound, large-block guard pages, the heap
 *                walk on demand (harden.c, docs/hardening.md).
 *   2  debug     everything in hardened plus assertions at every layer,
 *                fill patterns with byte-exact reports, HAKMEM_CHECK_EVERY
 *                heap walks and the ring of recent operations (debug.c).
 *
 * A check is either HK_CHECK(level, cond, fault, ptr, cls), or code under
 * `#if HAKMEM_CHECK_LEVEL >= HK_LEVEL_*` or one of the HK_HARDEN_* switches
 * named here.  Every failed check reports through hk_fatal: exactly one line
 *     hakmem: <fault>: ptr=0x... class=<n>
 * on stderr (debug builds then dump the ring, "hakmem: recent: ..." lines)
 * and abort (SIGABRT).  Nothing here allocates.
 */
#ifndef HAKMEM_CHECK_H
#define HAKMEM_CHECK_H

#ifndef HAKMEM_CHECK_LEVEL
#define HAKMEM_CHECK_LEVEL 0
#endif

#define HK_LEVEL_RELEASE  0
#define HK_LEVEL_HARDENED 1
#define HK_LEVEL_DEBUG    2

#define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)

__attribute__((noreturn, cold)) void hk_fatal(const char *fault,
                                              const void *ptr, int cls);

#define HK_CHECK(level, cond, fault, ptr, cls)                                 \
  do {                                                                         \
    if (HAKMEM_CHECK_LEVEL >= (level) && HK_UNLIKELY(!(cond)))                 \
      hk_fatal((fault), (ptr), (cls));                                         \
  } while (0)

/* The hardened fast-path checks, each on at level >= 1.  They can be
 * switched off one by one (-DHK_HARDEN_STATE=0 ...) only to measure what
 * each costs (docs/hardening.md); a build that does so is not a variant.
 *   HK_HARDEN_LINKS  free-list / remote-queue links encoded and sanitized
 *   HK_HARDEN_STATE  per-block state bits (double free, aligned pointers)
 *   HK_HARDEN_PTR    pointer on the stride grid, header byte, on free */
#ifndef HK_HARDEN_LINKS
#define HK_HARDEN_LINKS (HAKMEM_CHECK_LEVEL >= HK_LEVEL_HARDENED)
#endif
#ifndef HK_HARDEN_STATE
#define HK_HARDEN_STATE (HAKMEM_CHECK_LEVEL >= HK_LEVEL_HARDENED)
#endif
#ifndef HK_HARDEN_PTR
#define HK_HARDEN_PTR (HAKMEM_CHECK_LEVEL >= HK_LEVEL_HARDENED)
#endif

/* Internal consistency assertion (debug only). */
#define HK_ASSERT(cond) \
  HK_CHECK(HK_LEVEL_DEBUG, cond, "assertion failed: " #cond, 0, -1)

#endif /* HAKMEM_CHECK_H */
