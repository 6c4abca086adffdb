/* track.h - the one layer through which the allocator tells memory tools
 * (valgrind memcheck, ASan, TSan) about its blocks.
 *
 * Every allocator path calls these on allocate, free and reuse:
 *   HK_TRACK_ALLOC(p, n, zeroed)  block [p, p+n) handed to the user
 *   HK_TRACK_FREE(p, n)           block returned by the user
 *   HK_TRACK_NOACCESS(p, n)       allocator-owned bytes the user may not touch
 *   HK_TRACK_UNDEFINED(p, n)      bytes the allocator is about to write
 *   HK_TRACK_DEFINED(p, n)        allocator metadata it is about to read
 *   HK_TRACK_HANDOFF(addr) / HK_TRACK_ACQUIRE(addr)
 *                                 a hand-off between threads (remote queue)
 *
 * In release builds and builds without a tool every macro is empty, so the
 * hooks cost nothing.  The tool bindings are added with the sanitizer lanes
 * (issue 8); call sites must not call valgrind or ASan APIs directly.
 */
#ifndef HAKMEM_TRACK_H
#define HAKMEM_TRACK_H

#define HK_TRACK_ALLOC(p, n, zeroed) ((void)(p), (void)(n), (void)(zeroed))
#define HK_TRACK_FREE(p, n)          ((void)(p), (void)(n))
#define HK_TRACK_NOACCESS(p, n)      ((void)(p), (void)(n))
#define HK_TRACK_UNDEFINED(p, n)     ((void)(p), (void)(n))
#define HK_TRACK_DEFINED(p, n)       ((void)(p), (void)(n))
#define HK_TRACK_HANDOFF(addr)       ((void)(addr))
#define HK_TRACK_ACQUIRE(addr)       ((void)(addr))

/* Functions that read other threads' owner-only counters on purpose (the
 * statistics snapshot) opt out of TSan instrumentation here. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HK_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#if !defined(HK_NO_TSAN) && defined(__SANITIZE_THREAD__)
#define HK_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#ifndef HK_NO_TSAN
#define HK_NO_TSAN
#endif

#endif /* HAKMEM_TRACK_H */
