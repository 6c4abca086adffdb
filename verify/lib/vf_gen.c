/* vf_gen.c - random trace generator (hakmem-trace gen).
 *
 * Deterministic for a given option set: one xorshift64* stream drives every
 * choice.  Sizes are biased to class edges: +-1 around every 16-byte stride
 * up to 1 KiB and around the mid, L2.5 and whale limits (1 KiB, 64 KiB,
 * 2 MiB).  Every op type appears.  The generator tracks which slots it
 * believes are occupied; the belief may be wrong after realloc(p, 0) or a
 * failed request, which is fine because every op is defined on any slot.
 * Misuse ops and thread exits appear only when asked for (opts.misuse,
 * opts.exits per 100000 ops); an exit is followed by a switch to another
 * thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vf_trace.h"

typedef struct rng {
  uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(rng_t *r, uint64_t n) { return n ? rnd(r) % n : 0; }

/* log-uniform in [lo, hi] */
static uint64_t log_uniform(rng_t *r, uint64_t lo, uint64_t hi) {
  unsigned blo = 63u - (unsigned)__builtin_clzll(lo);
  unsigned bhi = 63u - (unsigned)__builtin_clzll(hi);
  unsigned b = blo + (unsigned)below(r, bhi - blo + 1);
  uint64_t base = (uint64_t)1 << b;
  uint64_t v = base + below(r, base);
  return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t edge(rng_t *r, uint64_t limit) {
  return limit - 1 + below(r, 3); /* limit-1, limit, limit+1 */
}

static const uint64_t mid_edges[] = {1024, 1040, 2048, 4096, 8192, 16384, 32768, 65536};
static const uint64_t big_edges[] = {65536, 131072, 262144, 524288, 1048576, 2097152};

static uint64_t pick_size(rng_t *r, unsigned profile) {
  uint64_t x = below(r, 100000);
  if (profile == VF_GEN_SMALL) {
    if (x < 60000) return edge(r, 16 * (1 + below(r, 64)));
    return 16 + below(r, 1025); /* 16..1040 */
  }
  if (x < 60000) return edge(r, 16 * (1 + below(r, 64)));
  if (x < 88000) return below(r, 1041);
  if (x < 99000) {
    if (below(r, 2)) return edge(r, mid_edges[below(r, 8)]);
    return log_uniform(r, 1025, 65536);
  }
  if (x < 99900) {
    if (below(r, 2)) return edge(r, big_edges[below(r, 6)]);
    return log_uniform(r, 65537, 2097152);
  }
  if (below(r, 2)) return edge(r, 2097152);
  return log_uniform(r, 2097153, 8u << 20);
}

static uint64_t pick_align(rng_t *r, int impossible, unsigned profile) {
  uint64_t x = below(r, 1000);
  if (profile == VF_GEN_SMALL) return (uint64_t)1 << (3 + below(r, 4)); /* 8..64 */
  if (impossible && x < 10) {
    static const uint64_t bad[] = {0, 3, 24, 48, 4097, (uint64_t)1 << 63};
    return bad[below(r, 6)];
  }
  if (x < 40) return (uint64_t)1 << (13 + below(r, 9)); /* 8 KiB .. 2 MiB */
  return (uint64_t)1 << (3 + below(r, 10));             /* 8 .. 4096 */
}

static uint64_t impossible_size(rng_t *r) {
  static const uint64_t sizes[] = {UINT64_MAX, (uint64_t)PTRDIFF_MAX + 1,
                                   UINT64_MAX - 15, (uint64_t)1 << 63};
  return sizes[below(r, 4)];
}

void vf_gen_defaults(vf_gen_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->ops = 100000;
  o->threads = 1;
  o->slots = 1024;
  o->profile = VF_GEN_MIXED;
  o->impossible = 1;
  o->free_at_end = 1;
}

static void emit_alloc(rng_t *r, const vf_gen_opts_t *o, vf_op_t *op) {
  int imp = o->impossible && below(r, 1000) == 0;
  uint64_t size = imp ? impossible_size(r) : pick_size(r, o->profile);
  uint64_t x = below(r, 100);
  op->size = size;
  if (x < 50) {
    op->code = VF_OP_MALLOC;
  } else if (x < 65) {
    op->code = VF_OP_CALLOC;
    op->aux = 1 + below(r, 8);
    op->size = size / op->aux;
    if (imp) op->aux = (uint64_t)1 << (32 + below(r, 31)); /* overflow */
  } else if (x < 70) {
    op->code = VF_OP_REALLOC;
  } else {
    op->code = x < 80 ? VF_OP_POSIX_MEMALIGN
               : x < 90 ? VF_OP_ALIGNED_ALLOC
                        : VF_OP_MEMALIGN;
    op->aux = pick_align(r, o->impossible, o->profile);
    if (op->code == VF_OP_ALIGNED_ALLOC && op->aux && !imp)
      op->size = (size + op->aux - 1) / op->aux * op->aux; /* C11 rule */
  }
}

int vf_trace_gen(const vf_gen_opts_t *o, vf_trace_t *out) {
  rng_t r = {o->seed * 0x9E3779B97F4A7C15ull + 0x1234567u};
  unsigned nt = o->threads ? o->threads : 1;
  unsigned slots = o->slots ? o->slots : 1;
  if (nt > VF_TRACE_MAX_THREADS) nt = VF_TRACE_MAX_THREADS;
  if (slots > VF_TRACE_MAX_SLOT + 1u) slots = VF_TRACE_MAX_SLOT + 1u;
  unsigned char *used = calloc(slots, 1);
  if (!used) return -1;
  vf_trace_init(out);
  unsigned tid = 0;
  for (uint64_t i = 0; i < o->ops; i++) {
    vf_op_t op = {0};
    if (nt > 1 && o->exits && below(&r, 100000) < o->exits) {
      op.code = VF_OP_THREAD_EXIT; /* the current thread ends */
      op.tid = (uint8_t)tid;
      if (vf_trace_push(out, &op)) goto oom;
    }
    if (nt > 1 && (op.code == VF_OP_THREAD_EXIT || below(&r, 64) == 0)) {
      tid = (tid + 1 + (unsigned)below(&r, nt - 1)) % nt;
      op.code = VF_OP_SWITCH;
      op.tid = (uint8_t)tid;
      if (vf_trace_push(out, &op)) goto oom;
      continue;
    }
    op.tid = (uint8_t)tid;
    op.slot = (uint32_t)below(&r, slots);
    if (o->misuse && below(&r, 100000) < o->misuse) {
      static const uint8_t kinds[] = {VF_OP_DOUBLE_FREE, VF_OP_INTERIOR_FREE,
                                      VF_OP_FOREIGN_FREE, VF_OP_OVERFLOW};
      op.code = kinds[below(&r, 4)];
      op.size = op.code == VF_OP_OVERFLOW ? 1 + below(&r, 64) : below(&r, 4096);
      if (op.code == VF_OP_DOUBLE_FREE) used[op.slot] = 0;
      if (vf_trace_push(out, &op)) goto oom;
      continue;
    }
    if (used[op.slot]) {
      uint64_t x = below(&r, 100);
      if (x < 60) {
        op.code = VF_OP_FREE;
        used[op.slot] = 0;
      } else if (x < 88) {
        op.code = VF_OP_REALLOC;
        uint64_t y = below(&r, 1000);
        op.size = y < 10 ? 0
                  : (o->impossible && y < 12) ? impossible_size(&r)
                                              : pick_size(&r, o->profile);
        if (op.size == 0) used[op.slot] = 0;
      } else {
        op.code = VF_OP_USABLE_SIZE;
      }
    } else {
      emit_alloc(&r, o, &op);
      used[op.slot] = op.size < ((uint64_t)1 << 62) || op.code == VF_OP_REALLOC;
    }
    if (vf_trace_push(out, &op)) goto oom;
  }
  if (o->free_at_end)
    for (unsigned s = 0; s < slots; s++) {
      if (!used[s]) continue;
      vf_op_t op = {.code = VF_OP_FREE, .tid = (uint8_t)tid, .slot = s};
      if (vf_trace_push(out, &op)) goto oom;
    }
  free(used);
  return 0;
oom:
  free(used);
  vf_trace_free(out);
  return -1;
}
