/* dt_ok_calloc_overflow.c - positive control: calloc whose product overflows
 * returns NULL with ENOMEM in every variant, and does not die. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  errno = 0;
  void *p = hak_calloc(SIZE_MAX / 2, 3);
  if (p != NULL || errno != ENOMEM) dt_setup_fail("calloc overflow not NULL+ENOMEM");
  errno = 0;
  p = hak_reallocarray(NULL, SIZE_MAX / 4, 8);
  if (p != NULL || errno != ENOMEM) dt_setup_fail("reallocarray overflow not NULL+ENOMEM");
}
