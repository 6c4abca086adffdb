/* test_memory.c - cmocka tests of how much memory hakmem holds and gives
 * back (issue 19): the address space it can hand out under a limit.
 *
 *   - vmlimit_*: under RLIMIT_AS (set in a forked child to its mapped size
 *     + 256 MiB), hak_malloc of one size until NULL gets at least 0.9x
 *     the bytes glibc's malloc gets in the same position (0.8x at 70 KiB,
 *     whose 80 KiB class costs 12.5%), and the NULL says ENOMEM.  Before
 *     the two-level registry (superslab.c) hakmem started 64 MiB down, and
 *     before aligned span placement a 16-unit span per superslab left the
 *     other half unusable: 0.30x glibc at 70 KiB.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

#define MIB ((size_t)1 << 20)

static size_t vm_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu", &size) != 1) size = 0;
  fclose(f);
  return (size_t)size * ut_page_size();
}

/* ---- address space under a limit ------------------------------------------ */
/* In a child: limit the address space to what is mapped + 256 MiB, then
 * allocate `size` bytes at a time with hakmem (hak = 1) or glibc until
 * NULL; the child writes MiB obtained * 16 (or -1: the NULL was not
 * ENOMEM) into its exit pipe. */
static long vm_probe(size_t size, int hak) {
  int fds[2];
  if (pipe(fds) != 0) return -2;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    rl.rlim_cur = vm_bytes() + 256 * MIB;
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
    void *list = NULL;
    size_t n = 0;
    int err;
    for (;;) {
      errno = 0;
      void **p = hak ? hak_malloc(size) : malloc(size);
      if (p == NULL) {
        err = errno;
        break;
      }
      *p = list;
      list = p;
      n++;
    }
    long r = err == ENOMEM ? (long)(n * size * 16 / MIB) : -1;
    if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(4);
    _exit(0);
  }
  close(fds[1]);
  long r = -2;
  if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) r = -2;
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return r;
}

static void vm_compare(size_t size, double ratio) {
  long hak = vm_probe(size, 1), glibc = vm_probe(size, 0);
  print_message("vmlimit size %zu: hakmem %.1f MiB, glibc %.1f MiB (%s build)\n", size,
                hak / 16.0, glibc / 16.0, hak_variant());
  if (glibc <= 0) fail_msg("the glibc probe failed (%ld)", glibc);
  if (hak == -1) fail_msg("hak_malloc(%zu) returned NULL without ENOMEM", size);
  /* the checked builds spend more per block (debug: a request-end map of
   * 1/4 of each superslab; hardened: a guard page per whale) */
  double want = hak_check_level() == 2 ? ratio * 0.75 : ratio;
  if ((double)hak < want * (double)glibc)
    fail_msg("hakmem got %.1f MiB of %zu-byte blocks under the limit, glibc %.1f (want >= %.2fx)",
             hak / 16.0, size, glibc / 16.0, want);
}

static void test_vmlimit_64(void **state) { (void)state; vm_compare(64, 0.9); }
static void test_vmlimit_4k(void **state) { (void)state; vm_compare(4096, 0.9); }
static void test_vmlimit_70k(void **state) { (void)state; vm_compare(70 << 10, 0.8); }
static void test_vmlimit_1m(void **state) { (void)state; vm_compare(1 << 20, 0.9); }

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vmlimit_64),
      cmocka_unit_test(test_vmlimit_4k),
      cmocka_unit_test(test_vmlimit_70k),
      cmocka_unit_test(test_vmlimit_1m),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_memory", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
