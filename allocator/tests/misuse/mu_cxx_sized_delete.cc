/* mu_cxx_sized_delete.cc - death test: a sized operator delete told a
 * size the block was not allocated with (twice the size, plus 16: always
 * another class, or above the classes).  MU_SIZES: 8 4096 262144
 * Hardened and debug: "sized delete of the wrong size"; release ignores the
 * size (and frees the block). */
#include "mu_cxx.h"
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  void *p = ::operator new(MU_SIZE);
  dt_expect("sized delete of the wrong size", p, dt_class(MU_SIZE));
  ::operator delete(p, 2 * (size_t)MU_SIZE + 16);
}
