/* mu_underflow_1_memcpy.c - death test: 1 byte(s) written just before the block's start,
 * by one memcpy, then the block freed (mu_linear.h).  MU_SIZES: 8 4096 262144 */
#define MU_BYTES 1
#define MU_UNDER 1
#define MU_MEMCPY 1
#include "mu_linear.h"
