/* lifetimes.c - one thread, many small objects of mixed lifetimes (the
 * cfrac kind: a bignum program's temporaries, intermediate results and a
 * few long-lived values).
 *
 * Each step mallocs one object of a size skewed towards the small end of
 * [min, max] (the product of two uniform draws: most requests are a few
 * words, some are larger), writes it, and gives it one of three lifetimes:
 *   - temporary (--temp percent): pushed on a stack of depth up to 8; when
 *     the stack is full, or with probability 1/2 each step, the top is
 *     popped and freed: a lifetime of a few steps, freed last-in first-out;
 *   - intermediate (--mid percent): enters a queue of --fifo objects and
 *     is freed when it leaves, --fifo steps of its kind later;
 *   - long-lived (the rest): replaces, and frees, a random object of a pool
 *     of --pool objects.
 * Every object is read (its first byte) before it is freed.  One op is one
 * malloc or one free.  The loop runs in chunks of --ops steps until --ms
 * milliseconds have passed; the objects still live afterwards are freed
 * after the clock.
 *
 * Invariants: the stack, queue and pool arrays come from mmap; an object
 * is in exactly one of them until freed.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

#define DEPTH 8

int main(int argc, char **argv)
{
  uint64_t ops = 1000000, min = 8, max = 512, temp = 70, mid = 25;
  uint64_t fifo = 1024, pool = 8192, ms = 1000, seed = 42;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "steps per chunk (each a malloc, plus frees)"},
      {"ms", BOPT_U64, &ms, "repeat chunks until this many ms have passed "
                            "(0: one chunk)"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"temp", BOPT_U64, &temp, "percent of objects that are temporaries"},
      {"mid", BOPT_U64, &mid, "percent of objects that are intermediate"},
      {"fifo", BOPT_U64, &fifo, "intermediate objects live (queue length)"},
      {"pool", BOPT_U64, &pool, "long-lived objects live (pool size)"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "lifetimes",
              "Single thread, many small objects of mixed lifetimes "
              "(cfrac-like).",
              opts);
  if (ops < 1 || min < 1 || max < min || max - min >= 0xffffu ||
      temp + mid > 100 || fifo < 1 || fifo > 0xffffffffu || pool < 1 ||
      pool > 0xffffffffu) {
    fprintf(stderr, "lifetimes: bad parameters (see --help)\n");
    return 2;
  }
  unsigned char *stack[DEPTH];
  unsigned char **queue = bench_harness_alloc(fifo * sizeof *queue);
  unsigned char **keep = bench_harness_alloc(pool * sizeof *keep);
  unsigned depth = 0;
  uint64_t qpos = 0, acc = 0, calls = 0;
  uint32_t span = (uint32_t)(max - min + 1);
  bench_rng rng;
  bench_rng_seed(&rng, seed);

  bench_run b;
  bench_begin(&b, "lifetimes");
  bench_start(&b);
  do {
    for (uint64_t i = 0; i < ops; i++) {
      uint64_t r = bench_rng_next(&rng);
      /* Two 16-bit uniform draws from r's high bits: size skewed small. */
      uint32_t a = (uint32_t)((r >> 48) * span >> 16);
      uint32_t c = (uint32_t)(((r >> 32) & 0xffff) * span >> 16);
      size_t size = min + (size_t)a * c / span;
      unsigned char *p = bench_malloc(size);
      p[0] = (unsigned char)i;
      p[size - 1] = (unsigned char)i;
      calls++;
      uint32_t kind = (uint32_t)(((r >> 16) & 0xffff) * 100 >> 16);
      unsigned char *old = NULL;
      if (kind < temp) {
        if (depth == DEPTH || (depth && (r & 1))) {
          old = stack[--depth];
          acc += old[0];
          free(old);
          calls++;
        }
        stack[depth++] = p;
        continue;
      }
      if (kind < temp + mid) {
        old = queue[qpos];
        queue[qpos] = p;
        qpos = qpos + 1 == fifo ? 0 : qpos + 1;
      } else {
        uint32_t k = (uint32_t)(((r >> 1) & 0x7fff) * pool >> 15);
        old = keep[k];
        keep[k] = p;
      }
      if (old) {
        acc += old[0];
        free(old);
        calls++;
      }
    }
  } while (bench_more(&b, ms));
  bench_stop(&b);

  while (depth)
    free(stack[--depth]);
  for (uint64_t k = 0; k < fifo; k++)
    free(queue[k]);
  for (uint64_t k = 0; k < pool; k++)
    free(keep[k]);
  bench_harness_free(queue, fifo * sizeof *queue);
  bench_harness_free(keep, pool * sizeof *keep);
  bench_sink = acc;
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "temp", "%llu", (unsigned long long)temp);
  bench_param(&b, "mid", "%llu", (unsigned long long)mid);
  bench_param(&b, "fifo", "%llu", (unsigned long long)fifo);
  bench_param(&b, "pool", "%llu", (unsigned long long)pool);
  bench_param(&b, "ms", "%llu", (unsigned long long)ms);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  return bench_report(&b, calls);
}
