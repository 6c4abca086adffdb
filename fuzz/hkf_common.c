/* hkf_common.c - the allocator side shared by every fuzz target (see
 * hkf.h): hakmem's class edges, the wrapper vtable over every hak_* entry
 * point, oracle options and reporting.
 *
 * Invariants: the wrapper vtable picks among equivalent hak_* entry points from the op index
 * only, so a reproducer exercises the same entry points every time; every
 * API-contract violation it sees ends the process through hkf_die.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"
#include "hkf.h"
#include "vf_replay.h"

/* ---- class edges of the linked allocator ----------------------------------- */

void hkf_edges_add_classes(void) {
  hak_stats_t s;
  if (hak_stats_get(&s) != 0) return;
  for (uint32_t i = 0; i < s.nclasses && i < HAK_STATS_MAX_CLASSES; i++) {
    if (!s.cls[i].size) continue;
    hkf_add_size_edge(s.cls[i].size);
    hkf_add_size_edge(s.cls[i].stride);
    hkf_add_size_edge(s.cls[i].usable);
  }
}

/* ---- the allocator under test ------------------------------------------------ */

static uint64_t g_index;
void hkf_set_op_index(uint64_t index) { g_index = index; }

/* The op being executed: ours, or the replayer's in multi-thread runs. */
static uint64_t cur_index(void) {
  uint64_t r = vf_replay_current_op();
  return r != UINT64_MAX ? r : g_index;
}

/* 0..3 from the op index: which equivalent entry point serves the op. */
static unsigned pick(void) {
  uint64_t x = cur_index() * 0x9E3779B97F4A7C15ull;
  return (unsigned)(x >> 62);
}

static void *w_malloc(size_t n) {
  switch (pick()) {
  case 1:
    return hak_realloc(NULL, n);
  case 2:
    return hak_reallocarray(NULL, 1, n);
  default:
    return hak_malloc(n);
  }
}

static void *w_calloc(size_t c, size_t n) {
  size_t total;
  if (__builtin_mul_overflow(c, n, &total)) {
    /* the same overflow through reallocarray must fail the same way */
    errno = 0;
    void *q = hak_reallocarray(NULL, c, n);
    if (q != NULL || errno != ENOMEM)
      hkf_die("api: reallocarray(NULL, %zu, %zu) overflows but returned %p errno=%d",
              c, n, q, errno);
  }
  return hak_calloc(c, n);
}

static void *w_realloc(void *p, size_t n) {
  unsigned k = pick();
  if (k == 1 && n && n % 2 == 0) return hak_reallocarray(p, 2, n / 2);
  if (k == 2) return hak_reallocarray(p, n, 1);
  return hak_realloc(p, n);
}

static int w_posix_memalign(void **out, size_t a, size_t n) {
  void *sentinel = (void *)(uintptr_t)0x5e5e5e5e5e5e5e50ull, *p = sentinel;
  int r = hak_posix_memalign(&p, a, n);
  if (r != 0 && p != sentinel)
    hkf_die("api: posix_memalign(%zu, %zu) failed with %d but wrote *out=%p", a, n,
            r, p);
  if (r == 0) *out = p;
  return r;
}

static void *w_memalign(size_t a, size_t n) {
  unsigned k = pick();
  if (a == 4096 && k == 1) return hak_valloc(n);
  if (a == 4096 && k == 2 && n && n % 4096 == 0) return hak_pvalloc(n);
  return hak_memalign(a, n);
}

static uint64_t g_input_hash;
static int full_checks(void);

/* hak_malloc_trim gives every cached whale mapping and empty superslab back
 * to the OS, so the inputs after it map and fault in fresh memory again.
 * The oracle asks usable_size after every allocation, so "1 usable_size in
 * 256" was about one trim per input, which kept the caches cold for every
 * input (docs/fuzzing.md, "Speed").  Under an engine it now runs in one
 * input in 64 (by the input's hash, so a report reproduces), there at 1
 * usable_size in 256 as before: still in the middle of a trace, with live
 * blocks around it.  Replays (full checks) trim in every input as before. */
static int trim_here(void) {
  if (!full_checks() && (g_input_hash >> 40) % 64 != 0) return 0;
  return (cur_index() * 0x9E3779B97F4A7C15ull) >> 56 == 0;
}

static size_t w_usable(void *p) {
  size_t u = hak_malloc_usable_size(p);
  if (trim_here()) {
    if (hak_malloc_usable_size(NULL) != 0) hkf_die("api: malloc_usable_size(NULL) != 0");
    (void)hak_malloc_trim(0); /* must not disturb live blocks */
  }
  return u;
}

/* Two checks are costly enough to decide the fuzzing speed (docs/fuzzing.md,
 * "Speed"): the debug build's full heap walk, and the contents pattern over
 * whole blocks.  Under a fuzzing engine the heap walk runs at the end of
 * one input in 16, chosen by the input's bytes (so a report reproduces from
 * the saved input), and the pattern is sampled (vf_pattern_windows: whole
 * blocks up to 4 KiB, windows above).  Replays (replay_main.c) and
 * HKF_FULL=1 run every check in full after every input; HKF_HEAP_WALK=1
 * (older name) does the same. */
static int g_full = -1;

/* (a loop over the whole input: no comparison tracing, which made it 1-2%
 * of a run; eight bytes a step, then a final mix, so that the bits the
 * choices above read depend on every byte) */
#if defined(__clang__) && __clang_major__ >= 13
__attribute__((no_sanitize("coverage")))
#endif
void hkf_set_input(const uint8_t *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull ^ size, w;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < size; i++) h = (h ^ data[i]) * 0x100000001b3ull;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  g_input_hash = h ^ (h >> 31);
  g_index = 0;
}

void hkf_full_checks(int on) { g_full = on; }

static int full_checks(void) {
  if (g_full < 0) {
    const char *e = getenv("HKF_FULL"), *w = getenv("HKF_HEAP_WALK");
    g_full = (e && *e == '1') || (w && *w == '1');
  }
  return g_full;
}

static int w_check_heap(void) {
  if (!full_checks() && (g_input_hash >> 32) % 16 != 0) return -1; /* it walks every superslab */
  return hak_check_heap();
}

static vf_alloc_t g_alloc;

const vf_alloc_t *hkf_alloc(void) {
  if (!g_alloc.malloc) {
    const vf_alloc_t *h = vf_alloc_hakmem();
    if (!h) hkf_die("this build has no hakmem backend");
    g_alloc = *h;
    g_alloc.name = "hakmem (all hak_* entry points)";
    g_alloc.malloc = w_malloc;
    g_alloc.calloc = w_calloc;
    g_alloc.realloc = w_realloc;
    g_alloc.posix_memalign = w_posix_memalign;
    g_alloc.memalign = w_memalign;
    g_alloc.usable_size = w_usable;
    if (h->check_heap) g_alloc.check_heap = w_check_heap;
  }
  return &g_alloc;
}

void hkf_oracle_opts(vf_oracle_opts_t *o) {
  vf_oracle_defaults(o);
  o->check_every = 0;                  /* stats + heap walk once, at the end */
  if (full_checks()) {
    o->pattern_cap = (size_t)256 << 10; /* whole blocks up to 256 KiB (every
                                          class), the first 256 KiB of whales */
  } else {
    o->pattern_sample = 1;             /* windows over the whole block, whales
                                          included (their tail too) */
  }
  o->report = NULL;                    /* hkf_die prints the line */
}

/* ---- reporting ---------------------------------------------------------------- */

void hkf_die(const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "hkfuzz: %s: %s\n", hkf_target.name, line);
  fflush(stderr);
  abort();
}

void hkf_dump(const vf_trace_t *t) {
  const char *path = getenv("HKF_DUMP");
  if (!path || !*path) return;
  if (vf_trace_save(t, path, VF_FMT_BINARY) == 0)
    fprintf(stderr, "hkfuzz: normalized trace written to %s\n", path);
}
