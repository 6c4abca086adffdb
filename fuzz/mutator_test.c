/* mutator_test.c - checks the structure-aware mutator (CTest fuzz.mutator).
 *
 *   hkfuzz_mutator_test [ITERATIONS]
 *
 * For each target's limits and profile, mutates a chain of inputs (each
 * output is the next input, with crossovers mixed in) and checks that every
 * output is a valid trace after its raw prefix, fits max_size, is already
 * normalized (normalizing again changes nothing: the target runs exactly
 * the ops written), decodes to the same ops through the mutator's kept
 * copy as through a parse, respects the op, slot, thread, budget and
 * request-size limits, and that the chain reaches every opcode (and, for
 * fuzz_large, makes whale requests).  Prints a short profile per target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkf.h"

typedef struct prof {
  const char *name;
  hkf_limits_t l;
  int profile;
  size_t prefix;
} prof_t;

static int fail(const char *who, unsigned it, const char *what) {
  fprintf(stderr, "mutator_test: %s: iteration %u: %s\n", who, it, what);
  return 1;
}

static int same_op(const vf_op_t *a, const vf_op_t *b) {
  return a->code == b->code && a->tid == b->tid && a->slot == b->slot && a->size == b->size &&
         a->aux == b->aux;
}

/* hkf_decode of the mutator's last output (its kept ops) equals a parse. */
static int same_decode(const prof_t *p, const uint8_t *buf, size_t len) {
  static vf_trace_t kept, parsed;
  if (len < p->prefix) return 1;
  int a = hkf_decode(buf + p->prefix, len - p->prefix, &p->l, &kept);
  int b = hkf_decode_uncached(buf + p->prefix, len - p->prefix, &p->l, &parsed);
  if (a != b) return 0;
  if (a) return 1;
  if (kept.n != parsed.n || kept.max_slot != parsed.max_slot || kept.nthreads != parsed.nthreads)
    return 0;
  for (size_t i = 0; i < kept.n; i++)
    if (!same_op(&kept.ops[i], &parsed.ops[i])) return 0;
  return 1;
}

static int check_one(const prof_t *p, unsigned iters) {
  enum { MAX = 4096 };
  static uint8_t buf[MAX], other[MAX], out[MAX];
  size_t len = 0, olen = 0, ops_total = 0, edge_sizes = 0, sizes = 0, whales = 0;
  unsigned seen[256] = {0};
  const uint64_t *edges;
  size_t nedges = hkf_size_edges(&edges);
  for (unsigned it = 0; it < iters; it++) {
    if (it % 7 == 3 && olen) {
      size_t n = hkf_crossover(buf, len, other, olen, out, MAX, it, p->prefix, &p->l);
      if (n) {
        memcpy(buf, out, n);
        len = n;
      }
    }
    if (it % 5 == 0) {
      memcpy(other, buf, len);
      olen = len;
    }
    len = hkf_mutate(buf, len, MAX, it * 2654435761u, p->profile, p->prefix, &p->l, NULL);
    if (len > MAX) return fail(p->name, it, "output above max_size");
    if (it % 500 == 499) len = 0; /* restart from nothing now and then */
    if (len == 0) continue;
    if (!same_decode(p, buf, len)) return fail(p->name, it, "kept ops differ from the parse");
    vf_trace_t t;
    char err[200];
    if (len < p->prefix || vf_trace_parse(buf + p->prefix, len - p->prefix, &t, err, sizeof err))
      return fail(p->name, it, "output does not parse");
    size_t n0 = t.n;
    if (hkf_normalize(&t, &p->l) != 0 || t.n != n0)
      return fail(p->name, it, "output is not normalized");
    uint64_t used = 0;
    for (size_t i = 0; i < t.n; i++) {
      const vf_op_t *op = &t.ops[i];
      seen[op->code]++;
      if (op->tid >= p->l.threads) return fail(p->name, it, "thread id above the limit");
      if (vf_op_has_slot(op->code) && op->slot >= p->l.slots)
        return fail(p->name, it, "slot above the limit");
      uint64_t req = hkf_request_bytes(op);
      if (req && req < HKF_HUGE) used += req;
      if (req && req < HKF_HUGE && p->l.max_request && req > p->l.max_request)
        return fail(p->name, it, "request above max_request");
      if (p->profile == HKF_PROF_LARGE && req > ((uint64_t)256 << 10) && req < HKF_HUGE) whales++;
      if (vf_op_nargs(op->code) >= 1) {
        sizes++;
        for (size_t e = 0; e < nedges; e++)
          if (edges[e] == op->size) {
            edge_sizes++;
            break;
          }
      }
    }
    if (t.n > p->l.max_ops) return fail(p->name, it, "more ops than max_ops");
    if (used > p->l.budget) return fail(p->name, it, "budget exceeded");
    ops_total += t.n;
    vf_trace_free(&t);
  }
  static const unsigned want[] = {VF_OP_MALLOC, VF_OP_CALLOC, VF_OP_REALLOC, VF_OP_FREE,
                                  VF_OP_POSIX_MEMALIGN, VF_OP_ALIGNED_ALLOC, VF_OP_MEMALIGN,
                                  VF_OP_USABLE_SIZE, VF_OP_SWITCH, VF_OP_THREAD_EXIT,
                                  VF_OP_FAULT, VF_OP_FAULT_RATE, VF_OP_RECLAIM};
  for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
    unsigned c = want[w];
    if (!seen[c] && (vf_op_has_slot(c) || VF_OP_IS_FAULT(c) || p->l.threads > 1)) {
      fprintf(stderr, "mutator_test: %s: opcode %s never produced\n", p->name, vf_op_name(c));
      return 1;
    }
  }
  if (p->profile == HKF_PROF_LARGE && whales < iters / 4) {
    fprintf(stderr, "mutator_test: %s: %zu whale requests in %u mutations\n", p->name, whales, iters);
    return 1;
  }
  printf("%-16s %u mutations: %.1f ops per input, %.0f%% of sizes on class edges\n", p->name,
         iters, (double)ops_total / iters, sizes ? 100.0 * (double)edge_sizes / (double)sizes : 0);
  return 0;
}

int main(int argc, char **argv) {
  unsigned iters = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000;
  const prof_t profs[] = {
      {"fuzz_trace", HKF_LIMITS_TRACE, HKF_PROF_TRACE, 0},
      {"fuzz_large", HKF_LIMITS_LARGE, HKF_PROF_LARGE, 0},
      {"fuzz_mt", HKF_LIMITS_MT, HKF_PROF_MT, 0},
      {"fuzz_api_edges", HKF_LIMITS_EDGES, HKF_PROF_EDGES, 0},
      {"fuzz_misuse", HKF_LIMITS_MISUSE, HKF_PROF_TRACE, HKF_MISUSE_PREFIX},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof profs / sizeof profs[0]; i++) bad |= check_one(&profs[i], iters);
  printf("mutator_test: %s\n", bad ? "FAIL" : "ok");
  return bad;
}
