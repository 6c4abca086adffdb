/* mu_far_overflow_memcpy.c - death test: a linear write of 1 MiB past the
 * end of a block, by one memcpy. MU_SIZES: 8 4096 262144
 * Hardened and debug: SIGSEGV at a superslab guard page (mu_far.h);
 * release: undefined, skipped. */
#define MU_FAR_OVER 1
#include "mu_far.h"
