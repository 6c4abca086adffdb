/* hk_stress.c - random-operation stress checker for hakmem (allocator/tests).
 *
 * Runs N random operations over the whole hak_* API (malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * usable_size, free) with sizes biased to class edges, in one or more
 * threads.  With --threads > 1 the threads swap live blocks through a shared
 * lock-protected exchange array, so blocks are constantly freed and
 * realloc'd by a thread other than the one that allocated them.
 *
 * After every operation it checks:
 *  - alignment (16 bytes, the requested alignment, or a page);
 *  - usable_size >= request (pvalloc: request rounded up to a page), and
 *    unchanged while the block is live;
 *  - no overlap: every live block [p, p+usable) sits in one address-ordered
 *    treap, and a new block is checked against its neighbours in O(log n);
 *  - contents: each block's whole usable range holds a pattern derived from
 *    its id, verified before free and realloc; realloc keeps the prefix
 *    min(old usable, new size); calloc returns zeros;
 *  - impossible requests fail with NULL + ENOMEM / EINVAL;
 *  - single-threaded: live_blocks from hak_stats_get matches the live set.
 *
 * Self-contained apart from ut_common (patterns, PRNG, edge sizes).
 * Usage: hk_stress [--ops N] [--threads T] [--seed S] [--slots K]
 *                  [--check-every N] [--large 1]
 * --large 1 makes most blocks 64 KiB..8 MiB (whale cache, mremap paths);
 * use it with few slots (--slots 16) to bound the memory.
 * Prints "hk_stress: ops=N threads=T violations=0" on success; on the first
 * violation prints one line "hk_stress: VIOLATION ..." and exits 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ut_common.h"

typedef struct blk {
  void *p;
  size_t req;    /* requested size */
  size_t usable; /* usable_size at allocation */
  uint64_t id;   /* pattern id */
} blk_t;

/* ---- options --------------------------------------------------------------- */
static uint64_t opt_ops = 200000;
static int opt_threads = 1;
static uint64_t opt_seed = 1;
static size_t opt_slots = 2048;
static uint64_t opt_check_every = 0;
static int opt_large = 0; /* --large 1: mostly large blocks (whale cache) */
static size_t page_size;

/* ---- violation reporting ------------------------------------------------- */
static void violation(int tid, uint64_t op, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
static void violation(int tid, uint64_t op, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "hk_stress: VIOLATION thread=%d op=%" PRIu64 " seed=%" PRIu64 " variant=%s: %s\n", tid, op, opt_seed,
          hak_variant(), msg);
  fflush(stderr);
  _exit(1);
}

/* ---- address-ordered treap of live blocks ---------------------------------- */
typedef struct tnode {
  uintptr_t key;
  size_t len;
  uint32_t l, r, prio;
} tnode_t;

static tnode_t *tn;          /* tn[0] is the nil node */
static uint32_t troot, tfree; /* free list through .l */
static uint32_t tprio_state = 2463534242u;
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;

static void tree_init(size_t cap) {
  tn = calloc(cap + 1, sizeof *tn);
  if (!tn) {
    perror("hk_stress: calloc");
    exit(2);
  }
  for (size_t i = 1; i < cap; i++) tn[i].l = (uint32_t)(i + 1);
  tfree = cap ? 1 : 0;
}

static uint32_t tprio(void) {
  tprio_state ^= tprio_state << 13;
  tprio_state ^= tprio_state >> 17;
  tprio_state ^= tprio_state << 5;
  return tprio_state;
}

/* a: keys < key, b: keys >= key */
static void tsplit(uint32_t t, uintptr_t key, uint32_t *a, uint32_t *b) {
  if (!t) {
    *a = *b = 0;
  } else if (tn[t].key < key) {
    tsplit(tn[t].r, key, &tn[t].r, b);
    *a = t;
  } else {
    tsplit(tn[t].l, key, a, &tn[t].l);
    *b = t;
  }
}

static uint32_t tmerge(uint32_t a, uint32_t b) {
  if (!a || !b) return a ? a : b;
  if (tn[a].prio > tn[b].prio) {
    tn[a].r = tmerge(tn[a].r, b);
    return a;
  }
  tn[b].l = tmerge(a, tn[b].l);
  return b;
}

/* Insert [p, p+len); returns NULL or a description of the overlap. */
static const char *tree_insert(uintptr_t p, size_t len, char *why, size_t whylen) {
  uint32_t t = troot, pred = 0, succ = 0;
  while (t) {
    if (tn[t].key <= p) {
      pred = t;
      t = tn[t].r;
    } else {
      succ = t;
      t = tn[t].l;
    }
  }
  if (pred && tn[pred].key + tn[pred].len > p) {
    snprintf(why, whylen, "new block %#" PRIxPTR "+%zu overlaps live block %#" PRIxPTR "+%zu", p, len, tn[pred].key,
             tn[pred].len);
    return why;
  }
  if (succ && p + len > tn[succ].key) {
    snprintf(why, whylen, "new block %#" PRIxPTR "+%zu overlaps live block %#" PRIxPTR "+%zu", p, len, tn[succ].key,
             tn[succ].len);
    return why;
  }
  uint32_t n = tfree;
  if (!n) {
    fprintf(stderr, "hk_stress: internal: treap full\n");
    exit(2);
  }
  tfree = tn[n].l;
  tn[n] = (tnode_t){.key = p, .len = len, .prio = tprio()};
  uint32_t a, b;
  tsplit(troot, p, &a, &b);
  troot = tmerge(tmerge(a, n), b);
  return NULL;
}

static int tree_remove(uintptr_t p) {
  uint32_t a, b, m, c;
  tsplit(troot, p, &a, &b);
  tsplit(b, p + 1, &m, &c);
  int ok = m && tn[m].key == p && !tn[m].l && !tn[m].r;
  if (m) {
    tn[m].l = tfree;
    tfree = m;
  }
  troot = tmerge(a, c);
  return ok;
}

/* ---- shared exchange of live blocks between threads -------------------------- */
enum { XCH = 64 };
static blk_t xch[XCH];
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;

/* ---- per-thread state -------------------------------------------------------- */
typedef struct worker {
  int tid;
  uint64_t ops, op;
  ut_rng_t rng;
  blk_t *slot;
  uint64_t next_id;
  uint64_t live; /* blocks in slot[] */
  uint64_t passes, remote_ops;
} worker_t;

static size_t small_edges[1024], all_edges[4096], large_edges[1024];
static size_t n_small_edges, n_all_edges, n_large_edges;
static uint64_t live_base;

static void setup_sizes(void) {
  static size_t tmp[4096];
  size_t n = ut_edge_sizes(tmp, 4096, 300000);
  for (size_t i = 0; i < n; i++) {
    if (tmp[i] <= 70000 && n_all_edges < 4096) all_edges[n_all_edges++] = tmp[i];
    if (tmp[i] <= 1100 && n_small_edges < 1024) small_edges[n_small_edges++] = tmp[i];
    if (tmp[i] > 70000 && n_large_edges < 1024) large_edges[n_large_edges++] = tmp[i];
  }
  if (n_large_edges == 0) large_edges[n_large_edges++] = 262145;
}

/* Size mix (per 10000): 55% tiny class edges +-1, 15% every class edge up to
 * 70000, 3% the named limits (1 KiB, 64 KiB +-1), 0.05% 2 MiB +-1, 0.05%
 * 256 KiB..4 MiB (whale cache, best fit), 0.2% pooled class edges above
 * 70000, and uniform sizes for the rest (mostly small). */
static size_t gen_size(worker_t *w) {
  uint64_t r = ut_rng_below(&w->rng, 10000);
  if (opt_large) { /* 50% 64 KiB..8 MiB, 20% around 2/4 MiB, 30% the normal mix */
    static const size_t big[] = {(2u << 20) - 1, 2u << 20, (2u << 20) + 1, (4u << 20) - 1, 4u << 20, (4u << 20) + 1};
    if (r < 5000) return (64u << 10) + ut_rng_below(&w->rng, (8u << 20) - (64u << 10));
    if (r < 7000) return big[ut_rng_below(&w->rng, 6)];
    r = ut_rng_below(&w->rng, 10000);
  }
  if (r < 5500) return small_edges[ut_rng_below(&w->rng, n_small_edges)];
  if (r < 7000) return all_edges[ut_rng_below(&w->rng, n_all_edges)];
  if (r < 7300) { /* named limits */
    static const size_t lim[] = {1023, 1024, 1025, 65535, 65536, 65537};
    return lim[ut_rng_below(&w->rng, 6)];
  }
  if (r < 7305) return (2u << 20) - 1 + ut_rng_below(&w->rng, 3); /* 2 MiB +-1 */
  if (r < 7310) return (256u << 10) + ut_rng_below(&w->rng, (4u << 20) - (256u << 10));
  if (r < 7330) return large_edges[ut_rng_below(&w->rng, n_large_edges)];
  if (r < 9670) return ut_rng_below(&w->rng, 1101);
  if (r < 9970) return ut_rng_below(&w->rng, 70001);
  return ut_rng_below(&w->rng, 600001);
}

static size_t gen_align(worker_t *w, int posix) {
  uint64_t r = ut_rng_below(&w->rng, 1000);
  size_t shift;
  if (r < 700) shift = 4 + ut_rng_below(&w->rng, 5); /* 16..256 */
  else if (r < 900) shift = (posix ? 3 : 0) + ut_rng_below(&w->rng, posix ? 1 : 4); /* 1..8 */
  else if (r < 995) shift = 9 + ut_rng_below(&w->rng, 8); /* 512..64K */
  else shift = 17 + ut_rng_below(&w->rng, 5);               /* 128K..2M */
  return (size_t)1 << shift;
}

/* ---- block bookkeeping ------------------------------------------------------- */
static void track_new(worker_t *w, blk_t *b, void *p, size_t req, size_t align, size_t min_usable, int zeroed,
                      const char *fn) {
  if (!p) violation(w->tid, w->op, "%s(size %zu, align %zu) returned NULL (errno %d)", fn, req, align, errno);
  size_t want_align = align < 16 ? 16 : align;
  if (!ut_aligned(p, want_align))
    violation(w->tid, w->op, "%s(size %zu, align %zu) = %p is not %zu-aligned", fn, req, align, p, want_align);
  size_t u = hak_malloc_usable_size(p);
  if (u < min_usable) violation(w->tid, w->op, "%s(size %zu) = %p: usable_size %zu < %zu", fn, req, p, u, min_usable);
  if (zeroed) {
    size_t o = ut_first_nonzero(p, req);
    if (o != SIZE_MAX) violation(w->tid, w->op, "%s(size %zu) = %p: byte %zu not zero", fn, req, p, o);
  }
  char why[256];
  pthread_mutex_lock(&tlock);
  const char *bad = tree_insert((uintptr_t)p, u ? u : 1, why, sizeof why);
  pthread_mutex_unlock(&tlock);
  if (bad) violation(w->tid, w->op, "%s(size %zu, align %zu): %s", fn, req, align, bad);
  b->p = p;
  b->req = req;
  b->usable = u;
  b->id = w->next_id++;
  ut_fill(p, u, b->id);
}

/* Verify a live block's usable size and contents; untrack it (before the
 * allocator may hand its memory to another thread). */
static void verify_untrack(worker_t *w, const blk_t *b, const char *why) {
  size_t u = hak_malloc_usable_size(b->p);
  if (u != b->usable)
    violation(w->tid, w->op, "before %s: usable_size(%p) = %zu, was %zu at allocation", why, b->p, u, b->usable);
  size_t o = ut_check(b->p, b->usable, b->id);
  if (o != SIZE_MAX)
    violation(w->tid, w->op, "before %s: block %p (req %zu, usable %zu, id %" PRIu64 ") corrupted at offset %zu", why,
              b->p, b->req, b->usable, b->id, o);
  pthread_mutex_lock(&tlock);
  int ok = tree_remove((uintptr_t)b->p);
  pthread_mutex_unlock(&tlock);
  if (!ok) {
    fprintf(stderr, "hk_stress: internal: %p not tracked\n", b->p);
    exit(2);
  }
}

/* ---- operations ------------------------------------------------------------ */
static void op_alloc(worker_t *w, blk_t *b) {
  size_t n = gen_size(w), align = 0;
  void *p = NULL;
  uint64_t k = ut_rng_below(&w->rng, 100);
  if (k < 35) {
    track_new(w, b, hak_malloc(n), n, 0, n, 0, "malloc");
  } else if (k < 50) {
    size_t cnt = 1 + ut_rng_below(&w->rng, 4), each = n / cnt;
    track_new(w, b, hak_calloc(cnt, each), cnt * each, 0, cnt * each, 1, "calloc");
  } else if (k < 55) {
    track_new(w, b, hak_realloc(NULL, n), n, 0, n, 0, "realloc(NULL)");
  } else if (k < 60) {
    track_new(w, b, hak_reallocarray(NULL, 1, n), n, 0, n, 0, "reallocarray(NULL)");
  } else if (k < 70) {
    align = gen_align(w, 1);
    int rc = hak_posix_memalign(&p, align, n);
    if (rc != 0) violation(w->tid, w->op, "posix_memalign(align %zu, size %zu) = %d", align, n, rc);
    track_new(w, b, p, n, align, n, 0, "posix_memalign");
  } else if (k < 80) {
    align = gen_align(w, 0);
    track_new(w, b, hak_aligned_alloc(align, n), n, align, n, 0, "aligned_alloc");
  } else if (k < 90) {
    align = gen_align(w, 0);
    track_new(w, b, hak_memalign(align, n), n, align, n, 0, "memalign");
  } else if (k < 95) {
    track_new(w, b, hak_valloc(n), n, page_size, n, 0, "valloc");
  } else {
    size_t rounded = (n + page_size - 1) / page_size * page_size;
    track_new(w, b, hak_pvalloc(n), n, page_size, rounded, 0, "pvalloc");
  }
  w->live++;
}

static void op_free(worker_t *w, blk_t *b) {
  verify_untrack(w, b, "free");
  hak_free(b->p);
  b->p = NULL;
  w->live--;
}

static void op_realloc(worker_t *w, blk_t *b, int array) {
  size_t n = gen_size(w);
  if (n == 0 && ut_rng_below(&w->rng, 8)) n = 1; /* realloc(p, 0) only now and then */
  verify_untrack(w, b, array ? "reallocarray" : "realloc");
  void *q;
  if (array) {
    size_t cnt = 1 + ut_rng_below(&w->rng, 3), each = n / cnt;
    n = cnt * each;
    q = hak_reallocarray(b->p, cnt, each);
  } else {
    q = hak_realloc(b->p, n);
  }
  if (!q) {
    if (n == 0) { /* realloc(p, 0) freed p (glibc semantics) */
      b->p = NULL;
      w->live--;
      return;
    }
    violation(w->tid, w->op, "%s(%p, %zu) returned NULL (errno %d)", array ? "reallocarray" : "realloc", b->p, n, errno);
  }
  if (!ut_aligned(q, 16)) violation(w->tid, w->op, "realloc(.., %zu) = %p misaligned", n, q);
  size_t u = hak_malloc_usable_size(q);
  if (u < n) violation(w->tid, w->op, "realloc(.., %zu) = %p: usable_size %zu", n, q, u);
  size_t keep = b->usable < n ? b->usable : n;
  size_t o = ut_check(q, keep, b->id);
  if (o != SIZE_MAX)
    violation(w->tid, w->op, "realloc %p (usable %zu) -> %p (size %zu) lost prefix byte %zu of %zu", b->p, b->usable, q,
              n, o, keep);
  char why[256];
  pthread_mutex_lock(&tlock);
  const char *bad = tree_insert((uintptr_t)q, u ? u : 1, why, sizeof why);
  pthread_mutex_unlock(&tlock);
  if (bad) violation(w->tid, w->op, "realloc(.., %zu): %s", n, bad);
  b->p = q;
  b->req = n;
  b->usable = u;
  ut_fill(q, u, b->id);
}

/* Requests that must fail; the failure must not disturb the live set. */
static void op_impossible(worker_t *w) {
  size_t k = ut_rng_below(&w->rng, 6);
  errno = 0;
  void *p = NULL;
  int rc;
  switch (k) {
  case 0: p = hak_malloc(SIZE_MAX - ut_rng_below(&w->rng, 64)); break;
  case 1: p = hak_calloc(SIZE_MAX / 2 + 1 + ut_rng_below(&w->rng, 8), 2); break;
  case 2: p = hak_malloc((size_t)PTRDIFF_MAX + 1); break;
  case 3: p = hak_aligned_alloc(64, SIZE_MAX - 10); break;
  case 4:
    rc = hak_posix_memalign(&p, 24, 64);
    if (rc != EINVAL || p) violation(w->tid, w->op, "posix_memalign(24, 64) = %d, *out %p; want EINVAL, untouched", rc, p);
    return;
  default:
    p = hak_aligned_alloc(48, 64);
    if (p || errno != EINVAL) violation(w->tid, w->op, "aligned_alloc(48, 64) = %p errno %d; want NULL/EINVAL", p, errno);
    return;
  }
  if (p || errno != ENOMEM) violation(w->tid, w->op, "impossible request %zu returned %p errno %d; want NULL/ENOMEM", k, p, errno);
}

static void op_pass(worker_t *w, blk_t *b) {
  size_t j = ut_rng_below(&w->rng, XCH);
  pthread_mutex_lock(&xlock);
  blk_t t = xch[j];
  xch[j] = *b;
  pthread_mutex_unlock(&xlock);
  *b = t;
  if (b->p && (b->id >> 48) != (uint64_t)w->tid) w->remote_ops++;
  w->passes++;
}

static void check_live_single(worker_t *w) {
  uint64_t lb = ut_live_blocks();
  if (lb != live_base + w->live)
    violation(w->tid, w->op, "hak_stats_get live_blocks = %" PRIu64 ", live set holds %" PRIu64, lb - live_base, w->live);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  for (w->op = 0; w->op < w->ops; w->op++) {
    if (ut_rng_below(&w->rng, 1000) == 0) {
      op_impossible(w);
      continue;
    }
    blk_t *b = &w->slot[ut_rng_below(&w->rng, opt_slots)];
    if (!b->p) {
      op_alloc(w, b);
    } else {
      uint64_t k = ut_rng_below(&w->rng, 100);
      if (opt_threads > 1 && k < 12) {
        int had = b->p != NULL;
        op_pass(w, b);
        w->live += (uint64_t)(b->p != NULL) - (uint64_t)had;
      } else if (k < 55) {
        op_free(w, b);
      } else if (k < 80) {
        op_realloc(w, b, 0);
      } else if (k < 92) {
        op_realloc(w, b, 1);
      } else {
        size_t u = hak_malloc_usable_size(b->p);
        if (u != b->usable) violation(w->tid, w->op, "usable_size(%p) = %zu, was %zu", b->p, u, b->usable);
      }
    }
    if (opt_threads == 1 && (w->op & 4095) == 0) check_live_single(w);
    if (opt_check_every && opt_threads == 1 && w->op % opt_check_every == 0) {
      int rc = hak_check_heap();
      if (rc > 0) violation(w->tid, w->op, "hak_check_heap() found %d problems", rc);
    }
  }
  for (size_t i = 0; i < opt_slots; i++)
    if (w->slot[i].p) op_free(w, &w->slot[i]);
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: hk_stress [--ops N] [--threads T] [--seed S] [--slots K] [--check-every N] [--large 1]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc % 2 == 0) usage(); /* options come in pairs */
  for (int i = 1; i < argc; i += 2) {
    unsigned long long v = strtoull(argv[i + 1], NULL, 0);
    if (!strcmp(argv[i], "--ops")) opt_ops = v;
    else if (!strcmp(argv[i], "--threads")) opt_threads = (int)v;
    else if (!strcmp(argv[i], "--seed")) opt_seed = v;
    else if (!strcmp(argv[i], "--slots")) opt_slots = (size_t)v;
    else if (!strcmp(argv[i], "--check-every")) opt_check_every = v;
    else if (!strcmp(argv[i], "--large")) opt_large = (int)v;
    else usage();
  }
  if (opt_threads < 1 || opt_threads > 256 || opt_slots < 1) usage();
  page_size = ut_page_size();
  setup_sizes();
  tree_init((size_t)opt_threads * opt_slots + XCH + 16);
  live_base = ut_live_blocks();

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  worker_t *ws = calloc((size_t)opt_threads, sizeof *ws);
  pthread_t *th = calloc((size_t)opt_threads, sizeof *th);
  if (!ws || !th) return 2;
  for (int t = 0; t < opt_threads; t++) {
    ws[t].tid = t;
    ws[t].ops = opt_ops / (uint64_t)opt_threads + (t == 0 ? opt_ops % (uint64_t)opt_threads : 0);
    ut_rng_seed(&ws[t].rng, opt_seed * 1000003u + (uint64_t)t);
    ws[t].slot = calloc(opt_slots, sizeof(blk_t));
    ws[t].next_id = (uint64_t)t << 48;
    if (!ws[t].slot) return 2;
  }
  if (opt_threads == 1) {
    worker_main(&ws[0]);
  } else {
    for (int t = 0; t < opt_threads; t++)
      if (pthread_create(&th[t], NULL, worker_main, &ws[t]) != 0) {
        perror("hk_stress: pthread_create");
        return 2;
      }
    for (int t = 0; t < opt_threads; t++) pthread_join(th[t], NULL);
  }
  /* blocks left in the exchange are freed by the main thread (remote again) */
  worker_t mw = {.tid = opt_threads, .op = opt_ops};
  uint64_t passes = 0, remote = 0;
  for (int j = 0; j < XCH; j++)
    if (xch[j].p) op_free(&mw, &xch[j]);
  for (int t = 0; t < opt_threads; t++) {
    passes += ws[t].passes;
    remote += ws[t].remote_ops;
  }
  uint64_t lb = ut_live_blocks();
  if (lb != live_base) violation(-1, opt_ops, "after freeing everything live_blocks is %" PRIu64 " above the start", lb - live_base);
  int rc = hak_check_heap();
  if (rc > 0) violation(-1, opt_ops, "final hak_check_heap() found %d problems", rc);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("hk_stress: variant=%s seed=%" PRIu64 " slots=%zu passes=%" PRIu64 " received_foreign=%" PRIu64 " secs=%.2f\n",
         hak_variant(), opt_seed, opt_slots, passes, remote, secs);
  printf("hk_stress: ops=%" PRIu64 " threads=%d violations=0\n", opt_ops, opt_threads);
  for (int t = 0; t < opt_threads; t++) free(ws[t].slot);
  free(ws);
  free(th);
  return 0;
}
