/* dt_whale_cache_corrupt.c - death test: the header of a large block in the
 * shared whale cache is written over after its free (a use after free, or
 * what a reclaimed MADV_FREE page reads: zero); the next search of the
 * cache checks it.  With the seal off: the checked builds' seal moves a
 * cached whale away from its old range (docs/hardening.md), so the write
 * would fault there instead (mu_uaf_whale_* test that).
 * DT_ENV: HAKMEM_WHALE_SEAL=0 */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *a = hak_malloc(3u << 20), *b = hak_malloc(3u << 20);
  hak_free(a); /* the thread's slot */
  hak_free(b); /* b takes the slot, a goes to the shared cache */
  char *base = (char *)((uintptr_t)a & ~(((uintptr_t)2 << 20) - 1)); /* its header */
  dt_expect("corrupt whale cache entry", base, -1);
  memset(base, 0, 64);
  hak_free(hak_malloc(3u << 20)); /* the slot's */
  hak_free(hak_malloc(5u << 20)); /* searches the cache */
}
