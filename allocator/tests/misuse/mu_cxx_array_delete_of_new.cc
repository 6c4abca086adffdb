/* mu_cxx_array_delete_of_new.cc - death test: a block of (non-array)
 * operator new given to operator delete[].  MU_SIZES: 8 4096 262144
 * Hardened and debug: "delete[] of a block not from new[]" for blocks of a
 * class (all three sizes); large blocks: not caught. */
#include "mu_cxx.h"
#if MU_MARKED(MU_SIZE)
#define DT_MIN_LEVEL 1
#else
#define DT_MIN_LEVEL 3
#endif
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  void *p = ::operator new(MU_SIZE);
  dt_expect("delete[] of a block not from new[]", p, dt_class(MU_SIZE));
  ::operator delete[](p);
}
