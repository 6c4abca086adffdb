/* mu_uaf_zeroed_nowipe.c - the opt-out control of mu_uaf_zeroed: the wipe
 * turned off, hardened hands the stale bytes back (debug keeps its fills).
 * MU_SIZES: 8 4096 262144
 * DT_ENV: HAKMEM_WIPE_MAX=0 */
#define MU_NOWIPE 1
#include "mu_uaf_zeroed.c"
