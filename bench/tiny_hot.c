/* tiny_hot.c - the hot path: malloc and free of one small block in a loop.
 *
 * One op is one malloc(size) followed by a write of the block's first byte
 * and free of the same block; ns_per_op is the cost of the pair.  With
 * --held=1 (the default of the tiny_hot_held program, built from this file
 * with -DTINY_HOT_HELD=1) one other block of the same size is malloc'ed
 * before the loop and kept live through it, so an allocator cannot win by
 * emptying and re-creating its slab or page on every free.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef TINY_HOT_HELD
#define TINY_HOT_HELD 0
#endif

int main(int argc, char **argv)
{
  const char *name = TINY_HOT_HELD ? "tiny_hot_held" : "tiny_hot";
  uint64_t ops = 10000000, size = 64, held = TINY_HOT_HELD;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "malloc+free pairs"},
      {"size", BOPT_SIZE, &size, "request size, bytes"},
      {"held", BOPT_U64, &held, "blocks of the same size kept live"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, name, "malloc+free of one small block in a loop.",
              opts);
  if (size < 1 || held > 1000000) {
    fprintf(stderr, "%s: need size >= 1 and held <= 1000000\n", name);
    return 2;
  }

  bench_run b;
  bench_begin(&b, name);
  void **keep = held ? bench_harness_alloc(held * sizeof *keep) : NULL;
  for (uint64_t i = 0; i < held; i++) {
    keep[i] = bench_malloc(size);
    BENCH_ESCAPE(keep[i]);
  }
  uint64_t acc = 0;

  bench_start(&b);
  for (uint64_t i = 0; i < ops; i++) {
    unsigned char *p = bench_malloc(size);
    p[0] = (unsigned char)i;
    BENCH_ESCAPE(p);
    acc += p[0];
    free(p);
  }
  bench_stop(&b);

  for (uint64_t i = 0; i < held; i++)
    free(keep[i]);
  if (keep)
    bench_harness_free(keep, held * sizeof *keep);
  bench_sink = acc;
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "held", "%llu", (unsigned long long)held);
  return bench_report(&b, ops);
}
