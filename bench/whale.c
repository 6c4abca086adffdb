/* whale.c - huge blocks: malloc, touch, free.
 *
 * One op is malloc(--size) (default 2 MiB), a write of its first and last
 * byte, a read of the first byte, and free: ns_per_op is the allocator's
 * own cost for a huge block (finding, mapping, unmapping it), and minflt
 * shows whether it hands back fresh pages (2 faults per op) or reuses.
 * With --pages=1 every 4 KiB page is written (bench_touch): an allocator
 * that maps and unmaps each time then pays size/4096 faults per op, one
 * that caches pays none, but the 512 writes to cold lines (a few us) also
 * weigh on every allocator alike.  With --held=1 one other block of the
 * same size stays live through the loop.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  uint64_t ops = 2000, size = 2 << 20, held = 0, pages = 0;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "malloc+touch+free cycles"},
      {"size", BOPT_SIZE, &size, "request size, bytes"},
      {"held", BOPT_U64, &held, "other blocks of the size kept live (0-1)"},
      {"pages", BOPT_U64, &pages, "1: write every page, 0: first+last byte"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "whale", "malloc, touch, free a huge block.", opts);
  if (size < 1 || held > 1) {
    fprintf(stderr, "whale: need size >= 1 and held 0 or 1\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "whale");
  void *keep = NULL;
  if (held) {
    keep = bench_malloc(size);
    BENCH_ESCAPE(keep);
  }
  uint64_t acc = 0;

  bench_start(&b);
  for (uint64_t i = 0; i < ops; i++) {
    unsigned char *p = bench_malloc(size);
    if (pages) {
      bench_touch(p, size, (uint8_t)i);
    } else {
      p[0] = (unsigned char)i;
      p[size - 1] = (unsigned char)i;
    }
    acc += p[0];
    free(p);
  }
  bench_stop(&b);

  free(keep);
  bench_sink = acc;
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "held", "%llu", (unsigned long long)held);
  bench_param(&b, "pages", "%llu", (unsigned long long)pages);
  return bench_report(&b, ops);
}
