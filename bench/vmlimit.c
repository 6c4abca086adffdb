/* vmlimit.c - how much an allocator hands out under an address-space limit.
 *
 * Sets RLIMIT_AS to --limit (as `ulimit -v` does; the library and the
 * program are already mapped and count against it), then mallocs blocks of
 * --size until malloc returns NULL, and reports the bytes obtained and
 * whether the failure said ENOMEM.  Each block holds the link to the
 * previous one in its first 8 bytes, so the probe needs no table of its own
 * (one written word per block: mostly address space, little RSS).  All
 * blocks are freed before the result line is printed (stdio may allocate).
 *
 * The allocator's use of the address space is bytes / limit: glibc gets
 * most of it at every size; an allocator that reserves address space up
 * front, or leaves parts of its mappings unusable for a size, gets less.
 * ops is the number of blocks obtained; secs covers the malloc loop.
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
  uint64_t size = 70 << 10, limit = 256 << 20;
  const bench_opt opts[] = {
      {"size", BOPT_SIZE, &size, "request size, bytes (>= 8)"},
      {"limit", BOPT_SIZE, &limit, "RLIMIT_AS to set, bytes (0: leave as is)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "vmlimit", "malloc until NULL under an address-space limit.", opts);
  if (size < sizeof(void *)) {
    fprintf(stderr, "vmlimit: need size >= 8\n");
    return 2;
  }
  bench_run b;
  bench_begin(&b, "vmlimit");
  /* the result line's buffers before the limit: stdio allocates them */
  printf("%s", "");
  fflush(stdout);
  if (limit) {
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    rl.rlim_cur = limit; /* the hard limit stays: lifted again below */
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
      perror("vmlimit: setrlimit");
      return 2;
    }
  }
  void *list = NULL;
  uint64_t blocks = 0;
  int err = 0;
  bench_start(&b);
  for (;;) {
    errno = 0;
    void **p = malloc(size);
    if (p == NULL) {
      err = errno;
      break;
    }
    *p = list;
    list = p;
    blocks++;
  }
  bench_stop(&b);
  while (list != NULL) {
    void *next = *(void **)list;
    free(list);
    list = next;
  }
  /* a limit lifted again, so that printing cannot fail for want of memory */
  struct rlimit rl;
  getrlimit(RLIMIT_AS, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_AS, &rl);
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "limit", "%llu", (unsigned long long)limit);
  bench_param(&b, "bytes", "%llu", (unsigned long long)(blocks * size));
  bench_param(&b, "mib", "%.1f", (double)(blocks * size) / (1 << 20));
  bench_param(&b, "enomem", "%d", err == ENOMEM);
  return bench_report(&b, blocks);
}
