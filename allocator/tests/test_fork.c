/* test_fork.c - cmocka tests of fork() safety.
 *
 * Two threads allocate and free constantly while the main thread (and, in a
 * second test, one of the workers) forks.  In each child, alarm() turns a
 * deadlock into SIGALRM; the child then allocates and frees through every
 * API function, frees blocks the parent allocated before the fork, runs a
 * thread of its own, and checks that live_blocks moves exactly (the child is
 * single-threaded).  The parent keeps allocating after each fork, and once
 * the workers stop, live_blocks returns to its starting value.
 *
 * Children never call cmocka: they report with one line on stderr and an
 * exit status.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ut_cmocka.h"
#include "ut_common.h"

/* Under ASan and TSan (UT_SANITIZED, ut_common.h) the sanitizer runtime owns libc's malloc, and its
 * allocator is not fork-safe (clang 14: a child can hang in
 * SizeClassAllocator64 when another thread held its lock at fork; TSan
 * refuses to start threads after a multi-threaded fork).  The child must
 * then avoid libc allocations, which pthread_create makes (DTV, getattr). */

enum { CHILD_TIMEOUT_S = 20, PREFORK = 64 };

static atomic_int stop_workers;
static atomic_int worker_forks_left;
static atomic_int worker_fork_failures;

/* blocks the main thread allocated before forking: the child frees them */
static void *prefork[PREFORK];
static size_t prefork_u[PREFORK];

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void child_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fork child %d: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  _exit(3);
}

static void *child_thread(void *arg) {
  (void)arg;
  void *ps[500];
  for (int i = 0; i < 500; i++) {
    ps[i] = hak_malloc((size_t)i * 7 + 1);
    if (!ps[i]) return (void *)1;
    memset(ps[i], 9, (size_t)i * 7 + 1);
  }
  for (int i = 0; i < 500; i++) hak_free(ps[i]);
  return NULL;
}

/* Allocate and free enough 48 KiB blocks to need fresh spans. */
static int span_burst(void) {
  enum { B = 24 };
  void *ps[B];
  int ok = 1;
  for (int i = 0; i < B; i++) {
    ps[i] = hak_malloc(49000);
    if (ps[i]) ((volatile char *)ps[i])[i] = 1;
    else ok = 0;
  }
  for (int i = 0; i < B; i++) hak_free(ps[i]);
  return ok;
}

/* Everything a forked child does; never returns. */
static void child_body(int with_prefork) {
  alarm(CHILD_TIMEOUT_S);
  hak_stats_t st0, st1;
  if (hak_stats_get(&st0) != 0) child_fail("hak_stats_get failed");
  if (!span_burst()) child_fail("48 KiB allocations failed");
  if (with_prefork)
    for (int i = 0; i < PREFORK; i++) {
      if (ut_check(prefork[i], prefork_u[i], (uint64_t)i) != SIZE_MAX) child_fail("pre-fork block %d corrupted", i);
      hak_free(prefork[i]);
    }
  enum { N = 400 };
  void *ps[N];
  for (int i = 0; i < N; i++) {
    size_t n = (size_t)(i * 131) % 3000 + (i % 50 == 0 ? 200000 : 0);
    void *p = NULL;
    switch (i % 8) {
    case 0: p = hak_malloc(n); break;
    case 1: p = hak_calloc(1, n); break;
    case 2: p = hak_realloc(NULL, n); break;
    case 3: p = hak_aligned_alloc(64, n); break;
    case 4: p = hak_memalign(4096, n); break;
    case 5: if (hak_posix_memalign(&p, 256, n)) p = NULL; break;
    case 6: p = hak_valloc(n); break;
    default: p = hak_reallocarray(NULL, 1, n); break;
    }
    if (!p) child_fail("allocation %d of %zu bytes failed", i, n);
    ut_fill(p, hak_malloc_usable_size(p), (uint64_t)i);
    ps[i] = p;
  }
  if (hak_stats_get(&st1) != 0) child_fail("hak_stats_get failed");
  int64_t want = N - (with_prefork ? PREFORK : 0);
  if ((int64_t)(st1.live_blocks - st0.live_blocks) != want)
    child_fail("live_blocks moved by %lld in the child, expected %lld", (long long)(st1.live_blocks - st0.live_blocks),
               (long long)want);
  for (int i = 0; i < N; i++) {
    if (ut_check(ps[i], hak_malloc_usable_size(ps[i]), (uint64_t)i) != SIZE_MAX) child_fail("child block %d corrupted", i);
    ps[i] = hak_realloc(ps[i], 100 + (size_t)i);
    if (!ps[i]) child_fail("realloc failed");
    hak_free(ps[i]);
  }
#if !UT_SANITIZED /* see UT_SANITIZED above */
  pthread_t th;
  void *ret = (void *)1;
  if (pthread_create(&th, NULL, child_thread, NULL) != 0) child_fail("pthread_create failed");
  pthread_join(th, &ret);
  if (ret) child_fail("thread in the child failed to allocate");
#else
  (void)child_thread;
#endif
  if (hak_stats_get(&st1) != 0) child_fail("hak_stats_get failed");
  if (st1.live_blocks + (with_prefork ? PREFORK : 0) != st0.live_blocks)
    child_fail("live_blocks %llu at child exit, expected %llu", (unsigned long long)st1.live_blocks,
               (unsigned long long)(st0.live_blocks - (with_prefork ? PREFORK : 0)));
  _exit(0);
}

/* Wait for a child; returns NULL or a description of its failure. */
static const char *reap(pid_t pid, char *buf, size_t len) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    snprintf(buf, len, "child deadlocked (no progress in %d s after fork)", CHILD_TIMEOUT_S);
  else if (WIFSIGNALED(status))
    snprintf(buf, len, "child killed by signal %d", WTERMSIG(status));
  else
    snprintf(buf, len, "child exited with status %d", WEXITSTATUS(status));
  return buf;
}

static void *worker(void *arg) {
  ut_rng_t rng;
  ut_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
  enum { SLOTS = 512 };
  void *slot[SLOTS] = {0};
  int forker = (uintptr_t)arg == 1;
  uint64_t it = 0;
  for (; !atomic_load(&stop_workers); it++) {
    size_t i = ut_rng_below(&rng, SLOTS);
    if (slot[i]) {
      hak_free(slot[i]);
      slot[i] = NULL;
    } else {
      size_t n = ut_rng_below(&rng, 16) ? ut_rng_below(&rng, 1100) : ut_rng_below(&rng, 300000);
      slot[i] = ut_rng_below(&rng, 2) ? hak_malloc(n) : hak_memalign(64, n);
      if (slot[i]) memset(slot[i], 1, n < 64 ? n : 64);
    }
    /* Paths that take the allocator's global locks, so that forks often
     * land while another thread holds one: stats snapshots (superslab and
     * heap lists) and bursts of mid blocks (span allocation and release). */
    if ((it & 63) == 0) {
      hak_stats_t st;
      hak_stats_get(&st);
    }
    if ((it & 255) == 0) span_burst();
    if (forker && (it % 5000) == 4999 && atomic_load(&worker_forks_left) > 0) {
      atomic_fetch_sub(&worker_forks_left, 1);
      pid_t pid = fork();
      if (pid == 0) child_body(0);
      char buf[128];
      if (pid < 0 || reap(pid, buf, sizeof buf)) {
        if (pid >= 0) fprintf(stderr, "fork from a worker thread: %s\n", buf);
        atomic_fetch_add(&worker_fork_failures, 1);
      }
    }
  }
  for (size_t i = 0; i < SLOTS; i++) hak_free(slot[i]);
  return NULL;
}

static void start_workers(pthread_t th[2]) {
  atomic_store(&stop_workers, 0);
  for (uintptr_t t = 0; t < 2; t++) assert_int_equal(pthread_create(&th[t], NULL, worker, (void *)(t + 1)), 0);
}

static void stop_and_join(pthread_t th[2]) {
  atomic_store(&stop_workers, 1);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
}

static void test_fork_from_main_while_threads_allocate(void **state) {
  (void)state;
  enum { FORKS = 25 };
  uint64_t live0 = ut_live_blocks();
  atomic_store(&worker_forks_left, 0);
  pthread_t th[2];
  start_workers(th);
  for (int f = 0; f < FORKS; f++) {
    for (int i = 0; i < PREFORK; i++) {
      prefork[i] = hak_malloc((size_t)i * 40 + 1);
      assert_non_null(prefork[i]);
      prefork_u[i] = hak_malloc_usable_size(prefork[i]);
      ut_fill(prefork[i], prefork_u[i], (uint64_t)i);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_body(1);
    /* the parent keeps using the allocator while the child runs */
    for (int i = 0; i < PREFORK; i++) {
      size_t bad = ut_check(prefork[i], prefork_u[i], (uint64_t)i);
      if (bad != SIZE_MAX) fail_msg("parent block %d corrupted at %zu after fork", i, bad);
      void *q = hak_malloc(prefork_u[i] + 1);
      assert_non_null(q);
      hak_free(q);
      hak_free(prefork[i]);
    }
    char buf[128];
    const char *err = reap(pid, buf, sizeof buf);
    if (err) {
      stop_and_join(th);
      fail_msg("fork %d: %s", f, err);
    }
  }
  stop_and_join(th);
  assert_int_equal(ut_live_blocks(), live0);
}

static void test_fork_from_worker_thread(void **state) {
  (void)state;
  uint64_t live0 = ut_live_blocks();
  atomic_store(&worker_forks_left, 10);
  atomic_store(&worker_fork_failures, 0);
  pthread_t th[2];
  start_workers(th);
  for (int spin = 0; spin < 2000 && atomic_load(&worker_forks_left) > 0; spin++) usleep(10000);
  stop_and_join(th);
  assert_int_equal(atomic_load(&worker_forks_left), 0);
  assert_int_equal(atomic_load(&worker_fork_failures), 0);
  assert_int_equal(ut_live_blocks(), live0);
}

/* Lock storm: both workers do nothing but take the allocator's global
 * locks (span allocation and release, trim, stats snapshots, whale maps),
 * so most forks land while some lock is held.  Each child takes every one
 * of those locks again; without correct atfork handlers it hangs. */
static void *lock_storm(void *arg) {
  (void)arg;
  hak_stats_t st;
  while (!atomic_load(&stop_workers)) {
    span_burst();
    hak_malloc_trim(0);
    hak_stats_get(&st);
    void *w = hak_malloc(300000);
    if (w) ((volatile char *)w)[0] = 1;
    hak_free(w);
  }
  return NULL;
}

static void test_fork_during_lock_storm(void **state) {
  (void)state;
  enum { FORKS = 200 };
  uint64_t live0 = ut_live_blocks();
  pthread_t th[2];
  atomic_store(&stop_workers, 0);
  for (int t = 0; t < 2; t++) assert_int_equal(pthread_create(&th[t], NULL, lock_storm, NULL), 0);
  const char *err = NULL;
  char buf[128];
  int f = 0;
  for (; f < FORKS && !err; f++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      alarm(CHILD_TIMEOUT_S);
      hak_malloc_trim(0);
      child_body(0);
    }
    err = reap(pid, buf, sizeof buf);
  }
  stop_and_join(th);
  if (err) fail_msg("fork %d during the lock storm: %s", f - 1, err);
  assert_int_equal(ut_live_blocks(), live0);
}

/* fork in a child of a fork: the atfork handlers are re-entrant across
 * generations. */
static void test_nested_fork(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(CHILD_TIMEOUT_S);
    void *p = hak_malloc(100);
    pid_t g = fork();
    if (g < 0) _exit(4);
    if (g == 0) {
      hak_free(p);
      child_body(0);
    }
    char buf[128];
    const char *err = reap(g, buf, sizeof buf);
    hak_free(p);
    if (err) {
      fprintf(stderr, "grandchild: %s\n", err);
      _exit(5);
    }
    _exit(0);
  }
  char buf[128];
  const char *err = reap(pid, buf, sizeof buf);
  if (err) fail_msg("nested fork: %s", err);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fork_from_main_while_threads_allocate),
      cmocka_unit_test(test_fork_from_worker_thread),
      cmocka_unit_test(test_fork_during_lock_storm),
      cmocka_unit_test(test_nested_fork),
  };
  int rc = ut_select_test(argc, argv, tests, sizeof tests / sizeof tests[0]);
  if (rc) return rc;
  rc = cmocka_run_group_tests_name("hakmem_fork", tests, NULL, NULL);
  return rc ? rc : ut_final_heap_check();
}
