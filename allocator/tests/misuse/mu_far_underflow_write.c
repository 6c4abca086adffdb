/* mu_far_underflow_write.c - death test: a linear write of 1 MiB before the
 * start of a block, a byte at a time. MU_SIZES: 8 4096 262144
 * Hardened and debug: SIGSEGV at a superslab guard page (mu_far.h);
 * release: undefined, skipped. */
#define MU_FAR_UNDER 1
#define MU_FAR_DIRECT 1
#include "mu_far.h"
