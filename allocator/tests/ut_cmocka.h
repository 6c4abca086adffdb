/* ut_cmocka.h - shared main() helper for the cmocka programs in allocator/tests.
 *
 * CTest runs each test function as its own test: the program gets the
 * function's name (or a glob such as "test_calloc_*") as argv[1].
 * ut_select_test() installs the cmocka filter and rejects a pattern that
 * matches none of the program's tests (cmocka itself would run nothing and
 * exit 0).  Include after <cmocka.h>.
 */
#ifndef UT_CMOCKA_H
#define UT_CMOCKA_H

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

/* Returns 0 to go on, or an exit status for main(). */
static inline int ut_select_test(int argc, char **argv, const struct CMUnitTest *tests, size_t n) {
  if (argc < 2) return 0;
  for (size_t i = 0; i < n; i++)
    if (fnmatch(argv[1], tests[i].name, 0) == 0) {
      cmocka_set_test_filter(argv[1]);
      return 0;
    }
  fprintf(stderr, "%s: no test matches %s\n", argv[0], argv[1]);
  return 2;
}

#endif /* UT_CMOCKA_H */
