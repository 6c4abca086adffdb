/* vf_gen.c - random trace generator (hakmem-trace gen).
 *
 * Deterministic for a given option set: one xorshift64* stream drives every
 * choice.  Sizes are biased to class edges: +-1 around every 16-byte stride
 * up to 1 KiB and around the mid, L2.5 and whale limits (1 KiB, 64 KiB,
 * 2 MiB); and the mixed profile sweeps every class and whale boundary
 * +-16 (scudo's boundary sweep): 8% of its sizes walk every size from
 * b - 16 to b + 16 around each boundary b of hakmem's documented layout
 * (vf_gen_boundaries) in turn, as malloc requests.
 * Alignments of the mixed profile reach 8 MiB (4 superslabs), on fresh
 * memory and on cached memory: before half of the requests aligned to 2
 * MiB or more, a whale larger than the alignment plus the request is
 * allocated and freed in the same slot, so the allocator holds freed memory
 * that could serve it.  Every op type appears.  The generator tracks which slots it
 * believes are occupied; the belief may be wrong after realloc(p, 0) or a
 * failed request, which is fine because every op is defined on any slot.
 * The reuse profile (VF_GEN_REUSE, for the space check, vf_space.h) is
 * phases instead: each mallocs blocks of one size band until phase_bytes
 * are live (or the slots run out), then frees them all, in ascending,
 * descending or scattered slot order; the bands go tiny, mid, L2.5, whale,
 * tiny again with other sizes, everything, and round again until the ops
 * run out.  So memory freed by one phase must serve the next one, of other
 * sizes, or be given back.
 * The handoff profile (VF_GEN_HANDOFF) is turns of 2 or more threads: a
 * thread (never the previous one) gets the token, frees about half of the
 * blocks left by threads that have exited since they allocated them
 * (remote frees into abandoned slabs; the last one of a slab reclaims it),
 * allocates a batch of mixed sizes (adopting abandoned slabs of those
 * classes), frees a quarter of its own blocks, and exits with the rest
 * live; the last turn's thread frees everything.
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

/* The class and whale boundaries of hakmem's layout as documented
 * (docs/architecture.md, "Layout"; the table is allocator/layout.h, which
 * verify/ does not include: it drives the allocator through its public API
 * only, and test_trace checks this list against hak_stats_get's class
 * sizes): classes every 16 bytes to 128, then four per doubling to 64 KiB,
 * eight from 64 to 128 KiB and four again to 256 KiB, each boundary its
 * largest request in release (usable: stride - 1 below 1 KiB, where a
 * header byte sits; stride from 1 KiB on); above 256 KiB whales, whose
 * mappings are 2 MiB-aligned superslab multiples: 2, 4, 6 and 8 MiB. */
#define VF_GEN_CLASS_MAX ((uint64_t)256 << 10)
#define VF_GEN_SS ((uint64_t)2 << 20)
static uint64_t g_bounds[80];
static size_t g_nbounds, g_nclass_bounds;

size_t vf_gen_boundaries(const uint64_t **out) {
  if (!g_nbounds) {
    size_t n = 0;
    for (uint64_t st = 16; st <= 128; st += 16) g_bounds[n++] = st - 1;
    for (uint64_t d = 128; d < VF_GEN_CLASS_MAX; d *= 2) {
      uint64_t steps = d == (64 << 10) ? 8 : 4; /* steps per doubling */
      for (uint64_t q = steps + 1; q <= 2 * steps; q++) {
        uint64_t st = d * q / steps;
        g_bounds[n++] = st < 1024 ? st - 1 : st;
      }
    }
    g_nclass_bounds = n;
    for (uint64_t k = 1; k <= 4; k++) g_bounds[n++] = k * VF_GEN_SS;
    g_nbounds = n;
  }
  *out = g_bounds;
  return g_nbounds;
}

/* The sweep walks every boundary b from b - 16 to b + 16 in turn (from 0
 * for b < 16), class boundaries 63 times in 64, whale boundaries the rest:
 * one counter each, reset at the start of every trace (vf_trace_gen), so a
 * trace of a million ops requests every such size many times.  A swept
 * size is requested by malloc (or realloc), as written. */
static uint64_t g_sweep_class, g_sweep_whale;

static uint64_t boundary_sweep(rng_t *r) {
  const uint64_t *b;
  size_t n = vf_gen_boundaries(&b);
  uint64_t k;
  size_t i;
  if (below(r, 64)) {
    k = g_sweep_class++ % (g_nclass_bounds * 33);
    i = (size_t)(k / 33);
  } else {
    k = g_sweep_whale++ % ((n - g_nclass_bounds) * 33);
    i = g_nclass_bounds + (size_t)(k / 33);
  }
  uint64_t v = b[i] + k % 33;
  return v >= 16 ? v - 16 : b[i] + 17 + v; /* below 0: one above b + 16 */
}

static const uint64_t mid_edges[] = {1024, 1040, 2048, 4096, 8192, 16384, 32768, 65536};
static const uint64_t big_edges[] = {65536, 131072, 262144, 524288, 1048576, 2097152};

/* *swept: the size comes from the boundary sweep (may be NULL). */
static uint64_t pick_size(rng_t *r, unsigned profile, int *swept) {
  uint64_t x = below(r, 100000);
  if (swept) *swept = 0;
  if (profile == VF_GEN_SMALL) {
    if (x < 60000) return edge(r, 16 * (1 + below(r, 64)));
    return 16 + below(r, 1025); /* 16..1040 */
  }
  if (x < 52000) return edge(r, 16 * (1 + below(r, 64)));
  if (x < 60000) {
    if (swept) *swept = 1;
    return boundary_sweep(r);
  }
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
  if (x < 40) return (uint64_t)1 << (13 + below(r, 11)); /* 8 KiB .. 8 MiB */
  return (uint64_t)1 << (3 + below(r, 10));             /* 8 .. 4096 */
}

static int nargs2_aligned(unsigned code) {
  return code == VF_OP_POSIX_MEMALIGN || code == VF_OP_ALIGNED_ALLOC || code == VF_OP_MEMALIGN;
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
  o->phase_bytes = (uint64_t)8 << 20;
}

static unsigned gcd(unsigned a, unsigned b) {
  while (b) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* VF_GEN_REUSE: grow, free all, grow with other sizes (see the top). */
static int gen_reuse(const vf_gen_opts_t *o, rng_t *r, unsigned slots, vf_trace_t *out) {
  static const uint64_t band[][2] = {{16, 512},          {1025, 65536},   {65537, 262144},
                                     {262145, 4u << 20}, {513, 1024},     {16, 262144}};
  uint64_t phase_bytes = o->phase_bytes ? o->phase_bytes : (uint64_t)8 << 20;
  for (unsigned p = 0; out->n < o->ops; p++) {
    const uint64_t *b = band[p % 6];
    uint64_t live = 0;
    unsigned n = 0;
    while (live < phase_bytes && n < slots && out->n < o->ops) {
      vf_op_t op = {.code = VF_OP_MALLOC, .slot = n++, .size = log_uniform(r, b[0], b[1])};
      live += op.size;
      if (vf_trace_push(out, &op)) return -1;
    }
    unsigned stride = n > 2 ? 1 + 2 * (unsigned)below(r, (n - 1) / 2) : 1; /* odd */
    while (gcd(stride, n) != 1) stride += 2; /* co-prime with n: every slot once */
    for (unsigned k = 0; k < n; k++) {
      unsigned s = p % 3 == 0 ? k : p % 3 == 1 ? n - 1 - k : (unsigned)((uint64_t)k * stride % n);
      vf_op_t op = {.code = VF_OP_FREE, .slot = s};
      if (vf_trace_push(out, &op)) return -1;
    }
  }
  return 0;
}

static void emit_alloc(rng_t *r, const vf_gen_opts_t *o, vf_op_t *op);

/* Free every slot marked in occupied[0, slots) on thread tid; -1: no memory. */
static int free_occupied(vf_trace_t *out, const unsigned char *occupied, unsigned slots,
                         unsigned tid) {
  for (unsigned s = 0; s < slots; s++) {
    if (!occupied[s]) continue;
    vf_op_t op = {.code = VF_OP_FREE, .tid = (uint8_t)tid, .slot = s};
    if (vf_trace_push(out, &op)) return -1;
  }
  return 0;
}

/* VF_GEN_HANDOFF: threads exit with blocks live, others free them (see
 * the top).  owner[s]: 1 + the thread id that allocated slot s, 0 empty. */
static int gen_handoff(const vf_gen_opts_t *o, rng_t *r, unsigned nt, unsigned slots,
                       vf_trace_t *out) {
  unsigned char *owner = calloc(slots, 1);
  if (!owner) return -1;
  if (nt < 2) nt = 2;
  unsigned tid = 0;
  while (out->n < o->ops) {
    tid = (tid + 1 + (unsigned)below(r, nt - 1)) % nt; /* never the last one */
    vf_op_t op = {.code = VF_OP_SWITCH, .tid = (uint8_t)tid};
    if (vf_trace_push(out, &op)) goto oom;
    for (unsigned s = 0; s < slots; s++) /* the exited threads' blocks */
      if (owner[s] && owner[s] != tid + 1 && below(r, 2)) {
        op = (vf_op_t){.code = VF_OP_FREE, .tid = (uint8_t)tid, .slot = s};
        owner[s] = 0;
        if (vf_trace_push(out, &op)) goto oom;
      }
    unsigned batch = 16 + (unsigned)below(r, 240);
    for (unsigned k = 0; k < batch; k++) {
      unsigned s = (unsigned)below(r, slots);
      if (owner[s]) continue;
      op = (vf_op_t){.tid = (uint8_t)tid, .slot = s};
      emit_alloc(r, o, &op);
      owner[s] = (unsigned char)(tid + 1);
      if (vf_trace_push(out, &op)) goto oom;
    }
    for (unsigned s = 0; s < slots; s++) /* a quarter of its own, locally */
      if (owner[s] == tid + 1 && below(r, 4) == 0) {
        op = (vf_op_t){.code = VF_OP_FREE, .tid = (uint8_t)tid, .slot = s};
        owner[s] = 0;
        if (vf_trace_push(out, &op)) goto oom;
      }
    if (out->n >= o->ops) break;
    op = (vf_op_t){.code = VF_OP_THREAD_EXIT, .tid = (uint8_t)tid};
    if (vf_trace_push(out, &op)) goto oom;
  }
  if (free_occupied(out, owner, slots, tid)) goto oom;
  free(owner);
  return 0;
oom:
  free(owner);
  return -1;
}

static void emit_alloc(rng_t *r, const vf_gen_opts_t *o, vf_op_t *op) {
  int imp = o->impossible && below(r, 1000) == 0;
  int swept = 0;
  uint64_t size = imp ? impossible_size(r) : pick_size(r, o->profile, &swept);
  uint64_t x = below(r, 100);
  op->size = size;
  if (x < 50 || swept) {
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

/* One OS fault op (o->faults): half of them fail one to three of the
 * next four mmap/mremap calls, one in five sets a failure rate up to 1 in
 * 8 (or ends it), the rest choose what MADV_FREE'd pages read. */
static void gen_fault(rng_t *r, vf_op_t *op) {
  uint64_t x = below(r, 10);
  op->code = x < 5 ? VF_OP_FAULT : x < 7 ? VF_OP_FAULT_RATE : VF_OP_RECLAIM;
  op->aux = op->code == VF_OP_FAULT ? 1 + below(r, 4)
            : op->code == VF_OP_FAULT_RATE ? (below(r, 2) ? below(r, 8193) : 0)
                                           : below(r, 4);
  op->size = op->code == VF_OP_FAULT ? 1 + below(r, 3) : below(r, 1u << 30);
}

int vf_trace_gen(const vf_gen_opts_t *o, vf_trace_t *out) {
  rng_t r = {o->seed * 0x9E3779B97F4A7C15ull + 0x1234567u};
  unsigned nt = o->threads ? o->threads : 1;
  unsigned slots = o->slots ? o->slots : 1;
  if (nt > VF_TRACE_MAX_THREADS) nt = VF_TRACE_MAX_THREADS;
  if (slots > VF_TRACE_MAX_SLOT + 1u) slots = VF_TRACE_MAX_SLOT + 1u;
  g_sweep_class = g_sweep_whale = 0;
  if (o->profile == VF_GEN_REUSE) {
    vf_trace_init(out);
    if (gen_reuse(o, &r, slots, out) == 0) return 0;
    vf_trace_free(out);
    return -1;
  }
  if (o->profile == VF_GEN_HANDOFF) {
    vf_trace_init(out);
    if (gen_handoff(o, &r, nt, slots, out) == 0) return 0;
    vf_trace_free(out);
    return -1;
  }
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
    if (o->faults && below(&r, 100000) < o->faults) {
      gen_fault(&r, &op);
      if (vf_trace_push(out, &op)) goto oom;
      continue;
    }
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
                                              : pick_size(&r, o->profile, NULL);
        if (op.size == 0) used[op.slot] = 0;
      } else {
        op.code = VF_OP_USABLE_SIZE;
      }
    } else {
      emit_alloc(&r, o, &op);
      used[op.slot] = op.size < ((uint64_t)1 << 62) || op.code == VF_OP_REALLOC;
      if (nargs2_aligned(op.code) && op.aux >= VF_GEN_SS && op.aux <= ((uint64_t)8 << 20) &&
          below(&r, 2)) { /* on cached memory: a larger whale freed first */
        uint64_t sz = op.aux + (op.size < VF_GEN_SS ? op.size : VF_GEN_SS) + 4096;
        vf_op_t w = {.code = VF_OP_MALLOC, .tid = op.tid, .slot = op.slot, .size = sz};
        vf_op_t f = {.code = VF_OP_FREE, .tid = op.tid, .slot = op.slot};
        if (vf_trace_push(out, &w) || vf_trace_push(out, &f)) goto oom;
      }
    }
    if (vf_trace_push(out, &op)) goto oom;
  }
  if (o->free_at_end && free_occupied(out, used, slots, tid)) goto oom;
  free(used);
  return 0;
oom:
  free(used);
  vf_trace_free(out);
  return -1;
}
