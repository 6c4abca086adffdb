/* mu_uaf_zeroed.c - the property "a freed block, and a block handed out
 * again, hold no stale data": the block is filled with 0x5A, freed, read
 * through the stale pointer (harmless here: the block stays mapped), then
 * taken again and read through the new one.  MU_SIZES: 8 4096 262144
 * What each variant gives, checked exactly (a check that fails if the
 * variant does otherwise):
 *   hardened (default options: HAKMEM_WIPE_MAX 4096, HAKMEM_WIPE_LARGE):
 *     freed, bytes [8, usable) are 0 (0..7 hold the encoded link); handed
 *     out again, every usable byte is 0;
 *   debug: freed, [8, usable) are 0xDD; handed out again, the n bytes
 *     asked for are 0xAB and the rest of the usable bytes 0xCC;
 *   release, and hardened with the wipe off (mu_uaf_zeroed_nowipe_*, the
 *     opt-out control): the stale bytes stay, freed and reused (the link
 *     word aside), as documented.
 * The test never dies: its verdict is the checks' (DT_SURVIVE). */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

#ifndef MU_NOWIPE
#define MU_NOWIPE 0
#endif

/* bytes of p[from, to) that are not v */
static size_t count_not(const unsigned char *p, size_t from, size_t to, unsigned char v) {
  size_t n = 0;
  for (size_t i = from; i < to; i++) n += p[i] != v;
  return n;
}

static void dt_misuse(void) {
  int level = hak_check_level();
  /* the byte a freed block holds, and a reused one (then pad beyond n) */
  int stale = level == 0 || (level == 1 && MU_NOWIPE);
  unsigned char freed = stale ? 0x5A : level == 1 ? 0 : 0xDD;
  unsigned char fresh = stale ? 0x5A : level == 1 ? 0 : 0xAB;
  unsigned char pad = stale ? 0x5A : level == 1 ? 0 : 0xCC;
  char *keep = hak_malloc(MU_SIZE);
  unsigned char *p = hak_malloc(MU_SIZE);
  char *r = hak_malloc(MU_SIZE);
  size_t u = hak_malloc_usable_size(p);
  memset(p, 0x5A, u);
  hak_free(p);
  if (count_not(p, 8, u, freed) != 0)
    dt_setup_fail(stale ? "freed block changed beyond its link" : "freed block holds stale data");
  hak_free(r); /* checked builds: lets p go from the slab's held slot */
  unsigned char *q = NULL;
  for (int i = 0; i < 64 && q != p; i++) q = hak_malloc(MU_SIZE); /* leaks the others: fine */
  if (q != p) dt_setup_fail("freed block never handed out again");
  size_t n = MU_SIZE < u ? MU_SIZE : u;
  if (count_not(q, stale ? 8 : 0, n, fresh) != 0 || count_not(q, n, u, pad) != 0)
    dt_setup_fail(stale ? "reused block changed beyond its link" : "reused block holds stale data");
  hak_free(keep);
}
