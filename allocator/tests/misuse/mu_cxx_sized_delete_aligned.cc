/* mu_cxx_sized_delete_aligned.cc - death test: the aligned sized operator
 * delete told the wrong size (twice it, plus 16) of a block of the aligned
 * operator new (alignment 64).  MU_SIZES: 8 4096 262144
 * Hardened and debug: "sized delete of the wrong size" (the block is a
 * class block padded by the alignment, or a large block above 256 KiB). */
#include "mu_cxx.h"
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_SURVIVE
#include "death.h"

static void dt_misuse(void) {
  void *p = ::operator new(MU_SIZE, std::align_val_t(64));
  /* padded by 48 bytes: the block's class (none above 256 KiB) */
  dt_expect("sized delete of the wrong size", p,
            MU_SIZE + 48 <= 262144 ? dt_class(MU_SIZE + 48) : -1);
  ::operator delete(p, 2 * (size_t)MU_SIZE + 16, std::align_val_t(64));
}
