/* hkf.h - shared pieces of hakmem's fuzz targets (fuzz/fuzz_<name>.c).
 *
 * Every target is one LLVMFuzzerTestOneInput (harness.c) that hands the
 * input to the target's `hkf_target.run`.  Inputs are hakmem traces
 * (docs/trace-format.md), decoded by the verify library's parser
 * (vf_trace_parse); there is no second decoder here.  After parsing, a trace
 * is *normalized* for the target (hkf_normalize): thread ids and slot ids
 * are folded into the target's small ranges, the op count is capped, and
 * allocation requests that would push the input's total of possible request
 * bytes over the budget are dropped.  The OS fault ops (fault, fault_rate,
 * reclaim: docs/fuzzing.md) are kept in every target, so the input's bytes
 * choose which of hakmem's mappings fail and what its MADV_FREE'd pages
 * read (the fuzz builds are checked builds, which have the layer).  Normalization is deterministic, so a
 * saved input reproduces exactly, and the normalized trace (HKF_DUMP=path)
 * replays the same way under hakmem-replay and hakmem-minimize.
 *
 * Invariants kept between inputs: every block an input allocated is freed
 * before the input returns (vf_oracle_finish / vf_replay), so hakmem's live
 * set is empty when the next input starts; the oracle checks hakmem's live
 * counts against its model at the end of each input.
 */
#ifndef HKF_H
#define HKF_H

#include <stddef.h>
#include <stdint.h>

#include "vf_alloc.h"
#include "vf_oracle.h"
#include "vf_trace.h"

/* Requests at or above this many bytes cannot be mapped on a 47/48-bit
 * address space: they run (they must fail cleanly) without counting
 * against the budget. */
#define HKF_HUGE ((uint64_t)1 << 48)

typedef struct hkf_limits {
  unsigned max_ops;   /* ops kept; the rest of the trace is dropped        */
  unsigned slots;     /* slot ids folded to slot % slots                   */
  unsigned threads;   /* thread ids folded to tid % threads (1: no switch) */
  uint64_t budget;    /* sum of possible request bytes an input may make  */
  uint64_t max_request; /* largest request an op may make (0: no cap)      */
} hkf_limits_t;

/* Each target's limits, in one place (the targets and the AFL++ mutator
 * library both read them): {max_ops, slots, threads, budget, max_request}.
 * An allocation whose request (size, size + alignment, count * size) is
 * above max_request, or would push the input's total over the budget, is
 * dropped by normalization; requests of HKF_HUGE bytes or more always run.
 * The single-thread traces are split by size (issue 17):
 *   - fuzz_trace: every request up to 256 KiB (the class range: tiny, mid,
 *     L2.5), 256 KiB in all.  Whales cost page faults, calloc zeroing and
 *     ASan shadow work per byte, and kept this target at about 5,500 execs
 *     per CPU second; without them it runs at about 10,000 (1 MiB in all:
 *     about 6,000; docs/fuzzing.md, "Speed");
 *   - fuzz_large: the whale sizes (above 256 KiB) and alignments up to 16
 *     MiB (8 superslabs), on fresh and cached mappings, next to class
 *     blocks: 256 ops at most, 16 MiB + 320 KiB in all (one whale aligned
 *     to 16 MiB; a cached 8 MiB whale and an 8 MiB-aligned one), about
 *     2,000-2,100 execs per CPU second (32 MiB + 64 KiB: about 1,550).
 * The other targets keep both ranges. */
#define HKF_TRACE_MAX_REQUEST ((uint64_t)256 << 10)
#define HKF_LIMITS_TRACE {2048, 256, 1, HKF_TRACE_MAX_REQUEST, HKF_TRACE_MAX_REQUEST}
#define HKF_LIMITS_LARGE {256, 64, 1, ((uint64_t)16 << 20) + ((uint64_t)320 << 10), 0}
#define HKF_LIMITS_MT {1024, 256, 4, (uint64_t)16 << 20, 0}
#define HKF_LIMITS_EDGES {512, 32, 1, (uint64_t)16 << 20, 0}
#define HKF_LIMITS_MISUSE {256, 64, 1, (uint64_t)8 << 20, 0}
#define HKF_MISUSE_PREFIX 3

/* Mutation profile: which values the custom mutator favours. */
enum { HKF_PROF_TRACE = 0, HKF_PROF_MT = 1, HKF_PROF_EDGES = 2, HKF_PROF_LARGE = 3 };

typedef struct hkf_target {
  const char *name;
  int (*run)(const uint8_t *data, size_t size);
  void (*init)(void);     /* optional, once before the first input        */
  hkf_limits_t limits;
  int profile;            /* HKF_PROF_*                                    */
  size_t prefix;          /* bytes before the trace (fuzz_misuse: 3)       */
  int structured;         /* 1: the custom mutator keeps traces valid      */
} hkf_target_t;

/* Defined once by each target file (fuzz_*.c). */
extern const hkf_target_t hkf_target;

/* ---- normalization (mutator.c) ---------------------------------------- */
/* Bytes an op may request (saturating; 0 for ops that never allocate). */
uint64_t hkf_request_bytes(const vf_op_t *op);
/* Normalize t in place for limits l; returns the number of ops dropped. */
size_t hkf_normalize(vf_trace_t *t, const hkf_limits_t *l);
/* Parse data as a trace and normalize it into out, which must be
 * initialized (vf_trace_init, or a previous decode: its buffer is reused).
 * 0 on success, -1 when the bytes are not a trace (the caller rejects the
 * input). */
int hkf_decode(const uint8_t *data, size_t size, const hkf_limits_t *l,
               vf_trace_t *out);
/* The same, always by parsing: hkf_decode copies the ops of the mutator's
 * last output instead when data is that output (mutator.c); the mutator's
 * test compares the two. */
int hkf_decode_uncached(const uint8_t *data, size_t size, const hkf_limits_t *l,
                        vf_trace_t *out);

/* ---- size and alignment edges (mutator.c) ----------------------------- */
/* Interesting request sizes: +-1 around every class size, stride and usable
 * size of hakmem's class table (read from hak_stats_get when hakmem is
 * linked), every multiple of 16 up to 1 KiB, and the mid, L2.5 and whale
 * limits (64 KiB, 256 KiB, 2 MiB and their neighbours). */
size_t hkf_size_edges(const uint64_t **out);
/* API edge values: 0, 1, PTRDIFF_MAX+-1, SIZE_MAX, 2^k+-1 ... */
size_t hkf_api_edges(const uint64_t **out);
/* Alignments 1..2^20 (powers, their +-1) and impossible ones. */
size_t hkf_align_edges(const uint64_t **out);
/* The whale edges (fuzz_large's sizes): the class limit (256 KiB) and every
 * multiple of the 2 MiB superslab up to 16 MiB, each +-1, +-16 and +-one
 * page. */
size_t hkf_whale_edges(const uint64_t **out);
/* fuzz_large's alignments: every power of two from 4 KiB to 16 MiB (up to
 * 8 superslabs). */
size_t hkf_whale_align_edges(const uint64_t **out);
/* Add v-1, v, v+1 to the size edges (mutator.c). */
void hkf_add_size_edge(uint64_t v);
/* Register the class table of the linked allocator (hkf_common.c). */
void hkf_edges_add_classes(void);

/* ---- the allocator under test (hkf_common.c) ----------------------------- */
/* hakmem through every hak_* entry point: the oracle's vtable, with each
 * call routed to one of the equivalent hak_* functions chosen by the op
 * index (malloc: hak_malloc | hak_realloc(NULL) | hak_reallocarray(NULL,1);
 * realloc: hak_realloc | hak_reallocarray; memalign(4096): hak_memalign |
 * hak_valloc | hak_pvalloc; usable_size: plus hak_malloc_trim), and API
 * contracts the oracle cannot see checked on the side (posix_memalign leaves
 * *out alone on failure, reallocarray overflow is ENOMEM, ...). */
const vf_alloc_t *hkf_alloc(void);
/* The input about to run (its hash picks the inputs that get a heap walk). */
void hkf_set_input(const uint8_t *data, size_t size);
/* 1: every check in full after every input: heap walk, contents pattern
 * over whole blocks (replay driver, HKF_FULL=1); 0: the fuzzing engines'
 * cheaper form: heap walk after one input in 16, sampled pattern. */
void hkf_full_checks(int on);
/* Index used to pick the entry point when the oracle loop is ours. */
void hkf_set_op_index(uint64_t index);

/* Oracle options every target uses (pattern cap or sampling, check period). */
void hkf_oracle_opts(vf_oracle_opts_t *o);

/* The run function of the trace targets: decode the input with the
 * target's limits and replay it (multi-thread when limits.threads > 1).
 * Returns -1 for bytes that are not a trace (the engine drops them). */
int hkf_run_trace(const uint8_t *data, size_t size);
/* Replay t (normalized) against hkf_alloc() with the oracle on; threads != 0
 * uses the deterministic multi-thread scheduler.  Every block is freed and
 * the final checks run before it returns; a violation dumps the trace
 * (HKF_DUMP) and dies through hkf_die. */
void hkf_replay_checked(const vf_trace_t *t, int threads);

/* Report a failed check of target `what` and abort (a crash for the engine). */
__attribute__((noreturn, format(printf, 1, 2))) void hkf_die(const char *fmt, ...);
/* Write the normalized trace to $HKF_DUMP when set (for hakmem-minimize). */
void hkf_dump(const vf_trace_t *t);

/* ---- structure-aware mutation (mutator.c) -------------------------------- */
/* Mutate the trace held in data[0, size) (after `prefix` raw bytes) in place,
 * output at most max_size bytes, canonical binary.  Returns the new size. */
typedef size_t (*hkf_bytes_fn)(uint8_t *data, size_t size, size_t max_size);
size_t hkf_mutate(uint8_t *data, size_t size, size_t max_size, unsigned seed,
                  int profile, size_t prefix, const hkf_limits_t *l,
                  hkf_bytes_fn bytes);
size_t hkf_crossover(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                     uint8_t *out, size_t max_out, unsigned seed, size_t prefix,
                     const hkf_limits_t *l);
/* Encode ops[0, n) as a binary trace into out; returns the length written
 * (ops that do not fit are left out). */
size_t hkf_encode(const vf_op_t *ops, size_t n, uint8_t *out, size_t max);

#endif
