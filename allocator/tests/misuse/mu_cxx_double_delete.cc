/* mu_cxx_double_delete.cc - death test: operator delete twice on one
 * block (sized, as `delete p` of a complete type calls it).
 * MU_SIZES: 8 4096 262144
 * Hardened and debug: "double free" (the delete checks leave a pointer that
 * is no live block to free's checks). */
#include "mu_cxx.h"
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  void *p = ::operator new(MU_SIZE);
  ::operator delete(p, (size_t)MU_SIZE);
  dt_expect("double free", p, dt_class(MU_SIZE));
  ::operator delete(p, (size_t)MU_SIZE);
}
