/* vf_buggy_malloc.c - libvf_buggy_malloc.so, a malloc with one known bug,
 * for proving the oracle and the minimizer end to end through the dlopen
 * backend (hakmem's own HAKMEM_INJECT catalog does the same in-tree).
 *
 * It wraps glibc's __libc_* entry points and injects the bugs named by
 * $VF_BUGGY, a comma-separated list (default: none; one bug for the
 * minimizer's tests, several at once for hakmem-replay --keep-going's):
 *   realloc_truncate  growing realloc of a block >= 256 bytes copies one
 *                     byte less than it must;
 *   calloc_dirty      calloc of 128..255 bytes skips zeroing;
 *   usable_overstate  usable_size reports 8 bytes more than the block has,
 *                     for requests of 1..24 bytes;
 *   double_push       a per-size-class cache of freed blocks (8 deep, as a
 *                     thread cache would be) pushes the 7th block twice, so
 *                     two later mallocs hand out the same block: needs a
 *                     history of 7 frees of one class, which makes it a
 *                     real workout for the minimizer;
 *   align_ignored     aligned requests of 4 KiB alignment or more get a
 *                     plain malloc block (16-aligned, freed as usual);
 *   errno_wrong       malloc of more than PTRDIFF_MAX bytes fails with
 *                     EINVAL instead of ENOMEM;
 *   free_leaks        free of a block of 4 KiB or more forgets it: the
 *                     program's view is right (live counts drop), but the
 *                     memory is never given back nor reused (the space
 *                     check's bug: hakmem-replay --space).
 * With VF_BUGGY_STATS=1 it also answers hak_stats_get (hakmem.h), as a
 * hakmem build loaded as a .so does: live blocks and bytes as the program
 * sees them, and its footprint, mapped_bytes: 1 MiB plus the usable bytes
 * of every block it took from glibc and did not give back.  Without it
 * hak_stats_get fails, and the oracle checks no stats.
 * Invariant: with no bug selected it behaves exactly like glibc.  With
 * double_push every path is made independent of the heap's state: blocks
 * of up to 256 bytes come from a private bump arena with their class in a
 * 16-byte header (glibc's usable size of a reused chunk depends on what
 * the process did before, so classing by it made a minimized trace fail
 * in the minimizer's forked children, whose parent had loaded a 100k-op
 * trace, and pass in a fresh hakmem-replay); calloc and realloc go through
 * malloc, and aligned blocks are padded out of the cached range.  So
 * whether a block is cached depends only on the op sequence and a
 * minimized trace fails in any process.  The cache is not locked: the
 * oracle runs one thread at a time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

enum {
  BUG_REALLOC_TRUNCATE, BUG_CALLOC_DIRTY, BUG_USABLE_OVERSTATE, BUG_DOUBLE_PUSH,
  BUG_ALIGN_IGNORED, BUG_ERRNO_WRONG, BUG_FREE_LEAKS, BUG_COUNT_
};
static const char *const bug_names[BUG_COUNT_] = {
    "realloc_truncate", "calloc_dirty", "usable_overstate", "double_push",
    "align_ignored", "errno_wrong", "free_leaks"};

/* 1 when bug b is in $VF_BUGGY's list. */
static int has(int b) {
  static int parsed;
  static unsigned set;
  if (!parsed) {
    const char *e = getenv("VF_BUGGY");
    for (int i = 0; e && i < BUG_COUNT_; i++) {
      size_t n = strlen(bug_names[i]);
      for (const char *q = e; (q = strstr(q, bug_names[i])) != NULL; q += n)
        if ((q == e || q[-1] == ',') && (q[n] == 0 || q[n] == ',')) set |= 1u << i;
    }
    parsed = 1;
  }
  return (set >> b) & 1;
}

/* glibc's own malloc_usable_size (ours shadows the name). */
static size_t libc_usable(void *p) {
  static size_t (*fn)(void *);
  if (!fn) {
    void *h = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_NOW);
    fn = (size_t(*)(void *))dlsym(h, "malloc_usable_size");
  }
  return fn(p);
}

/* double_push: class c (1..16) holds blocks of c*16 bytes, carved from a
 * bump arena (never given back: a block is cached or stays there), each
 * after a 16-byte header holding its class. */
#define CACHE_CLASSES 17
#define CACHE_DEPTH 8
#define ARENA_SIZE ((size_t)1 << 30) /* reserved; touched as carved */
static void *cache[CACHE_CLASSES][CACHE_DEPTH];
static unsigned cached[CACHE_CLASSES];
static char *arena, *arena_top;

static size_t arena_class(const void *p) {
  const char *q = p;
  return arena && q > arena && q < arena + ARENA_SIZE ? *(const size_t *)(q - 16) : 0;
}

/* The exported names call these: a call from inside this library to
 * malloc or free would bind to glibc's (the library is dlopen'ed local). */
static size_t buggy_usable(void *p);
static void *buggy_malloc(size_t n) {
  if (has(BUG_ERRNO_WRONG) && n > PTRDIFF_MAX) {
    errno = EINVAL;
    return NULL;
  }
  if (!has(BUG_DOUBLE_PUSH) || n > 256) return __libc_malloc(n);
  size_t c = n ? (n + 15) / 16 : 1;
  if (cached[c]) return cache[c][--cached[c]];
  if (!arena) {
    void *m = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    arena = arena_top = m;
  }
  if ((size_t)(arena_top - arena) + 16 + c * 16 > ARENA_SIZE) return NULL;
  *(size_t *)arena_top = c;
  void *p = arena_top + 16;
  arena_top += 16 + c * 16;
  return p;
}

static void buggy_free(void *p) {
  if (!p) return;
  if (has(BUG_DOUBLE_PUSH)) {
    size_t c = arena_class(p);
    if (c && cached[c] < CACHE_DEPTH) {
      cache[c][cached[c]++] = p;
      if (cached[c] == CACHE_DEPTH - 1) cache[c][cached[c]++] = p; /* the bug */
      return;
    }
    if (c) return; /* an arena block with its class's cache full: stays */
  }
  __libc_free(p);
}

static void *buggy_calloc(size_t k, size_t n) {
  size_t t;
  if (has(BUG_DOUBLE_PUSH)) {
    if (__builtin_mul_overflow(k, n, &t)) return __libc_calloc(k, n); /* ENOMEM */
    void *p = buggy_malloc(t);
    return p ? memset(p, 0, t) : NULL;
  }
  if (has(BUG_CALLOC_DIRTY) && !__builtin_mul_overflow(k, n, &t) && t >= 128 &&
      t < 256)
    return __libc_malloc(t);
  return __libc_calloc(k, n);
}

static void *buggy_realloc(void *p, size_t n) {
  if (has(BUG_DOUBLE_PUSH) && p) {
    if (!n) { /* glibc's realloc(p, 0) */
      buggy_free(p);
      return NULL;
    }
    if (n > PTRDIFF_MAX) {
      errno = ENOMEM;
      return NULL;
    }
    void *q = buggy_malloc(n);
    if (!q) return NULL;
    size_t old = buggy_usable(p);
    memcpy(q, p, old < n ? old : n);
    buggy_free(p);
    return q;
  }
  if (!has(BUG_REALLOC_TRUNCATE) || !p || !n) return __libc_realloc(p, n);
  size_t old = libc_usable(p);
  if (n <= old || old < 256) return __libc_realloc(p, n);
  void *q = __libc_malloc(n);
  if (!q) return NULL;
  memcpy(q, p, old - 1);
  __libc_free(p);
  return q;
}

/* aligned blocks: padded past the cached range under double_push */
static void *aligned(size_t al, size_t n) {
  if (has(BUG_DOUBLE_PUSH) && n < 512) n = 512;
  if (has(BUG_ALIGN_IGNORED) && al >= 4096) return __libc_malloc(n);
  return __libc_memalign(al, n);
}

static int buggy_posix_memalign(void **out, size_t al, size_t n) {
  if (!al || (al & (al - 1)) || al % sizeof(void *)) return 22; /* EINVAL */
  void *p = aligned(al, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}



static size_t buggy_usable(void *p) {
  if (!p) return 0;
  size_t c = arena_class(p);
  if (c) return c * 16;
  size_t u = libc_usable(p);
  return has(BUG_USABLE_OVERSTATE) && u == 24 ? u + 8 : u;
}

/* ---- the counts behind hak_stats_get (VF_BUGGY_STATS=1) ---------------- */
static uint64_t live_blocks, live_bytes, held_bytes;

static void *counted(void *p) {
  if (p) {
    size_t u = buggy_usable(p);
    live_blocks++;
    live_bytes += u;
    held_bytes += u;
  }
  return p;
}

/* p leaves the program; 1 when it is given back (else: leaked) */
static int uncount(void *p) {
  size_t u = buggy_usable(p);
  int leak = has(BUG_FREE_LEAKS) && u >= 4096;
  live_blocks--;
  live_bytes -= u;
  if (!leak) held_bytes -= u;
  return !leak;
}

int hak_stats_get(hak_stats_t *out);
int hak_stats_get(hak_stats_t *out) {
  const char *e = getenv("VF_BUGGY_STATS");
  if (!e || strcmp(e, "1") != 0) return -1;
  memset(out, 0, sizeof *out);
  out->live_blocks = live_blocks;
  out->live_bytes = live_bytes;
  out->mapped_bytes = ((uint64_t)1 << 20) + held_bytes;
  return 0;
}

void *malloc(size_t n) { return counted(buggy_malloc(n)); }
void free(void *p) {
  if (p && uncount(p)) buggy_free(p);
}
void *calloc(size_t k, size_t n) { return counted(buggy_calloc(k, n)); }
void *realloc(void *p, size_t n) {
  if (!p) return counted(buggy_realloc(NULL, n));
  size_t u = buggy_usable(p);
  void *q = buggy_realloc(p, n);
  if (!q && n) return NULL; /* failed: p stays as it was */
  live_blocks--;
  live_bytes -= u;
  held_bytes -= u;
  return counted(q);
}
int posix_memalign(void **out, size_t al, size_t n) {
  int rc = buggy_posix_memalign(out, al, n);
  if (!rc) counted(*out);
  return rc;
}
void *aligned_alloc(size_t al, size_t n) { return counted(aligned(al, n)); }
void *memalign(size_t al, size_t n) { return counted(aligned(al, n)); }
size_t malloc_usable_size(void *p) { return buggy_usable(p); }
int malloc_trim(size_t pad);
int malloc_trim(size_t pad) { (void)pad; return 0; }
