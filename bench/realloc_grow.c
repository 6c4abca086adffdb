/* realloc_grow.c - buffers growing by realloc, like a string builder.
 *
 * --chains buffers (default 1) each start as malloc(--min) (16 B) and grow
 * in turn: one op takes the next buffer round-robin, draws a growth in
 * [1, --step] bytes (default 256), reallocs the buffer to its new size,
 * reads its first byte (kept since the start: realloc must preserve it) and
 * writes its last byte, so every page is touched once as the buffer grows.
 * When the new size would exceed --max (default 64 KiB) the buffer is freed
 * and malloc'ed again at --min instead; that restart is one op too.  An
 * allocator that can extend blocks in place wins; one that copies pays
 * about size/2 bytes of memcpy per op.  Blocks are freed after the loop.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
  uint64_t ops = 1000000, chains = 1, min = 16, max = 65536, step = 256;
  uint64_t seed = 42;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "ops (each one realloc, or one restart)"},
      {"chains", BOPT_U64, &chains, "buffers growing in turn"},
      {"min", BOPT_SIZE, &min, "starting size, bytes"},
      {"max", BOPT_SIZE, &max, "size at which a buffer restarts, bytes"},
      {"step", BOPT_SIZE, &step, "largest growth per realloc, bytes"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "realloc_grow",
              "Buffers growing by realloc, restarting at --max.", opts);
  if (chains < 1 || min < 1 || max < min || step < 1 ||
      step >= 0xffffffffu) {
    fprintf(stderr, "realloc_grow: bad parameters (see --help)\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "realloc_grow");
  unsigned char **buf = bench_harness_alloc(chains * sizeof *buf);
  size_t *len = bench_harness_alloc(chains * sizeof *len);
  for (uint64_t c = 0; c < chains; c++) {
    buf[c] = bench_malloc(min);
    buf[c][0] = (unsigned char)c;
    len[c] = min;
  }
  bench_rng rng;
  bench_rng_seed(&rng, seed);
  uint64_t acc = 0, restarts = 0;

  bench_start(&b);
  for (uint64_t i = 0, c = 0; i < ops; i++) {
    size_t n = len[c] + bench_rng_range(&rng, 1, step);
    if (n > max) {
      acc += buf[c][0];
      free(buf[c]);
      buf[c] = bench_malloc(min);
      buf[c][0] = (unsigned char)i;
      len[c] = min;
      restarts++;
    } else {
      buf[c] = bench_realloc(buf[c], n);
      acc += buf[c][0];
      buf[c][n - 1] = (unsigned char)i;
      len[c] = n;
    }
    if (++c == chains)
      c = 0;
  }
  bench_stop(&b);

  for (uint64_t c = 0; c < chains; c++)
    free(buf[c]);
  bench_sink = acc;
  bench_harness_free(buf, chains * sizeof *buf);
  bench_harness_free(len, chains * sizeof *len);
  bench_param(&b, "chains", "%llu", (unsigned long long)chains);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "step", "%llu", (unsigned long long)step);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  bench_param(&b, "restarts", "%llu", (unsigned long long)restarts);
  return bench_report(&b, ops);
}
