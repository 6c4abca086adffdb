/* mu_cxx.h - what the C++ misuse tests (mu_cxx_*.cc) share: the class a
 * request lands in (dt_class) for a block of MU_SIZE bytes, and whether
 * that class keeps a header byte, where the checked builds keep new[]'s
 * mark (blocks up to 895 bytes: docs/hardening.md). */
#ifndef MU_CXX_H
#define MU_CXX_H
#include <cstddef>
#include <new>
/* headered classes serve requests up to 895 bytes (allocator/layout.h) */
#define MU_HEADERED(n) ((n) <= 895)
#endif
