/* random_mixed.c - random malloc/free over a table of slots.
 *
 * The operation, exactly: a table of S slots starts empty.  Each of the N
 * operations draws a slot index uniformly from [0, S) with the PRNG
 * (xorshift64* seeded by splitmix64(seed)).  If the slot holds a block, the
 * block's first byte is read and the block is freed (the op is one free);
 * otherwise a size is drawn uniformly from [min, max], the block is
 * malloc'ed, touched (bench_touch: first byte, one byte per 4 KiB page, last
 * byte) and stored (the op is one malloc).  Blocks still live after the loop
 * are freed outside the timed interval.  ns_per_op is wall time per op.
 *
 * Defaults: 1M ops, 256 slots, 16..1040 B, seed 42 (BRIEF section 8).
 */
#include "common.h"

#include <stdio.h>

int main(int argc, char **argv)
{
  uint64_t ops = 1000000, slots = 256, min = 16, max = 1040, seed = 42;
  const bench_opt opts[] = {
      {"ops", BOPT_U64, &ops, "operations (each one malloc or one free)"},
      {"slots", BOPT_U64, &slots, "working set: number of slots"},
      {"min", BOPT_SIZE, &min, "smallest request, bytes"},
      {"max", BOPT_SIZE, &max, "largest request, bytes"},
      {"seed", BOPT_U64, &seed, "PRNG seed"},
      {NULL, 0, NULL, NULL}};
  bench_parse(argc, argv, "random_mixed",
              "Random malloc/free over a table of slots.", opts);
  if (slots < 1 || slots > 0xffffffffu || min < 1 || max < min ||
      max - min >= 0xffffffffu) {
    fprintf(stderr, "random_mixed: need slots >= 1 and 1 <= min <= max\n");
    return 2;
  }

  bench_run b;
  bench_begin(&b, "random_mixed");
  void **slot = bench_harness_alloc(slots * sizeof *slot);
  bench_rng rng;
  bench_rng_seed(&rng, seed);

  bench_start(&b);
  uint64_t mallocs = bench_slot_ops(slot, (uint32_t)slots, ops, min, max, &rng);
  bench_stop(&b);

  bench_slot_free(slot, (uint32_t)slots);
  bench_harness_free(slot, slots * sizeof *slot);
  bench_param(&b, "slots", "%llu", (unsigned long long)slots);
  bench_param(&b, "min", "%llu", (unsigned long long)min);
  bench_param(&b, "max", "%llu", (unsigned long long)max);
  bench_param(&b, "seed", "%llu", (unsigned long long)seed);
  bench_param(&b, "mallocs", "%llu", (unsigned long long)mallocs);
  return bench_report(&b, ops);
}
