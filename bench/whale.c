/* whale.c - huge blocks: malloc, touch every page, free.
 *
 * One op is malloc(--size) (default 2 MiB), a write of one byte in every
 * 4 KiB page of the block (bench_touch), a read of the first byte, and
 * free.  An allocator that maps and unmaps the block each time pays
 * size/4096 page faults per op (see minflt); one that caches or reuses the
 * memory pays none.  With --held=1 one other block of the same size stays
 * live through the loop.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  uint64_t ops = 2000, size = 2 << 20, held = 0;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "malloc+touch+free cycles"},
      {"size", BOPT_SIZE, &size, "request size, bytes"},
      {"held", BOPT_U64, &held, "other blocks of the size kept live (0-1)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "whale", "malloc, touch every page, free.", opts);
  if (size < 1 || held > 1) {
    fprintf(stderr, "whale: need size >= 1 and held 0 or 1\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "whale");
  void *keep = NULL;
  if (held) {
    keep = malloc(size);
    BENCH_ESCAPE(keep);
  }
  uint64_t acc = 0;

  bench_start(&b);
  for (uint64_t i = 0; i < ops; i++) {
    unsigned char *p = malloc(size);
    if (!p) {
      fprintf(stderr, "whale: malloc(%llu) failed\n",
              (unsigned long long)size);
      return 1;
    }
    bench_touch(p, size, (uint8_t)i);
    acc += p[0];
    free(p);
  }
  bench_stop(&b);

  free(keep);
  bench_sink = acc;
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "held", "%llu", (unsigned long long)held);
  return bench_report(&b, ops);
}
