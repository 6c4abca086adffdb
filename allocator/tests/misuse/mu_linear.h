/* mu_linear.h - the linear overflow and underflow death tests (issue 18):
 * a block of MU_SIZE bytes, all its usable bytes written (allowed), then
 * MU_BYTES bytes written just past its usable end (MU_UNDER 0) or just
 * before its start (MU_UNDER 1), by byte stores (MU_MEMCPY 0) or one
 * memcpy (MU_MEMCPY 1), then the block freed.
 *
 * Hardened and debug: the canaries around every class block (layout.h,
 * harden.h), checked on free: "heap overflow (canary)" or "heap underflow
 * (canary)" naming the block; a headered block's underflow meets its
 * header byte first: "block header corrupt".  An underflow test takes
 * its block after a first one of the same size (kept live): a span's
 * first block may sit right after a superslab guard page, where the
 * underflow faults before any canary is checked.  Release: undefined (the
 * bytes belong to other blocks or to nothing), the test skips. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  void *before = MU_UNDER ? hak_malloc(MU_SIZE) : NULL; /* see above */
  if (MU_UNDER && before == NULL) dt_setup_fail("malloc");
  char *p = hak_malloc(MU_SIZE);
  if (p == NULL) dt_setup_fail("malloc");
  size_t u = hak_malloc_usable_size(p);
  int c = dt_class(MU_SIZE);
  static hak_stats_t st;
  hak_stats_get(&st);
  memset(p, 'a', u); /* every usable byte is the caller's */
  static const char src[64] = "linear overflow and underflow: 32+ bytes of ASCII text";
  char *volatile at = MU_UNDER ? p - MU_BYTES : p + u; /* the compiler must not see it */
  if (!MU_UNDER) dt_expect("heap overflow (canary)", p, c);
  else if (st.cls[c].header) dt_expect("block header corrupt", p, c);
  else dt_expect("heap underflow (canary)", p, c);
  if (MU_MEMCPY) {
    memcpy(at, src, MU_BYTES);
  } else {
    for (int k = 0; k < MU_BYTES; k++) ((volatile char *)at)[k] = src[k];
  }
  hak_free(p);
}
