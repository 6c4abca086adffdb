/* test_static.c - a program linked against libhakmem.a (hakmem_static),
 * which defines the libc names itself.  Proves that plain malloc/free and
 * friends, and libc-internal allocations (strdup, asprintf), are served by
 * hakmem: hak_stats_get's live_blocks moves with every libc-name call and
 * usable sizes agree with hak_malloc_usable_size.  Built twice by CMake: as a
 * normal (dynamically linked) executable and, where the C library ships
 * libc.a, fully static (-static).  Also covers valloc, pvalloc,
 * reallocarray, malloc_trim, mallinfo2, libc's own buffers (fopen, getline),
 * a thread and a forked child.  Compiled with -fno-builtin so the compiler
 * cannot elide malloc/free pairs.  Prints one line; exits 0 on success.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

static int failures;

#define CHECK(cond, ...)                        \
  do {                                          \
    if (!(cond)) {                              \
      fprintf(stderr, "ut_static: FAIL: ");     \
      fprintf(stderr, __VA_ARGS__);             \
      fputc('\n', stderr);                      \
      failures++;                               \
    }                                           \
  } while (0)

static uint64_t live(void) {
  hak_stats_t st;
  if (hak_stats_get(&st) != 0) {
    fprintf(stderr, "ut_static: hak_stats_get failed\n");
    exit(1);
  }
  return st.live_blocks;
}

static void *thread_main(void *arg) {
  (void)arg;
  void *ps[100];
  for (int i = 0; i < 100; i++) ps[i] = malloc((size_t)i * 10 + 1);
  for (int i = 0; i < 100; i++) free(ps[i]);
  return malloc(64); /* freed by the main thread */
}

int main(void) {
  uint64_t l0 = live();
  void *p = malloc(100);
  CHECK(p != NULL, "malloc(100) returned NULL");
  CHECK(live() == l0 + 1, "live_blocks did not move after malloc(): %llu -> %llu (malloc is not hakmem's)",
        (unsigned long long)l0, (unsigned long long)live());
  CHECK(malloc_usable_size(p) == hak_malloc_usable_size(p), "malloc_usable_size %zu != hak_malloc_usable_size %zu",
        malloc_usable_size(p), hak_malloc_usable_size(p));
  CHECK(((uintptr_t)p & 15) == 0, "malloc(100) = %p misaligned", p);
  p = realloc(p, 5000);
  CHECK(p != NULL && live() == l0 + 1, "realloc changed the live count");
  free(p);
  CHECK(live() == l0, "live_blocks did not return after free()");

  void *c = calloc(10, 10), *a = aligned_alloc(4096, 4096), *m = memalign(256, 10), *pm = NULL;
  CHECK(posix_memalign(&pm, 64, 64) == 0, "posix_memalign failed");
  CHECK(c && a && m && pm, "calloc/aligned_alloc/memalign returned NULL");
  CHECK(live() == l0 + 4, "calloc/aligned_alloc/memalign/posix_memalign: live_blocks moved by %lld, want 4",
        (long long)(live() - l0));
  free(c);
  free(a);
  free(m);
  free(pm);

  /* allocations made inside libc itself */
  char *s = strdup("hakmem static");
  CHECK(s && live() == l0 + 1, "strdup inside libc did not allocate from hakmem");
  char *t = NULL;
  CHECK(asprintf(&t, "%s %d", s, 42) > 0 && live() == l0 + 2, "asprintf inside libc did not allocate from hakmem");
  free(s);
  free(t);
  CHECK(live() == l0, "live_blocks %llu at the end, started at %llu", (unsigned long long)live(),
        (unsigned long long)l0);

  /* the rest of the family */
  void *v = valloc(100), *pv = pvalloc(100), *ra = reallocarray(NULL, 10, 10);
  CHECK(v && pv && ra && live() == l0 + 3, "valloc/pvalloc/reallocarray not served by hakmem");
  CHECK(malloc_usable_size(pv) >= 4096, "pvalloc(100) usable %zu < a page", malloc_usable_size(pv));
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.uordblks > 0, "mallinfo2 reports no bytes in use with 3 live blocks");
  free(v);
  free(pv);
  free(ra);
  int trimmed = malloc_trim(0);
  CHECK(trimmed == 0 || trimmed == 1, "malloc_trim returned %d", trimmed);
  CHECK(live() == l0, "live_blocks did not return after the memalign family");

  /* libc's own buffers: stdio and getline */
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL, "fopen failed");
  if (f) {
    char *line = NULL;
    size_t cap = 0;
    CHECK(getline(&line, &cap, f) > 0 && live() > l0, "getline/fopen buffers not from hakmem");
    free(line);
    fclose(f);
  }
  CHECK(live() == l0, "live_blocks %llu after fclose, started at %llu", (unsigned long long)live(),
        (unsigned long long)l0);

  /* a thread, and a forked child that allocates (glibc keeps the exited
   * thread's TLS vector, allocated with malloc, in its stack cache: measure
   * from after the join) */
  pthread_t th;
  void *from_thread = NULL;
  CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0, "pthread_create failed");
  pthread_join(th, &from_thread);
  uint64_t lt = live();
  CHECK(from_thread != NULL && lt > l0, "the thread's block is not counted");
  free(from_thread);
  CHECK(live() == lt - 1, "free of a block from another thread: live_blocks %llu, want %llu",
        (unsigned long long)live(), (unsigned long long)(lt - 1));
  uint64_t lf = live();
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    uint64_t base = live();
    char *c1 = malloc(1000), *c2 = strdup("child");
    int ok = c1 && c2 && live() == base + 2;
    free(c1);
    free(c2);
    _exit(ok && live() == base ? 0 : 1);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "forked child failed (status %#x)", status);
  CHECK(live() == lf, "live_blocks %llu after fork, was %llu", (unsigned long long)live(), (unsigned long long)lf);

  volatile size_t huge = SIZE_MAX;
  errno = 0;
  CHECK(malloc(huge) == NULL && errno == ENOMEM, "malloc(SIZE_MAX) did not fail with ENOMEM");

  Dl_info info;
  if (dladdr((void *)&malloc, &info) && info.dli_fname)
    CHECK(strstr(info.dli_fname, "libc.so") == NULL, "malloc resolves into %s", info.dli_fname);

  printf("ut_static: variant=%s %s\n", hak_variant(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
