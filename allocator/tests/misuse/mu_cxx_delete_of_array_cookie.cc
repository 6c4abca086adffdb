/* mu_cxx_delete_of_array_cookie.cc - death test: `delete p` of an array
 * of a type with a destructor.  new[] keeps the element count in an 8-byte
 * cookie before the first element, so delete hands operator delete a
 * pointer 8 bytes into the block.  MU_SIZES: 8 4096 262144
 * Hardened and debug: "invalid free (unaligned pointer)" for class blocks
 * (the 256 KiB array plus its cookie too: the checked builds' last class
 * holds 262144 + 8 bytes, layout.h); a large block would be "invalid free
 * (interior pointer of a large block)". */
#include "mu_cxx.h"
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

struct T {
  char c[MU_SIZE];
  ~T() { __asm__ volatile("" ::: "memory"); }
};

static void dt_misuse(void) {
  T *a = new T[1];
  T *volatile p = a; /* the compiler must not see the mismatch */
  if (dt_class(MU_SIZE + 8) >= 0) dt_expect("invalid free (unaligned pointer)", p, dt_class(MU_SIZE + 8));
  else dt_expect("invalid free (interior pointer of a large block)", p, -1);
  delete p;
}
