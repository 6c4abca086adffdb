/* config.h - what a build of the allocator is: its check level, the one
 * switch mechanism for checks, the one test for a compiled-in catalog bug,
 * and the compiler attributes every file uses.  Includes nothing of ours.
 *
 * HAKMEM_CHECK_LEVEL (set by the build from HAKMEM_VARIANT):
 *   0  release   no checks: every switch below is 0 and the code behind it
 *                compiles to nothing;
 *   1  hardened  cheap checks that are fatal: pointer validity on free and
 *                realloc (foreign, interior, unaligned), header against the
 *                slab descriptor, double free through per-block state,
 *                encoded and sanitized free-list links, remote-queue node
 *                checks on drain, the carve bound, large-block guard pages,
 *                superslab guard pages,
 *                malloc(0) into no-access memory (zero.c), the C++
 *                delete checks (new[] mark, sized delete: new.cc, harden.c),
 *                zero on free checked on reuse (WIPE), delayed reuse (DELAY),
 *                canaries around class blocks (CANARY),
 *                the heap walk on demand (docs/hardening.md);
 *   2  debug     everything in hardened plus assertions at every layer,
 *                fill patterns with byte-exact reports, HAKMEM_CHECK_EVERY
 *                heap walks and the ring of recent operations (debug.c).
 *
 * Checks: HK_ON(NAME) is 1 when switch NAME is compiled in, else 0; it is
 * the only test of a check's presence, in `#if` and in C alike:
 *   HARDEN  every hardened check but the three fast-path ones below
 *   LINKS   free-list and remote-queue links encoded and sanitized
 *   STATE   per-block state bits (double free, aligned pointers)
 *   PTR     pointer on the stride grid and header byte, on free
 *   WIPE    hardened only: freed class blocks (of the classes serving
 *           requests up to HAKMEM_WIPE_MAX bytes, 4096 by default, and of
 *           the L2.5 classes, HAKMEM_WIPE_LARGE) zeroed, and checked to
 *           be still zero when handed out again; debug fills and checks
 *           its patterns instead (every class: no stale data either)
 *   DELAY   hardened and debug: a block freed locally is held back one
 *           free (the slab's held slot), so the next malloc of its class
 *           does not return it (HAKMEM_DELAY)
 *   CANARY  canaries at the end of every class block's stride (layout.h's
 *           canary column: usable sizes shrink), checked on free and by
 *           the heap walk
 *   GUARD   guard pages inside every superslab (after its header, at the
 *           end of units 15 and 31; layout.h), so a linear overrun or
 *           underrun of 1 MiB out of a class block faults
 *   DEBUG   the debug variant's checks (fills, ring, assertions)
 *   RACE    the race points (HAKMEM_RACE_POINT, HAKMEM_RACE_CAS: internal.h)
 *           in the remote-free, drain, abandon and adopt paths, also in a
 *           release build under ThreadSanitizer; off unless
 *           HAKMEM_RACE or hak_race_hook turns them on.  -DHK_ON_RACE=1 in
 *           a release-level build only to show a catalog race bug without
 *           the checks (docs/bug-catalog.md)
 * LINKS, STATE, PTR, WIPE, DELAY and GUARD can be switched off one by one (-DHK_ON_STATE=0 ...)
 * only to measure what each costs (docs/hardening.md); a build that does so
 * is not a variant.  A failed check reports through HK_CHECK or hk_fatal
 * (report.c): exactly one line "hakmem: <fault>: ptr=0x... class=<n>" on
 * stderr, then abort (SIGABRT).
 *
 * Catalog bugs (docs/bug-catalog.md): the build defines HAKMEM_INJECT_<NAME>
 * for at most one bug; HK_INJECT(NAME) is 1 for that bug and 0 for every
 * other name, in `#if` and in C, so an injected bug is an ordinary branch
 * on a constant.
 */
#ifndef HAKMEM_CONFIG_H
#define HAKMEM_CONFIG_H

#ifndef HAKMEM_CHECK_LEVEL
#define HAKMEM_CHECK_LEVEL 0
#endif

#define HK_LEVEL_RELEASE  0
#define HK_LEVEL_HARDENED 1
#define HK_LEVEL_DEBUG    2

/* ---- check switches ------------------------------------------------------ */
#define HK_ON(name) (HK_ON_##name)
#define HK_ON_HARDEN (HAKMEM_CHECK_LEVEL >= HK_LEVEL_HARDENED)
#define HK_ON_DEBUG  (HAKMEM_CHECK_LEVEL >= HK_LEVEL_DEBUG)
#ifndef HK_ON_LINKS
#define HK_ON_LINKS HK_ON_HARDEN
#endif
#ifndef HK_ON_STATE
#define HK_ON_STATE HK_ON_HARDEN
#endif
#ifndef HK_ON_PTR
#define HK_ON_PTR HK_ON_HARDEN
#endif
#ifndef HK_ON_WIPE
#define HK_ON_WIPE (HAKMEM_CHECK_LEVEL == HK_LEVEL_HARDENED)
#endif
#ifndef HK_ON_CANARY
#define HK_ON_CANARY HK_ON_HARDEN
#endif
#ifndef HK_ON_DELAY
#define HK_ON_DELAY HK_ON_HARDEN
#endif
/* forced races (HAKMEM_RACE, internal.h HAKMEM_RACE_POINT): checked builds,
 * and any build under ThreadSanitizer (its lane then sees the retry paths) */
#ifndef HK_ON_RACE
#if defined(__SANITIZE_THREAD__)
#define HK_RACE_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HK_RACE_TSAN_ 1
#endif
#endif
#ifdef HK_RACE_TSAN_
#define HK_ON_RACE 1
#else
#define HK_ON_RACE HK_ON_HARDEN
#endif
#endif

#ifndef HK_ON_GUARD
#define HK_ON_GUARD HK_ON_HARDEN
#endif

#define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* report.c: the one-line report and abort. */
__attribute__((noreturn, cold)) void hk_fatal(const char *fault, const void *ptr, int cls);

/* A check behind switch sw: when compiled in and cond is false, report
 * fault for ptr (class cls, -1 for none) and abort. */
#define HK_CHECK(sw, cond, fault, ptr, cls)                                    \
  do {                                                                         \
    if (HK_ON(sw) && HK_UNLIKELY(!(cond))) hk_fatal((fault), (ptr), (cls));    \
  } while (0)
/* Internal consistency (debug only). */
#define HK_ASSERT(cond) HK_CHECK(DEBUG, cond, "assertion failed: " #cond, 0, -1)

/* ---- catalog bugs ---------------------------------------------------------
 * HK_INJECT(NAME): HAKMEM_INJECT_NAME is either undefined or 1.  Pasted
 * onto HK_INJECT_IS_, a 1 becomes "HK_INJECT_IS_1", which expands to a
 * leading "x,", so the second argument picked is 1; anything else stays one
 * argument and the 0 after it is picked. */
#define HK_INJECT_IS_1 x,
#define HK_INJECT_2ND_(a, b, ...) b
#define HK_INJECT_PICK_(maybe) HK_INJECT_2ND_(maybe 1, 0, 0)
#define HK_INJECT_PASTE_(v) HK_INJECT_PICK_(HK_INJECT_IS_##v)
#define HK_INJECT_VAL_(v) HK_INJECT_PASTE_(v)
#define HK_INJECT(name) HK_INJECT_VAL_(HAKMEM_INJECT_##name)

/* ---- attributes ---------------------------------------------------------- */
#define HK_PUBLIC __attribute__((visibility("default")))
/* The malloc and free entry points start on a cache line: their fast paths
 * then sit in one or two lines whatever the code before them (unaligned,
 * tiny_hot moved by 7% between builds with the same instructions). */
#define HK_HOT __attribute__((aligned(64)))
#define HK_NOINLINE __attribute__((noinline))
#define HK_INLINE static inline __attribute__((always_inline))
/* From here on the compiler knows nothing of x's value (no code): it keeps
 * a computation in the order written instead of reassociating it. */
#define HK_OPAQUE(x) __asm__("" : "+r"(x))
/* Callers learn nothing of the function (GCC would otherwise find that a
 * reporting function never returns and reach it with a call, which costs
 * its caller a stack frame on the fast path). */
#if defined(__has_attribute) && __has_attribute(noipa)
#define HK_NOIPA __attribute__((noinline, noipa))
#else
#define HK_NOIPA __attribute__((noinline))
#endif

/* A libc name as an alias of its hak_ function (alloc.c, free.c built
 * with HAKMEM_LIBC_NAMES): the same code, no jump between them. */
#define HK_LIBC_ALIAS(libc, name) \
  extern __typeof(name) libc __attribute__((alias(#name), visibility("default")));

#define HK_PAGE 4096u

/* relaxed counters: plain increments, but race-free for readers */
#define HK_CNT_ADD(x, n) \
  __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define HK_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

#endif /* HAKMEM_CONFIG_H */
