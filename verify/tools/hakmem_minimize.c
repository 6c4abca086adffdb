/* hakmem_minimize.c - hakmem-minimize: delta debugging of a failing trace.
 *
 *   hakmem-minimize TRACE -o SMALL [--allocator NAME] [--check NAME]
 *                   [--check-every N] [--timeout S] [--serial] [--text]
 *                   [--no-aslr] [--misuse]
 *
 * Every candidate runs in a forked child that replays it with the oracle and
 * exits with the failing check's number (a signal counts as "crash", the
 * per-test alarm as "timeout"), so a crashing allocator cannot take the
 * minimizer down and every candidate starts from a fresh heap.  A candidate
 * is "interesting" when it fails the same check as the original (or the one
 * named by --check).  The search is ddmin over complements: drop one of n
 * chunks, keep the smaller trace when it is still interesting, refine n up
 * to single ops, so the result is 1-minimal: removing any single op makes
 * the failure go away.  Ops after the failing op are cut first; slots and
 * thread ids of the result are renumbered from 0 when it still fails.
 * --misuse carries out misuse ops (for reproducers of hardened-build deaths:
 * the allocator's abort counts as check "crash").
 * Bugs that depend on addresses (allocators whose behaviour varies with
 * where the heap lands) reproduce across processes only with --no-aslr,
 * here and in hakmem-replay.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf_cli.h"
#include "vf_replay.h"

typedef struct mctx {
  const vf_trace_t *full;
  vf_alloc_t *alloc;
  vf_oracle_opts_t oo;
  int threads;
  unsigned timeout;
  unsigned long tests;
} mctx_t;

static void build(const mctx_t *m, const size_t *idx, size_t n, vf_trace_t *t) {
  vf_trace_init(t);
  for (size_t i = 0; i < n; i++)
    if (vf_trace_push(t, &m->full->ops[idx[i]])) vf_cli_die("out of memory");
}

/* Replay trace t in a child; returns the check it fails (0 = clean), and
 * the failing op's position when fail_pos is given. */
static int run_trace(mctx_t *m, const vf_trace_t *t, uint64_t *fail_pos) {
  int pfd[2];
  if (pipe(pfd)) vf_cli_die("pipe: %s", strerror(errno));
  m->tests++;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) vf_cli_die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(pfd[0]);
    if (m->timeout) alarm(m->timeout);
    vf_replay_result_t res;
    vf_oracle_opts_t oo = m->oo;
    oo.report = NULL;
    int c = vf_replay(t, m->alloc, &oo, m->threads, &res);
    ssize_t w = write(pfd[1], &res.index, sizeof res.index);
    (void)w;
    _exit(c);
  }
  close(pfd[1]);
  uint64_t pos = UINT64_MAX;
  if (read(pfd[0], &pos, sizeof pos) != (ssize_t)sizeof pos) pos = UINT64_MAX;
  close(pfd[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (fail_pos) *fail_pos = pos;
  if (WIFSIGNALED(st)) return WTERMSIG(st) == SIGALRM ? VF_CHK_TIMEOUT : VF_CHK_CRASH;
  return WEXITSTATUS(st);
}

/* Replay ops idx[0..n) of the full trace. */
static int run(mctx_t *m, const size_t *idx, size_t n, uint64_t *fail_pos) {
  vf_trace_t t;
  build(m, idx, n, &t);
  int r = run_trace(m, &t, fail_pos);
  vf_trace_free(&t);
  return r;
}

/* Renumber slots and threads in order of first use (0, 1, 2, ...) when
 * the result still fails the same way: smaller reproducers read better. */
static void renumber(mctx_t *m, vf_trace_t *t, int want) {
  vf_trace_t r;
  vf_trace_init(&r);
  uint32_t *slot = calloc((size_t)t->max_slot + 1, sizeof *slot);
  unsigned tid[VF_TRACE_MAX_THREADS] = {0};
  uint32_t nslot = 0;
  unsigned ntid = 0;
  if (!slot) return;
  for (size_t i = 0; i < t->n; i++) {
    vf_op_t op = t->ops[i];
    if (!tid[op.tid]) tid[op.tid] = ++ntid;
    op.tid = (uint8_t)(tid[op.tid] - 1);
    if (vf_op_has_slot(op.code)) {
      if (!slot[op.slot]) slot[op.slot] = ++nslot;
      op.slot = slot[op.slot] - 1;
    }
    if (vf_trace_push(&r, &op)) vf_cli_die("out of memory");
  }
  free(slot);
  if (run_trace(m, &r, NULL) == want) {
    vf_trace_free(t);
    *t = r;
  } else {
    vf_trace_free(&r);
  }
}

/* ddmin over complements; cur[0..*n) shrinks in place. */
static void ddmin(mctx_t *m, size_t *cur, size_t *n, int want) {
  size_t *cand = malloc(*n * sizeof *cand);
  size_t parts = 2;
  if (!cand) vf_cli_die("out of memory");
  while (*n >= 2) {
    size_t len = *n, chunk = (len + parts - 1) / parts;
    int reduced = 0;
    for (size_t p = 0; p * chunk < len; p++) {
      size_t lo = p * chunk, hi = lo + chunk < len ? lo + chunk : len, k = 0;
      for (size_t i = 0; i < len; i++)
        if (i < lo || i >= hi) cand[k++] = cur[i];
      uint64_t pos;
      if (run(m, cand, k, &pos) == want) {
        /* keep only what ran up to the failure */
        if (pos != UINT64_MAX && pos + 1 < k) k = (size_t)pos + 1;
        memcpy(cur, cand, k * sizeof *cur);
        *n = k;
        parts = parts > 2 ? parts - 1 : 2;
        reduced = 1;
        fprintf(stderr, "minimize: %zu ops (%lu tests)\n", *n, m->tests);
        break;
      }
    }
    if (!reduced) {
      if (parts >= len) break;
      parts = parts * 2 < len ? parts * 2 : len;
    }
  }
  free(cand);
}

static void usage(void) {
  fputs("usage: hakmem-minimize TRACE -o SMALL [--allocator NAME] [--check NAME]\n"
        "                       [--check-every N] [--timeout S] [--serial] [--text]\n"
        "                       [--no-aslr] [--misuse]\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *check_name = NULL;
  const char *alloc_name = vf_alloc_hakmem() ? "hakmem" : "system";
  mctx_t m = {0};
  vf_oracle_defaults(&m.oo);
  m.oo.check_every = 1;
  m.threads = 1;
  m.timeout = 20;
  vf_trace_fmt_t fmt = VF_FMT_BINARY;
  int no_aslr = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-o") && v) out = v, i++;
    else if (!strcmp(a, "--allocator") && v) alloc_name = v, i++;
    else if (!strcmp(a, "--check") && v) check_name = v, i++;
    else if (!strcmp(a, "--check-every") && v) m.oo.check_every = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--timeout") && v) m.timeout = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--no-aslr")) no_aslr = 1;
    else if (!strcmp(a, "--serial")) m.threads = 0;
    else if (!strcmp(a, "--misuse")) m.oo.allow_misuse = 1;
    else if (!strcmp(a, "--text")) fmt = VF_FMT_TEXT;
    else if (a[0] == '-' && a[1]) usage();
    else if (!in) in = a;
    else usage();
  }
  if (!in || !out) usage();
  if (no_aslr) vf_cli_no_aslr(argv);
  vf_trace_t full;
  char err[512];
  if (vf_trace_load(in, &full, err, sizeof err)) vf_cli_die("hakmem-minimize: %s", err);
  m.full = &full;
  m.alloc = vf_cli_alloc(alloc_name, argv);
  size_t n = full.n;
  size_t *cur = malloc((n ? n : 1) * sizeof *cur);
  if (!cur) vf_cli_die("out of memory");
  for (size_t i = 0; i < n; i++) cur[i] = i;
  uint64_t pos;
  int got = run(&m, cur, n, &pos);
  int want = check_name ? vf_check_from_name(check_name) : got;
  if (want < 0) vf_cli_die("--check: unknown check '%s'", check_name);
  if (!got || got != want)
    vf_cli_die("hakmem-minimize: %s does not fail%s%s against %s (got: %s)", in,
               check_name ? " check " : "", check_name ? check_name : "",
               m.alloc->name, vf_check_name(got));
  if (pos != UINT64_MAX && pos + 1 < n) n = (size_t)pos + 1;
  fprintf(stderr, "minimize: %s fails '%s' at op %llu; start with %zu ops\n", in,
          vf_check_name(want), (unsigned long long)pos, n);
  ddmin(&m, cur, &n, want);
  vf_trace_t small;
  build(&m, cur, n, &small);
  renumber(&m, &small, want);
  if (vf_trace_save(&small, out, fmt)) vf_cli_die("cannot write %s", out);
  fprintf(stderr, "minimize: %zu -> %zu ops in %lu tests, still fails '%s'; wrote %s\n",
          full.n, n, m.tests, vf_check_name(want), out);
  /* show the failure of the result once, with the report line */
  vf_replay_result_t res;
  if (want != VF_CHK_CRASH && want != VF_CHK_TIMEOUT)
    vf_replay(&small, m.alloc, &m.oo, m.threads, &res);
  vf_trace_free(&small);
  vf_trace_free(&full);
  free(cur);
  vf_alloc_close(m.alloc);
  return 0;
}
