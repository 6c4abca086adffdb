/* mu_overflow_1.c - death test: 1 byte(s) written just past the block's usable bytes,
 * by byte stores, then the block freed (mu_linear.h).  MU_SIZES: 8 4096 262144 */
#define MU_BYTES 1
#define MU_UNDER 0
#define MU_MEMCPY 0
#include "mu_linear.h"
