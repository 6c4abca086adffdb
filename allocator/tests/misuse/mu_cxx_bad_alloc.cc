/* mu_cxx_bad_alloc.cc - death test of new's failure rule: new of an
 * impossible size with no new_handler throws std::bad_alloc, which nothing
 * catches here: std::terminate, abort (SIGABRT) with libstdc++'s message.
 * The same in every variant (it is not a check). */
#define DT_MIN_LEVEL 0
#define DT_BELOW DT_SURVIVE
#include "death.h"

#include <new>

static void dt_misuse(void) {
  dt_expect_line("terminate called after throwing an instance of 'std::bad_alloc'\n"
                 "  what():  std::bad_alloc\n");
  volatile size_t n = SIZE_MAX - 100; /* unknown to the compiler */
  void *volatile p = ::operator new(n);
  (void)p;
}
