/* leak.c - ASan builds only: a leak check at exit for hakmem's own blocks,
 * which LeakSanitizer cannot see.
 *
 * LSan counts a word as a reference only when it points into a chunk of
 * ASan's own allocator, and offers no interface to declare a foreign block
 * (only root regions and ignored objects), so a lost hakmem block is never
 * reported by it (sanitizers/README.md).  This module stands in for it, in
 * ASan builds (HK_TRACK_LEAK: not the fuzz-engine builds, track.h) only; in
 * every other build it is empty.  It
 * is what memcheck does with the blocks valgrind's client requests name.
 *
 * Registry: track.h's ALLOC / FREE / RESIZE hooks record each live block
 * (user pointer, the size the user may touch, the return addresses of its
 * allocation) in HK_LEAK_STRIPES open-addressing tables, one lock each;
 * SEGMENT / UNMAP record hakmem's segments (superslabs, whale mappings).
 *
 * The check (atexit, registered at start-up like LSan's, so it runs just
 * before LSan's own check) marks conservatively, the way LSan and memcheck do:
 *   roots  every read-write mapping of the process (data and bss
 *          of every object, every thread's stack and static TLS, ASan's
 *          heap, anonymous mappings), minus hakmem's segments (a live
 *          block's bytes are scanned only once it is reached), ASan's shadow,
 *          this module's own memory, and the calling thread's stack below
 *          the check's entry (its registers are saved above that point);
 *   edges  an aligned word pointing into a live block [p, p + max(size, 1))
 *          (interior pointers count, as in LSan) marks it; a marked
 *          block's bytes are scanned in turn.
 * Memory is read with process_vm_readv on the process itself, so a range
 * unmapped meanwhile reads as absent instead of faulting.
 * Unmarked blocks are leaks: "Indirect" when another leaked block points
 * at them, else "Direct" (LSan's terms); each gets one line and its
 * allocation stack, then the process exits with status HK_LEAK_EXIT.
 *
 * Invariants:
 *   - a block is in the registry from its ALLOC hook to its FREE hook, with
 *     the size of its latest ALLOC/RESIZE; the tables and every buffer of
 *     the check are this module's own mmap'd memory, never a root;
 *   - in the hooks the stripe locks and the segment lock are leaves (no
 *     other lock is taken, nothing is allocated under them); the check
 *     holds all of them for its whole run and takes none of hakmem's; the
 *     segment hooks run under hk_ss_lock or whale_lock, which fork_prepare
 *     holds; this module's fork handlers are registered before hakmem's
 *     (constructor priority), so its prepare runs after hakmem's and takes
 *     every lock here last;
 *   - conservative in one direction only: anything that looks like a
 *     pointer keeps a block alive, so a block may go unreported (a stale
 *     copy of its address somewhere), never a reachable one reported --
 *     save one gap: a pointer held only in the registers of another thread
 *     still running at exit (its stack is read, its registers are not).
 * Off, with LSan, when ASAN_OPTIONS or LSAN_OPTIONS says detect_leaks=0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* process_vm_readv, pthread_getattr_np */
#endif
#include "internal.h"

#if HK_TRACK_LEAK
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define HK_LEAK_FRAMES 8     /* return addresses kept per block */
#define HK_LEAK_STRIPES 64   /* tables, each with its own lock */
#define HK_LEAK_EXIT 23      /* exit status on leaks: standalone LSan's (ASan exits 1) */
#define HK_LEAK_SHOWN 64     /* leaks reported with their stacks */
#define HK_LEAK_CHUNK 65536  /* bytes read per process_vm_readv */

typedef struct {
  uintptr_t p;                    /* user pointer; 0: empty slot */
  size_t n;                       /* bytes the user may touch */
  uintptr_t pc[HK_LEAK_FRAMES];   /* allocation stack, 0-terminated */
} hk_leak_ent_t;

typedef struct {
  pthread_mutex_t lock;
  hk_leak_ent_t *tab; /* cap slots, linear probing */
  size_t cap, count;
} __attribute__((aligned(64))) hk_leak_stripe_t;

static hk_leak_stripe_t stripes[HK_LEAK_STRIPES] = {
    [0 ... HK_LEAK_STRIPES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};

typedef struct {
  uintptr_t lo, hi;
} hk_leak_range_t;

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_leak_range_t *segs; /* hakmem's segments */
static size_t nsegs, segcap;

static int leak_on; /* the check will run: the hooks keep the registry */

/* per thread: stack bounds for the frame-pointer walk; 1 while in a hook */
static __thread uintptr_t tl_stack_lo, tl_stack_hi;
static __thread int tl_busy;

/* ---- memory of this module: its own mappings, through the OS layer ------
 * (counted there like every mapping; never hakmem's segments nor ASan's) */
static size_t leak_round(size_t n) { return (n + HK_PAGE - 1) & ~(size_t)(HK_PAGE - 1); }
static void *leak_map(size_t n) { return hk_os_map(leak_round(n), HK_PAGE); }
static void leak_unmap(void *p, size_t n) {
  if (p != NULL) hk_os_unmap(p, leak_round(n));
}

static uint64_t mix(uintptr_t p) {
  uint64_t h = (uint64_t)p;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}
static size_t home_of(uintptr_t p, size_t cap) {
  return (size_t)(mix(p) >> 6) & (cap - 1);
}

/* Slot of p in s, or the empty slot where it would go. */
static size_t slot_of(const hk_leak_stripe_t *s, uintptr_t p) {
  size_t i = home_of(p, s->cap);
  while (s->tab[i].p != 0 && s->tab[i].p != p) i = (i + 1) & (s->cap - 1);
  return i;
}

static int grow(hk_leak_stripe_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 1024;
  hk_leak_ent_t *tab = leak_map(cap * sizeof *tab);
  if (tab == NULL) return -1;
  hk_leak_ent_t *old = s->tab;
  size_t oldcap = s->cap;
  s->tab = tab;
  s->cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].p != 0) tab[slot_of(s, old[i].p)] = old[i];
  leak_unmap(old, oldcap * sizeof *old);
  return 0;
}

/* Backward-shift deletion: the probe runs of the other keys stay unbroken. */
static void remove_at(hk_leak_stripe_t *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (s->tab[j].p == 0) break;
    size_t k = home_of(s->tab[j].p, s->cap);
    /* the entry at j may move to i unless its home lies cyclically in (i, j] */
    int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      s->tab[i] = s->tab[j];
      i = j;
    }
  }
  s->tab[i].p = 0;
  s->count--;
}

static hk_leak_stripe_t *stripe_of(uintptr_t p) {
  return &stripes[mix(p) & (HK_LEAK_STRIPES - 1)];
}

/* ---- allocation stacks ----------------------------------------------------- */
static void stack_bounds(void) {
  pthread_attr_t a;
  void *lo = NULL;
  size_t size = 0;
  tl_stack_hi = 1; /* tried: a thread without bounds walks no frames */
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  if (pthread_attr_getstack(&a, &lo, &size) == 0 && lo != NULL) {
    tl_stack_lo = (uintptr_t)lo;
    tl_stack_hi = (uintptr_t)lo + size;
  }
  pthread_attr_destroy(&a);
}

/* The return addresses above the hook that called this (frame pointers:
 * sanitizer builds have them); reads saved frames, which ASan never poisons. */
static __attribute__((noinline, no_sanitize("address"))) void capture(uintptr_t *pc) {
  if (tl_stack_hi == 0) stack_bounds();
  uintptr_t lo = tl_stack_lo, hi = tl_stack_hi;
  /* skip this frame: the first address kept is where the hook was called */
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  fp = fp >= lo && fp + 16 <= hi ? *(const uintptr_t *)fp : 0;
  unsigned k = 0;
  while (k < HK_LEAK_FRAMES && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
    const uintptr_t *f = (const uintptr_t *)fp;
    if (f[1] == 0) break;
    pc[k++] = f[1];
    if (f[0] <= fp) break;
    fp = f[0];
  }
  if (k < HK_LEAK_FRAMES) pc[k] = 0;
}

/* ---- the hooks (track.h) ------------------------------------------------------ */
__attribute__((noinline)) void hk_leak_alloc(const void *ptr, size_t n) {
  uintptr_t p = (uintptr_t)ptr;
  if (p == 0 || tl_busy || !leak_on) return;
  tl_busy = 1;
  uintptr_t pc[HK_LEAK_FRAMES];
  capture(pc);
  hk_leak_stripe_t *s = stripe_of(p);
  pthread_mutex_lock(&s->lock);
  if ((s->count + 1) * 10 <= s->cap * 7 || grow(s) == 0) {
    size_t i = slot_of(s, p);
    if (s->tab[i].p == 0) s->count++;
    s->tab[i].p = p;
    s->tab[i].n = n;
    memcpy(s->tab[i].pc, pc, sizeof pc);
  }
  pthread_mutex_unlock(&s->lock);
  tl_busy = 0;
}

/* FREE (del) and RESIZE: the block's entry, if it has one, goes or takes size n. */
static void update(uintptr_t p, int del, size_t n) {
  if (!leak_on) return;
  hk_leak_stripe_t *s = stripe_of(p);
  pthread_mutex_lock(&s->lock);
  size_t i = s->cap != 0 ? slot_of(s, p) : 0;
  if (s->cap != 0 && s->tab[i].p == p) {
    if (del) remove_at(s, i);
    else s->tab[i].n = n;
  }
  pthread_mutex_unlock(&s->lock);
}
void hk_leak_free(const void *p) { update((uintptr_t)p, 1, 0); }
void hk_leak_resize(const void *p, size_t n) { update((uintptr_t)p, 0, n); }

void hk_leak_segment(const void *ptr, size_t n, int add) {
  uintptr_t p = (uintptr_t)ptr;
  if (!leak_on) return;
  pthread_mutex_lock(&seg_lock);
  if (add) {
    if (nsegs == segcap) {
      size_t cap = segcap ? segcap * 2 : 256;
      hk_leak_range_t *a = leak_map(cap * sizeof *a);
      if (a != NULL) {
        if (nsegs) memcpy(a, segs, nsegs * sizeof *a);
        leak_unmap(segs, segcap * sizeof *segs);
        segs = a;
        segcap = cap;
      }
    }
    if (nsegs < segcap) segs[nsegs++] = (hk_leak_range_t){p, p + n};
  } else {
    for (size_t i = 0; i < nsegs; i++)
      if (segs[i].lo == p) {
        segs[i] = segs[--nsegs];
        break;
      }
  }
  pthread_mutex_unlock(&seg_lock);
}

/* ---- fork: no lock of this module may be copied taken ------------------------
 * The forking thread also takes its stack bounds now, if it has none:
 * pthread_getattr_np allocates with the sanitizer's malloc, which a child
 * of a multi-threaded parent must not call (clang 14's allocator keeps no
 * fork handlers: a child hung in it when another thread held its lock,
 * test_fork_during_lock_storm under ASan). */
static void lock_all(void) {
  if (tl_stack_hi == 0) stack_bounds();
  for (unsigned i = 0; i < HK_LEAK_STRIPES; i++) pthread_mutex_lock(&stripes[i].lock);
  pthread_mutex_lock(&seg_lock);
}
static void unlock_all(void) {
  pthread_mutex_unlock(&seg_lock);
  for (unsigned i = HK_LEAK_STRIPES; i-- > 0;) pthread_mutex_unlock(&stripes[i].lock);
}

/* ---- the check ------------------------------------------------------------------ */
typedef struct {
  uintptr_t p, end;        /* [p, end): end = p + max(n, 1) */
  const hk_leak_ent_t *e;
  unsigned char state;     /* 0 unreached, 1 reached, 2 leaked but pointed at by a leak */
} hk_leak_blk_t;

typedef struct {
  hk_leak_blk_t *blk;
  size_t n;
  size_t *work, nwork;
  unsigned char *buf;      /* HK_LEAK_CHUNK bytes */
  uintptr_t lo, hi;        /* [first block, end of last) */
  size_t scanned;          /* root bytes read */
} hk_leak_scan_t;

static int cmp_blk(const void *a, const void *b) {
  uintptr_t x = ((const hk_leak_blk_t *)a)->p, y = ((const hk_leak_blk_t *)b)->p;
  return x < y ? -1 : x > y;
}
static int cmp_range(const void *a, const void *b) {
  uintptr_t x = ((const hk_leak_range_t *)a)->lo, y = ((const hk_leak_range_t *)b)->lo;
  return x < y ? -1 : x > y;
}

/* Index of the block holding address w, or -1. */
static long find(const hk_leak_scan_t *sc, uintptr_t w) {
  if (w < sc->lo || w >= sc->hi) return -1;
  size_t a = 0, b = sc->n; /* last block with p <= w */
  while (b - a > 1) {
    size_t m = a + (b - a) / 2;
    if (sc->blk[m].p <= w) a = m;
    else b = m;
  }
  return w < sc->blk[a].end ? (long)a : -1;
}

/* Read [lo, hi) of this process; every aligned word that points into a
 * block: marking (mark != 0, self == -1) pushes unreached blocks as reached;
 * classifying (mark == 0) flags unreached blocks other than self. */
static void scan_range(hk_leak_scan_t *sc, uintptr_t lo, uintptr_t hi, int mark, long self) {
  lo = (lo + 7) & ~(uintptr_t)7;
  while (lo + 8 <= hi) {
    size_t len = hi - lo < HK_LEAK_CHUNK ? (size_t)(hi - lo) & ~(size_t)7 : HK_LEAK_CHUNK;
    struct iovec local = {sc->buf, len}, remote = {(void *)lo, len};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got <= 0) { /* gone or unreadable: skip a page */
      lo = (lo + 4096) & ~(uintptr_t)4095;
      continue;
    }
    const uintptr_t *w = (const uintptr_t *)sc->buf;
    for (size_t i = 0; i < (size_t)got / 8; i++) {
      long k = find(sc, w[i]);
      if (k < 0 || k == self || sc->blk[k].state == 1) continue;
      if (mark) {
        sc->blk[k].state = 1;
        sc->work[sc->nwork++] = (size_t)k;
      } else {
        sc->blk[k].state = 2;
      }
    }
    lo += (size_t)got;
  }
}

static void drain(hk_leak_scan_t *sc) {
  while (sc->nwork > 0) {
    const hk_leak_blk_t *b = &sc->blk[sc->work[--sc->nwork]];
    scan_range(sc, b->p, b->p + b->e->n, 1, -1);
  }
}

/* Scan [lo, hi) as a root, minus the excluded ranges (sorted, disjoint or not). */
static void scan_root(hk_leak_scan_t *sc, uintptr_t lo, uintptr_t hi, const hk_leak_range_t *ex,
                      size_t nex) {
  for (size_t i = 0; i < nex && lo < hi; i++) {
    if (ex[i].hi <= lo) continue;
    if (ex[i].lo >= hi) break;
    if (ex[i].lo > lo) {
      sc->scanned += ex[i].lo - lo;
      scan_range(sc, lo, ex[i].lo, 1, -1);
    }
    if (ex[i].hi > lo) lo = ex[i].hi;
  }
  if (lo < hi) {
    sc->scanned += hi - lo;
    scan_range(sc, lo, hi, 1, -1);
  }
  drain(sc);
}

/* /proc/self/maps into a fresh mapping of *size bytes; NULL on failure. */
static char *read_maps(size_t *size) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 1 << 20, len = 0;
  char *buf = leak_map(cap);
  while (buf != NULL) {
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    if (len + 1 == cap) {
      char *b = leak_map(cap * 2);
      if (b != NULL) memcpy(b, buf, len);
      leak_unmap(buf, cap);
      buf = b;
      cap *= 2;
    }
  }
  close(fd);
  if (buf != NULL) buf[len] = 0;
  *size = cap;
  return buf;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  for (ssize_t off = 0, w; off < n; off += w)
    if ((w = write(2, line + off, (size_t)(n - off))) <= 0) return;
}

static void report_one(const hk_leak_blk_t *b) {
  say("%s leak of %zu byte(s) in 1 object(s) at %p, allocated from:\n",
      b->state == 2 ? "Indirect" : "Direct", b->e->n, (void *)b->p);
  for (unsigned k = 0; k < HK_LEAK_FRAMES && b->e->pc[k] != 0; k++) {
    char sym[512];
    sym[0] = 0;
    /* pc - 1: the call, not the instruction after it */
    __sanitizer_symbolize_pc((void *)(b->e->pc[k] - 1), "%p %F %L", sym, sizeof sym);
    say("    #%u %s\n", k, sym[0] ? sym : "?");
  }
  say("\n");
}

static int options_say_off(const char *v) {
  if (v == NULL) return 0;
  int off = 0;
  for (const char *q = v; (q = strstr(q, "detect_leaks=")) != NULL; q += 13)
    if (q == v || q[-1] == ':' || q[-1] == ',' || q[-1] == ' ')
      off = q[13] == '0' || strncmp(q + 13, "false", 5) == 0 || strncmp(q + 13, "no", 2) == 0;
  return off;
}

/* The check proper; stack_lo: the lowest address of the calling thread's
 * stack still in use by its callers (registers saved above it). */
static __attribute__((noinline)) void check(uintptr_t stack_lo) {
  lock_all();
  size_t n = 0;
  for (unsigned i = 0; i < HK_LEAK_STRIPES; i++) n += stripes[i].count;
  if (n == 0) {
    unlock_all();
    return;
  }
  hk_leak_scan_t sc = {0};
  size_t leaks = 0, bytes = 0;
  size_t blk_bytes = n * sizeof *sc.blk, work_bytes = n * sizeof *sc.work;
  size_t nex_cap = HK_LEAK_STRIPES + nsegs + 8;
  size_t ex_bytes = nex_cap * sizeof(hk_leak_range_t), maps_bytes = 0;
  sc.blk = leak_map(blk_bytes);
  sc.work = leak_map(work_bytes);
  sc.buf = leak_map(HK_LEAK_CHUNK);
  hk_leak_range_t *ex = leak_map(ex_bytes);
  char *maps = read_maps(&maps_bytes);
  if (sc.blk == NULL || sc.work == NULL || sc.buf == NULL || ex == NULL || maps == NULL) {
    say("hakmem leak check: out of memory, no check\n");
    goto out;
  }
  for (unsigned i = 0; i < HK_LEAK_STRIPES; i++)
    for (size_t j = 0; j < stripes[i].cap; j++) {
      const hk_leak_ent_t *e = &stripes[i].tab[j];
      if (e->p != 0) sc.blk[sc.n++] = (hk_leak_blk_t){e->p, e->p + (e->n ? e->n : 1), e, 0};
    }
  qsort(sc.blk, sc.n, sizeof *sc.blk, cmp_blk);
  sc.lo = sc.blk[0].p;
  for (size_t i = 0; i < sc.n; i++)
    if (sc.blk[i].end > sc.hi) sc.hi = sc.blk[i].end;

  /* not roots: hakmem's segments, ASan's shadow, this module's memory */
  size_t nex = 0;
  for (size_t i = 0; i < nsegs; i++) ex[nex++] = segs[i];
  size_t scale = 0, offset = 0;
  __asan_get_shadow_mapping(&scale, &offset);
  ex[nex++] = (hk_leak_range_t){offset, offset + ((uintptr_t)1 << 47 >> scale)};
  for (unsigned i = 0; i < HK_LEAK_STRIPES; i++)
    if (stripes[i].tab != NULL)
      ex[nex++] = (hk_leak_range_t){(uintptr_t)stripes[i].tab,
                                    (uintptr_t)stripes[i].tab + stripes[i].cap * sizeof(hk_leak_ent_t)};
  const struct {
    const void *p;
    size_t n;
  } own[] = {{sc.blk, blk_bytes}, {sc.work, work_bytes}, {sc.buf, HK_LEAK_CHUNK},
             {ex, ex_bytes},      {maps, maps_bytes},    {segs, segcap * sizeof *segs}};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (own[i].p != NULL)
      ex[nex++] = (hk_leak_range_t){(uintptr_t)own[i].p, (uintptr_t)own[i].p + own[i].n};
  qsort(ex, nex, sizeof *ex, cmp_range);

  /* roots: read-write mappings, private or shared (a device or a file cut
   * short reads as absent through process_vm_readv) */
  for (char *line = maps; *line != 0;) {
    char *eol = strchr(line, '\n');
    if (eol != NULL) *eol = 0;
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r' && perms[1] == 'w') {
      if (stack_lo >= lo && stack_lo < hi) lo = stack_lo; /* this thread: from its callers up */
      scan_root(&sc, lo, hi, ex, nex);
    }
    if (eol == NULL) break;
    line = eol + 1;
  }

  /* what no root reaches is leaked; what a leak points at is indirect */
  for (size_t i = 0; i < sc.n; i++)
    if (sc.blk[i].state != 1) scan_range(&sc, sc.blk[i].p, sc.blk[i].p + sc.blk[i].e->n, 0, (long)i);
  for (size_t i = 0; i < sc.n; i++)
    if (sc.blk[i].state != 1) {
      leaks++;
      bytes += sc.blk[i].e->n;
    }
  if (leaks != 0) {
    say("=================================================================\n"
        "==%d==ERROR: hakmem leak check: detected memory leaks of hakmem blocks "
        "(LeakSanitizer cannot see them; allocator/leak.c)\n\n",
        (int)getpid());
    size_t shown = 0;
    for (int pass = 0; pass < 2; pass++) /* direct leaks first */
      for (size_t i = 0; i < sc.n && shown < HK_LEAK_SHOWN; i++)
        if (sc.blk[i].state == (pass == 0 ? 0 : 2)) {
          report_one(&sc.blk[i]);
          shown++;
        }
    if (shown < leaks) say("(%zu more leaks not shown)\n\n", leaks - shown);
    say("SUMMARY: hakmem leak check: %zu byte(s) leaked in %zu allocation(s) "
        "(of %zu live blocks; %zu root bytes scanned).\n",
        bytes, leaks, sc.n, sc.scanned);
  }
out:
  leak_unmap(sc.blk, blk_bytes);
  leak_unmap(sc.work, work_bytes);
  leak_unmap(sc.buf, HK_LEAK_CHUNK);
  leak_unmap(ex, ex_bytes);
  leak_unmap(maps, maps_bytes);
  unlock_all();
  if (leaks != 0) {
    fflush(NULL);
    __lsan_do_leak_check(); /* LSan's own report too (it exits if it finds one) */
    _exit(HK_LEAK_EXIT);
  }
}

static void check_at_exit(void) {
  jmp_buf regs; /* this thread's callee-saved registers, scanned as stack */
  setjmp(regs);
  check((uintptr_t)&regs);
}

/* Before hakmem's own constructor (default priority): its fork handlers are
 * registered after these, so their prepare runs first (see the invariants). */
__attribute__((constructor(101))) static void leak_init(void) {
  if (options_say_off(getenv("ASAN_OPTIONS")) || options_say_off(getenv("LSAN_OPTIONS"))) return;
  pthread_atfork(lock_all, unlock_all, unlock_all);
  leak_on = 1;
  atexit(check_at_exit);
}
#endif /* HK_TRACK_LEAK */
