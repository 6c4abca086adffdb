/* mu_uaf_zeroed.c - the properties "a freed block is zeroed" and "a block
 * handed out again reads zero", checked by reading through the stale
 * pointer (harmless here: the block stays mapped) and the new one.
 * MU_SIZES: 8 4096 262144
 * Hardened (blocks up to HAKMEM_WIPE_MAX, set to 4096 here; off by
 * default): both hold,
 * bytes [8, usable) zero after free (0..7 hold the encoded link), the whole
 * block zero when handed out again.  Release: neither (the test only says
 * what it sees).  Debug fills patterns instead (0xDD freed).
 * DT_ENV: HAKMEM_WIPE_MAX=4096 */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  int wiped = hak_check_level() == 1 && MU_SIZE <= 4096;
  char *keep = hak_malloc(MU_SIZE);
  unsigned char *p = hak_malloc(MU_SIZE);
  char *r = hak_malloc(MU_SIZE);
  size_t u = hak_malloc_usable_size(p);
  memset(p, 0x5A, u);
  hak_free(p);
  size_t nz = 0;
  for (size_t i = 8; i < u; i++) nz += p[i] != 0;
  if (wiped && nz != 0) dt_setup_fail("freed block not zeroed");
  hak_free(r); /* hardened: lets p go from the slab's held slot */
  unsigned char *q = NULL;
  for (int i = 0; i < 64 && q != p; i++) q = hak_malloc(MU_SIZE); /* leaks the others: fine */
  if (q == p) {
    nz = 0;
    for (size_t i = 0; i < u; i++) nz += q[i] != 0;
    if (wiped && nz != 0) dt_setup_fail("block handed out again not zero");
  } else if (wiped) {
    dt_setup_fail("freed block never handed out again");
  }
  hak_free(keep);
}
