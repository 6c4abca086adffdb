/* scenario.c - the json, mir and vm scenarios: a big working block per
 * iteration with many small objects and growing vectors around it.
 *
 * Built three times (SCENARIO=1 json, 2 mir, 3 vm).  One iteration models
 * one unit of a program's work:
 *   1. malloc (with --calloc=1: calloc, checking it reads zero) the working
 *      block (--work bytes) and touch every page (json: the input text;
 *      mir: the IR buffer; vm: the VM heap);
 *   2. malloc --objs objects of [--omin, --omax] bytes, touching each
 *      (json: nodes and strings; mir: instructions; vm: boxed values);
 *      after every objs/vecs objects, start one vector at --vmin bytes and
 *      grow it by realloc, doubling, to --vmax (arrays, block lists,
 *      strings), writing the last byte after each step;
 *   3. teardown: free the vectors, then the objects (json: last first, as a
 *      tree is torn down; mir and vm: first first), except that one object
 *      in every --keep (0: none) survives: it replaces a random slot of a
 *      persistent pool of --pool objects, whose old occupant is freed (the
 *      symbol table / long-lived heap objects: lifetimes that cross
 *      iterations, which fragments the heap);
 *   4. free the working block.
 * One op is one allocator call (malloc, realloc or free); ns_per_op is time
 * per call, ops_per_sec calls per second; iters is the iteration count.  The
 * working block's reuse (cached, or mapped and faulted in again) shows in
 * minflt.
 *
 * Defaults:        work    objs  omin-omax  vecs vmin-vmax   keep pool iters
 *   json          64 KiB  1024  16-128       64  16-1 KiB    0    0   2000
 *   mir          256 KiB  2048  32-512      128  64-8 KiB   16 4096    500
 *   vm             2 MiB  4096  16-256       32 256-64 KiB   4 8192    200
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef SCENARIO
#define SCENARIO 1
#endif

typedef struct {
  const char *name;
  uint64_t work, objs, omin, omax, vecs, vmin, vmax, keep, pool, iters, lifo;
  uint64_t zeroed;
} scenario_t;

static const scenario_t scenarios[] = {
    {"json", 64 << 10, 1024, 16, 128, 64, 16, 1 << 10, 0, 0, 2000, 1, 0},
    {"mir", 256 << 10, 2048, 32, 512, 128, 64, 8 << 10, 16, 4096, 500, 0, 0},
    {"vm", 2 << 20, 4096, 16, 256, 32, 256, 64 << 10, 4, 8192, 200, 0, 0},
};

int main(int argc, char **argv)
{
  scenario_t S = scenarios[SCENARIO - 1];
  uint64_t seed = 42;
  const bench_opt opts[] = {
      {"iters", BOPT_U64, &S.iters, "iterations"},
      {"work", BOPT_SIZE, &S.work, "working block, bytes"},
      {"objs", BOPT_U64, &S.objs, "small objects per iteration"},
      {"omin", BOPT_SIZE, &S.omin, "smallest object, bytes"},
      {"omax", BOPT_SIZE, &S.omax, "largest object, bytes"},
      {"vecs", BOPT_U64, &S.vecs, "growing vectors per iteration"},
      {"vmin", BOPT_SIZE, &S.vmin, "vector start size, bytes"},
      {"vmax", BOPT_SIZE, &S.vmax, "vector final size, bytes"},
      {"keep", BOPT_U64, &S.keep, "1 object in keep survives (0: none)"},
      {"pool", BOPT_U64, &S.pool, "survivor pool slots"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {"calloc", BOPT_U64, &S.zeroed, "1: the working block comes from calloc"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, S.name,
              "A working block plus small objects and growing vectors.",
              opts);
  if (S.work < 1 || S.omin < 1 || S.omax < S.omin || S.vmin < 1 ||
      S.vmax < S.vmin || S.objs < S.vecs || S.pool > 0xffffffffu ||
      S.omax - S.omin >= 0xffffffffu || (S.keep && !S.pool)) {
    fprintf(stderr, "%s: bad parameters (see --help)\n", S.name);
    return 2;
  }

  bench_run b;
  bench_begin(&b, S.name);
  void **obj = bench_harness_alloc((S.objs + 1) * sizeof *obj);
  void **vec = bench_harness_alloc((S.vecs + 1) * sizeof *vec);
  void **pool = S.pool ? bench_harness_alloc(S.pool * sizeof *pool) : NULL;
  bench_rng rng;
  bench_rng_seed(&rng, seed);
  uint64_t ops = 0, acc = 0;
  uint64_t every = S.vecs ? S.objs / S.vecs : 0;

  bench_start(&b);
  for (uint64_t it = 0; it < S.iters; it++) {
    unsigned char *work;
    if (S.zeroed) {
      work = calloc(1, S.work);
      if (!work || work[0] || work[S.work / 2] || work[S.work - 1]) {
        fprintf(stderr, "%s: calloc failed or returned dirty memory\n", S.name);
        return 1;
      }
    } else {
      work = bench_malloc(S.work);
    }
    bench_touch(work, S.work, (uint8_t)it);
    ops++;
    uint64_t nv = 0;
    for (uint64_t i = 0; i < S.objs; i++) {
      size_t size = bench_rng_range(&rng, S.omin, S.omax);
      obj[i] = bench_malloc(size);
      bench_touch(obj[i], size, (uint8_t)i);
      ops++;
      if (every && nv < S.vecs && (i + 1) % every == 0) {
        unsigned char *v = bench_malloc(S.vmin);
        v[0] = (unsigned char)nv;
        ops++;
        for (size_t n = S.vmin * 2; n / 2 < S.vmax; n *= 2) {
          size_t sz = n < S.vmax ? n : S.vmax;
          v = bench_realloc(v, sz);
          v[sz - 1] = (unsigned char)n;
          ops++;
        }
        vec[nv++] = v;
      }
    }
    for (uint64_t v = 0; v < nv; v++) {
      acc += *(unsigned char *)vec[v];
      free(vec[v]);
      ops++;
    }
    for (uint64_t j = 0; j < S.objs; j++) {
      uint64_t i = S.lifo ? S.objs - 1 - j : j;
      if (S.keep && i % S.keep == 0) {
        uint32_t k = bench_rng_below(&rng, (uint32_t)S.pool);
        if (pool[k]) {
          free(pool[k]);
          ops++;
        }
        pool[k] = obj[i];
        continue;
      }
      acc += *(unsigned char *)obj[i];
      free(obj[i]);
      ops++;
    }
    acc += work[0];
    free(work);
    ops++;
  }
  bench_stop(&b);

  for (uint64_t k = 0; k < S.pool; k++)
    free(pool[k]);
  bench_sink = acc;
  bench_harness_free(obj, (S.objs + 1) * sizeof *obj);
  bench_harness_free(vec, (S.vecs + 1) * sizeof *vec);
  if (pool)
    bench_harness_free(pool, S.pool * sizeof *pool);
  bench_param(&b, "calloc", "%llu", (unsigned long long)S.zeroed);
  bench_param(&b, "iters", "%llu", (unsigned long long)S.iters);
  bench_param(&b, "work", "%llu", (unsigned long long)S.work);
  bench_param(&b, "objs", "%llu", (unsigned long long)S.objs);
  bench_param(&b, "vecs", "%llu", (unsigned long long)S.vecs);
  bench_param(&b, "keep", "%llu", (unsigned long long)S.keep);
  bench_param(&b, "pool", "%llu", (unsigned long long)S.pool);
  bench_param(&b, "ns_per_iter", "%.1f",
              (b.t1 - b.t0) * 1e9 / (double)(S.iters ? S.iters : 1));
  return bench_report(&b, ops);
}
