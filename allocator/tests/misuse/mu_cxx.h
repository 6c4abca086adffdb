/* mu_cxx.h - what the C++ misuse tests (mu_cxx_*.cc) share: whether a
 * block of n bytes carries new[]'s mark in the checked builds (blocks of a
 * class, up to 256 KiB: the header byte up to 895 bytes, the superslab's
 * mark map above; large blocks carry none: docs/hardening.md). */
#ifndef MU_CXX_H
#define MU_CXX_H
#include <cstddef>
#include <new>
/* classes serve requests up to 256 KiB (allocator/layout.h) */
#define MU_MARKED(n) ((n) <= 262144)
#endif
