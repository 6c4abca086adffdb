/* false_sharing.c - false sharing between threads' small blocks (the
 * cache-thrash and cache-scratch kinds).
 *
 * Each of --threads threads repeats: malloc(--size), write every byte of
 * the block --writes times (volatile increments, so each write reaches
 * the cache), free it.  An allocator that gives two threads blocks in the
 * same 64-byte cache line makes every write of one thread invalidate the
 * other's copy of the line: the loop then runs at the speed of the
 * coherence traffic instead of the L1 cache.
 *   --mode=active (cache-thrash): the threads start with nothing; the
 *     allocator causes false sharing if it hands out neighbouring blocks
 *     to different threads.
 *   --mode=passive (cache-scratch): before the clock the main thread
 *     mallocs one block per thread, back to back (so they likely share a
 *     line), and hands block i to thread i, which frees it first thing:
 *     an allocator that gives a freed block back to the thread that freed
 *     it (not the one that owns its memory) keeps the threads' blocks in
 *     one line for the whole run.
 * One op is one malloc + writes + free.  Thread 0 checks the clock every
 * 256 ops and raises a stop flag once --ms milliseconds have passed (and
 * at least --ops ops per thread are done); every thread checks the flag
 * each op.
 *
 * Invariants: the stop flag sits on its own cache line, read-only until
 * it is set; the per-thread op counts are written once, at the end.
 */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  _Alignas(64) _Atomic int stop;
  _Alignas(64) bench_run *b;
  uint64_t size, writes, min_ops, ms;
  int passive;
  unsigned char **given;     /* passive: block i for thread i */
  _Atomic uint64_t ops;
} fs_t;

static void fs_thread(unsigned idx, void *arg)
{
  fs_t *F = arg;
  if (F->passive)
    free(F->given[idx]);
  uint64_t n = 0;
  for (;;) {
    volatile unsigned char *p = bench_malloc(F->size);
    for (uint64_t w = 0; w < F->writes; w++)
      for (uint64_t k = 0; k < F->size; k++)
        p[k]++;
    free((void *)p);
    n++;
    if (idx == 0 && n % 256 == 0 && n >= F->min_ops &&
        !bench_more(F->b, F->ms))
      atomic_store_explicit(&F->stop, 1, memory_order_relaxed);
    if (atomic_load_explicit(&F->stop, memory_order_relaxed) &&
        n >= F->min_ops)
      break;
  }
  atomic_fetch_add(&F->ops, n);
}

int main(int argc, char **argv)
{
  uint64_t threads = 2, size = 8, writes = 100, ops = 10000, ms = 1000;
  const char *mode = "active";
  const bench_opt opts[] = {
      {"mode", BOPT_STR, &mode, "active (cache-thrash) or passive "
                                "(cache-scratch)"},
      {"threads", BOPT_U64, &threads, "threads"},
      {"size", BOPT_SIZE, &size, "block size, bytes"},
      {"writes", BOPT_U64, &writes, "times each byte is written per op"},
      {"ops", BOPT_U64, &ops, "ops per thread at least"},
      {"ms", BOPT_U64, &ms, "run until this many ms have passed "
                            "(0: --ops only)"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "false_sharing",
              "False sharing: threads writing small blocks they malloc'ed.",
              opts);
  int passive = !strcmp(mode, "passive");
  if ((!passive && strcmp(mode, "active")) || threads < 1 || threads > 256 ||
      size < 1 || writes < 1 || ops < 1) {
    fprintf(stderr, "false_sharing: bad parameters (see --help)\n");
    return 2;
  }
  fs_t F = {.size = size, .writes = writes, .min_ops = ops, .ms = ms,
            .passive = passive};
  bench_run b;
  bench_begin(&b, "false_sharing");
  F.b = &b;
  if (passive) {
    F.given = bench_harness_alloc(threads * sizeof *F.given);
    for (unsigned i = 0; i < threads; i++) {
      F.given[i] = bench_malloc(size);
      memset(F.given[i], 1, size);
    }
  }
  bench_run_threads(&b, (unsigned)threads, fs_thread, &F);
  if (passive)
    bench_harness_free(F.given, threads * sizeof *F.given);
  bench_param(&b, "mode", "%s", passive ? "passive" : "active");
  bench_param(&b, "threads", "%llu", (unsigned long long)threads);
  bench_param(&b, "size", "%llu", (unsigned long long)size);
  bench_param(&b, "writes", "%llu", (unsigned long long)writes);
  bench_param(&b, "ms", "%llu", (unsigned long long)ms);
  return bench_report(&b, atomic_load(&F.ops));
}
