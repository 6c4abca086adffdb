/* hk_misuse.c - programs that misuse a hakmem block, one per argument, for
 * the proof tests of sanitizers/CMakeLists.txt: each tool (valgrind
 * memcheck/helgrind, ASan/LSan, TSan, UBSan) must report its misuse.
 *
 *   hk_misuse uaf        read a tiny block after freeing it
 *   hk_misuse uninit     branch on bytes malloc never initialised
 *   hk_misuse overflow   write one byte past the usable size: the next
 *                        block's header byte
 *   hk_misuse underflow  read the byte before a tiny block: its own header
 *   hk_misuse whale_uaf  write into a large (whale) block after freeing it
 *   hk_misuse leak       lose the only pointer to a block
 *   hk_misuse leak_reach blocks kept in every way a program keeps them (a
 *                        global, a local of main, a thread-local, a live
 *                        thread's stack, an interior pointer, only through
 *                        another hakmem block, a whale or an object of the
 *                        sanitizer's heap), plus one lost 48-byte block that
 *                        holds the only pointer to a 56-byte one: the ASan
 *                        build's leak check (allocator/leak.c) must report
 *                        exactly those two, the 56-byte one as indirect
 *   hk_misuse race       two threads write a block handed between them
 *                        without synchronisation
 *   hk_misuse misalign   load a uint64_t from block + 1 (UBSan alignment)
 *   hk_misuse lsan_roots an object of the sanitizer's heap whose only
 *                        pointer lives in a hakmem block: must NOT be
 *                        reported as leaked (hakmem's segments are LSan
 *                        root regions)
 *   hk_misuse lsan_control the same object with its pointer lost: LSan must
 *                        report it (so lsan_roots cannot pass vacuously)
 *   hk_misuse remote_ok  the correct protocol, which must stay quiet: blocks
 *                        handed between threads through a mutex, freed by
 *                        the receiving thread (remote frees), threads that
 *                        exit with live blocks (abandon/adopt), and a fork
 *
 * Invariant: a misuse that the tool does not stop ends with the line
 * "hk_misuse: <name>: misuse NOT detected" and exit status 0, so a proof
 * test passes only on the tool's report (and, where the tool continues, its
 * error exit code).  remote_ok exits 0 with "hk_misuse: remote_ok: done".
 * Only hak_* is called (the program links hakmem_core, never the libc
 * override), so every block below is one of hakmem's.
 */
#define _GNU_SOURCE
#include <hakmem.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink; /* keeps the compiler from dropping accesses */

static int not_detected(const char *name) {
  printf("hk_misuse: %s: misuse NOT detected\n", name);
  return 0;
}

static int uaf(void) {
  volatile char *p = hak_malloc(24);
  p[0] = 1;
  hak_free((void *)p);
  char c = p[0]; /* use after free */
  sink = (void *)(uintptr_t)c;
  return not_detected("uaf");
}

static int uninit(void) {
  volatile unsigned char *p = hak_malloc(32);
  if (p[5] == 42) puts("hk_misuse: uninit: byte was 42"); /* uninitialised */
  else puts("hk_misuse: uninit: byte was not 42");
  hak_free((void *)p);
  return not_detected("uninit");
}

static int overflow(void) {
  /* class 0: stride 16, usable 15, the next block's header byte follows */
  char *p = hak_malloc(15);
  char *q = hak_malloc(15); /* a neighbour, so the header is in use */
  size_t usable = hak_malloc_usable_size(p);
  printf("hk_misuse: overflow: usable %zu, writing p[%zu]\n", usable, usable);
  fflush(stdout);
  memset(p, 'a', usable);
  ((volatile char *)p)[usable] = 'x'; /* one past the end: a header byte */
  sink = q;
  return not_detected("overflow");
}

static int underflow(void) {
  volatile char *p = hak_malloc(15);
  char c = p[-1]; /* the block's own header byte */
  sink = (void *)(uintptr_t)c;
  return not_detected("underflow");
}

static int whale_uaf(void) {
  size_t n = 3u << 20;
  char *p = hak_malloc(n);
  memset(p, 'w', n);
  hak_free(p);
  ((volatile char *)p)[n / 2] = 'x'; /* use after free of a large block */
  return not_detected("whale_uaf");
}

static void *volatile keep;
static int lsan_roots(void) {
  void **box = hak_malloc(64);  /* hakmem block, kept in a global */
  box[3] = malloc(100);         /* the sanitizer's heap: only pointer in box */
  memset(box[3], 'r', 100);
  keep = box;
  puts("hk_misuse: lsan_roots: 100-byte object referenced only from a hakmem block");
  return 0;
}
static __attribute__((noinline)) void lose_one(void) {
  void *p = malloc(100);
  memset(p, 'c', 100);
  sink = NULL;
}
static int lsan_control(void) {
  lose_one();
  char buf[512];
  memset(buf, 0, sizeof buf);
  sink = buf;
  puts("hk_misuse: lsan_control: 100-byte object lost");
  return 0;
}

static __attribute__((noinline)) void leak_one(void) {
  char *p = hak_malloc(40);
  memset(p, 'l', 40);
  p = NULL; /* the only pointer is gone */
}
static int leak(void) {
  /* The first block of a span is named by its descriptor (user0), so a
   * leak of it is "still reachable"; keep that one, lose the second. */
  keep = hak_malloc(40);
  leak_one();
  /* the debug variant's ring remembers the last 16 operations' pointers:
   * push the lost block out of it */
  for (int i = 0; i < 40; i++) hak_free(hak_malloc(200));
  char buf[512]; /* scrub the stack the lost pointer lived on */
  memset(buf, 0, sizeof buf);
  sink = buf;
  puts("hk_misuse: leak: one 40-byte block lost");
  return 0; /* the tool reports at exit */
}

/* leak_reach: sizes 111..199 are kept, 48 (direct) and 56 (indirect) lost */
static void *volatile g_kept, *volatile g_chain, *volatile g_interior, *volatile g_whale,
    *volatile g_libc_obj;
static __thread void *volatile tl_kept;
static pthread_mutex_t reach_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reach_cond = PTHREAD_COND_INITIALIZER;
static int reach_ready;
static void *holder(void *arg) {
  (void)arg;
  void *volatile mine = hak_malloc(177); /* only on this thread's stack */
  memset(mine, 't', 177);
  pthread_mutex_lock(&reach_lock);
  reach_ready = 1;
  pthread_cond_broadcast(&reach_cond);
  for (;;) pthread_cond_wait(&reach_cond, &reach_lock); /* still running at exit */
  return mine;
}
static __attribute__((noinline)) void lose_pair(void) {
  void **d = hak_malloc(48);
  memset(d, 0, 48);
  d[2] = hak_malloc(56); /* only pointer: inside the lost block */
  memset(d[2], 'e', 56);
  d = NULL;
}
/* Runs below a large frame, so the stale copies of the lost pointers lie
 * deeper in the stack than anything still in use at exit. */
static __attribute__((noinline)) void deep(int depth) {
  volatile char pad[16384];
  pad[0] = (char)depth;
  if (depth > 0) deep(depth - 1);
  else lose_pair();
  sink = (void *)(uintptr_t)pad[0]; /* the frame stays this large */
}
static int leak_reach(void) {
  void *volatile on_stack = hak_malloc(122);
  memset(on_stack, 's', 122);
  g_kept = hak_malloc(111);
  void **a = hak_malloc(133);
  memset(a, 0, 133);
  a[3] = hak_malloc(144); /* only pointer: inside another hakmem block */
  g_chain = a;
  a = NULL;
  tl_kept = hak_malloc(166);
  g_interior = (char *)hak_malloc(188) + 100; /* interior pointer only */
  void **w = hak_malloc(3u << 20);
  memset(w, 0, 3u << 20);
  w[(1u << 20) / sizeof(void *)] = hak_malloc(199); /* only pointer: in a whale */
  g_whale = w;
  w = NULL;
  void **obj = malloc(32); /* the sanitizer's (or libc's) heap */
  memset(obj, 0, 32);
  obj[1] = hak_malloc(155);
  g_libc_obj = obj;
  pthread_t t;
  pthread_create(&t, NULL, holder, NULL);
  pthread_mutex_lock(&reach_lock);
  while (!reach_ready) pthread_cond_wait(&reach_cond, &reach_lock);
  pthread_mutex_unlock(&reach_lock);
  deep(4);
  /* the debug variant's ring remembers the last 16 operations' pointers:
   * push the lost blocks out of it */
  for (int i = 0; i < 40; i++) hak_free(hak_malloc(200));
  puts("hk_misuse: leak_reach: 10 blocks kept, 48 + 56 bytes lost");
  sink = on_stack;
  exit(0); /* with the holder thread still running */
}

static _Atomic(char *) handed;
static void *race_peer(void *arg) {
  (void)arg;
  char *p;
  while ((p = atomic_load_explicit(&handed, memory_order_relaxed)) == NULL) {
  }
  p[0] = 'b'; /* races with the owner's write below */
  return NULL;
}
static int race(void) {
  pthread_t t;
  pthread_create(&t, NULL, race_peer, NULL);
  char *p = hak_malloc(64);
  atomic_store_explicit(&handed, p, memory_order_relaxed); /* no release */
  p[0] = 'a';
  pthread_join(t, NULL);
  hak_free(p);
  return not_detected("race");
}

static int misalign(void) {
  char *p = hak_malloc(32);
  memset(p, 0, 32);
  uint64_t *q = (uint64_t *)(p + 1);
  sink = (void *)(uintptr_t)*q; /* misaligned load */
  hak_free(p);
  return not_detected("misalign");
}

/* ---- remote_ok: the correct protocol ------------------------------------- */
enum { RING = 64 };
typedef struct ring {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  void *slot[RING];
  unsigned head, tail, done;
  void *live[16]; /* the producer's blocks that outlive it */
} ring_t;

static void ring_put(ring_t *r, void *p) {
  pthread_mutex_lock(&r->lock);
  while (r->tail - r->head == RING) pthread_cond_wait(&r->cond, &r->lock);
  r->slot[r->tail++ % RING] = p;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
}
static void *ring_get(ring_t *r) {
  pthread_mutex_lock(&r->lock);
  while (r->tail == r->head && !r->done) pthread_cond_wait(&r->cond, &r->lock);
  void *p = r->tail == r->head ? NULL : r->slot[r->head++ % RING];
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return p;
}

static unsigned remote_ops = 20000;
static size_t size_of(unsigned i) {
  static const size_t sizes[] = {8, 24, 100, 700, 1500, 9000, 70000, 300000};
  return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

/* Producer: allocates and fills blocks, hands them over, and reuses the
 * blocks the consumer freed back to its slabs (remote frees, drained). */
static void *producer(void *arg) {
  ring_t *r = arg;
  void **live = r->live;
  for (unsigned i = 0; i < remote_ops; i++) {
    size_t n = size_of(i);
    unsigned char *p = hak_malloc(n);
    memset(p, (int)(i & 0xff), n);
    ring_put(r, p);
    if (i % 97 == 0) { /* some blocks outlive this thread (abandoned slabs) */
      unsigned k = i % 16;
      if (live[k]) hak_free(live[k]);
      live[k] = hak_malloc(size_of(i + 3));
      memset(live[k], 1, size_of(i + 3));
    }
  }
  pthread_mutex_lock(&r->lock);
  r->done = 1;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return NULL; /* exits with live blocks: their slabs are abandoned, and
                * the main thread frees the blocks after the join */
}
static void *consumer(void *arg) {
  ring_t *r = arg;
  unsigned i = 0;
  unsigned char *p;
  while ((p = ring_get(r)) != NULL) {
    size_t n = size_of(i);
    if (p[0] != (unsigned char)(i & 0xff) || p[n - 1] != (unsigned char)(i & 0xff)) {
      fprintf(stderr, "hk_misuse: remote_ok: block %u corrupt\n", i);
      abort();
    }
    hak_free(p); /* a remote free: the producer owns the slab */
    i++;
  }
  return NULL;
}
static void round_trip(unsigned pairs) {
  ring_t rings[4];
  pthread_t t[8];
  for (unsigned k = 0; k < pairs; k++) {
    memset(&rings[k], 0, sizeof rings[k]);
    pthread_mutex_init(&rings[k].lock, NULL);
    pthread_cond_init(&rings[k].cond, NULL);
    pthread_create(&t[2 * k], NULL, producer, &rings[k]);
    pthread_create(&t[2 * k + 1], NULL, consumer, &rings[k]);
  }
  for (unsigned k = 0; k < 2 * pairs; k++) pthread_join(t[k], NULL);
  for (unsigned k = 0; k < pairs; k++) {
    for (unsigned j = 0; j < 16; j++) hak_free(rings[k].live[j]); /* into abandoned slabs */
    pthread_mutex_destroy(&rings[k].lock);
    pthread_cond_destroy(&rings[k].cond);
  }
}
static int remote_ok(void) {
  const char *ops = getenv("HK_MISUSE_OPS");
  if (ops != NULL) remote_ops = (unsigned)strtoul(ops, NULL, 10);
  round_trip(2);
  /* fork while other threads' slabs are abandoned; the child allocates,
   * frees into those slabs and runs another round */
  pid_t pid = fork();
  if (pid == 0) {
    remote_ops /= 4;
    round_trip(1);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "hk_misuse: remote_ok: child failed (status %d)\n", status);
    return 1;
  }
  round_trip(2); /* adopts the slabs the first round abandoned */
  hak_malloc_trim(0);
  puts("hk_misuse: remote_ok: done");
  return 0;
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(void);
  } cases[] = {{"uaf", uaf},           {"uninit", uninit},
               {"overflow", overflow}, {"underflow", underflow},
               {"whale_uaf", whale_uaf}, {"leak", leak},
               {"leak_reach", leak_reach},
               {"race", race},         {"misalign", misalign},
               {"lsan_roots", lsan_roots}, {"lsan_control", lsan_control},
               {"remote_ok", remote_ok}};
  setvbuf(stdout, NULL, _IONBF, 0);
  for (size_t i = 0; argc == 2 && i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(argv[1], cases[i].name) == 0) return cases[i].fn();
  fprintf(stderr, "usage: hk_misuse uaf|uninit|overflow|underflow|whale_uaf|leak|leak_reach|race|"
                  "misalign|lsan_roots|lsan_control|remote_ok\n");
  return 2;
}
