/* mu_cxx_delete_of_array.cc - death test: a block of operator new[]
 * given to (non-array) operator delete, as `delete p` does for an array of
 * a trivially destructible type.  MU_SIZES: 8 4096 262144
 * Hardened and debug: "delete of a block from new[]" for blocks of a class
 * (all three sizes); large blocks carry no mark: not caught (the program
 * goes on, the block freed). */
#include "mu_cxx.h"
#if MU_MARKED(MU_SIZE)
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#else
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#endif
#include "death.h"

static void dt_misuse(void) {
  void *p = ::operator new[](MU_SIZE);
  dt_expect("delete of a block from new[]", p, dt_class(MU_SIZE));
  ::operator delete(p);
}
