/* vf_recorder.c - libhakmem_recorder.so: LD_PRELOAD recorder of a program's
 * malloc traffic into a binary hakmem trace ($HAKMEM_TRACE_OUT, "%p" is
 * replaced by the pid).
 *
 * Invariants:
 *  - the recorder never calls malloc: its tables come from mmap, its output
 *    buffer is static, the real functions come from dlsym(RTLD_NEXT), and the
 *    calloc that dlsym itself makes is served from a static bootstrap buffer
 *    (such blocks are never passed to the real free);
 *  - a thread-local guard makes nested calls (from inside the real allocator
 *    or a signal handler) pass straight through, so the recorder never
 *    recurses or self-deadlocks;
 *  - one global lock is held across the real call and its record, so the
 *    trace order is an order in which the calls really happened, and a
 *    pointer is only ever mapped to one live slot;
 *  - pointers the recorder never saw allocated (start-up, ...) are passed
 *    to the real allocator and not recorded;
 *  - a thread that exits records `exit` (pthread key destructor) and gives
 *    its trace id back, so ids stay below 64 while fewer than 64 threads
 *    live at once (beyond that, ids are shared: folded modulo 64);
 *  - a forked child stops recording (its parent's unflushed bytes are
 *    dropped); without %p in the path only the process named by
 *    $HAKMEM_TRACE_PID records (a new image after its exec starts the file
 *    over), or without that variable the first process that opens the file
 *    (O_EXCL).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vf_trace_enc.h"

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- real functions and bootstrap ------------------------------------ */
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static size_t (*real_usable)(void *);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static int resolving;

static unsigned char boot_buf[1 << 16] __attribute__((aligned(16)));
static size_t boot_used;

static int is_boot(const void *p) {
  return (const unsigned char *)p >= boot_buf &&
         (const unsigned char *)p < boot_buf + sizeof boot_buf;
}

/* 16-byte header holding the size, then the block. */
static void *boot_alloc(size_t n) {
  size_t need = (n + 16 + 15) & ~(size_t)15;
  size_t at = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
  if (at + need > sizeof boot_buf) return NULL;
  memcpy(boot_buf + at, &n, sizeof n);
  return boot_buf + at + 16; /* static storage is zeroed */
}

static size_t boot_size(const void *p) {
  size_t n;
  memcpy(&n, (const unsigned char *)p - 16, sizeof n);
  return n;
}

static void resolve(void) {
  if (real_malloc || resolving) return;
  resolving = 1;
  real_free = dlsym(RTLD_NEXT, "free");
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
  real_valloc = dlsym(RTLD_NEXT, "valloc");
  real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
  void *m = dlsym(RTLD_NEXT, "malloc");
  __atomic_store_n(&real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
  resolving = 0;
}

/* ---- recording state ---------------------------------------------------- */
static TLS int in_hook;
static TLS int my_tid = -1;
static TLS int my_tid_owned; /* my_tid came from tid_used (not folded) */
static int next_tid;
static uint64_t tid_used; /* trace thread ids held by live threads */
static pthread_key_t exit_key;
static int have_exit_key;
static char lock_flag;
static int out_fd = -1;
static int final_flush; /* after the destructor: write through */
static int last_tid = -1;
static unsigned char obuf[1 << 16];
static size_t olen;

typedef struct ent {
  uintptr_t key; /* 0 = empty */
  uint32_t slot;
} ent_t;
static ent_t *map;
static size_t map_cap, map_used; /* power of two */
static uint32_t *free_slots;
static size_t nfree, free_cap;
static uint32_t next_slot;

static void lock(void) {
  while (__atomic_test_and_set(&lock_flag, __ATOMIC_ACQUIRE)) sched_yield();
}
static void unlock(void) { __atomic_clear(&lock_flag, __ATOMIC_RELEASE); }

static void *os_alloc(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void flush(void) {
  size_t off = 0;
  while (out_fd >= 0 && off < olen) {
    ssize_t w = write(out_fd, obuf + off, olen - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  olen = 0;
}

static void emit(const vf_op_t *op) {
  if (olen + VF_TRACE_MAX_RECORD > sizeof obuf) flush();
  olen += vf_trace_encode_op(op, obuf + olen);
  if (final_flush) flush();
}

static size_t hash(uintptr_t k) {
  return (size_t)((k >> 4) * 0x9E3779B97F4A7C15ull >> 20);
}

static int map_grow(void) {
  size_t ncap = map_cap ? map_cap * 2 : 1 << 16;
  ent_t *n = os_alloc(ncap * sizeof *n);
  if (!n) return -1;
  for (size_t i = 0; i < map_cap; i++) {
    if (!map[i].key) continue;
    size_t j = hash(map[i].key) & (ncap - 1);
    while (n[j].key) j = (j + 1) & (ncap - 1);
    n[j] = map[i];
  }
  if (map) munmap(map, map_cap * sizeof *map);
  map = n;
  map_cap = ncap;
  return 0;
}

static ent_t *map_find(uintptr_t k) {
  if (!map_cap) return NULL;
  for (size_t j = hash(k) & (map_cap - 1);; j = (j + 1) & (map_cap - 1)) {
    if (map[j].key == k) return &map[j];
    if (!map[j].key) return NULL;
  }
}

static void map_put(uintptr_t k, uint32_t slot) {
  if ((map_used + 1) * 2 > map_cap && map_grow()) return;
  size_t j = hash(k) & (map_cap - 1);
  while (map[j].key) j = (j + 1) & (map_cap - 1);
  map[j].key = k;
  map[j].slot = slot;
  map_used++;
}

/* Remove entry e, shifting later cluster members back (no tombstones). */
static void map_del(ent_t *e) {
  size_t i = (size_t)(e - map), mask = map_cap - 1;
  map[i].key = 0;
  map_used--;
  for (size_t j = (i + 1) & mask; map[j].key; j = (j + 1) & mask) {
    size_t h = hash(map[j].key) & mask;
    /* move j to i if h is not cyclically in (i, j] */
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      map[i] = map[j];
      map[j].key = 0;
      i = j;
    }
  }
}

static int slot_get(uint32_t *s) {
  if (nfree) {
    *s = free_slots[--nfree];
    return 0;
  }
  if (next_slot > VF_TRACE_MAX_SLOT) return -1;
  *s = next_slot++;
  return 0;
}

static void slot_put(uint32_t s) {
  if (nfree == free_cap) {
    size_t ncap = free_cap ? free_cap * 2 : 1 << 14;
    uint32_t *n = os_alloc(ncap * sizeof *n);
    if (!n) return; /* leak the id */
    if (free_slots) {
      memcpy(n, free_slots, nfree * sizeof *n);
      munmap(free_slots, free_cap * sizeof *n);
    }
    free_slots = n;
    free_cap = ncap;
  }
  free_slots[nfree++] = s;
}

/* Begin a recorded call: 1 when this call must be recorded (lock held). */
static int enter(void) {
  if (in_hook || out_fd < 0) return 0;
  in_hook = 1;
  lock();
  if (my_tid < 0) { /* lowest free trace id; past 64 live threads, fold */
    if (~tid_used) {
      my_tid = __builtin_ctzll(~tid_used);
      tid_used |= (uint64_t)1 << my_tid;
      my_tid_owned = 1;
    } else {
      my_tid = next_tid++ % VF_TRACE_MAX_THREADS;
    }
    /* ask for a call at thread exit (never called for the main thread) */
    if (have_exit_key) pthread_setspecific(exit_key, (void *)1);
  }
  return 1;
}

static void leave(int rec) {
  if (!rec) return;
  unlock();
  in_hook = 0;
}

static void record(uint8_t code, uint32_t slot, uint64_t aux, uint64_t size) {
  if (last_tid != my_tid) {
    vf_op_t sw = {.code = VF_OP_SWITCH, .tid = (uint8_t)my_tid};
    emit(&sw);
    last_tid = my_tid;
  }
  vf_op_t op = {.code = code, .tid = (uint8_t)my_tid, .slot = slot, .aux = aux, .size = size};
  emit(&op);
}

/* Thread-exit destructor: record `exit` and free the thread's trace id.
 * Allocations by later destructors of this thread get a new id. */
static void thread_gone(void *unused) {
  (void)unused;
  if (my_tid < 0 || out_fd < 0) return;
  int nested = in_hook;
  in_hook = 1;
  lock();
  if (out_fd >= 0) {
    if (last_tid != my_tid) {
      vf_op_t sw = {.code = VF_OP_SWITCH, .tid = (uint8_t)my_tid};
      emit(&sw);
    }
    vf_op_t ex = {.code = VF_OP_THREAD_EXIT, .tid = (uint8_t)my_tid};
    emit(&ex);
    last_tid = -1;
  }
  if (my_tid_owned) tid_used &= ~((uint64_t)1 << my_tid);
  my_tid = -1;
  my_tid_owned = 0;
  unlock();
  in_hook = nested;
}

/* Record an allocation whose result is p (NULL: failed). */
static void record_alloc(uint8_t code, void *p, uint64_t aux, uint64_t size) {
  uint32_t s;
  if (slot_get(&s)) return;
  record(code, s, aux, size);
  if (p) {
    ent_t *old = map_find((uintptr_t)p); /* should not happen */
    if (old) map_del(old);
    map_put((uintptr_t)p, s);
  } else {
    slot_put(s);
  }
}

/* ---- interposed entry points -------------------------------------------- */
#define REAL_OR_BOOT(call, n)                                                  \
  do {                                                                         \
    if (!real_malloc) resolve();                                               \
    if (!real_malloc) return boot_alloc(n);                                    \
  } while (0)

EXPORT void *malloc(size_t n) {
  REAL_OR_BOOT(malloc, n);
  int rec = enter();
  void *p = real_malloc(n);
  if (rec) record_alloc(VF_OP_MALLOC, p, 0, n);
  leave(rec);
  return p;
}

EXPORT void *calloc(size_t k, size_t n) {
  size_t total;
  if (__builtin_mul_overflow(k, n, &total)) total = SIZE_MAX;
  REAL_OR_BOOT(calloc, total);
  int rec = enter();
  void *p = real_calloc(k, n);
  if (rec) record_alloc(VF_OP_CALLOC, p, k, n);
  leave(rec);
  return p;
}

EXPORT void free(void *p) {
  if (!p || is_boot(p)) return;
  if (!real_malloc) resolve();
  int rec = enter();
  if (rec) {
    ent_t *e = map_find((uintptr_t)p);
    if (e) {
      uint32_t s = e->slot;
      map_del(e);
      record(VF_OP_FREE, s, 0, 0);
      slot_put(s);
    }
  }
  real_free(p);
  leave(rec);
}

EXPORT void *realloc(void *p, size_t n) {
  if (p && is_boot(p)) { /* move a bootstrap block to the real heap */
    void *q = malloc(n);
    size_t old = boot_size(p);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
  }
  REAL_OR_BOOT(realloc, n);
  int rec = enter();
  void *q = real_realloc(p, n);
  if (rec) {
    ent_t *e = p ? map_find((uintptr_t)p) : NULL;
    if (!e) {
      record_alloc(VF_OP_REALLOC, q, 0, n);
    } else {
      uint32_t s = e->slot;
      record(VF_OP_REALLOC, s, 0, n);
      if (q || n == 0) {
        map_del(e);
        if (q) map_put((uintptr_t)q, s);
        else slot_put(s);
      }
    }
  }
  leave(rec);
  return q;
}

EXPORT int posix_memalign(void **out, size_t al, size_t n) {
  if (!real_malloc) resolve();
  int rec = enter();
  int r = real_posix_memalign(out, al, n);
  if (rec) record_alloc(VF_OP_POSIX_MEMALIGN, r ? NULL : *out, al, n);
  leave(rec);
  return r;
}

EXPORT void *aligned_alloc(size_t al, size_t n) {
  if (!real_malloc) resolve();
  int rec = enter();
  void *p = real_aligned_alloc(al, n);
  if (rec) record_alloc(VF_OP_ALIGNED_ALLOC, p, al, n);
  leave(rec);
  return p;
}

EXPORT void *memalign(size_t al, size_t n) {
  if (!real_malloc) resolve();
  int rec = enter();
  void *p = real_memalign(al, n);
  if (rec) record_alloc(VF_OP_MEMALIGN, p, al, n);
  leave(rec);
  return p;
}

/* valloc and pvalloc are recorded as memalign(page size, size), pvalloc's
 * size rounded up to whole pages as it does. */
static void *page_alloc(size_t n, int round) {
  if (!real_malloc) resolve();
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  int rec = enter();
  void *p = round ? real_pvalloc(n) : real_valloc(n);
  if (rec) {
    size_t size = n;
    if (round && n && !__builtin_add_overflow(n, page - 1, &size)) size &= ~(page - 1);
    record_alloc(VF_OP_MEMALIGN, p, page, size);
  }
  leave(rec);
  return p;
}

EXPORT void *valloc(size_t n) { return page_alloc(n, 0); }
EXPORT void *pvalloc(size_t n) { return page_alloc(n, 1); }

EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (is_boot(p)) return boot_size(p);
  if (!real_malloc) resolve();
  int rec = enter();
  size_t u = real_usable(p);
  if (rec) {
    ent_t *e = map_find((uintptr_t)p);
    if (e) record(VF_OP_USABLE_SIZE, e->slot, 0, 0);
  }
  leave(rec);
  return u;
}

/* ---- start-up, fork, exit ------------------------------------------------ */
static void in_child(void) {
  olen = 0; /* the parent writes its own bytes */
  if (out_fd >= 0) close(out_fd);
  out_fd = -1;
  unlock();
}

static void before_fork(void) { lock(); }
static void after_fork_parent(void) { unlock(); }

__attribute__((constructor)) static void rec_init(void) {
  resolve();
  const char *path = getenv("HAKMEM_TRACE_OUT");
  if (!path || !*path) return;
  char name[4096];
  size_t k = 0;
  int has_pid = 0;
  for (const char *c = path; *c && k + 24 < sizeof name; c++) {
    if (c[0] == '%' && c[1] == 'p') {
      char digits[24];
      int nd = 0;
      for (long pid = (long)getpid(); pid; pid /= 10) digits[nd++] = (char)('0' + pid % 10);
      while (nd) name[k++] = digits[--nd];
      has_pid = 1;
      c++;
    } else {
      name[k++] = *c;
    }
  }
  name[k] = 0;
  /* HAKMEM_TRACE_PID (set by hakmem-trace record) names the one process
   * that records; it may exec itself, and each new image starts over. */
  const char *owner = getenv("HAKMEM_TRACE_PID");
  int mine = 0;
  if (owner && *owner && !has_pid) {
    long want = 0;
    for (const char *c = owner; *c >= '0' && *c <= '9'; c++) want = want * 10 + (*c - '0');
    if (want != (long)getpid()) return;
    mine = 1;
  }
  int excl = has_pid || mine ? O_TRUNC : O_EXCL;
  int fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC | excl, 0644);
  if (fd < 0) return; /* another process records */
  in_hook = 1;
  pthread_atfork(before_fork, after_fork_parent, in_child);
  have_exit_key = pthread_key_create(&exit_key, thread_gone) == 0;
  in_hook = 0;
  unsigned char hdr[VF_TRACE_HEADER_LEN];
  vf_trace_header(hdr);
  memcpy(obuf, hdr, sizeof hdr);
  olen = sizeof hdr;
  out_fd = fd;
}

__attribute__((destructor)) static void rec_fini(void) {
  lock();
  flush();
  final_flush = 1;
  unlock();
}
