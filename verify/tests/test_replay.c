/* test_replay.c - the deterministic multi-thread replayer and the peer
 * backends.  A spy allocator over the system malloc logs, for every call,
 * the op index being replayed and the calling OS thread: each trace thread
 * id must map to one OS thread, different ids to different threads, ops
 * must run in trace order, and two runs must log the same sequence.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vf_replay.h"
#include "vf_san.h"
#include "vf_testutil.h"

/* tcmalloc leaks one registration object at start-up: not ours */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:MallocExtension::Register\n";
}

#define LOG_MAX (1 << 20)
static uint64_t log_op[LOG_MAX];
static pthread_t log_th[LOG_MAX];
static pid_t log_tid[LOG_MAX]; /* kernel ids: never reused this soon */
static size_t nlog;

static void spy_log(void) {
  if (nlog < LOG_MAX) {
    log_op[nlog] = vf_replay_current_op();
    log_th[nlog] = pthread_self();
    log_tid[nlog] = gettid();
    nlog++;
  }
}
static void *spy_malloc(size_t n) { spy_log(); return malloc(n); }
static void spy_free(void *p) { spy_log(); free(p); }
static void *spy_calloc(size_t k, size_t n) { spy_log(); return calloc(k, n); }
static void *spy_realloc(void *p, size_t n) { spy_log(); return realloc(p, n); }
static int spy_pm(void **o, size_t a, size_t n) { spy_log(); return posix_memalign(o, a, n); }
static void *spy_memalign(size_t a, size_t n) { spy_log(); return memalign(a, n); }
#ifndef VF_UNDER_TSAN
static size_t spy_usable(void *p) { return malloc_usable_size(p); }
#endif

static const vf_alloc_t spy = {
    .name = "spy",
    .malloc = spy_malloc,
    .free = spy_free,
    .calloc = spy_calloc,
    .realloc = spy_realloc,
    .posix_memalign = spy_pm,
    .aligned_alloc = spy_memalign,
    .memalign = spy_memalign,
#ifndef VF_UNDER_TSAN /* see vf_san.h */
    .usable_size = spy_usable,
#endif
    .min_align = 16,
};

/* few slots: many cross-thread (remote) frees */
static void gen(vf_trace_t *t, uint64_t seed, uint64_t ops, unsigned threads) {
  vf_test_gen(t, seed, ops, threads, 128, 0);
}

static void test_mt_deterministic(void **state) {
  (void)state;
  vf_trace_t t;
  gen(&t, 21, 30000, 4);
  assert_int_equal(t.nthreads, 4);
  static uint64_t first_ops[LOG_MAX];
  size_t first_n = 0;
  for (int run = 0; run < 2; run++) {
    nlog = 0;
    vf_replay_result_t res;
    int r = vf_replay(&t, &spy, NULL, 1, &res);
    if (r) fail_msg("replay failed: %s", res.message);
    pthread_t owner[VF_TRACE_MAX_THREADS];
    int have[VF_TRACE_MAX_THREADS] = {0};
    uint64_t prev = 0;
    size_t remote = 0;
    for (size_t i = 0; i < nlog; i++) {
      uint64_t op = log_op[i];
      if (op >= t.n) continue; /* final frees on the calling thread */
      assert_true(op >= prev); /* trace order */
      prev = op;
      unsigned tid = t.ops[op].tid;
      if (!have[tid]) {
        for (unsigned k = 0; k < VF_TRACE_MAX_THREADS; k++)
          if (have[k]) assert_false(pthread_equal(owner[k], log_th[i]));
        owner[tid] = log_th[i];
        have[tid] = 1;
      }
      assert_true(pthread_equal(owner[tid], log_th[i]));
      if (t.ops[op].code == VF_OP_FREE) remote++;
    }
    assert_true(remote > 0);
    if (run == 0) {
      memcpy(first_ops, log_op, nlog * sizeof log_op[0]);
      first_n = nlog;
    } else {
      assert_int_equal(first_n, nlog);
      assert_memory_equal(first_ops, log_op, nlog * sizeof log_op[0]);
    }
  }
  vf_trace_free(&t);
}

static void test_remote_free_text(void **state) {
  (void)state;
  const char *text = "hktrace v1\nt0 malloc s0 100\nt0 malloc s1 5000\nt1 switch\n"
                     "t1 free s0\nt1 realloc s1 9000\nt1 malloc s2 64\nt0 switch\n"
                     "t0 free s2\nt0 free s1\n";
  vf_trace_t t;
  char err[256];
  assert_int_equal(vf_trace_parse(text, strlen(text), &t, err, sizeof err), 0);
  vf_replay_result_t res;
  nlog = 0;
  assert_int_equal(vf_replay(&t, &spy, NULL, 1, &res), VF_OK);
  assert_int_equal(res.ops_done, 7);
  /* op 3 (t1 free s0) ran on a different thread than op 0 */
  pthread_t t0 = 0, t1 = 0;
  for (size_t i = 0; i < nlog; i++) {
    if (log_op[i] == 0) t0 = log_th[i];
    if (log_op[i] == 4) t1 = log_th[i];
  }
  assert_false(pthread_equal(t0, t1));
  vf_trace_free(&t);
}

/* t1 exit ends t1's worker: its next op runs on a new OS thread, and the
 * blocks it left behind are freed by others. */
static void test_thread_exit(void **state) {
  (void)state;
  const char *text = "hktrace v1\nt1 malloc s0 100\nt1 malloc s1 3000\nt1 exit\n"
                     "t0 free s0\nt1 malloc s2 50\nt1 exit\nt2 free s1\nt2 free s2\n"
                     "t1 exit\nt0 malloc s3 10\n";
  vf_trace_t t;
  char err[256];
  assert_int_equal(vf_trace_parse(text, strlen(text), &t, err, sizeof err), 0);
  for (int run = 0; run < 2; run++) {
    nlog = 0;
    vf_replay_result_t res;
    int r = vf_replay(&t, &spy, NULL, 1, &res);
    if (r) fail_msg("%s", res.message);
    assert_int_equal(res.ops_done, 7);
    pid_t before = 0, after = 0, t0 = 0;
    for (size_t i = 0; i < nlog; i++) {
      if (log_op[i] == 0) before = log_tid[i];
      if (log_op[i] == 4) after = log_tid[i];
      if (log_op[i] == 3) t0 = log_tid[i];
    }
    assert_true(before && after && t0);
    assert_true(before != after);
    assert_true(before != t0);
  }
  vf_trace_free(&t);
  /* a generated trace with exits replays against the system malloc */
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.seed = 8;
  g.ops = 30000;
  g.threads = 3;
  g.slots = 64;
  g.exits = 500;
  g.impossible = 0;
  assert_int_equal(vf_trace_gen(&g, &t), 0);
  vf_replay_result_t res;
  if (vf_replay(&t, vf_alloc_system(), NULL, 1, &res)) fail_msg("%s", res.message);
  vf_trace_free(&t);
}

/* Each peer that is installed must pass a generated trace without
 * impossible requests (MT), apart from the findings in docs/findings.md:
 * mimalloc 2.0.9 misaligns memalign/aligned_alloc results. */
static void test_peers(void **state) {
  (void)state;
  const char *peers[] = {"system", "jemalloc", "mimalloc", "tcmalloc"};
  const int known[] = {VF_OK, VF_OK, VF_CHK_ALIGN, VF_OK};
  vf_trace_t t;
  vf_test_gen(&t, 77, 20000, 2, 0, 0);
  for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
    char err[512];
    vf_alloc_t *a = vf_alloc_by_name(peers[i], err, sizeof err);
    if (!a) {
      print_message("skipping %s: %s\n", peers[i], err);
      continue;
    }
    assert_non_null(a->malloc);
    vf_replay_result_t res;
    vf_oracle_opts_t oo;
    vf_oracle_defaults(&oo);
    oo.report = NULL;
    int r = vf_replay(&t, a, &oo, 1, &res);
    if (r && r != known[i]) fail_msg("%s: %s", peers[i], res.message);
    if (r) print_message("known finding: %s\n", res.message);
    vf_alloc_close(a);
  }
  vf_trace_free(&t);
}

static void test_dlopen_errors(void **state) {
  (void)state;
  char err[512];
  assert_null(vf_alloc_by_name("/nonexistent/libnope.so", err, sizeof err));
  assert_non_null(strstr(err, "dlopen"));
  /* libm has no malloc of its own: must be refused, not bound to libc's */
  vf_alloc_t *a = vf_alloc_by_name("libm.so.6", err, sizeof err);
  assert_null(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mt_deterministic),
      cmocka_unit_test(test_remote_free_text),
      cmocka_unit_test(test_thread_exit),
      cmocka_unit_test(test_peers),
      cmocka_unit_test(test_dlopen_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
