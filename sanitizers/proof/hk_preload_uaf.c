/* hk_preload_uaf.c - the LD_PRELOAD + valgrind recipe's test program: it
 * uses only the libc names (malloc, free), checks that they are hakmem's
 * (libhakmem.so preloaded, not valgrind's replacement or glibc), then reads
 * a tiny block after freeing it.  Under the recipe memcheck must report
 * the read through hakmem's client requests.
 * Invariant: prints "hk_preload_uaf: malloc is hakmem" only when
 * hak_malloc_usable_size (found with dlsym) knows the block malloc gave.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  size_t (*usable)(const void *) =
      (size_t (*)(const void *))dlsym(RTLD_DEFAULT, "hak_malloc_usable_size");
  volatile char *p = malloc(24);
  if (usable == NULL || usable((const void *)p) == 0) {
    printf("hk_preload_uaf: malloc is NOT hakmem (preload libhakmem.so)\n");
    return 3;
  }
  printf("hk_preload_uaf: malloc is hakmem\n");
  p[0] = 1;
  free((void *)p);
  char c = p[0]; /* use after free */
  printf("hk_preload_uaf: read %d after free\n", c);
  return 0;
}
