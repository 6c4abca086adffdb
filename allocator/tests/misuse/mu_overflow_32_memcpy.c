/* mu_overflow_32_memcpy.c - death test: 32 byte(s) written just past the block's usable bytes,
 * by one memcpy, then the block freed (mu_linear.h).  MU_SIZES: 8 4096 262144 */
#define MU_BYTES 32
#define MU_UNDER 0
#define MU_MEMCPY 1
#include "mu_linear.h"
