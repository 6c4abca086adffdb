/* test_oracle.c - every oracle check must fire on a deliberately wrong
 * allocator (a test double over the system malloc, one fault per mode) and
 * stay silent on the right one; misuse ops must kill a strict allocator and
 * leave a lenient one clean (every check with the contents pattern whole and
 * sampled); the OS fault layer's excuse (NULL with ENOMEM only, only when
 * the layer injected a failure, the heap walk right after); plus unit tests of the address map (B+tree) and the contents
 * pattern, whole and sampled.
 *
 * The double's block layout: [base ... | size | base | user ... | canary],
 * so it can hand out misaligned or shifted pointers and still free them; a
 * table of held blocks recognises invalid frees without reading memory.
 * Only one fault mode is active per test; M_GOOD is a correct allocator.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>


#include "vf_oracle.h"
#include "vf_replay.h"
#include "vf_san.h"
#include "vf_testutil.h"
#include "vf_tree.h"

enum {
  M_GOOD, M_NULL, M_ERRNO, M_MUST_FAIL, M_ALIGN, M_ALIGN_BIG, M_USABLE,
  M_BOUND, M_USABLE_STABLE, M_OVERLAP, M_CONTENTS, M_CALLOC_DIRTY,
  M_REALLOC_TRUNC, M_REALLOC_NULL, M_REALLOC_DAMAGE, M_STATS_COUNT,
  M_STATS_BYTES, M_HEAP, M_POSIX_EINVAL,
  M_REALLOC_SHORT1, /* realloc loses the last byte it must keep */
  M_STRICT,  /* correct, and dies (abort) on any invalid free or overflow */
  M_LENIENT  /* correct, and ignores invalid frees */
};

static int mode;
static uint64_t live, live_bytes, calls;
static unsigned char *last_user;
/* every block the double holds (base and user pointer), so faulty runs can
 * be cleaned up and invalid frees are recognised without reading memory */
static struct {
  void *base, *user;
} held[1 << 14];
static size_t nheld;

/* Index of the block with user pointer u, or -1. */
static long held_find(const void *u) {
  for (size_t i = nheld; i-- > 0;)
    if (held[i].user == u) return (long)i;
  return -1;
}

static void td_release_all(void) {
  while (nheld) free(held[--nheld].base);
}

#define TD_CANARY 0xC3 /* 8 bytes after every block, checked by M_STRICT */

static size_t td_size(void *u) {
  size_t n;
  memcpy(&n, (unsigned char *)u - 16, sizeof n);
  return n;
}

static void *td_alloc(size_t n, size_t align) {
  if (n > PTRDIFF_MAX) {
    errno = mode == M_ERRNO ? EINVAL : ENOMEM;
    if (mode != M_MUST_FAIL) return NULL;
    n = 16;
  }
  if (mode == M_NULL && n == 100) {
    errno = ENOMEM;
    return NULL;
  }
  if (mode == M_OVERLAP && last_user && td_size(last_user) >= 64) {
    unsigned char *inside = last_user + 32; /* inside the previous block */
    memcpy(inside - 16, &n, sizeof n);
    return inside;
  }
  if (align < 16) align = 16;
  if (n + align < n || n + align > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  size_t shift = mode == M_ALIGN ? 8 : 0;
  if (mode == M_ALIGN_BIG && align > 16) shift = 16, align = 16;
  unsigned char *base = nheld < sizeof held / sizeof held[0]
                            ? malloc(n + align + 32 + shift + 24)
                            : NULL;
  if (!base) return NULL;
  uintptr_t u = ((uintptr_t)base + 16 + align - 1) / align * align;
  if (u - (uintptr_t)base < 16) u += align;
  unsigned char *user = (unsigned char *)u + shift;
  memcpy(user - 16, &n, sizeof n);
  memcpy(user - 8, &base, sizeof base);
  memset(user + n, TD_CANARY, 8);
  held[nheld].base = base;
  held[nheld].user = user;
  nheld++;
  if (mode == M_CONTENTS && last_user) last_user[0] ^= 0x5a; /* scribble */
  last_user = user;
  live++;
  live_bytes += n;
  return user;
}

static void *td_malloc(size_t n) { return td_alloc(n, 16); }

static void td_free(void *p) {
  if (!p) return;
  long i = held_find(p);
  if (i < 0) {
    if (mode == M_STRICT) abort(); /* invalid, interior or double free */
    return;                        /* M_LENIENT (and bugs): ignore */
  }
  unsigned char *u = p;
  if (mode == M_STRICT)
    for (size_t k = 0; k < 8; k++)
      if (u[td_size(p) + k] != TD_CANARY) abort(); /* overflow */
  live--;
  live_bytes -= td_size(p);
  if (p == last_user) last_user = NULL;
  free(held[i].base);
  held[i] = held[--nheld];
}

static void *td_calloc(size_t k, size_t n) {
  size_t t;
  if (__builtin_mul_overflow(k, n, &t)) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned char *p = td_malloc(t);
  if (p) memset(p, 0, t);
  if (p && mode == M_CALLOC_DIRTY && t) p[t / 2] = 0x42;
  return p;
}

static void *td_realloc(void *p, size_t n) {
  if (!p) {
    if (mode == M_REALLOC_NULL) return NULL;
    return td_malloc(n);
  }
  if (n == 0) {
    td_free(p);
    return NULL;
  }
  if (n > PTRDIFF_MAX) {
    if (mode == M_REALLOC_DAMAGE) ((unsigned char *)p)[1] ^= 1;
    errno = ENOMEM;
    return NULL;
  }
  void *q = td_malloc(n);
  if (!q) return NULL;
  size_t old = td_size(p), k = old < n ? old : n;
  memcpy(q, p, mode == M_REALLOC_TRUNC ? k / 2 : k);
  if (mode == M_REALLOC_SHORT1 && k) /* the last kept byte lost (and surely different) */
    ((unsigned char *)q)[k - 1] = (unsigned char)~((unsigned char *)p)[k - 1];
  td_free(p);
  return q;
}

static int td_posix_memalign(void **out, size_t al, size_t n) {
  if (al == 0 || (al & (al - 1)) || al % sizeof(void *))
    return mode == M_POSIX_EINVAL ? ENOMEM : EINVAL;
  void *p = td_alloc(n, al);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

static void *td_memalign(size_t al, size_t n) {
  if (al & (al - 1)) {
    errno = EINVAL;
    return NULL;
  }
  return td_alloc(n, al);
}

static size_t td_usable(void *p) {
  size_t n = td_size(p);
  if (mode == M_USABLE && n) return n - 1;
  if (mode == M_BOUND) return n + 8;
  if (mode == M_USABLE_STABLE) return n + (calls++ & 1) * 8;
  return n;
}

static size_t td_bound(size_t n, size_t align) {
  (void)align;
  return n + (mode == M_BOUND ? 0 : 16);
}

static int td_stats(vf_stats_t *s) {
  s->live_blocks = live + (mode == M_STATS_COUNT);
  s->live_bytes = mode == M_STATS_BYTES && live_bytes ? live_bytes - 1 : live_bytes;
  return 0;
}

static int td_heap(void) { return mode == M_HEAP ? 1 : 0; }

static const vf_alloc_t td = {
    .name = "test-double",
    .malloc = td_malloc,
    .free = td_free,
    .calloc = td_calloc,
    .realloc = td_realloc,
    .posix_memalign = td_posix_memalign,
    .aligned_alloc = td_memalign,
    .memalign = td_memalign,
    .usable_size = td_usable,
    .stats_get = td_stats,
    .check_heap = td_heap,
    .usable_bound = td_bound,
    .min_align = 16,
};

/* Replay a text trace against the double in mode m; return the check. */
static int sampled; /* run the oracle with opts.pattern_sample */

static int run_mode(int m, const char *text, char *msg, size_t msglen) {
  vf_trace_t t;
  char err[256];
  assert_int_equal(vf_trace_parse(text, strlen(text), &t, err, sizeof err), 0);
  mode = m;
  live = live_bytes = calls = 0;
  last_user = NULL;
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  oo.check_every = 1;
  oo.report = NULL;
  oo.allow_misuse = 1;
  oo.pattern_sample = sampled;
  vf_replay_result_t res;
  int r = vf_replay(&t, &td, &oo, 0, &res);
  if (msg) snprintf(msg, msglen, "%s", res.message);
  vf_trace_free(&t);
  td_release_all();
  return r;
}

typedef struct fault_case {
  int mode, check;
  const char *trace;
} fault_case_t;

static const fault_case_t cases[] = {
    {M_NULL, VF_CHK_NULL, "hktrace v1\nt0 malloc s0 100\n"},
    {M_ERRNO, VF_CHK_ERRNO, "hktrace v1\nt0 malloc s0 18446744073709551615\n"},
    {M_MUST_FAIL, VF_CHK_MUST_FAIL, "hktrace v1\nt0 malloc s0 0x8000000000000000\n"},
    {M_POSIX_EINVAL, VF_CHK_ERRNO, "hktrace v1\nt0 posix_memalign s0 24 100\n"},
    {M_ALIGN, VF_CHK_ALIGN, "hktrace v1\nt0 malloc s0 64\n"},
    {M_ALIGN_BIG, VF_CHK_ALIGN, "hktrace v1\nt0 memalign s0 256 100\n"},
    {M_USABLE, VF_CHK_USABLE, "hktrace v1\nt0 malloc s0 100\n"},
    {M_BOUND, VF_CHK_BOUND, "hktrace v1\nt0 malloc s0 100\n"},
    {M_USABLE_STABLE, VF_CHK_USABLE_STABLE,
     "hktrace v1\nt0 malloc s0 100\nt0 usable_size s0\n"},
    {M_OVERLAP, VF_CHK_OVERLAP, "hktrace v1\nt0 malloc s0 100\nt0 malloc s1 100\n"},
    {M_CONTENTS, VF_CHK_CONTENTS,
     "hktrace v1\nt0 malloc s0 100\nt0 malloc s1 100\nt0 free s0\n"},
    {M_CALLOC_DIRTY, VF_CHK_CALLOC_ZERO, "hktrace v1\nt0 calloc s0 4 25\n"},
    {M_REALLOC_TRUNC, VF_CHK_REALLOC, "hktrace v1\nt0 malloc s0 100\nt0 realloc s0 200\n"},
    {M_REALLOC_NULL, VF_CHK_NULL, "hktrace v1\nt0 realloc s0 100\n"},
    {M_REALLOC_DAMAGE, VF_CHK_REALLOC,
     "hktrace v1\nt0 malloc s0 100\nt0 realloc s0 18446744073709551615\n"},
    {M_STATS_COUNT, VF_CHK_STATS, "hktrace v1\nt0 malloc s0 100\n"},
    {M_STATS_BYTES, VF_CHK_STATS, "hktrace v1\nt0 malloc s0 100\n"},
    {M_HEAP, VF_CHK_HEAP, "hktrace v1\nt0 malloc s0 100\n"},
    /* large blocks, where the sampled pattern has windows only: the head,
     * a power-of-two edge, the end of a grown or shrunk realloc prefix */
    {M_CONTENTS, VF_CHK_CONTENTS,
     "hktrace v1\nt0 malloc s0 100000\nt0 malloc s1 100\nt0 free s0\n"},
    {M_CALLOC_DIRTY, VF_CHK_CALLOC_ZERO, "hktrace v1\nt0 calloc s0 2 65536\n"},
    {M_REALLOC_SHORT1, VF_CHK_REALLOC, "hktrace v1\nt0 malloc s0 100000\nt0 realloc s0 200000\n"},
    {M_REALLOC_SHORT1, VF_CHK_REALLOC, "hktrace v1\nt0 malloc s0 200000\nt0 realloc s0 100001\n"},
    {M_REALLOC_SHORT1, VF_CHK_REALLOC, "hktrace v1\nt0 malloc s0 100\nt0 realloc s0 50\n"},
};

/* Every case, with the pattern over whole blocks and sampled. */
static void test_each_check_fires(void **state) {
  (void)state;
  for (size_t j = 0; j < 2 * sizeof cases / sizeof cases[0]; j++) {
    size_t i = j % (sizeof cases / sizeof cases[0]);
    sampled = j >= sizeof cases / sizeof cases[0];
    char msg[512];
    int r = run_mode(cases[i].mode, cases[i].trace, msg, sizeof msg);
    if (r != cases[i].check)
      fail_msg("mode %d%s: expected check %s, got %s (%s)", cases[i].mode,
               sampled ? " (sampled)" : "", vf_check_name(cases[i].check),
               vf_check_name(r), msg);
    /* one line: oracle: op N: <check>: ptr=0x... size=... usable=... (...) */
    char prefix[64];
    snprintf(prefix, sizeof prefix, ": %s: ptr=0x", vf_check_name(r));
    assert_true(strncmp(msg, "oracle: op ", 11) == 0);
    assert_non_null(strstr(msg, prefix));
    assert_non_null(strstr(msg, " size="));
    assert_non_null(strstr(msg, " usable="));
    assert_null(strchr(msg, '\n'));
    /* and the correct allocator passes the same trace */
    r = run_mode(M_GOOD, cases[i].trace, msg, sizeof msg);
    if (r != VF_OK) fail_msg("good allocator failed case %zu: %s", i, msg);
  }
  sampled = 0;
}

static void test_good_allocator_passes_random(void **state) {
  (void)state;
  vf_trace_t t;
  vf_test_gen(&t, 7, 20000, 1, 256, 1);
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  oo.check_every = 1;
  oo.report = NULL;
  vf_replay_result_t res;
  mode = M_GOOD;
  live = live_bytes = 0;
  last_user = NULL;
  int r = vf_replay(&t, &td, &oo, 0, &res);
  if (r) fail_msg("test double: %s", res.message);
#ifndef VF_UNDER_ASAN /* ASan's own malloc crashes on some impossible sizes */
  r = vf_replay(&t, vf_alloc_system(), &oo, 0, &res);
  if (r) fail_msg("system: %s", res.message);
#endif
  vf_trace_free(&t);
}

static void test_empty_slots_and_orphans(void **state) {
  (void)state;
  /* free/usable_size of an empty slot are no-ops; malloc into a used slot
   * orphans the old block, which is still checked and freed at the end */
  const char *text = "hktrace v1\nt0 free s3\nt0 usable_size s3\n"
                     "t0 malloc s1 40\nt0 malloc s1 50\nt0 realloc s1 0\n"
                     "t0 realloc s2 0\nt0 free s2\n";
  char msg[512];
  assert_int_equal(run_mode(M_GOOD, text, msg, sizeof msg), VF_OK);
  assert_int_equal(live, 0);
}

static void test_tree_matches_bruteforce(void **state) {
  (void)state;
  enum { N = 2000 };
  static vf_tnode_t nodes[N + 1];
  static int linked[N + 1];
  vf_tree_t t;
  assert_int_equal(vf_tree_init(&t, nodes, 42), 0);
  uint64_t x = 88172645463325252ull;
  for (int i = 1; i <= N; i++) { /* disjoint ranges [i*100, i*100+50) */
    nodes[i].lo = (uintptr_t)i * 100;
    nodes[i].hi = nodes[i].lo + 50;
  }
  for (int step = 0; step < 200000; step++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int i = 1 + (int)(x % N);
    if (linked[i]) {
      assert_int_equal(vf_tree_erase(&t, (uint32_t)i), 0);
    } else {
      vf_tree_insert(&t, (uint32_t)i);
    }
    linked[i] = !linked[i];
    uintptr_t q = (uintptr_t)(x >> 20) % ((N + 2) * 100);
    uint32_t o = vf_tree_overlap(&t, q, q + 30);
    int want = 0;
    for (int k = (int)(q / 100) - 1; k <= (int)(q / 100) + 1; k++)
      if (k >= 1 && k <= N && linked[k] && nodes[k].lo < q + 30 && nodes[k].hi > q)
        want = k;
    assert_int_equal(o, (uint32_t)want);
    if (step % 997 == 0) { /* first() is the smallest linked block */
      int k = 1;
      while (k <= N && !linked[k]) k++;
      assert_int_equal(vf_tree_first(&t), k <= N ? (uint32_t)k : 0);
    }
  }
  /* drain: every linked block erases once, then the tree is empty */
  for (int i = 1; i <= N; i++)
    if (linked[i]) assert_int_equal(vf_tree_erase(&t, (uint32_t)i), 0);
  assert_int_equal(t.count, 0);
  assert_int_equal(vf_tree_first(&t), 0);
  assert_int_equal(vf_tree_erase(&t, 1), -1);
  vf_tree_destroy(&t);
}

static void test_pattern(void **state) {
  (void)state;
  unsigned char buf[301];
  for (size_t n = 0; n <= 300; n += 13) {
    vf_pattern_fill(buf, n, 99);
    assert_true(vf_pattern_check(buf, n, 99) == SIZE_MAX);
    if (n) assert_true(vf_pattern_check(buf, n, 100) != SIZE_MAX);
    for (size_t k = 0; k < n; k += 7) {
      assert_int_equal(buf[k], vf_pattern_byte(99, k));
      buf[k] ^= 0x80;
      assert_int_equal(vf_pattern_check(buf, n, 99), k);
      buf[k] ^= 0x80;
    }
  }
  /* unaligned start */
  vf_pattern_fill(buf + 1, 200, 5);
  assert_true(vf_pattern_check(buf + 1, 200, 5) == SIZE_MAX);
}

/* Sampled pattern: windows sorted, inside the range, head and tail and the
 * power-of-two edges covered, the same for the same id; a damaged byte in
 * any window is found at its offset, one outside every window is not. */
static void test_pattern_sampled(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 4096, 4097, 5000, 65536, 100003, 1 << 20};
  size_t cap = (size_t)1 << 20;
  unsigned char *buf = malloc(cap);
  assert_non_null(buf);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    uint64_t id = 1000 + s;
    vf_pat_window_t w[VF_PAT_MAX_WINDOWS], w2[VF_PAT_MAX_WINDOWS];
    size_t c = vf_pattern_windows(n, id, w);
    assert_true(c >= 1 && c <= VF_PAT_MAX_WINDOWS);
    assert_int_equal(vf_pattern_windows(n, id, w2), c);
    assert_memory_equal(w, w2, c * sizeof w[0]);
    assert_int_equal(w[0].lo, 0);
    int tail = 0;
    for (size_t i = 0; i < c; i++) {
      assert_true(w[i].lo < w[i].hi && w[i].hi <= n);
      if (i) assert_true(w[i - 1].lo <= w[i].lo);
      tail |= w[i].hi == n;
    }
    assert_true(tail);
    for (size_t e = 4096; e < n; e *= 2) { /* every power-of-two edge */
      int in = 0;
      for (size_t i = 0; i < c; i++) in |= w[i].lo <= e && e < w[i].hi;
      assert_true(in);
    }
    memset(buf, 0, n);
    vf_pattern_fill_sampled(buf, n, id);
    assert_true(vf_pattern_check_sampled(buf, n, n, id) == SIZE_MAX);
    for (size_t i = 0; i < c; i++) {
      size_t k = w[i].lo + (w[i].hi - w[i].lo) / 2;
      assert_int_equal(buf[k], vf_pattern_byte(id, k));
      buf[k] ^= 1;
      size_t got = vf_pattern_check_sampled(buf, n, n, id);
      assert_int_equal(got, k);
      /* below a limit that excludes k, it is not seen */
      assert_true(vf_pattern_check_sampled(buf, n, w[i].lo, id) == SIZE_MAX);
      buf[k] ^= 1;
    }
    if (n > VF_PAT_SAMPLE_WHOLE) { /* a byte in no window: not checked */
      size_t k = VF_PAT_SAMPLE_EDGE;
      for (int moved = 1; moved;) {
        moved = 0;
        for (size_t i = 0; i < c; i++)
          if (w[i].lo <= k && k < w[i].hi) k = w[i].hi, moved = 1;
      }
      assert_true(k < n);
      buf[k] ^= 1;
      assert_true(vf_pattern_check_sampled(buf, n, n, id) == SIZE_MAX);
    }
  }
  /* ranges: any start, any end */
  vf_pattern_fill_range(buf, 3, 70, 7);
  assert_true(vf_pattern_check_range(buf, 3, 70, 7) == SIZE_MAX);
  for (size_t k = 3; k < 70; k++) assert_int_equal(buf[k], vf_pattern_byte(7, k));
  buf[69] ^= 1;
  assert_int_equal(vf_pattern_check_range(buf, 3, 70, 7), 69);
  free(buf);
}

/* Misuse: a strict allocator must die at (or after) every kind of misuse
 * op; a lenient one survives, and the oracle still finds no violation. */
static void test_misuse(void **state) {
  (void)state;
  static const char *const traces[] = {
      "hktrace v1\nt0 malloc s0 100\nt0 double_free s0\n",
      "hktrace v1\nt0 malloc s0 100\nt0 interior_free s0 16\n",
      "hktrace v1\nt0 foreign_free s0\n",
      "hktrace v1\nt0 malloc s0 100\nt0 overflow s0 1\nt0 free s0\n",
  };
  for (size_t i = 0; i < sizeof traces / sizeof traces[0]; i++) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      run_mode(M_STRICT, traces[i], NULL, 0);
      _exit(0); /* survived: the test fails below */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
      fail_msg("strict double survived misuse trace %zu", i);
    char msg[512];
    assert_int_equal(run_mode(M_LENIENT, traces[i], msg, sizeof msg), VF_OK);
  }
  /* the misuse ops parse, print and count */
  vf_trace_t t;
  char err[256];
  const char *all = "hktrace v1\nt0 malloc s0 64\nt0 overflow s0 3\nt0 interior_free s0 5\n"
                    "t0 foreign_free s9\nt0 double_free s0\nt0 free s0\n";
  assert_int_equal(vf_trace_parse(all, strlen(all), &t, err, sizeof err), 0);
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  oo.report = NULL;
  mode = M_LENIENT;
  vf_oracle_t *o = vf_oracle_new(&td, t.max_slot + 1, &oo); /* misuse off */
  for (size_t i = 0; i < t.n; i++) assert_int_equal(vf_oracle_op(o, i, &t.ops[i]), VF_OK);
  assert_int_equal(vf_oracle_misuses(o), 0);
  assert_int_equal(vf_oracle_skipped(o), 4);
  assert_int_equal(vf_oracle_finish(o, t.n), VF_OK);
  vf_oracle_destroy(o);
  oo.allow_misuse = 1;
  o = vf_oracle_new(&td, t.max_slot + 1, &oo);
  for (size_t i = 0; i < t.n; i++) assert_int_equal(vf_oracle_op(o, i, &t.ops[i]), VF_OK);
  assert_int_equal(vf_oracle_misuses(o), 4);
  assert_int_equal(vf_oracle_skipped(o), 1); /* the free after the double free */
  assert_int_equal(vf_oracle_finish(o, t.n), VF_OK);
  vf_oracle_destroy(o);
  vf_trace_free(&t);
  td_release_all();
}

/* ---- the OS fault layer's side (vf_fault.h) ------------------------------
 * A double with the layer's hooks: a `fault` op arms `size` failures of
 * the next allocations, each failing with fl_errno and counted as injected
 * (fl_count 0: the layer does not say so); fl_heap_bad: the heap walk
 * complains once a failure was injected. */
static int fl_armed, fl_errno, fl_count, fl_heap_bad;
static uint64_t fl_failed;
static int fl_fault(int kind, uint64_t a, uint64_t b) {
  (void)a;
  if (kind == 1) fl_armed = (int)b;
  if (kind == 0) fl_armed = 0;
  return 0;
}
static uint64_t fl_failed_count(void) { return fl_failed; }
static int fl_fail(void) {
  if (fl_armed <= 0) return 0;
  fl_armed--;
  fl_failed += (uint64_t)fl_count;
  errno = fl_errno;
  return 1;
}
static void *fl_malloc(size_t n) { return fl_fail() ? NULL : td_malloc(n); }
static int fl_posix_memalign(void **out, size_t al, size_t n) {
  return fl_fail() ? fl_errno : td_posix_memalign(out, al, n);
}
static int fl_heap(void) { return fl_heap_bad && fl_failed ? 1 : 0; }
/* glibc's memalign: a bad alignment rounded up, then served (or not) */
static void *fl_memalign(size_t al, size_t n) {
  if (fl_fail()) return NULL;
  while (al & (al - 1)) al &= al - 1;
  return td_alloc(n, al * 2);
}

static int run_faults(int err, int count, int heap_bad, uint64_t *index) {
  static const char text[] = "hktrace v1\n"
                             "t0 malloc s0 100\n"
                             "t0 fault 1 2\n"
                             "t0 malloc s1 200\n"
                             "t0 posix_memalign s2 64 300\n"
                             "t0 malloc s3 400\n"
                             "t0 fault 1 1\n"
                             "t0 memalign s4 3000 100\n"
                             "t0 free s0\n";
  vf_alloc_t a = td;
  a.malloc = fl_malloc;
  a.posix_memalign = fl_posix_memalign;
  a.memalign = fl_memalign;
  a.check_heap = fl_heap;
  a.os_fault = fl_fault;
  a.os_failed = fl_failed_count;
  fl_armed = 0, fl_errno = err, fl_count = count, fl_heap_bad = heap_bad, fl_failed = 0;
  mode = M_GOOD;
  live = live_bytes = calls = 0;
  last_user = NULL;
  vf_trace_t t;
  char e[256];
  assert_int_equal(vf_trace_parse(text, sizeof text - 1, &t, e, sizeof e), 0);
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  oo.check_every = 0; /* stats and heap walk at the end, and after a fault */
  oo.report = NULL;
  vf_replay_result_t res;
  int r = vf_replay(&t, &a, &oo, 0, &res);
  if (index) *index = res.index;
  vf_trace_free(&t);
  td_release_all();
  return r;
}

static void test_os_faults(void **state) {
  (void)state;
  uint64_t at = 0;
  /* injected failures: NULL with ENOMEM (posix_memalign: ENOMEM) passes */
  assert_int_equal(run_faults(ENOMEM, 1, 0, NULL), VF_OK);
  assert_int_equal(fl_failed, 3); /* the memalign with a bad alignment too */
  /* ... with another errno does not */
  assert_int_equal(run_faults(EINVAL, 1, 0, &at), VF_CHK_ERRNO);
  assert_int_equal(at, 2);
  /* a NULL the layer did not inject is still a NULL */
  assert_int_equal(run_faults(ENOMEM, 0, 0, &at), VF_CHK_NULL);
  assert_int_equal(at, 2);
  /* the heap walk runs right after the op that met the fault */
  assert_int_equal(run_faults(ENOMEM, 1, 1, &at), VF_CHK_HEAP);
  assert_int_equal(at, 2);
  /* an allocator without the hooks skips the fault op: nothing fails */
  vf_trace_t t;
  char e[256];
  static const char plain[] = "hktrace v1\nt0 fault 1 5\nt0 malloc s0 100\nt0 free s0\n";
  assert_int_equal(vf_trace_parse(plain, sizeof plain - 1, &t, e, sizeof e), 0);
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  oo.report = NULL;
  vf_replay_result_t res;
  mode = M_GOOD;
  live = live_bytes = calls = 0;
  assert_int_equal(vf_replay(&t, &td, &oo, 0, &res), VF_OK);
  assert_int_equal(res.skipped, 1);
  vf_trace_free(&t);
  td_release_all();
}

static void test_check_names(void **state) {
  (void)state;
  for (int c = 0; c < VF_CHK_COUNT_; c++)
    assert_int_equal(vf_check_from_name(vf_check_name(c)), c);
  assert_int_equal(vf_check_from_name("no-such-check"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_check_fires),
      cmocka_unit_test(test_good_allocator_passes_random),
      cmocka_unit_test(test_empty_slots_and_orphans),
      cmocka_unit_test(test_tree_matches_bruteforce),
      cmocka_unit_test(test_pattern),
      cmocka_unit_test(test_pattern_sampled),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_check_names),
      cmocka_unit_test(test_os_faults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
