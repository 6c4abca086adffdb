/* test_memory.c - cmocka tests of how much memory hakmem holds and gives
 * back (issue 19): the address space it can hand out under a limit, the
 * decay of idle memory, malloc_trim, and thread churn.
 *
 *   - vmlimit_*: under RLIMIT_AS (set in a forked child to its mapped size
 *     + 256 MiB), hak_malloc of one size until NULL gets at least 0.9x
 *     the bytes glibc's malloc gets in the same position, and the NULL
 *     says ENOMEM.  Before the two-level registry (superslab.c) hakmem
 *     started 64 MiB down, before aligned span placement a 16-unit span per
 *     superslab left the other half unusable (0.30x glibc at 70 KiB), and
 *     before the 72 KiB class (eight L2.5 classes per doubling to 128 KiB,
 *     layout.h) a 70 KiB block took 80 KiB (0.8x);
 *   - decay_burst: 1 GiB of mixed sizes (16 B - 4 MiB, up to 128 MiB live)
 *     allocated and freed, then light activity (a 1 MiB block malloc'd and
 *     freed every 10 ms: a slow path, which is where decay is checked):
 *     RSS returns within 10 MiB of the start without malloc_trim;
 *   - trim_burst: with decay off, the same burst, then one malloc_trim
 *     returns RSS within 10 MiB of the start at once;
 *   - thread_churn: 100 rounds of 4 threads that allocate mixed sizes and
 *     exit with a quarter of their blocks still live, freed afterwards by
 *     the main thread (remote frees into the heaps of exited threads):
 *     RSS after round 100 is within 8 MiB of RSS after round 10, both
 *     taken after 500 ms of light activity (decay's delay);
 *   - thread_churn_nodecay: the same with decay off (HAKMEM_DECAY_MS=0):
 *     the spans of exited threads go back when their last block is freed.
 *
 * The program runs itself again with HAKMEM_DECAY_MS=100 (0 for
 * trim_burst and thread_churn_nodecay), so that the decay tests take a
 * fraction of a second.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

#define MIB ((size_t)1 << 20)

/* Sanitizer runtimes map terabytes of shadow (no address-space limit can
 * hold them) and ASan's keeps the shadow of every page touched and a
 * quarantine of freed blocks resident: these tests measure the allocator
 * only without them, and skip under them (UT_SANITIZED, UT_ASAN: ut_common.h). */

static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
  fclose(f);
  return (size_t)res * ut_page_size();
}

static size_t vm_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu", &size) != 1) size = 0;
  fclose(f);
  return (size_t)size * ut_page_size();
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
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
  if (UT_SANITIZED) skip(); /* (see UT_SANITIZED) */
  long hak = vm_probe(size, 1), glibc = vm_probe(size, 0);
  print_message("vmlimit size %zu: hakmem %.1f MiB, glibc %.1f MiB (%s build)\n", size,
                hak / 16.0, glibc / 16.0, hak_variant());
  if (glibc <= 0) fail_msg("the glibc probe failed (%ld)", glibc);
  if (hak == -1) fail_msg("hak_malloc(%zu) returned NULL without ENOMEM", size);
  /* the checked builds spend more per block (debug: a request-end map of
   * 1/4 of each superslab; hardened: a guard page per whale; both: the
   * canary, which moves a request among the last bytes of a headered
   * class's release usable size, e.g. 63, up a class: the ratio of the two
   * classes' strides; a headerless class's stride holds its canary) */
  double want = hak_check_level() == 2 ? ratio * 0.75 : ratio;
  if (hak_check_level() >= 1 && size <= 262144) {
    hak_stats_t st;
    hak_stats_get(&st);
    for (uint32_t c = 0; c < st.nclasses; c++)
      if (st.cls[c].usable >= size) {
        if (c > 0 && st.cls[c - 1].stride - st.cls[c - 1].header >= size)
          want *= (double)st.cls[c - 1].stride / st.cls[c].stride;
        break;
      }
  }
  if ((double)hak < want * (double)glibc)
    fail_msg("hakmem got %.1f MiB of %zu-byte blocks under the limit, glibc %.1f (want >= %.2fx)",
             hak / 16.0, size, glibc / 16.0, want);
}

static void test_vmlimit_64(void **state) { (void)state; vm_compare(64, 0.9); }
static void test_vmlimit_4k(void **state) { (void)state; vm_compare(4096, 0.9); }
static void test_vmlimit_70k(void **state) { (void)state; vm_compare(70 << 10, 0.9); }
static void test_vmlimit_1m(void **state) { (void)state; vm_compare(1 << 20, 0.9); }

/* ---- burst, decay and trim ---------------------------------------------- */
/* Allocate and free 1 GiB in mixed sizes, at most 128 MiB live at once,
 * every page of every block written. */
static void burst(void) {
  enum { SLOTS = 4096 };
  static void *slot[SLOTS];
  static size_t len[SLOTS];
  ut_rng_t r;
  ut_rng_seed(&r, 19);
  size_t total = 0, live = 0;
  while (total < 1024 * MIB) {
    unsigned k = (unsigned)ut_rng_below(&r, SLOTS);
    if (slot[k] != NULL) {
      hak_free(slot[k]);
      live -= len[k];
      slot[k] = NULL;
      continue;
    }
    size_t n;
    switch (ut_rng_below(&r, 8)) {
    case 0: case 1: case 2: n = 16 + ut_rng_below(&r, 1024); break;
    case 3: case 4: n = 1024 + ut_rng_below(&r, 64 << 10); break;
    case 5: case 6: n = (64 << 10) + ut_rng_below(&r, 192 << 10); break;
    default: n = (256 << 10) + ut_rng_below(&r, 4 << 20); break;
    }
    if (live + n > 128 * MIB) continue;
    char *p = hak_malloc(n);
    assert_non_null(p);
    for (size_t o = 0; o < n; o += 4096) p[o] = (char)o;
    slot[k] = p;
    len[k] = n;
    live += n;
    total += n;
  }
  for (unsigned k = 0; k < SLOTS; k++) {
    hak_free(slot[k]);
    slot[k] = NULL;
  }
}

static void test_decay_burst(void **state) {
  (void)state;
  if (UT_ASAN) skip(); /* (see UT_SANITIZED) */
  hak_free(hak_malloc(100)); /* the heap and its first superslab */
  size_t start = rss_bytes();
  burst();
  size_t after = rss_bytes();
  size_t now = after;
  int ms = 0;
  for (; ms < 5000 && now > start + 10 * MIB; ms += 10) {
    sleep_ms(10);
    hak_free(hak_malloc(1 << 20)); /* light activity through a slow path */
    now = rss_bytes();
  }
  print_message("decay_burst: RSS %zu KiB at the start, %zu after the burst, %zu after %d ms\n",
                start >> 10, after >> 10, now >> 10, ms);
  if (now > start + 10 * MIB)
    fail_msg("RSS %zu KiB 5 s after the burst, %zu KiB at the start (HAKMEM_DECAY_MS=%s)",
             now >> 10, start >> 10, getenv("HAKMEM_DECAY_MS"));
}

static void test_trim_burst(void **state) {
  (void)state;
  if (UT_ASAN) skip();
  hak_free(hak_malloc(100));
  size_t start = rss_bytes();
  burst();
  size_t after = rss_bytes();
  hak_malloc_trim(0);
  size_t now = rss_bytes();
  print_message("trim_burst: RSS %zu KiB at the start, %zu after the burst, %zu after malloc_trim\n",
                start >> 10, after >> 10, now >> 10);
  if (after < start + 32 * MIB) fail_msg("the burst left only %zu KiB: nothing to trim", after >> 10);
  if (now > start + 10 * MIB)
    fail_msg("RSS %zu KiB after malloc_trim, %zu KiB at the start", now >> 10, start >> 10);
}

/* ---- thread churn ---------------------------------------------------------- */
enum { CHURN_THREADS = 4, CHURN_BLOCKS = 2000 };
typedef struct {
  unsigned seed;
  void *kept[CHURN_BLOCKS / 4];
} churn_arg_t;

static void *churn_thread(void *v) {
  churn_arg_t *a = v;
  ut_rng_t r;
  ut_rng_seed(&r, a->seed);
  void *blk[CHURN_BLOCKS];
  for (unsigned i = 0; i < CHURN_BLOCKS; i++) {
    size_t n = ut_rng_below(&r, 4) == 0 ? 1024 + ut_rng_below(&r, 300 << 10) : 16 + ut_rng_below(&r, 1000);
    char *p = hak_malloc(n);
    if (p == NULL) return NULL;
    p[0] = 1;
    p[n - 1] = 2;
    blk[i] = p;
  }
  /* three quarters freed here, one quarter outlives the thread */
  for (unsigned i = 0; i < CHURN_BLOCKS; i++) {
    if (i % 4 == 0) a->kept[i / 4] = blk[i];
    else hak_free(blk[i]);
  }
  return a;
}

static void churn(void) {
  if (UT_ASAN) skip();
  static churn_arg_t args[CHURN_THREADS];
  size_t rss10 = 0, rss = 0;
  for (unsigned round = 1; round <= 100; round++) {
    pthread_t t[CHURN_THREADS];
    for (unsigned i = 0; i < CHURN_THREADS; i++) {
      args[i].seed = round * 131 + i;
      assert_int_equal(pthread_create(&t[i], NULL, churn_thread, &args[i]), 0);
    }
    for (unsigned i = 0; i < CHURN_THREADS; i++) {
      void *ret;
      pthread_join(t[i], &ret);
      assert_non_null(ret);
    }
    /* the blocks that outlived their threads: remote frees into their
     * abandoned slabs */
    for (unsigned i = 0; i < CHURN_THREADS; i++)
      for (unsigned k = 0; k < CHURN_BLOCKS / 4; k++) hak_free(args[i].kept[k]);
    if (round != 10 && round != 100) continue;
    /* what the churn holds once the decay delay has passed: 500 ms of
     * light activity through a slow path, as in decay_burst */
    for (int ms = 0; ms < 500; ms += 10) {
      sleep_ms(10);
      hak_free(hak_malloc(1 << 20));
    }
    rss = rss_bytes();
    if (round == 10) rss10 = rss;
  }
  print_message("thread_churn: RSS %zu KiB after round 10, %zu after round 100 (%s build)\n",
                rss10 >> 10, rss >> 10, hak_variant());
  if (rss > rss10 + 8 * MIB)
    fail_msg("RSS grew from %zu KiB (round 10) to %zu KiB (round 100)", rss10 >> 10, rss >> 10);
}

static void test_thread_churn(void **state) {
  (void)state;
  churn();
}

/* The same with decay off: a remote free that leaves an exited thread's
 * slab empty gives its span back at once (class.c reclaim_abandoned). */
static void test_thread_churn_nodecay(void **state) {
  (void)state;
  const char *d = getenv("HAKMEM_DECAY_MS");
  if (d == NULL || strcmp(d, "0") != 0) skip(); /* run alone, it gets 0 */
  churn();
}

int main(int argc, char **argv) {
  /* Options are read at start-up: the program runs itself again with the
   * decay delay its test wants (trim_burst: decay off; the others 100 ms). */
  const char *want = argc > 1 && (strcmp(argv[1], "test_trim_burst") == 0 ||
                                  strcmp(argv[1], "test_thread_churn_nodecay") == 0)
                         ? "0" : "100";
  if (ut_rerun_with(argv, "UT_MEMORY_EXEC", (const char *const[]){"HAKMEM_DECAY_MS", want, NULL}))
    return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vmlimit_64),
      cmocka_unit_test(test_vmlimit_4k),
      cmocka_unit_test(test_vmlimit_70k),
      cmocka_unit_test(test_vmlimit_1m),
      cmocka_unit_test(test_decay_burst),
      cmocka_unit_test(test_trim_burst),
      cmocka_unit_test(test_thread_churn),
      cmocka_unit_test(test_thread_churn_nodecay),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_memory", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
