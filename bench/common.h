/* common.h - shared helpers for the hakmem bench programs.
 *
 * Every bench program links nothing but libc (+pthread), so that any
 * allocator can be swapped in with LD_PRELOAD.  This header gives them:
 *  - a tiny option parser (--name=value or --name value), with the common
 *    options --expect NAME (or env BENCH_EXPECT) and --help;
 *  - a cheap PRNG (splitmix64 seeding, xorshift64* stream) - never libc rand;
 *  - a monotonic clock, minor-fault and RSS probes;
 *  - harness memory that bypasses malloc (mmap), so only the workload's own
 *    calls reach the allocator under test;
 *  - the allocator identification (dladdr on malloc, dlsym hak_variant);
 *  - the one machine-readable result line every program prints.
 */
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* every program includes this header first */
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- keeping the compiler honest ----------------------------------------- */
/* Make a pointer escape, so malloc/free pairs cannot be elided. */
#define BENCH_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")
extern volatile uint64_t bench_sink;

/* Write one byte at the start, one per 4 KiB page, and the last byte of a
 * block: every page of the block is faulted in, and the write cost stays
 * small next to the allocator's own cost. */
static inline void bench_touch(void *p, size_t size, uint8_t v)
{
  unsigned char *b = (unsigned char *)p;
  for (size_t off = 0; off < size; off += 4096)
    b[off] = v;
  b[size - 1] = v;
}

/* ---- checked allocation -------------------------------------------------- */
/* Reports a failed allocation of size bytes and exits 1. */
void bench_oom(const char *what, size_t size) __attribute__((noreturn, cold));

/* malloc, or exit on failure (inline: it sits in timed loops). */
static inline void *bench_malloc(size_t size)
{
  void *p = malloc(size);
  if (__builtin_expect(p == NULL, 0))
    bench_oom("malloc", size);
  return p;
}

/* realloc, or exit on failure. */
static inline void *bench_realloc(void *old, size_t size)
{
  void *p = realloc(old, size);
  if (__builtin_expect(p == NULL, 0))
    bench_oom("realloc", size);
  return p;
}

/* ---- PRNG ---------------------------------------------------------------- */
typedef struct { uint64_t s; } bench_rng;

static inline uint64_t bench_splitmix64(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline void bench_rng_seed(bench_rng *r, uint64_t seed)
{
  uint64_t x = seed;
  r->s = bench_splitmix64(&x);
  if (r->s == 0)
    r->s = 1;
}

/* xorshift64* */
static inline uint64_t bench_rng_next(bench_rng *r)
{
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) by multiply-shift on the high 32 bits (n < 2^32). */
static inline uint32_t bench_rng_below(bench_rng *r, uint32_t n)
{
  return (uint32_t)(((bench_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline size_t bench_rng_range(bench_rng *r, size_t lo, size_t hi)
{
  return lo + bench_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* The random_mixed operation, shared by random_mixed and mid_large_mt: ops
 * times, draw a slot in [0, slots); if it holds a block, read its first
 * byte and free it; else malloc a size drawn from [min, max], touch it and
 * store it.  Returns the number of mallocs; exits on a failed malloc. */
uint64_t bench_slot_ops(void **slot, uint32_t slots, uint64_t ops,
                        size_t min, size_t max, bench_rng *rng);
/* Frees every block left in the slots. */
void bench_slot_free(void **slot, uint32_t slots);

/* ---- options ------------------------------------------------------------- */
typedef enum { BOPT_U64, BOPT_SIZE, BOPT_STR } bench_opt_kind;

typedef struct {
  const char *name;    /* without the leading "--" */
  bench_opt_kind kind; /* BOPT_SIZE accepts K/M/G suffixes (powers of 2) */
  void *ptr;           /* uint64_t* or const char** */
  const char *help;
} bench_opt;

/* Parses argv against opts (terminated by a {NULL} entry) plus the common
 * options.  Prints usage and exits on --help or on an error. */
void bench_parse(int argc, char **argv, const char *bench, const char *about,
                 const bench_opt *opts);

/* ---- time, faults, RSS --------------------------------------------------- */
double bench_now(void);          /* seconds, CLOCK_MONOTONIC */
double bench_cpu_now(void);      /* CPU seconds of all threads so far */
uint64_t bench_minflt(void);     /* minor faults of the process so far */
uint64_t bench_rss_kb(void);     /* current resident set, KiB */
uint64_t bench_peak_rss_kb(void);/* VmHWM (or ru_maxrss), KiB */

/* Memory for the harness itself (slot tables, rings), from mmap and
 * pre-touched, so it never goes through the allocator under test. */
void *bench_harness_alloc(size_t bytes);
void bench_harness_free(void *p, size_t bytes);

/* ---- the measurement ----------------------------------------------------- */
typedef struct {
  const char *bench;
  double t0, t1;
  double cpu0, cpu1;   /* process CPU time: excludes time preempted */
  uint64_t flt0, flt1;
  uint64_t rss0, rss1;
  char params[512];    /* " key=value" tokens appended by bench_param */
} bench_run;

/* Starts a bench: identifies the allocator (exits 3 on an --expect
 * mismatch), names it, clears the params. */
void bench_begin(bench_run *b, const char *bench);
/* Adds one " key=value" token to the result line. */
void bench_param(bench_run *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Brackets the timed loop: clock, minor faults, RSS. */
void bench_start(bench_run *b);
void bench_stop(bench_run *b);
/* The self-calibrating length of a measurement: a program with --ms repeats
 * its work in chunks of --ops until at least ms milliseconds have passed
 * since bench_start, so every measurement lasts about as long whatever the
 * allocator's speed (0: one chunk).  Returns 1 while more is wanted. */
int bench_more(const bench_run *b, uint64_t ms);
/* Prints the result line for ops operations; returns the exit status. */
int bench_report(bench_run *b, uint64_t ops);

/* ---- threads ------------------------------------------------------------- */
/* Runs fn(i, arg) on n threads (1..256), releases them together through a
 * start barrier once all are ready, and joins them; the timed interval
 * (bench_start/stop) starts before the release, so no worker runs before
 * the clock, and ends at the last join (b may be NULL: no timing).  Per-thread
 * set-up belongs in the caller, before this call. */
void bench_run_threads(bench_run *b, unsigned n,
                       void (*fn)(unsigned idx, void *arg), void *arg);

#endif
