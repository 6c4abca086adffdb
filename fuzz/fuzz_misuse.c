/* fuzz_misuse.c - misuse against the hardened checks: double, interior,
 * unaligned, wild and foreign frees, realloc of foreign or freed blocks,
 * small overflows into the next header and writes after free.  A checked
 * build (hardened or debug) must die with its documented one-line message
 *     hakmem: <fault>: ptr=0x<hex> class=<n or ->
 * and never go on quietly.  A run where it does not die is the failure.
 *
 * Input: 3 bytes, then a hakmem trace (normalized: one thread, 64 slots,
 * 256 ops, 8 MiB).  Byte 0 picks the misuse kind (modulo the table below),
 * byte 1 the op position K where it happens, byte 2 its parameter (victim
 * size class, offset).  The parent runs ops [0, K) with the oracle on, then
 * forks: the child redirects stderr to a pipe, commits the misuse on blocks
 * of its own (so the expected outcome does not depend on the trace), then
 * runs ops [K, n) and the final checks, so a misuse that was not caught
 * shows its consequence (an overlapping block, lost contents).  The parent
 * reads the child's stderr, checks how it died, then finishes the trace
 * itself, so its heap is clean for the next input.
 *
 * The release build has no checks: there the target returns at once.
 *
 * HKF_MISUSE_SELFTEST=1 runs every kind once with an empty trace, prints one
 * row per kind and exits non-zero if a kind that must be caught was not, or
 * if a kind listed as not yet implemented now is (so the list gets updated
 * and the target becomes strict as the checks land).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "hkf.h"

enum { CAT_NONE, CAT_SMALL, CAT_MID, CAT_LARGE };

typedef struct misuse {
  const char *name;
  int cat;                  /* victim size category */
  const char *accept[4];    /* fault texts (prefixes) that count as caught */
} misuse_t;

/* Every kind and the fault line(s) it must produce.  The fault names of the
 * hardened checks are pinned here (docs/hardening.md lists every fault). */
static const misuse_t g_kinds[] = {
    {"double_free_small", CAT_SMALL, {"double free"}},
    {"double_free_mid", CAT_MID, {"double free"}},
    /* once the mapping is gone "not a hakmem pointer" is a correct
     * diagnosis too */
    {"double_free_large", CAT_LARGE, {"double free", "invalid free (not a hakmem pointer)"}},
    {"interior_free_small", CAT_SMALL, {"invalid free (interior", "invalid free (unaligned"}},
    {"unaligned_free_small", CAT_SMALL, {"invalid free (unaligned", "invalid free (interior"}},
    {"interior_free_mid", CAT_MID, {"invalid free (interior", "invalid free (unaligned"}},
    {"interior_free_large", CAT_LARGE, {"invalid free (interior pointer of a large block)"}},
    {"wild_free_superslab", CAT_SMALL, {"invalid free"}},
    {"foreign_free_libc", CAT_NONE, {"invalid free (not a hakmem pointer)"}},
    {"foreign_free_stack", CAT_NONE, {"invalid free (not a hakmem pointer)"}},
    {"foreign_free_global", CAT_NONE, {"invalid free (not a hakmem pointer)"}},
    /* a page mapped next to a whale mapping may share its 2 MiB chunk */
    {"foreign_free_mmap", CAT_NONE, {"invalid free (not a hakmem pointer)", "invalid free (interior pointer of a large block)"}},
    {"realloc_foreign", CAT_NONE, {"invalid realloc (not a hakmem pointer)"}},
    {"realloc_after_free_small", CAT_SMALL, {"realloc of a freed block", "invalid realloc", "double free"}},
    /* the canary between a and b (checked as a's overflow or as b's
     * underflow, whichever block is freed first), the next block's header
     * byte, or debug's padding fill */
    {"overflow_1_small", CAT_SMALL, {"block header corrupt", "heap overflow", "heap underflow", "invalid free"}},
    {"overflow_8_small", CAT_SMALL, {"block header corrupt", "heap overflow", "heap underflow", "invalid free"}},
    /* hardened: the encoded link; debug: the free fill, at reuse */
    {"write_after_free_small", CAT_SMALL, {"corrupt free-list link", "write after free", "free-list node is allocated"}},
};
#define NKINDS (sizeof g_kinds / sizeof g_kinds[0])

/* ---- expected to be missing ---------------------------------------------------
 * Kinds whose hardened check does not exist yet (issue 6: per-block state,
 * header check on free, interior/unaligned rejection in slabs, encoded
 * freelist links).  While a kind is listed here, surviving it is not a
 * failure.  When a check lands, the self-test (CTest fuzz.misuse.table)
 * fails with "now caught: remove it from g_missing" until the entry goes;
 * from then on the kind is strict.  Keep this the only such list. */
static const char *const g_missing[] = {
    NULL, /* none since issue 6 landed; the list ends at NULL */
};

/* Kinds caught in some heap states only: surviving them is not a failure,
 * and neither is being caught (no stale-list check). */
static const char *const g_partial[] = {
    "wild_free_superslab", /* caught ("no slab here") while unit 0 of the
                              superslab holds no span; when a span starts at
                              unit 0 the header address is taken for one of
                              its blocks (issue 6: reject pointers below user0) */
};

static int is_partial(const char *kind) {
  for (size_t i = 0; i < sizeof g_partial / sizeof g_partial[0]; i++)
    if (strcmp(g_partial[i], kind) == 0) return 1;
  return 0;
}

static int is_missing(const char *kind) {
  if (is_partial(kind)) return 1;
  for (size_t i = 0; i < sizeof g_missing / sizeof g_missing[0] && g_missing[i]; i++)
    if (strcmp(g_missing[i], kind) == 0) return 1;
  return 0;
}

/* ---- victims ------------------------------------------------------------------- */

static unsigned char g_global[256];

/* A request size of category cat; param varies it within the category.
 * Small: a class with a header byte; mid: headerless classes up to 64 KiB;
 * large: above every class (a whale mapping). */
static size_t victim_size(int cat, unsigned param) {
  hak_stats_t s;
  uint32_t small[HAK_STATS_MAX_CLASSES], mid[HAK_STATS_MAX_CLASSES], nsmall = 0, nmid = 0;
  uint32_t top = 0;
  if (hak_stats_get(&s) == 0) {
    for (uint32_t i = 0; i < s.nclasses && i < HAK_STATS_MAX_CLASSES; i++) {
      const hak_class_stats_t *c = &s.cls[i];
      if (c->size > top) top = c->size;
      if (c->header && c->usable >= 32) small[nsmall++] = c->size;
      else if (!c->header && c->size > 1024 && c->size <= 65536) mid[nmid++] = c->size;
    }
  }
  switch (cat) {
  case CAT_SMALL:
    return nsmall ? small[param % nsmall] - (param / nsmall) % 2 : 100;
  case CAT_MID:
    return nmid ? mid[param % nmid] - (param / nmid) % 2 : 4000;
  default:
    return (size_t)(top ? top : 262144) + 4096 + (size_t)(param % 64) * 4096;
  }
}

/* The misuse's stray writes, as plain stores no memory tool sees: under
 * ASan a memset past the block or into a freed one is ASan's report, and
 * the allocator's own check (what this target tests) never runs. */
__attribute__((no_sanitize("address"))) static void stray_write(void *p, int c, size_t n) {
  volatile unsigned char *b = p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)c;
}

/* Commit misuse k.  Returns when the allocator did not stop it. */
static void commit(const misuse_t *k, unsigned param) {
  size_t n = victim_size(k->cat, param);
  volatile unsigned char stack_buf[64];
  char *p, *q;
  if (strcmp(k->name, "double_free_small") == 0 || strcmp(k->name, "double_free_mid") == 0 ||
      strcmp(k->name, "double_free_large") == 0) {
    p = hak_malloc(n);
    hak_free(p);
    hak_free(p);
    /* not caught: a double push hands the block out twice */
    q = hak_malloc(n);
    char *r = hak_malloc(n);
    if (q && q == r) fprintf(stderr, "hkfuzz: consequence: the same block %p handed out twice\n", (void *)q);
    hak_free(q);
    if (r != q) hak_free(r);
  } else if (strstr(k->name, "interior_free") == k->name) {
    p = hak_malloc(n);
    size_t off = k->cat == CAT_LARGE ? 4096 : 16 * (1 + param % 2);
    hak_free(p + off);
  } else if (strcmp(k->name, "unaligned_free_small") == 0) {
    p = hak_malloc(n);
    hak_free(p + 1 + param % 15);
  } else if (strcmp(k->name, "wild_free_superslab") == 0) {
    p = hak_malloc(n);
    hak_free((char *)((uintptr_t)p & ~(((uintptr_t)2 << 20) - 1)) + 64 + 16 * (param % 8));
  } else if (strcmp(k->name, "foreign_free_libc") == 0) {
    p = malloc(64 + param);
    hak_free(p);
  } else if (strcmp(k->name, "foreign_free_stack") == 0) {
    hak_free((void *)(stack_buf + 16 * (param % 4)));
  } else if (strcmp(k->name, "foreign_free_global") == 0) {
    hak_free(g_global + 16 * (param % 16));
  } else if (strcmp(k->name, "foreign_free_mmap") == 0) {
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) hak_free(p + 16 * (param % 256));
  } else if (strcmp(k->name, "realloc_foreign") == 0) {
    p = malloc(64);
    (void)hak_realloc(p, 100 + param);
  } else if (strcmp(k->name, "realloc_after_free_small") == 0) {
    p = hak_malloc(n);
    hak_free(p);
    hak_free(hak_realloc(p, 2 * n + 1));
  } else if (strstr(k->name, "overflow_") == k->name) {
    /* two neighbours a < b of one class, a's overflow reaches b's header */
    size_t len = strcmp(k->name, "overflow_1_small") == 0 ? 1 : 8;
    char *blk[32];
    char *a = NULL, *b = NULL;
    for (int i = 0; i < 32; i++) blk[i] = hak_malloc(n);
    size_t u = hak_malloc_usable_size(blk[0]);
    for (int i = 0; i < 32 && !a; i++)
      for (int j = 0; j < 32; j++)
        if (blk[i] && blk[j] && blk[j] > blk[i] && (size_t)(blk[j] - blk[i]) <= u + 16) {
          a = blk[i];
          b = blk[j];
          break;
        }
    if (a) {
      stray_write(a + hak_malloc_usable_size(a), 0x5a, len);
      hak_free(b);
    }
    for (int i = 0; i < 32; i++)
      if (blk[i] != b) hak_free(blk[i]);
  } else if (strcmp(k->name, "write_after_free_small") == 0) {
    p = hak_malloc(n);
    hak_free(p);
    stray_write(p, 0x41, 8); /* the freelist link */
    q = hak_malloc(n);
    char *r = hak_malloc(n);
    hak_free(q);
    hak_free(r);
  }
}

/* ---- the child and its verdict ---------------------------------------------------- */

typedef struct outcome {
  int died_abort;       /* killed by SIGABRT */
  int status;           /* raw wait status */
  char line[512];       /* the "hakmem: ..." line, if any */
  char other[512];      /* first other stderr line (oracle, consequence) */
} outcome_t;

static void read_child(int fd, outcome_t *out) {
  char buf[8192];
  size_t len = 0;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  for (;;) {
    int r = poll(&pfd, 1, 20000);
    if (r <= 0) break; /* hang: the caller kills the child */
    ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
    if (got <= 0) break;
    len += (size_t)got;
    if (len == sizeof buf - 1) break;
  }
  buf[len] = 0;
  for (char *s = buf, *e; *s; s = e + 1) {
    e = strchr(s, '\n');
    if (!e) e = s + strlen(s);
    size_t l = (size_t)(e - s);
    if (strncmp(s, "hakmem: ", 8) == 0 && !out->line[0])
      snprintf(out->line, sizeof out->line, "%.*s", (int)l, s);
    else if (!out->other[0] && l)
      snprintf(out->other, sizeof out->other, "%.*s", (int)l, s);
    if (!*e) break;
  }
}

/* "hakmem: <fault>: ptr=0x<hex> class=<digits or ->", exactly. */
static int line_matches(const char *line, const misuse_t *k) {
  const char *f = line + 8, *tail = strstr(f, ": ptr=0x");
  if (strncmp(line, "hakmem: ", 8) || !tail) return 0;
  int fault_ok = 0;
  for (int i = 0; i < 4 && k->accept[i]; i++)
    if (strncmp(f, k->accept[i], strlen(k->accept[i])) == 0 &&
        strlen(k->accept[i]) <= (size_t)(tail - f))
      fault_ok = 1;
  const char *h = tail + 8, *c;
  if (!fault_ok || !strchr("0123456789abcdef", *h) || !*h) return 0;
  while (*h && strchr("0123456789abcdef", *h)) h++;
  if (strncmp(h, " class=", 7)) return 0;
  c = h + 7;
  if (strcmp(c, "-") == 0) return 1;
  if (!*c) return 0;
  while (*c >= '0' && *c <= '9') c++;
  return *c == 0;
}

/* Sanitizer runtime hook (ASan/UBSan builds); libFuzzer registers its
 * crash-file writer there.  NULL in builds without a sanitizer. */
__attribute__((weak)) void __sanitizer_set_death_callback(void (*cb)(void));

/* Coverage builds (-fprofile-instr-generate): the child's counters would
 * be lost when it dies, so they are written first (ci/fuzz coverage). */
__attribute__((weak)) int __llvm_profile_write_file(void);

static void flush_profile_and_die(int sig) {
  __llvm_profile_write_file();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* The child's deaths are the expected outcome, not the engine's crashes:
 * default signal actions, and no crash-file writer. */
static void reset_signals(void) {
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(NULL);
  if (__llvm_profile_write_file) {
    signal(SIGABRT, flush_profile_and_die);
    signal(SIGSEGV, flush_profile_and_die);
    signal(SIGBUS, flush_profile_and_die);
    return;
  }
  int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGALRM, SIGTRAP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
}

static void run_ops(vf_oracle_t *o, const vf_trace_t *t, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    hkf_set_op_index(i);
    if (vf_oracle_op(o, i, &t->ops[i]) != VF_OK) return;
  }
}

/* Fork, commit kind k in the child after the parent's state, judge. */
static void misuse_in_child(const misuse_t *k, unsigned param, vf_oracle_t *o,
                            const vf_trace_t *t, size_t from, outcome_t *out) {
  int pfd[2];
  memset(out, 0, sizeof *out);
  fflush(stderr);
  if (pipe(pfd) != 0) hkf_die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) hkf_die("fork: %s", strerror(errno));
  if (pid == 0) {
    reset_signals();
    dup2(pfd[1], 2);
    close(pfd[0]);
    close(pfd[1]);
    alarm(15);
    commit(k, param);
    run_ops(o, t, from, t->n);
    if (!vf_oracle_failed(o)) vf_oracle_finish(o, t->n);
    if (vf_oracle_failed(o)) fprintf(stderr, "%s\n", vf_oracle_message(o));
    fflush(stderr);
    if (__llvm_profile_write_file) __llvm_profile_write_file();
    _exit(vf_oracle_failed(o) ? 3 : 0);
  }
  close(pfd[1]);
  read_child(pfd[0], out);
  close(pfd[0]);
  int st = 0;
  for (int waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited++) {
    if (waited == 2000) kill(pid, SIGKILL);
    usleep(10000);
  }
  out->status = st;
  out->died_abort = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static int caught(const misuse_t *k, const outcome_t *out) {
  return out->died_abort && line_matches(out->line, k);
}

static void describe(const outcome_t *out, char *buf, size_t len) {
  if (WIFSIGNALED(out->status))
    snprintf(buf, len, "died with signal %d; stderr: %s%s%s", WTERMSIG(out->status),
             out->line[0] ? out->line : "", out->line[0] && out->other[0] ? " / " : "",
             out->other);
  else
    snprintf(buf, len, "exited with status %d%s%s", WEXITSTATUS(out->status),
             out->other[0] || out->line[0] ? "; stderr: " : "",
             out->line[0] ? out->line : out->other);
}

static int run(const uint8_t *data, size_t size) {
  if (hak_check_level() < 1) return 0; /* release: misuse is undefined, not checked */
  if (size < hkf_target.prefix) return -1;
  vf_trace_t t;
  vf_trace_init(&t);
  if (hkf_decode(data + hkf_target.prefix, size - hkf_target.prefix, &hkf_target.limits, &t)) {
    vf_trace_free(&t); /* a failed decode keeps the buffer */
    return -1;
  }
  const misuse_t *k = &g_kinds[data[0] % NKINDS];
  size_t at = data[1] % (t.n + 1);
  vf_oracle_opts_t opt;
  hkf_oracle_opts(&opt);
  vf_oracle_t *o = vf_oracle_new(hkf_alloc(), t.n ? t.max_slot + 1 : 1, &opt);
  if (!o) hkf_die("out of memory");
  run_ops(o, &t, 0, at);
  if (vf_oracle_failed(o)) {
    hkf_dump(&t);
    hkf_die("before the misuse: %s", vf_oracle_message(o));
  }
  outcome_t out;
  misuse_in_child(k, data[2], o, &t, at, &out);
  if (!caught(k, &out) && !is_missing(k->name)) {
    char why[1200];
    describe(&out, why, sizeof why);
    hkf_dump(&t);
    hkf_die("%s (param %u, at op %zu): the %s build did not die with 'hakmem: %s...: "
            "ptr=0x... class=N': %s", k->name, data[2], at, hak_variant(), k->accept[0], why);
  }
  run_ops(o, &t, at, t.n);
  if (!vf_oracle_failed(o)) vf_oracle_finish(o, t.n);
  if (vf_oracle_failed(o)) {
    hkf_dump(&t);
    hkf_die("%s", vf_oracle_message(o));
  }
  vf_oracle_destroy(o);
  vf_trace_free(&t);
  return 0;
}

/* HKF_MISUSE_SELFTEST=1: one row per kind, then exit. */
static void selftest(void) {
  const char *env = getenv("HKF_MISUSE_SELFTEST");
  if (!env || strcmp(env, "1")) return;
  if (hak_check_level() < 1) {
    printf("fuzz_misuse: %s build has no checks; nothing to test\n", hak_variant());
    exit(0);
  }
  int bad = 0, strict = 0, caught_n = 0;
  vf_trace_t empty;
  vf_trace_init(&empty);
  for (size_t i = 0; i < NKINDS; i++) {
    const misuse_t *k = &g_kinds[i];
    vf_oracle_opts_t opt;
    hkf_oracle_opts(&opt);
    vf_oracle_t *o = vf_oracle_new(hkf_alloc(), 1, &opt);
    outcome_t out;
    misuse_in_child(k, 3, o, &empty, 0, &out);
    vf_oracle_finish(o, 0);
    vf_oracle_destroy(o);
    int ok = caught(k, &out), missing = is_missing(k->name), partial = is_partial(k->name);
    char why[1200];
    describe(&out, why, sizeof why);
    strict += !missing;
    caught_n += ok;
    const char *verdict = partial && ok    ? "caught (in this heap state; listed as partial)"
                          : partial        ? "not caught in this heap state (listed as partial)"
                          : ok && !missing ? "caught"
                          : ok && missing  ? "NOW CAUGHT: remove it from g_missing in fuzz/fuzz_misuse.c"
                          : missing        ? "not caught yet (listed as missing, issue 6)"
                                           : "NOT CAUGHT (must die)";
    bad += !partial && ((ok && missing) || (!ok && !missing));
    printf("%-26s %s\n    expected 'hakmem: %s...: ptr=0x... class=N'; %s\n", k->name, verdict,
           k->accept[0], why);
  }
  printf("fuzz_misuse: %s build: %d/%zu kinds caught, %d must be, %zu listed as missing, "
         "%zu as partial; %s\n", hak_variant(), caught_n, NKINDS, strict,
         sizeof g_missing / sizeof g_missing[0] - (g_missing[0] == NULL),
         sizeof g_partial / sizeof g_partial[0],
         bad ? "FAIL" : "ok");
  fflush(stdout);
  exit(bad ? 1 : 0);
}

const hkf_target_t hkf_target = {
    .name = "fuzz_misuse",
    .run = run,
    .init = selftest,
    .limits = HKF_LIMITS_MISUSE,
    .profile = HKF_PROF_TRACE,
    .prefix = HKF_MISUSE_PREFIX,
    .structured = 1,
};
