/* mu_uaf_write_nowipe.c - the opt-out control of mu_uaf_write: the same
 * write after free with the wipe turned off.  MU_SIZES: 8 4096 262144
 * Hardened: no detection (the block comes back with the byte written);
 * debug: its free fill is checked whatever the option says.
 * DT_ENV: HAKMEM_WIPE_MAX=0 */
#define DT_MIN_LEVEL 2
#include "mu_uaf_write.c"
