/* mutator.c - structure-aware mutation of hakmem traces, shared by the
 * libFuzzer custom mutator (harness.c) and the AFL++ custom mutator library
 * (afl_mutator.c).  It depends on the verify library's trace parser and
 * encoder only (no allocator), so it also loads into afl-fuzz.
 *
 * A mutation parses the input with vf_trace_parse, edits whole operations
 * (insert, delete, duplicate an op or a run, re-size, re-align, re-slot,
 * change the opcode, swap, pair an allocation with its free, move ops across
 * threads, add switches or thread exits), normalizes the result for the target
 * (hkf_normalize) and writes it back as a canonical binary trace.  So the
 * output is always a valid trace that the target runs as written, and sizes
 * come from the edge tables (class edges +-1) most of the time.
 *
 * It also holds the trace-level helpers every target uses (hkf_normalize,
 * hkf_decode): hkf_normalize is a pure function of the trace and the
 * limits (no clock, no randomness), so an input always runs the same ops.
 *
 * Invariants: deterministic for a given (input, seed); never writes more
 * than max_size bytes; a prefix of raw bytes (fuzz_misuse's 3) is kept in
 * front of the trace and only its bytes are varied; the ops it keeps of its
 * last output (g_last) are exactly what hkf_decode_uncached makes of those
 * bytes, and are used only for those bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "hkf.h"

#define HK_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- normalization ---------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t hkf_request_bytes(const vf_op_t *op) {
  uint64_t r;
  switch (op->code) {
  case VF_OP_MALLOC:
  case VF_OP_REALLOC:
    return op->size;
  case VF_OP_CALLOC:
    return __builtin_mul_overflow(op->aux, op->size, &r) ? UINT64_MAX : r;
  case VF_OP_POSIX_MEMALIGN:
  case VF_OP_ALIGNED_ALLOC:
  case VF_OP_MEMALIGN:
    return sat_add(op->size, op->aux);
  default:
    return 0;
  }
}

size_t hkf_normalize(vf_trace_t *t, const hkf_limits_t *l) {
  size_t out = 0, dropped = 0;
  uint64_t used = 0;
  unsigned threads = l->threads ? l->threads : 1;
  unsigned slots = l->slots ? l->slots : 1;
  for (size_t i = 0; i < t->n; i++) {
    vf_op_t op = t->ops[i];
    if (out >= l->max_ops) {
      dropped += t->n - i;
      break;
    }
    op.tid = (uint8_t)(op.tid % threads);
    if (!vf_op_has_slot(op.code)) { /* switch, thread exit, fault ops */
      if (threads == 1 && !VF_OP_IS_FAULT(op.code)) {
        dropped++;
        continue;
      }
    } else {
      op.slot %= slots;
    }
    uint64_t req = hkf_request_bytes(&op);
    if (req && req < HKF_HUGE) {
      if ((l->max_request && req > l->max_request) || req > l->budget - used) {
        dropped++;
        continue;
      }
      used += req;
    }
    t->ops[out++] = op;
  }
  t->n = out;
  vf_trace_refresh(t);
  return dropped;
}


/* ---- edge tables -------------------------------------------------------------- */

#define HKF_MAX_EDGES 1024
static uint64_t g_size_edges[HKF_MAX_EDGES];
static size_t g_nsize;

static void add_edge(uint64_t v) {
  for (size_t i = 0; i < g_nsize; i++)
    if (g_size_edges[i] == v) return;
  if (g_nsize < HKF_MAX_EDGES) g_size_edges[g_nsize++] = v;
}

void hkf_add_size_edge(uint64_t v) {
  if (v) add_edge(v - 1);
  add_edge(v);
  add_edge(v + 1);
}

static void build_size_edges(void) {
  if (g_nsize) return;
  add_edge(0);
  for (uint64_t s = 16; s <= 1024; s += 16) hkf_add_size_edge(s);
  for (uint64_t s = 2048; s <= ((uint64_t)4 << 20); s *= 2) hkf_add_size_edge(s);
  /* mid (1 KiB - 64 KiB) and L2.5 (64 KiB - 2 MiB) quarter steps */
  for (uint64_t b = 1024; b < ((uint64_t)2 << 20); b *= 2)
    for (uint64_t q = 1; q < 4; q++) hkf_add_size_edge(b + q * (b / 4));
}

size_t hkf_size_edges(const uint64_t **out) {
  build_size_edges();
  *out = g_size_edges;
  return g_nsize;
}

static const uint64_t g_api_edges[] = {
    0, 1, 2, 7, 8, 15, 16, 17, 4095, 4096, 4097,
    (uint64_t)PTRDIFF_MAX - 4096, (uint64_t)PTRDIFF_MAX - 1, (uint64_t)PTRDIFF_MAX,
    (uint64_t)PTRDIFF_MAX + 1, SIZE_MAX - 4096, SIZE_MAX - 16, SIZE_MAX - 1, SIZE_MAX,
    (uint64_t)1 << 32, ((uint64_t)1 << 32) + 1, ((uint64_t)1 << 32) - 1,
    (uint64_t)1 << 48, (uint64_t)1 << 62, (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1};

size_t hkf_api_edges(const uint64_t **out) {
  *out = g_api_edges;
  return sizeof g_api_edges / sizeof g_api_edges[0];
}

static uint64_t g_align_edges[80];
static size_t g_nalign;

size_t hkf_align_edges(const uint64_t **out) {
  if (!g_nalign) {
    g_align_edges[g_nalign++] = 0;
    for (unsigned k = 0; k <= 20; k++) {
      uint64_t a = (uint64_t)1 << k;
      g_align_edges[g_nalign++] = a;
      if (k >= 2) g_align_edges[g_nalign++] = a + 1;
      if (k >= 3) g_align_edges[g_nalign++] = a - 1;
    }
    g_align_edges[g_nalign++] = 24;
    g_align_edges[g_nalign++] = (uint64_t)1 << 21;
    g_align_edges[g_nalign++] = (uint64_t)1 << 63;
    g_align_edges[g_nalign++] = ((uint64_t)1 << 63) + 1;
    g_align_edges[g_nalign++] = SIZE_MAX;
  }
  *out = g_align_edges;
  return g_nalign;
}

#define HKF_SS ((uint64_t)2 << 20) /* the superslab size (docs/architecture.md) */
static uint64_t g_whale_edges[128];
static size_t g_nwhale;

static void whale_edge(uint64_t v) {
  static const int64_t d[] = {0, 1, -1, 16, -16, 4096, -4096};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
    if (g_nwhale < sizeof g_whale_edges / sizeof g_whale_edges[0])
      g_whale_edges[g_nwhale++] = v + (uint64_t)d[i];
}

size_t hkf_whale_edges(const uint64_t **out) {
  if (!g_nwhale) {
    whale_edge((uint64_t)256 << 10); /* the last class / the first whale */
    for (uint64_t k = 1; k <= 8; k++) whale_edge(k * HKF_SS);
  }
  *out = g_whale_edges;
  return g_nwhale;
}

static uint64_t g_whale_aligns[13];

size_t hkf_whale_align_edges(const uint64_t **out) {
  for (unsigned k = 0; k < 13; k++) g_whale_aligns[k] = (uint64_t)4096 << k; /* .. 16 MiB */
  *out = g_whale_aligns;
  return 13;
}

/* ---- encoding -------------------------------------------------------------------- */

/* hkf_encode, also telling how many ops fit (*kept). */
static size_t encode_ops(const vf_op_t *ops, size_t n, uint8_t *out, size_t max, size_t *kept) {
  unsigned char rec[VF_TRACE_MAX_RECORD];
  *kept = 0;
  if (max < VF_TRACE_HEADER_LEN) return 0;
  vf_trace_header(out);
  size_t len = VF_TRACE_HEADER_LEN, i = 0;
  for (; i < n; i++) {
    size_t r = vf_trace_encode_op(&ops[i], rec);
    if (len + r > max) break;
    memcpy(out + len, rec, r);
    len += r;
  }
  *kept = i;
  return len;
}

size_t hkf_encode(const vf_op_t *ops, size_t n, uint8_t *out, size_t max) {
  size_t kept;
  return encode_ops(ops, n, out, max, &kept);
}

/* ---- the last output ------------------------------------------------------------- */

/* The last trace hkf_mutate or hkf_crossover wrote: its bytes (after the
 * prefix) and its ops, exactly those encoded, already normalized for
 * `limits`.  An engine runs that output next, and mutates it again when it
 * chains mutations, so hkf_decode and hkf_mutate copy the ops from here
 * when the bytes are the same, byte for byte, instead of parsing them
 * again (parsing was 5-8% of fuzz_trace's time; docs/fuzzing.md,
 * "Speed").  A trace that is normalized stays so when cut short, and the
 * binary encoding round-trips exactly (fuzz_trace_parser checks it), so
 * the copy equals what the parse would give: fuzz.mutator checks that for
 * every output of its chains.  Outputs above LAST_MAX bytes are not kept. */
#define LAST_MAX 16384
static struct {
  uint8_t bytes[LAST_MAX];
  size_t len; /* 0: nothing kept */
  hkf_limits_t limits;
  vf_trace_t t;
} g_last;

static int same_limits(const hkf_limits_t *a, const hkf_limits_t *b) {
  return a->max_ops == b->max_ops && a->slots == b->slots && a->threads == b->threads &&
         a->budget == b->budget && a->max_request == b->max_request;
}

static void last_keep(const uint8_t *bytes, size_t len, const vf_op_t *ops, size_t n,
                      const hkf_limits_t *l) {
  g_last.len = 0;
  if (len > LAST_MAX) return;
  g_last.t.n = 0;
  for (size_t i = 0; i < n; i++)
    if (vf_trace_push(&g_last.t, &ops[i])) return;
  memcpy(g_last.bytes, bytes, len);
  g_last.len = len;
  g_last.limits = *l;
}

/* Copy the kept ops into t when data[0, size) is the last output. */
static int last_take(const uint8_t *data, size_t size, const hkf_limits_t *l, vf_trace_t *t) {
  if (!g_last.len || size != g_last.len || !same_limits(l, &g_last.limits) ||
      memcmp(data, g_last.bytes, size) != 0)
    return -1;
  t->n = 0;
  for (size_t i = 0; i < g_last.t.n; i++)
    if (vf_trace_push(t, &g_last.t.ops[i])) return -1;
  vf_trace_refresh(t);
  return 0;
}

int hkf_decode_uncached(const uint8_t *data, size_t size, const hkf_limits_t *l,
                        vf_trace_t *out) {
  char err[160];
  if (vf_trace_parse_reuse(data, size, out, err, sizeof err)) return -1;
  hkf_normalize(out, l);
  return 0;
}

int hkf_decode(const uint8_t *data, size_t size, const hkf_limits_t *l,
               vf_trace_t *out) {
  if (last_take(data, size, l, out) == 0) return 0;
  return hkf_decode_uncached(data, size, l, out);
}

/* ---- random values ------------------------------------------------------------------ */

typedef struct rng {
  uint64_t s;
} rng_t;

static uint64_t next(rng_t *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(rng_t *r, uint64_t n) { return n ? next(r) % n : 0; }

static uint64_t pick_from(rng_t *r, const uint64_t *v, size_t n) { return v[below(r, n)]; }

/* One value of an edge table: table(&v) fills v before it is read (as an
 * argument of pick_from beside the call, v's read and the call are
 * unsequenced, and clang reads v first). */
static uint64_t pick_edge(rng_t *r, size_t (*table)(const uint64_t **)) {
  const uint64_t *v;
  size_t n = table(&v);
  return pick_from(r, v, n);
}

/* Edges in [lo, hi): the sorted table's index range, found once. */
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static uint64_t edge_in(rng_t *r, uint64_t lo, uint64_t hi) {
  static size_t sorted_n;
  const uint64_t *e;
  size_t n = hkf_size_edges(&e);
  if (sorted_n != n) {
    qsort(g_size_edges, n, sizeof g_size_edges[0], cmp_u64);
    sorted_n = n;
  }
  size_t a = 0, b;
  while (a < n && e[a] < lo) a++;
  for (b = a; b < n && e[b] < hi; b++) {
  }
  return b > a ? e[a + below(r, b - a)] : lo;
}

/* fuzz_large's sizes: whale edges half the time, other whale sizes (any,
 * or a page multiple), and class blocks beside them. */
static uint64_t gen_size_large(rng_t *r) {
  unsigned k = (unsigned)below(r, 100);
  if (k < 50) return pick_edge(r, hkf_whale_edges);
  if (k < 60) return ((uint64_t)256 << 10) + 1 + below(r, (uint64_t)16 << 20);
  if (k < 70) return (1 + below(r, 4096)) * 4096;
  if (k < 85) return edge_in(r, 0, ((uint64_t)256 << 10) + 2);
  if (k < 95) return below(r, 70000);
  return pick_edge(r, hkf_api_edges);
}

/* Request sizes: class edges most of the time, weighted like real programs
 * (tiny >> mid >> L2.5 >> whale), so most inputs stay fast.  A target with
 * a request cap (fuzz_trace) draws no size above it: the whale share goes
 * to the L2.5 edges below the cap. */
static uint64_t gen_size(rng_t *r, int profile, const hkf_limits_t *l) {
  const uint64_t *e;
  if (profile == HKF_PROF_LARGE) return gen_size_large(r);
  unsigned k = (unsigned)below(r, 100);
  size_t napi = hkf_api_edges(&e);
  uint64_t cap = l->max_request ? l->max_request + 2 : (uint64_t)1 << 40;
  if (profile == HKF_PROF_EDGES && k < 45) return pick_from(r, e, napi);
  if (k < 55) return edge_in(r, 0, 1041);
  if (k < 70) return below(r, 1100);
  if (k < 82) return edge_in(r, 1041, 65538);
  if (k < 87) return below(r, 70000);
  if (k < 93 || l->max_request) return edge_in(r, 65538, HK_MIN(cap, ((uint64_t)2 << 20) - 1));
  if (k < 96) return edge_in(r, ((uint64_t)2 << 20) - 1, cap);
  return pick_from(r, e, napi);
}

static uint64_t gen_align(rng_t *r, int profile) {
  const uint64_t *e;
  size_t n = hkf_align_edges(&e);
  if (profile == HKF_PROF_LARGE && below(r, 5) < 3)
    return pick_edge(r, hkf_whale_align_edges);
  if (profile == HKF_PROF_EDGES || below(r, 8) == 0) return pick_from(r, e, n);
  return (uint64_t)16 << below(r, 9); /* 16 .. 4096 */
}

static uint64_t gen_count(rng_t *r, int profile) {
  if (profile == HKF_PROF_EDGES && below(r, 3) == 0) return pick_edge(r, hkf_api_edges);
  return below(r, 4) ? 1 + below(r, 8) : below(r, 300);
}

/* A slot: mostly one the trace already uses, so frees find blocks. */
static uint32_t gen_slot(rng_t *r, const vf_trace_t *t, const hkf_limits_t *l) {
  if (t->n && below(r, 10) < 7) {
    const vf_op_t *op = &t->ops[below(r, t->n)];
    if (vf_op_has_slot(op->code)) return op->slot;
  }
  return (uint32_t)below(r, l->slots ? (l->slots < 64 ? l->slots : 64) : 1);
}

static void gen_args(rng_t *r, vf_op_t *op, int profile, const hkf_limits_t *l) {
  op->size = op->aux = 0;
  switch (op->code) {
  case VF_OP_MALLOC:
  case VF_OP_REALLOC:
    op->size = gen_size(r, profile, l);
    break;
  case VF_OP_CALLOC:
    op->aux = gen_count(r, profile);
    op->size = below(r, 3) ? gen_size(r, profile, l) / (op->aux ? op->aux : 1)
                           : gen_size(r, profile, l);
    break;
  case VF_OP_POSIX_MEMALIGN:
  case VF_OP_ALIGNED_ALLOC:
  case VF_OP_MEMALIGN:
    op->aux = gen_align(r, profile);
    op->size = gen_size(r, profile, l);
    break;
  case VF_OP_FAULT: /* one to three of the next four mappings fail (or none) */
    op->aux = 1 + below(r, 4);
    op->size = below(r, 4);
    break;
  case VF_OP_FAULT_RATE: /* up to 1 in 4 (or off), from a seed */
    op->aux = below(r, 2) ? below(r, 16385) : 0;
    op->size = below(r, 1u << 20);
    break;
  case VF_OP_RECLAIM: /* kernel, zero, dirty, mixed from a seed */
    op->aux = below(r, 4);
    op->size = below(r, 1u << 20);
    break;
  default:
    break;
  }
}

static void gen_op(rng_t *r, vf_op_t *op, const vf_trace_t *t, const hkf_limits_t *l,
                   int profile) {
  static const uint8_t weights[][2] = {
      {VF_OP_MALLOC, 30}, {VF_OP_FREE, 28},          {VF_OP_REALLOC, 12},
      {VF_OP_CALLOC, 8},  {VF_OP_POSIX_MEMALIGN, 4}, {VF_OP_ALIGNED_ALLOC, 4},
      {VF_OP_MEMALIGN, 4}, {VF_OP_USABLE_SIZE, 5},   {VF_OP_FAULT, 1},
      {VF_OP_FAULT_RATE, 1}, {VF_OP_RECLAIM, 1},     {VF_OP_SWITCH, 8},
      {VF_OP_THREAD_EXIT, 1}};
  unsigned total = 0, k;
  /* switches and thread exits only where there are threads */
  size_t nw = sizeof weights / sizeof weights[0] - (l->threads > 1 ? 0 : 2);
  for (size_t i = 0; i < nw; i++) total += weights[i][1];
  k = (unsigned)below(r, total);
  memset(op, 0, sizeof *op);
  for (size_t i = 0; i < nw; i++) {
    if (k < weights[i][1]) {
      op->code = weights[i][0];
      break;
    }
    k -= weights[i][1];
  }
  op->tid = (uint8_t)below(r, l->threads ? l->threads : 1);
  if (vf_op_has_slot(op->code)) op->slot = gen_slot(r, t, l);
  gen_args(r, op, profile, l);
}

/* ---- edits ---------------------------------------------------------------------------- */

static int insert_at(vf_trace_t *t, size_t at, const vf_op_t *op) {
  if (vf_trace_push(t, op)) return -1;
  memmove(&t->ops[at + 1], &t->ops[at], (t->n - 1 - at) * sizeof *op);
  t->ops[at] = *op;
  return 0;
}

static void delete_range(vf_trace_t *t, size_t at, size_t n) {
  if (at >= t->n) return;
  if (n > t->n - at) n = t->n - at;
  memmove(&t->ops[at], &t->ops[at + n], (t->n - at - n) * sizeof t->ops[0]);
  t->n -= n;
}

static uint64_t resize(rng_t *r, uint64_t v, int profile, const hkf_limits_t *l) {
  switch (below(r, 6)) {
  case 0:
    return v + 1;
  case 1:
    return v ? v - 1 : 0;
  case 2:
    return v + 16;
  case 3:
    return v / 2;
  case 4:
    return v * 2;
  default:
    return gen_size(r, profile, l);
  }
}

static int is_alloc(unsigned c) {
  return c == VF_OP_MALLOC || c == VF_OP_CALLOC || c == VF_OP_REALLOC ||
         c == VF_OP_POSIX_MEMALIGN || c == VF_OP_ALIGNED_ALLOC || c == VF_OP_MEMALIGN;
}

static void mutate_once(rng_t *r, vf_trace_t *t, const hkf_limits_t *l, int profile) {
  vf_op_t op;
  size_t n = t->n, i = below(r, n ? n : 1);
  unsigned what = (unsigned)below(r, 13);
  if (n == 0) what = 0;
  switch (what) {
  case 0: /* insert a fresh op */
  case 1:
    gen_op(r, &op, t, l, profile);
    insert_at(t, below(r, n + 1), &op);
    break;
  case 2: /* delete one op or a short run */
    delete_range(t, i, below(r, 4) ? 1 : 1 + below(r, 8));
    break;
  case 3: /* duplicate one op elsewhere */
    op = t->ops[i];
    insert_at(t, below(r, n + 1), &op);
    break;
  case 4: { /* duplicate a run (repeats a pattern, grows the heap) */
    vf_op_t run[16];
    size_t len = 1 + below(r, 16);
    if (len > n - i) len = n - i;
    memcpy(run, &t->ops[i], len * sizeof run[0]);
    size_t at = below(r, n + 1);
    for (size_t k = 0; k < len; k++)
      if (insert_at(t, at + k, &run[k])) break;
    break;
  }
  case 5: /* re-size (a fault op: new numbers) */
  case 6:
    if (vf_op_nargs(t->ops[i].code) >= 1 && !VF_OP_IS_FAULT(t->ops[i].code))
      t->ops[i].size = resize(r, t->ops[i].size, profile, l);
    else gen_args(r, &t->ops[i], profile, l);
    break;
  case 7: /* re-align or re-count */
    if (VF_OP_IS_FAULT(t->ops[i].code)) gen_args(r, &t->ops[i], profile, l);
    else if (vf_op_nargs(t->ops[i].code) == 2)
      t->ops[i].aux = t->ops[i].code == VF_OP_CALLOC ? gen_count(r, profile) : gen_align(r, profile);
    break;
  case 8: /* another slot */
    if (vf_op_has_slot(t->ops[i].code)) t->ops[i].slot = gen_slot(r, t, l);
    break;
  case 9: /* another opcode, same slot */
    op = t->ops[i];
    gen_op(r, &t->ops[i], t, l, profile);
    if (vf_op_has_slot(t->ops[i].code) && vf_op_has_slot(op.code)) t->ops[i].slot = op.slot;
    if (vf_op_nargs(t->ops[i].code) >= 1 && vf_op_nargs(op.code) >= 1) t->ops[i].size = op.size;
    t->ops[i].tid = op.tid;
    break;
  case 10: { /* swap two ops */
    size_t j = below(r, n);
    op = t->ops[i];
    t->ops[i] = t->ops[j];
    t->ops[j] = op;
    break;
  }
  case 11: /* pair an allocation with a free of its slot, later */
    if (is_alloc(t->ops[i].code)) {
      memset(&op, 0, sizeof op);
      op.code = VF_OP_FREE;
      op.tid = (uint8_t)(l->threads > 1 ? below(r, l->threads) : 0);
      op.slot = t->ops[i].slot;
      insert_at(t, i + 1 + below(r, n - i), &op);
    }
    break;
  default: /* threads: move an op to another thread, or add a switch */
    if (l->threads > 1) {
      if (below(r, 2)) {
        t->ops[i].tid = (uint8_t)below(r, l->threads);
      } else {
        memset(&op, 0, sizeof op);
        op.code = VF_OP_SWITCH;
        op.tid = (uint8_t)below(r, l->threads);
        insert_at(t, i, &op);
      }
    } else {
      gen_op(r, &op, t, l, profile);
      insert_at(t, below(r, n + 1), &op);
    }
    break;
  }
}

/* The traces a mutation or crossover works on, parsed into again and again:
 * their buffers stay allocated between calls (a fresh buffer per call
 * cycled through ASan's quarantine and faulted new pages in; docs/fuzzing.md,
 * "Speed").  The engines call the mutator from one thread. */
static vf_trace_t g_work[2];

static void fresh_trace(rng_t *r, vf_trace_t *t, const hkf_limits_t *l, int profile) {
  t->n = 0;
  size_t n = 1 + below(r, 16);
  for (size_t i = 0; i < n; i++) {
    vf_op_t op;
    gen_op(r, &op, t, l, profile);
    if (vf_trace_push(t, &op)) break;
  }
}

size_t hkf_mutate(uint8_t *data, size_t size, size_t max_size, unsigned seed, int profile,
                  size_t prefix, const hkf_limits_t *l, hkf_bytes_fn bytes) {
  rng_t r = {((uint64_t)seed << 1 | 1) * 0x9E3779B97F4A7C15ull};
  if (max_size < prefix + VF_TRACE_HEADER_LEN + 2) return size;
  /* now and then a byte-level mutation (libFuzzer's, with its dictionary
   * and comparison operands); inputs it breaks are rejected by the target */
  if (bytes && below(&r, 8) == 0) return bytes(data, size, max_size);
  uint8_t pre[16] = {0};
  if (size >= prefix) memcpy(pre, data, prefix);
  else
    for (size_t i = 0; i < prefix; i++) pre[i] = (uint8_t)next(&r);
  if (prefix && below(&r, 5) == 0) pre[below(&r, prefix)] = (uint8_t)next(&r);
  vf_trace_t *t = &g_work[0];
  char err[8];
  if (size < prefix ||
      (last_take(data + prefix, size - prefix, l, t) != 0 &&
       vf_trace_parse_reuse(data + prefix, size - prefix, t, err, sizeof err)))
    fresh_trace(&r, t, l, profile);
  unsigned rounds = 1 + (unsigned)below(&r, 4);
  for (unsigned k = 0; k < rounds; k++) mutate_once(&r, t, l, profile);
  hkf_normalize(t, l);
  memcpy(data, pre, prefix);
  size_t kept, len = encode_ops(t->ops, t->n, data + prefix, max_size - prefix, &kept);
  last_keep(data + prefix, len, t->ops, kept, l);
  return prefix + len;
}

size_t hkf_crossover(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2, uint8_t *out,
                     size_t max_out, unsigned seed, size_t prefix, const hkf_limits_t *l) {
  rng_t r = {((uint64_t)seed << 1 | 1) * 0xD1B54A32D192ED03ull};
  vf_trace_t *a = &g_work[0], *b = &g_work[1];
  char err[8];
  if (s1 < prefix || s2 < prefix || max_out < prefix + VF_TRACE_HEADER_LEN) return 0;
  if (vf_trace_parse_reuse(d1 + prefix, s1 - prefix, a, err, sizeof err)) return 0;
  if (vf_trace_parse_reuse(d2 + prefix, s2 - prefix, b, err, sizeof err)) return 0;
  /* a[0, i) followed by b[j, end) */
  size_t i = below(&r, a->n + 1), j = below(&r, b->n + 1);
  a->n = i;
  for (size_t k = j; k < b->n; k++)
    if (vf_trace_push(a, &b->ops[k])) break;
  hkf_normalize(a, l);
  memcpy(out, d1, prefix);
  size_t kept, len = encode_ops(a->ops, a->n, out + prefix, max_out - prefix, &kept);
  last_keep(out + prefix, len, a->ops, kept, l);
  return prefix + len;
}
