/* consumer.c - built by ci/consumer against an installed hakmem: checks that
 * malloc and friends are served by hakmem (the object that defines malloc is
 * the one that defines hak_malloc) and that they behave.  Built linked to
 * hakmem (CONSUMER_LINKED) or plain, for LD_PRELOAD. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef CONSUMER_LINKED
#include <hakmem.h>
#endif

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "consumer: FAILED: %s\n", what);
    failures++;
  }
}

int main(void) {
#ifdef CONSUMER_LINKED
  void *hak = (void *)&hak_malloc;
  const char *(*variant)(void) = hak_variant;
#else
  void *hak = dlsym(RTLD_DEFAULT, "hak_malloc");
  const char *(*variant)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hak_variant");
#endif
  Dl_info mi, hi;
  if (!hak || !variant || !dladdr((void *)&malloc, &mi) || !dladdr(hak, &hi)) {
    fprintf(stderr, "consumer: FAILED: hakmem is not in this process\n");
    return 1;
  }
  if (mi.dli_fbase != hi.dli_fbase) {
    fprintf(stderr, "consumer: FAILED: malloc comes from %s, hakmem from %s\n",
            mi.dli_fname, hi.dli_fname);
    return 1;
  }

  /* malloc / free over the size paths */
  static const size_t sizes[] = {1, 16, 100, 1024, 4096, 65536, 1 << 20, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *p = malloc(sizes[i]);
    check(p != NULL, "malloc");
    if (!p) continue;
    check(((uintptr_t)p & 15) == 0, "malloc returns 16-byte aligned pointers");
    memset(p, 0xa5, sizes[i]);
    free(p);
  }
  /* calloc zeroes, realloc keeps the prefix */
  unsigned char *z = calloc(1000, 3);
  check(z != NULL, "calloc");
  for (size_t i = 0; z && i < 3000; i++)
    if (z[i]) { check(0, "calloc returns zeroed memory"); break; }
  char *s = malloc(8);
  check(s != NULL, "malloc(8)");
  if (s) {
    strcpy(s, "hakmem!");
    s = realloc(s, 100000);
    check(s && strcmp(s, "hakmem!") == 0, "realloc keeps the prefix");
  }
  void *a = NULL;
  check(posix_memalign(&a, 256, 1000) == 0 && ((uintptr_t)a & 255) == 0,
        "posix_memalign(256)");
  free(a);
  free(s);
  free(z);
  free(NULL);

  if (failures) return 1;
  printf("consumer: malloc served by hakmem (%s, variant %s)\n",
         mi.dli_fname && *mi.dli_fname ? mi.dli_fname : "this program", variant());
  return 0;
}
