/* mu_far.h - what the far-overrun misuse tests (mu_far_*.c) share: one
 * linear write of 1 MiB past the end (MU_FAR_OVER) or before the start
 * (MU_FAR_UNDER) of a fresh block of MU_SIZE bytes, written a byte at a
 * time (MU_FAR_DIRECT) or by one memcpy.
 *
 * Hardened and debug: the superslab's guard pages (allocator/layout.h: one
 * after the header, one at the end of units 15 and 31) lie less than 1 MiB
 * from every block of a class, so the write faults (SIGSEGV) before it
 * ends, with nothing on stderr.  Release has no guards: the write runs over
 * whatever lies there (other blocks, free units, the next mapping), which
 * is undefined, so release skips.
 *
 * The block is one whose 1 MiB of overrun stays inside its own 2 MiB
 * superslab (blocks of its size are taken, and kept, until one is): so
 * without guard pages the write meets only mapped memory and goes through
 * (the test then fails), whatever lies next to the superslab. */
#ifndef MU_FAR_H
#define MU_FAR_H

#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#define DT_SIGNAL SIGSEGV
#include "death.h"

#define MU_FAR_BYTES ((size_t)1 << 20)

static char mu_far_src[MU_FAR_BYTES + MU_SIZE];

#define MU_FAR_SS ((uintptr_t)2 << 20) /* the superslab size (layout.h) */

/* whether the overrun from p stays inside p's superslab */
static int mu_far_inside(const char *p) {
  uintptr_t off = (uintptr_t)p & (MU_FAR_SS - 1);
#ifdef MU_FAR_OVER
  return off + MU_SIZE + MU_FAR_BYTES <= MU_FAR_SS;
#else
  return off >= MU_FAR_BYTES;
#endif
}

static void dt_misuse(void) {
  char *volatile p;
  for (int tries = 0;; tries++) {
    p = hak_malloc(MU_SIZE);
    if (p == NULL) dt_setup_fail("malloc failed");
    if (mu_far_inside(p)) break;
    if (tries == 1 << 20) dt_setup_fail("no block with 1 MiB of its superslab beyond it");
  }
  memset(p, 1, MU_SIZE);
  memset(mu_far_src, 0x41, sizeof mu_far_src);
#if defined(MU_FAR_OVER) && defined(MU_FAR_DIRECT)
  for (size_t i = MU_SIZE; i < MU_SIZE + MU_FAR_BYTES; i++) p[i] = 0x41;
#elif defined(MU_FAR_OVER)
  memcpy(p, mu_far_src, MU_SIZE + MU_FAR_BYTES);
#elif defined(MU_FAR_DIRECT)
  for (size_t i = 1; i <= MU_FAR_BYTES; i++) p[-(ptrdiff_t)i] = 0x41;
#else
  memcpy(p - MU_FAR_BYTES, mu_far_src, MU_FAR_BYTES);
#endif
  dt_setup_fail("a 1 MiB overrun did not fault");
}

#endif /* MU_FAR_H */
