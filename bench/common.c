/* common.c - shared helpers for the hakmem bench programs (see common.h).
 *
 * Nothing here calls malloc on a measured path: /proc is read with open and
 * read into stack buffers, harness memory comes from mmap, and stdio is only
 * used to print the result line after the timed loop.
 */
#include "common.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h" /* types only: hakmem is found with dlsym, never linked */

/* Under `valgrind --tool=callgrind --instr-atstart=no` (bench/run
 * --callgrind) only the timed loop is instrumented, so the "Collected"
 * count is the loop's instructions.  The header only holds macros (a few
 * no-op instructions when not under valgrind); without it, no markers. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_CG_START() CALLGRIND_START_INSTRUMENTATION
#define BENCH_CG_STOP() CALLGRIND_STOP_INSTRUMENTATION
#endif
#endif
#ifndef BENCH_CG_START
#define BENCH_CG_START() ((void)0)
#define BENCH_CG_STOP() ((void)0)
#endif

volatile uint64_t bench_sink;

void bench_oom(const char *what, size_t size)
{
  fprintf(stderr, "bench: %s(%zu) failed\n", what, size);
  exit(1);
}

/* ---- the slot workload -------------------------------------------------- */
uint64_t bench_slot_ops(void **slot, uint32_t slots, uint64_t ops,
                        size_t min, size_t max, bench_rng *rng)
{
  uint64_t acc = 0, mallocs = 0;
  for (uint64_t i = 0; i < ops; i++) {
    uint32_t k = bench_rng_below(rng, slots);
    unsigned char *p = slot[k];
    if (p) {
      acc += p[0];
      free(p);
      slot[k] = NULL;
    } else {
      size_t size = bench_rng_range(rng, min, max);
      p = bench_malloc(size);
      bench_touch(p, size, (uint8_t)i);
      slot[k] = p;
      mallocs++;
    }
  }
  __atomic_fetch_add(&bench_sink, acc, __ATOMIC_RELAXED);
  return mallocs;
}

void bench_slot_free(void **slot, uint32_t slots)
{
  for (uint32_t k = 0; k < slots; k++) {
    free(slot[k]);
    slot[k] = NULL;
  }
}

/* ---- options ------------------------------------------------------------- */
static const char *opt_expect;

static void usage(FILE *f, const char *bench, const char *about,
                  const bench_opt *opts)
{
  fprintf(f, "usage: %s [--option=value ...]\n%s\noptions:\n", bench, about);
  for (const bench_opt *o = opts; o->name; o++) {
    if (o->kind == BOPT_STR)
      fprintf(f, "  --%-10s %s (default %s)\n", o->name, o->help,
              *(const char **)o->ptr);
    else
      fprintf(f, "  --%-10s %s (default %llu)\n", o->name, o->help,
              (unsigned long long)*(uint64_t *)o->ptr);
  }
  fprintf(f, "  --%-10s fail (exit 3) unless malloc is served by NAME: glibc, "
             "jemalloc,\n               mimalloc, tcmalloc, hakmem, "
             "hakmem:VARIANT or a substring\n               of the library "
             "path (default: env BENCH_EXPECT)\n", "expect");
  fprintf(f, "sizes accept K, M and G suffixes (powers of 2).\n");
}

static int parse_u64(const char *s, int size_suffix, uint64_t *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s)
    return -1;
  if (size_suffix && *end) {
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return -1;
    }
    end++;
    if (*end == 'i' || *end == 'I')
      end++;
    if (*end == 'b' || *end == 'B')
      end++;
    v <<= shift;
  }
  if (*end)
    return -1;
  *out = v;
  return 0;
}

void bench_parse(int argc, char **argv, const char *bench, const char *about,
                 const bench_opt *opts)
{
  opt_expect = getenv("BENCH_EXPECT");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout, bench, about, opts);
      exit(0);
    }
    if (strncmp(a, "--", 2)) {
      fprintf(stderr, "%s: unexpected argument '%s'\n", bench, a);
      goto bad;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!val) {
      fprintf(stderr, "%s: --%.*s needs a value\n", bench, (int)len, a);
      goto bad;
    }
    if (len == 6 && !strncmp(a, "expect", 6)) {
      opt_expect = val;
      continue;
    }
    const bench_opt *o = opts;
    while (o->name && (strlen(o->name) != len || strncmp(o->name, a, len)))
      o++;
    if (!o->name) {
      fprintf(stderr, "%s: unknown option --%.*s\n", bench, (int)len, a);
      goto bad;
    }
    if (o->kind == BOPT_STR)
      *(const char **)o->ptr = val;
    else if (parse_u64(val, o->kind == BOPT_SIZE, (uint64_t *)o->ptr)) {
      fprintf(stderr, "%s: bad value '%s' for --%s\n", bench, val, o->name);
      goto bad;
    }
  }
  return;
bad:
  usage(stderr, bench, about, opts);
  exit(2);
}

/* ---- time, faults, RSS --------------------------------------------------- */
double bench_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bench_minflt(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_minflt;
}

/* Reads a small /proc file into buf without stdio (stdio would malloc). */
static ssize_t read_proc(const char *path, char *buf, size_t cap)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
    if (n == cap - 1)
      break;
  }
  close(fd);
  buf[n] = 0;
  return (ssize_t)n;
}

uint64_t bench_rss_kb(void)
{
  char buf[256];
  unsigned long long size, res;
  if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0 ||
      sscanf(buf, "%llu %llu", &size, &res) != 2)
    return 0;
  return res * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

uint64_t bench_peak_rss_kb(void)
{
  char buf[4096];
  if (read_proc("/proc/self/status", buf, sizeof buf) > 0) {
    const char *p = strstr(buf, "VmHWM:");
    if (p)
      return strtoull(p + 6, NULL, 10);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_maxrss;
}

void *bench_harness_alloc(size_t bytes)
{
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("bench: mmap");
    exit(1);
  }
  memset(p, 0, bytes);
  return p;
}

void bench_harness_free(void *p, size_t bytes)
{
  munmap(p, bytes);
}

/* ---- threads ------------------------------------------------------------- */
/* Two barriers: every thread reports ready, the caller starts the clock,
 * then releases them.  With one barrier the clock started after the
 * workers were released, and on a loaded 2-core machine they could run a
 * good part of their work (and its page faults) before the caller got the
 * CPU to read the clock: mid_large_mt's fault count moved from 371 to
 * 2,777 between runs of one build. */
typedef struct {
  pthread_barrier_t *ready, *go;
  void (*fn)(unsigned, void *);
  void *arg;
  unsigned idx;
} thread_start;

static void *thread_main(void *p)
{
  thread_start *ts = p;
  pthread_barrier_wait(ts->ready);
  pthread_barrier_wait(ts->go);
  ts->fn(ts->idx, ts->arg);
  return NULL;
}

void bench_run_threads(bench_run *b, unsigned n,
                       void (*fn)(unsigned idx, void *arg), void *arg)
{
  pthread_t tid[256];
  thread_start ts[256];
  pthread_barrier_t ready, go;
  if (n < 1 || n > 256) {
    fprintf(stderr, "bench: threads must be 1..256\n");
    exit(2);
  }
  pthread_barrier_init(&ready, NULL, n + 1);
  pthread_barrier_init(&go, NULL, n + 1);
  for (unsigned i = 0; i < n; i++) {
    ts[i] = (thread_start){&ready, &go, fn, arg, i};
    if (pthread_create(&tid[i], NULL, thread_main, &ts[i])) {
      perror("bench: pthread_create");
      exit(1);
    }
  }
  pthread_barrier_wait(&ready);
  if (b)
    bench_start(b);
  pthread_barrier_wait(&go);
  for (unsigned i = 0; i < n; i++)
    pthread_join(tid[i], NULL);
  if (b)
    bench_stop(b);
  pthread_barrier_destroy(&ready);
  pthread_barrier_destroy(&go);
}

/* ---- allocator identification -------------------------------------------- */
static struct {
  char name[64];
  char variant[32];
  char path[512];
  int (*stats_get)(hak_stats_t *);
} ident;

static const char *base_name(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The object that defines fn, as dladdr sees it ("" when unknown). */
static const char *object_of(const void *fn, void **base)
{
  Dl_info info;
  if (!fn || !dladdr(fn, &info) || !info.dli_fname) {
    *base = NULL;
    return "";
  }
  *base = info.dli_fbase;
  return info.dli_fname;
}

static void identify(const char *bench)
{
  /* malloc as this program resolves it: with LD_PRELOAD, the preloaded
   * library's malloc; volatile so the compiler keeps the real address. */
  void *(*volatile mp)(size_t) = malloc;
  void (*volatile fp)(void *) = free;
  void *mbase, *fbase, *hbase, *self;
  const char *path = object_of((void *)mp, &mbase);
  object_of((void *)fp, &fbase);
  object_of((void *)&identify, &self);
  if (mbase != fbase) {
    fprintf(stderr, "%s: malloc and free come from different objects\n",
            bench);
    exit(3);
  }
  if (mbase == self) /* linked statically into this program */
    path = "/proc/self/exe";
  snprintf(ident.path, sizeof ident.path, "%s", *path ? path : "?");
  for (char *c = ident.path; *c; c++)
    if (*c == ' ' || *c == '\t')
      *c = '?';

  const char *(*variant)(void) =
      (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_variant");
  object_of((void *)variant, &hbase);
  const char *b = base_name(ident.path);
  snprintf(ident.variant, sizeof ident.variant, "-");
  if (variant && hbase == mbase) {
    snprintf(ident.name, sizeof ident.name, "hakmem");
    snprintf(ident.variant, sizeof ident.variant, "%s", variant());
    ident.stats_get =
        (int (*)(hak_stats_t *))dlsym(RTLD_DEFAULT, "hak_stats_get");
  } else if (strstr(b, "jemalloc")) {
    snprintf(ident.name, sizeof ident.name, "jemalloc");
  } else if (strstr(b, "mimalloc")) {
    snprintf(ident.name, sizeof ident.name, "mimalloc");
  } else if (strstr(b, "tcmalloc")) {
    snprintf(ident.name, sizeof ident.name, "tcmalloc");
  } else if (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5)) {
    snprintf(ident.name, sizeof ident.name, "glibc");
  } else {
    snprintf(ident.name, sizeof ident.name, "%.63s", b);
  }
}

/* NAME, NAME:VARIANT, or a substring of the path. */
static int expect_matches(const char *e)
{
  const char *colon = strchr(e, ':');
  size_t n = colon ? (size_t)(colon - e) : strlen(e);
  if (strlen(ident.name) == n && !strncmp(e, ident.name, n))
    return !colon || !strcmp(colon + 1, ident.variant);
  return !colon && *e && strstr(ident.path, e) != NULL;
}

/* ---- the measurement ----------------------------------------------------- */
void bench_begin(bench_run *b, const char *bench)
{
  memset(b, 0, sizeof *b);
  b->bench = bench;
  identify(bench);
  if (opt_expect && *opt_expect && !expect_matches(opt_expect)) {
    fprintf(stderr,
            "%s: expected allocator '%s' but malloc is served by %s (%s%s%s)\n",
            bench, opt_expect, ident.name, ident.path,
            strcmp(ident.variant, "-") ? ", variant " : "",
            strcmp(ident.variant, "-") ? ident.variant : "");
    exit(3);
  }
}

void bench_param(bench_run *b, const char *key, const char *fmt, ...)
{
  size_t n = strlen(b->params);
  if (n + 2 >= sizeof b->params)
    return;
  n += (size_t)snprintf(b->params + n, sizeof b->params - n, " %s=", key);
  if (n >= sizeof b->params)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->params + n, sizeof b->params - n, fmt, ap);
  va_end(ap);
}

void bench_start(bench_run *b)
{
  /* Read both clocks once before the fault count: their first call faults
   * in a libc page and the vDSO page, which is the harness's cost, not the
   * allocator's (an allocator that read the clock at start-up would
   * otherwise look two faults better). */
  (void)bench_cpu_now();
  (void)bench_now();
  b->rss0 = bench_rss_kb();
  b->flt0 = bench_minflt();
  b->cpu0 = bench_cpu_now();
  BENCH_CG_START();
  b->t0 = bench_now();
}

void bench_stop(bench_run *b)
{
  b->t1 = bench_now();
  BENCH_CG_STOP();
  b->cpu1 = bench_cpu_now();
  b->flt1 = bench_minflt();
  b->rss1 = bench_rss_kb();
}

int bench_more(const bench_run *b, uint64_t ms)
{
  return ms && (bench_now() - b->t0) * 1e3 < (double)ms;
}

int bench_report(bench_run *b, uint64_t ops)
{
  double secs = b->t1 - b->t0;
  if (secs <= 0)
    secs = 1e-9;
  char hak[64] = "";
  hak_stats_t st;
  if (ident.stats_get && ident.stats_get(&st) == 0 &&
      st.version == HAKMEM_API_VERSION)
    snprintf(hak, sizeof hak, " hak_allocs=%llu",
             (unsigned long long)st.allocs);
  double cpu = b->cpu1 - b->cpu0;
  printf("bench=%s allocator=%s variant=%s path=%s ops=%llu secs=%.6f "
         "ops_per_sec=%.0f ns_per_op=%.3f cpu_secs=%.6f cpu_ns_per_op=%.3f "
         "minflt=%llu rss_delta_kb=%lld peak_rss_kb=%llu%s%s\n",
         b->bench, ident.name, ident.variant, ident.path,
         (unsigned long long)ops, secs, (double)ops / secs,
         secs * 1e9 / (double)(ops ? ops : 1), cpu,
         cpu * 1e9 / (double)(ops ? ops : 1),
         (unsigned long long)(b->flt1 - b->flt0),
         (long long)b->rss1 - (long long)b->rss0,
         (unsigned long long)bench_peak_rss_kb(), b->params, hak);
  fflush(stdout);
  return 0;
}
