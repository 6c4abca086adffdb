/* vf_san.h - which sanitizer this file is compiled under (VF_UNDER_ASAN,
 * VF_UNDER_TSAN), for the few places where a sanitizer's own malloc breaks a
 * rule the oracle relies on:
 *  - ASan's malloc crashes (internal CHECK) on some impossible sizes;
 *  - TSan's malloc_usable_size says 1 for a malloc(0) block whose one byte
 *    TSan itself then treats as outside the block.
 */
#ifndef VF_SAN_H
#define VF_SAN_H

#if defined(__SANITIZE_ADDRESS__)
#define VF_UNDER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define VF_UNDER_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(VF_UNDER_ASAN)
#define VF_UNDER_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(VF_UNDER_TSAN)
#define VF_UNDER_TSAN 1
#endif
#endif

#endif
