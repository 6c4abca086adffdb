/* track.h - the one layer through which the allocator tells memory tools
 * (valgrind memcheck, ASan/LSan, TSan) about its blocks.  No other file of
 * allocator/ includes a tool header or calls a tool API.
 *
 * Every allocator path calls these on allocate, free and reuse:
 *   HK_TRACK_ALLOC(p, n, zeroed)  block [p, p+n) handed to the user; n is the
 *                                 size asked for, the rest of the block stays
 *                                 no-access (so an overflow past the request
 *                                 is seen); zeroed: contents known zero
 *   HK_TRACK_FREE(p, n)           block returned by the user; [p, p+n) (its
 *                                 usable bytes from p) becomes no-access
 *   HK_TRACK_RESIZE(p, old, new)  a live block's size changes in place
 *   HK_TRACK_EXPOSE(p, n)         a live block's n usable bytes all become
 *                                 the user's (malloc_usable_size)
 *   HK_TRACK_NOACCESS(p, n)       allocator-owned bytes the user may not touch
 *                                 (never-carved memory, padding, headers)
 *   HK_TRACK_UNDEFINED(p, n)      bytes the user may write but not read yet
 *   HK_TRACK_DEFINED(p, n)        bytes whose contents are known (calloc of a
 *                                 fresh mapping, which is zero without a write)
 *   HK_TRACK_UNMAP(p, n)          a segment about to be unmapped: forget its
 *                                 state, since the address range may be reused
 *   HK_TRACK_SEGMENT(p, n)        a segment just mapped (LSan scans it for
 *                                 pointers into ASan's heap; leak.c's check
 *                                 does not take it for a root)
 *                                 SEGMENT and UNMAP take LSan's own lock:
 *                                 call them under a lock fork_prepare holds
 *                                 (hk_ss_lock, whale_lock), or a fork can
 *                                 copy LSan's lock taken into the child
 *   HK_TRACK_HANDOFF(addr) / HK_TRACK_ACQUIRE(addr)
 *                                 a hand-off between threads (remote queue)
 * The allocator's own metadata inside blocks (free-list links, header
 * bytes) is read and written only through
 *   HK_TRACK_NEXT(b), HK_TRACK_SET_NEXT(b, v),
 *   HK_TRACK_GET_U8(p), HK_TRACK_SET_U8(p, v),
 *   HK_TRACK_GET_U64(p), HK_TRACK_SET_U64(p, v)  (unaligned: canaries)
 * which leave the tool's view of those bytes (no-access) unchanged and keep
 * the tool from reporting the allocator itself.  HK_TRACK_LIVE_LEN(p, n) is
 * how many leading bytes of [p, p+n) the user asked for (realloc copies only
 * those; without a memory tool it is n).
 *
 * ASan builds also keep a registry of the live blocks and segments for
 * hakmem's own leak check at exit (leak.c: LSan cannot see hakmem's blocks):
 * ALLOC, FREE, RESIZE, SEGMENT and UNMAP feed it.
 *
 * Which tool: ASan when compiled with -fsanitize=address, TSan with
 * -fsanitize=thread, valgrind client requests with HAKMEM_VALGRIND=1 (CMake
 * option HAKMEM_VALGRIND; the requests are a few no-op instructions outside
 * valgrind).  HK_TRACK_MEMORY is 1 when a memory tool (valgrind or ASan) is
 * compiled in.
 *
 * Invariants, in a memory-tool build:
 *   - the user-visible bytes of a live block are exactly [p, p+request);
 *     everything else in a superslab's data area or a whale mapping
 *     (free blocks, header bytes, alignment padding, slack past the
 *     request, never-carved memory) is no-access;
 *   - the allocator touches no-access bytes only through the accessors
 *     above, never with a plain load or store.
 * In builds without a tool every macro is empty or a plain access, so the
 * release code is byte-identical to the code without hooks.
 */
#ifndef HAKMEM_TRACK_H
#define HAKMEM_TRACK_H

#include <stddef.h>

/* ---- which tools ---------------------------------------------------------- */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_TRACK_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define HK_TRACK_TSAN 1
#endif
#endif
#if !defined(HK_TRACK_ASAN) && defined(__SANITIZE_ADDRESS__)
#define HK_TRACK_ASAN 1
#endif
#if !defined(HK_TRACK_TSAN) && defined(__SANITIZE_THREAD__)
#define HK_TRACK_TSAN 1
#endif
#if defined(HAKMEM_VALGRIND) && HAKMEM_VALGRIND
#define HK_TRACK_VALGRIND 1
#endif
/* -DHAKMEM_TRACK_OFF=1 compiles every hook out even under a tool: the
 * sanitizers/ proofs use it to show what the tools miss without them. */
#if defined(HAKMEM_TRACK_OFF) && HAKMEM_TRACK_OFF
#undef HK_TRACK_ASAN
#undef HK_TRACK_TSAN
#undef HK_TRACK_VALGRIND
#endif
#ifndef HK_TRACK_ASAN
#define HK_TRACK_ASAN 0
#endif
#ifndef HK_TRACK_TSAN
#define HK_TRACK_TSAN 0
#endif
#ifndef HK_TRACK_VALGRIND
#define HK_TRACK_VALGRIND 0
#endif
#define HK_TRACK_MEMORY (HK_TRACK_ASAN || HK_TRACK_VALGRIND)

#if HK_TRACK_VALGRIND
#include <valgrind/memcheck.h>
#endif
/* HK_TRACK_ACTIVE: a memory tool is watching this run (ASan: always when
 * compiled in; valgrind: only when running under it).  The debug fill
 * patterns step aside then (debug.c). */
#if HK_TRACK_ASAN
#define HK_TRACK_ACTIVE 1
#elif HK_TRACK_VALGRIND
#define HK_TRACK_ACTIVE (RUNNING_ON_VALGRIND != 0)
#else
#define HK_TRACK_ACTIVE 0
#endif
#if HK_TRACK_ASAN
#include <stdint.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif
#if HK_TRACK_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* ---- per-tool primitives (internal to this header) ----------------------- */
#if HK_TRACK_VALGRIND
#define HK_VG_(stmt) stmt
#else
#define HK_VG_(stmt) ((void)0)
#endif
#if HK_TRACK_ASAN
#define HK_ASAN_(stmt) stmt
#else
#define HK_ASAN_(stmt) ((void)0)
#endif
/* HK_TRACK_LEAK: leak.c's registry of live blocks and segments behind its
 * exit check, in ASan builds unless built with HAKMEM_LEAK_CHECK=0 (the
 * fuzz-engine builds, whose oracle checks the live set after every input). */
#if HK_TRACK_ASAN && !(defined(HAKMEM_LEAK_CHECK) && !HAKMEM_LEAK_CHECK)
#define HK_TRACK_LEAK 1
#define HK_LEAK_(stmt) stmt
void hk_leak_alloc(const void *p, size_t n);
void hk_leak_free(const void *p);
void hk_leak_resize(const void *p, size_t n);
void hk_leak_segment(const void *p, size_t n, int add);
#else
#define HK_TRACK_LEAK 0
#define HK_LEAK_(stmt) ((void)0)
#endif

#if HK_TRACK_MEMORY
/* Metadata accessors: the bytes stay no-access for the user.  ASan: the
 * access is not instrumented; valgrind: error reporting is off around it
 * (memcheck still performs the access and gives loaded no-access bytes
 * the "defined" state, so the loaded link is usable). */
#if HK_TRACK_ASAN
#define HK_TRACK_NOSAN_ __attribute__((noinline, unused, no_sanitize("address")))
#else
#define HK_TRACK_NOSAN_ __attribute__((noinline, unused))
#endif
static HK_TRACK_NOSAN_ void *hk_track_load_ptr(void *const *a) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  void *v = __atomic_load_n((void **)a, __ATOMIC_RELAXED);
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
  return v;
}
static HK_TRACK_NOSAN_ void hk_track_store_ptr(void **a, void *v) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  *a = v;
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
}
static HK_TRACK_NOSAN_ unsigned char hk_track_load_u8(const void *a) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  unsigned char v = *(const volatile unsigned char *)a;
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
  return v;
}
static HK_TRACK_NOSAN_ void hk_track_store_u8(void *a, unsigned char v) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  *(volatile unsigned char *)a = v;
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
}
typedef uint64_t __attribute__((may_alias, aligned(1))) hk_track_u64_t;
static HK_TRACK_NOSAN_ uint64_t hk_track_load_u64(const void *a) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  uint64_t v = *(const volatile hk_track_u64_t *)a;
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
  return v;
}
static HK_TRACK_NOSAN_ void hk_track_store_u64(void *a, uint64_t v) {
  HK_VG_(VALGRIND_DISABLE_ERROR_REPORTING);
  *(volatile hk_track_u64_t *)a = v;
  HK_VG_(VALGRIND_ENABLE_ERROR_REPORTING);
}
#if HK_TRACK_ASAN
/* Offset of the first poisoned byte of [p, p+n), or n (what asking
 * __asan_address_is_poisoned byte by byte would find).
 * __asan_region_is_poisoned only has a fast path for the all-clear case:
 * when any byte is poisoned (for a block, almost always: the slack past the
 * request) it searches byte by byte, a shadow lookup per byte of the
 * request.  This reads ASan's shadow a word (8 granules) at a time; a shadow byte
 * is 0 (granule addressable), 1..granule-1 (that many leading bytes are),
 * or negative (none).  Not ASan-instrumented: the shadow of the shadow is
 * ASan's protected gap. */
#if defined(__clang__) && __clang_major__ >= 13 /* no coverage tracing of the loop (fuzz builds) */
#define HK_TRACK_NOCOV_ __attribute__((no_sanitize("coverage")))
#else
#define HK_TRACK_NOCOV_
#endif
static HK_TRACK_NOSAN_ HK_TRACK_NOCOV_ size_t hk_track_asan_first_poisoned(const void *p, size_t n) {
  size_t scale, offset;
  __asan_get_shadow_mapping(&scale, &offset);
  const size_t gran = (size_t)1 << scale;
  uintptr_t a = (uintptr_t)p, end = a + n;
  for (; a < end && a % gran; a++) /* an unaligned head, bytewise */
    if (__asan_address_is_poisoned((const void *)a)) return a - (uintptr_t)p;
  const signed char *sh = (const signed char *)((a >> scale) + offset);
  for (; a < end; a += gran, sh++) {
    if ((uintptr_t)sh % 8 == 0 && end - a >= 8 * gran) {
      uint64_t w = *(const uint64_t *)(const void *)sh; /* 8 granules */
      if (w == 0) {
        a += 7 * gran;
        sh += 7;
        continue;
      }
    }
    if (*sh == 0) continue;
    uintptr_t bad = *sh > 0 ? a + (uintptr_t)*sh : a;
    return (bad < end ? bad : end) - (uintptr_t)p;
  }
  return n;
}
#endif
/* Leading bytes of [p, p+n) the user may access: the block's request when
 * n covers it (the live part is a prefix, the rest is no-access). */
static inline size_t hk_track_live_len(const void *p, size_t n) {
  size_t live = n;
#if HK_TRACK_ASAN
  live = hk_track_asan_first_poisoned(p, n);
#endif
#if HK_TRACK_VALGRIND
  if (RUNNING_ON_VALGRIND) { /* binary search for the first no-access byte */
    size_t lo = 0, hi = live;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      unsigned char vbits;
      if (VALGRIND_GET_VBITS((const char *)p + mid, &vbits, 1) == 3) hi = mid;
      else lo = mid + 1;
    }
    live = lo;
  }
#endif
  return live;
}
#define HK_TRACK_NEXT(b) ((__typeof__((b)->next))hk_track_load_ptr((void *const *)&(b)->next))
#define HK_TRACK_SET_NEXT(b, v) hk_track_store_ptr((void **)&(b)->next, (void *)(v))
#define HK_TRACK_GET_U8(p) hk_track_load_u8(p)
#define HK_TRACK_SET_U8(p, v) hk_track_store_u8((p), (unsigned char)(v))
#define HK_TRACK_GET_U64(p) hk_track_load_u64(p)
#define HK_TRACK_SET_U64(p, v) hk_track_store_u64((p), (uint64_t)(v))
#define HK_TRACK_LIVE_LEN(p, n) hk_track_live_len((p), (n))
#else
#define HK_TRACK_NEXT(b) ((b)->next)
#define HK_TRACK_SET_NEXT(b, v) ((b)->next = (v))
#define HK_TRACK_GET_U8(p) (*(const uint8_t *)(p))
#define HK_TRACK_SET_U8(p, v) (*(uint8_t *)(p) = (uint8_t)(v))
/* an unaligned 64-bit word (the canaries, harden.h) */
typedef uint64_t __attribute__((may_alias, aligned(1))) hk_track_u64_t;
#define HK_TRACK_GET_U64(p) (*(const hk_track_u64_t *)(p))
#define HK_TRACK_SET_U64(p, v) (*(hk_track_u64_t *)(p) = (uint64_t)(v))
#define HK_TRACK_LIVE_LEN(p, n) (n)
#endif

/* ---- block and range state ------------------------------------------------ */
#if HK_TRACK_MEMORY
#define HK_TRACK_ALLOC(p, n, zeroed)                                           \
  do {                                                                         \
    HK_VG_(VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, (zeroed)));                  \
    HK_ASAN_(ASAN_UNPOISON_MEMORY_REGION((p), (n)));                           \
    HK_LEAK_(hk_leak_alloc((p), (n)));                                         \
  } while (0)
#define HK_TRACK_FREE(p, n)                                                    \
  do {                                                                         \
    HK_VG_(VALGRIND_FREELIKE_BLOCK((p), 0));                                   \
    HK_ASAN_(ASAN_POISON_MEMORY_REGION((p), (n)));                             \
    HK_LEAK_(hk_leak_free(p));                                                 \
  } while (0)
#define HK_TRACK_RESIZE(p, old, new)                                           \
  do {                                                                         \
    size_t hk_old_ = (old), hk_new_ = (new);                                   \
    HK_VG_(VALGRIND_RESIZEINPLACE_BLOCK((p), hk_old_, hk_new_, 0));            \
    HK_ASAN_(hk_new_ > hk_old_                                                 \
                 ? ASAN_UNPOISON_MEMORY_REGION((p), hk_new_)                   \
                 : ASAN_POISON_MEMORY_REGION((char *)(p) + hk_new_, hk_old_ - hk_new_)); \
    HK_LEAK_(hk_leak_resize((p), hk_new_));                                    \
  } while (0)
#define HK_TRACK_NOACCESS(p, n)                                                \
  do {                                                                         \
    HK_VG_(VALGRIND_MAKE_MEM_NOACCESS((p), (n)));                              \
    HK_ASAN_(ASAN_POISON_MEMORY_REGION((p), (n)));                             \
  } while (0)
#define HK_TRACK_UNDEFINED(p, n)                                               \
  do {                                                                         \
    HK_VG_(VALGRIND_MAKE_MEM_UNDEFINED((p), (n)));                             \
    HK_ASAN_(ASAN_UNPOISON_MEMORY_REGION((p), (n)));                           \
  } while (0)
#define HK_TRACK_DEFINED(p, n)                                                 \
  do {                                                                         \
    HK_VG_(VALGRIND_MAKE_MEM_DEFINED((p), (n)));                               \
    HK_ASAN_(ASAN_UNPOISON_MEMORY_REGION((p), (n)));                           \
  } while (0)
/* HK_TRACK_EXPOSE(p, n): the user may now use all n usable bytes of a live
 * block (malloc_usable_size).  valgrind needs the live length to resize the
 * block; ASan alone unpoisons [p, p+n) without looking for it. */
#if HK_TRACK_VALGRIND
#define HK_TRACK_EXPOSE(p, n)                                                  \
  do {                                                                         \
    size_t hk_n_ = (n);                                                        \
    HK_TRACK_RESIZE((p), HK_TRACK_LIVE_LEN((p), hk_n_), hk_n_);                \
  } while (0)
#else
#define HK_TRACK_EXPOSE(p, n) HK_ASAN_(ASAN_UNPOISON_MEMORY_REGION((p), (n)))
#endif
/* ASan's shadow outlives a mapping: clear it so that whoever maps the range
 * next starts clean; LSan stops scanning it.  (valgrind follows munmap.) */
#define HK_TRACK_UNMAP(p, n)                                                   \
  do {                                                                         \
    HK_ASAN_(ASAN_UNPOISON_MEMORY_REGION((p), (n)));                           \
    HK_ASAN_(__lsan_unregister_root_region((p), (n)));                         \
    HK_LEAK_(hk_leak_segment((p), (n), 0));                                    \
  } while (0)
#define HK_TRACK_SEGMENT(p, n)                                                 \
  do {                                                                         \
    HK_ASAN_(__lsan_register_root_region((p), (n)));                           \
    HK_LEAK_(hk_leak_segment((p), (n), 1));                                    \
  } while (0)
#else
/* (only the block pointer is named, so that a parameter used by nothing
 * else raises no warning; naming the sizes would move loads around in the
 * fast paths) */
#define HK_TRACK_ALLOC(p, n, zeroed) ((void)(p))
#define HK_TRACK_FREE(p, n)          ((void)(p))
#define HK_TRACK_RESIZE(p, old, new) ((void)0)
#define HK_TRACK_EXPOSE(p, n)        ((void)0)
#define HK_TRACK_NOACCESS(p, n)      ((void)0)
#define HK_TRACK_UNDEFINED(p, n)     ((void)0)
#define HK_TRACK_DEFINED(p, n)       ((void)0)
#define HK_TRACK_UNMAP(p, n)         ((void)0)
#define HK_TRACK_SEGMENT(p, n)       ((void)0)
#endif

/* ---- thread hand-offs ------------------------------------------------------
 * The remote queue is a C11 release CAS (push) and acquire exchange
 * (drain), which TSan already follows; the annotations name the hand-off
 * explicitly, on the queue word, so that a block's reuse by its owner is
 * ordered after everything the freeing thread did to it even if the queue
 * code changes its memory orders. */
#if HK_TRACK_TSAN
#define HK_TRACK_HANDOFF(addr) __tsan_release((void *)(addr))
#define HK_TRACK_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#else
#define HK_TRACK_HANDOFF(addr) ((void)0)
#define HK_TRACK_ACQUIRE(addr) ((void)0)
#endif

/* Functions that read other threads' owner-only counters on purpose (the
 * statistics snapshot) opt out of TSan instrumentation here. */
#if HK_TRACK_TSAN
#define HK_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define HK_NO_TSAN
#endif

#endif /* HAKMEM_TRACK_H */
