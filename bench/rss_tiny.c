/* rss_tiny.c - memory cost of many tiny live blocks.
 *
 * After one warm-up malloc/free (so the allocator's one-time set-up is not
 * counted), reads the resident set, then mallocs --count blocks of --size
 * bytes (default 100k x 16 B), touches each (first and last byte) and keeps
 * them all live; reads the resident set again.  rss_delta_kb is the growth,
 * bytes_per_block the growth per block (the request itself included).  The
 * pointer table comes from mmap and is touched before the first reading, so
 * only the allocator's memory is counted.  Afterwards it frees every block
 * and reports the resident set left over (rss_after_free_delta_kb).  One op
 * is one malloc.  The target: hakmem's rss_delta_kb at most 1.25x
 * glibc's.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  uint64_t count = 100000, size = 16;
  const bench_opt opts[] = {
      {"count", BOPT_U64, &count, "blocks kept live"},
      {"size", BOPT_SIZE, &size, "request size, bytes"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "rss_tiny",
              "Resident memory of many tiny live blocks.", opts);
  if (count < 1 || size < 1) {
    fprintf(stderr, "rss_tiny: need count >= 1 and size >= 1\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "rss_tiny");
  void **blk = bench_harness_alloc(count * sizeof *blk);
  void *warm = bench_malloc(size);
  BENCH_ESCAPE(warm);
  free(warm);

  bench_start(&b);
  for (uint64_t i = 0; i < count; i++) {
    blk[i] = bench_malloc(size);
    bench_touch(blk[i], size, (uint8_t)i);
  }
  bench_stop(&b);

  for (uint64_t i = 0; i < count; i++)
    free(blk[i]);
  long long after = (long long)bench_rss_kb() - (long long)b.rss0;
  bench_harness_free(blk, count * sizeof *blk);
  bench_param(&b, "count", "%llu", (unsigned long long)count);
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "bytes_per_block", "%.2f",
              ((double)b.rss1 - (double)b.rss0) * 1024.0 / (double)count);
  bench_param(&b, "rss_after_free_delta_kb", "%lld", after);
  return bench_report(&b, count);
}
