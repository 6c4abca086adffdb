/* vf_oracle.h - the shadow-heap oracle.
 *
 * The oracle executes trace operations against an allocator (vf_alloc_t) and
 * mirrors every live block: address, requested size, usable size and a block
 * id.  After each operation it checks the result (BRIEF section 5):
 * NULL/errno, alignment, usable size and class bound, no overlap over the
 * full usable range (ordered tree, O(log n)), per-block contents pattern over
 * the whole usable range (verified at free and realloc), calloc zeroing,
 * realloc prefix and its NULL/0 cases, the allocator's live-set stats, and
 * its heap walk.
 *
 * The first failure stops the oracle: it records the check and one report
 * line `oracle: op <index>: <check>: ptr=0x... size=... usable=... (detail)`
 * and every later call returns that same check.  With opts.keep_going (a
 * findings table, vf_findings_t) a finding that leaves the heap usable is
 * counted there instead and the op goes on as if it had passed (see
 * vf_finding_fatal for which do not); the first fatal one stops the oracle
 * as above and is counted too.  The oracle is not
 * thread-safe; the multi-thread replayer runs one thread at a time.
 *
 * Misuse ops (double, interior and foreign frees, overflows past the usable
 * end) are skipped unless opts.allow_misuse is set; then they are carried
 * out as asked; the model then treats a double-freed block
 * as freed and leaves everything else as it was, so an allocator that
 * survives the misuse is still checked (it must never hand out an
 * overlapping block).  Overflow bytes that would land inside another live
 * block are skipped, so the oracle never blames the allocator for the
 * harness's own writes.
 */
#ifndef VF_ORACLE_H
#define VF_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vf_alloc.h"
#include "vf_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vf_check {
  VF_OK = 0,
  VF_CHK_NULL,          /* NULL where the request was possible          */
  VF_CHK_ERRNO,         /* NULL with the wrong errno / return code      */
  VF_CHK_MUST_FAIL,     /* success for an impossible size or alignment  */
  VF_CHK_ALIGN,         /* pointer not aligned to 16 / the request      */
  VF_CHK_USABLE,        /* usable size smaller than the request         */
  VF_CHK_BOUND,         /* usable size above the allocator's class bound */
  VF_CHK_USABLE_STABLE, /* usable_size changed for a live block         */
  VF_CHK_OVERLAP,       /* [p, p+usable) overlaps another live block    */
  VF_CHK_CONTENTS,      /* block pattern damaged while the block was live */
  VF_CHK_CALLOC_ZERO,   /* calloc returned non-zero bytes               */
  VF_CHK_REALLOC,       /* realloc lost the prefix or broke NULL/0 rules */
  VF_CHK_STATS,         /* allocator's live-set stats disagree          */
  VF_CHK_HEAP,          /* allocator's heap walk reported problems      */
  VF_CHK_CRASH,         /* the allocator crashed (replayer-level)       */
  VF_CHK_TIMEOUT,       /* the replay hung (replayer-level)             */
  VF_CHK_MISUSE_SURVIVED, /* --expect-death: a misuse op did not kill it */
  VF_CHK_SPACE,         /* footprint above its bound (vf_space.h)        */
  VF_CHK_COUNT_
} vf_check_t;

const char *vf_check_name(int check);
/* Inverse of vf_check_name; -1 when unknown. */
int vf_check_from_name(const char *name);

/* Findings of a keep-going replay: per check, how many and the first one. */
typedef struct vf_finding {
  uint64_t count;
  uint64_t first;    /* op index of the first */
  char msg[256];     /* its report line (cut) */
} vf_finding_t;
typedef struct vf_findings {
  vf_finding_t kind[VF_CHK_COUNT_];
  uint64_t total;
  int fatal;         /* the check that stopped the replay, 0 when none */
} vf_findings_t;

/* 1 when a failed check leaves the heap unusable, so a keep-going replay
 * must stop there: overlapping blocks, contents damaged while live, a heap
 * walk complaint, crashes and hangs (and the oracle's own out-of-memory).
 * Wrong NULLs and errnos, impossible requests that succeed (the block is
 * freed again), alignment, usable-size, class-bound, calloc-zero, realloc
 * and stats findings leave it usable: the block is adopted as returned. */
int vf_finding_fatal(int check);
/* Count one finding (vf_findings.c); 1 when it is the first of its kind. */
int vf_findings_add(vf_findings_t *f, int check, uint64_t index, const char *msg);
/* One line per kind found, "findings: <check>: <count>, first at op <i>:
 * <first report line>", then a total line.  Returns the total. */
uint64_t vf_findings_print(const vf_findings_t *f, FILE *out);

typedef struct vf_oracle_opts {
  uint64_t check_every;   /* stats + heap walk every N ops (0 = only at end) */
  size_t pattern_cap;     /* pattern at most this many bytes of a block      */
  int pattern_sample;     /* 1: pattern only in sample windows of a block
                             (vf_pattern_windows; fuzzing engines), 0: all  */
  uint64_t soft_limit;    /* NULL+ENOMEM is tolerated for requests >= this   */
  int verify_all_at_end;  /* vf_oracle_finish frees all blocks, verifying     */
  int allow_misuse;       /* carry out misuse ops (default 0: skip them)    */
  vf_findings_t *keep_going; /* non-NULL: count findings that leave the heap
                             usable here and go on (NULL: stop at the first) */
  FILE *report;           /* where the failure line goes (NULL = none)       */
} vf_oracle_opts_t;

typedef struct vf_oracle vf_oracle_t;

void vf_oracle_defaults(vf_oracle_opts_t *o);
/* nslots: slot ids 0..nslots-1 are addressable.  NULL when out of memory. */
vf_oracle_t *vf_oracle_new(const vf_alloc_t *a, uint32_t nslots,
                           const vf_oracle_opts_t *o);
/* Execute and check op number `index`.  Returns VF_OK or the failing check.
 * SWITCH ops are accepted and ignored (the replayer schedules threads). */
int vf_oracle_op(vf_oracle_t *o, uint64_t index, const vf_op_t *op);
/* Stats and heap-walk checks now (also done every check_every ops). */
int vf_oracle_check_now(vf_oracle_t *o, uint64_t index);
/* Free every live block (verifying contents) and run the final checks. */
int vf_oracle_finish(vf_oracle_t *o, uint64_t index);
/* Make o a new oracle for allocator a (as vf_oracle_new(a, nslots, opt)
 * would), keeping the memory of its tables, for callers that check one
 * trace after another.  Only an oracle that has not failed and holds no
 * live block (vf_oracle_finish returned VF_OK) can be reset: 0, else -1
 * (also when out of memory), and o is then to be destroyed. */
int vf_oracle_reset(vf_oracle_t *o, const vf_alloc_t *a, uint32_t nslots,
                    const vf_oracle_opts_t *opt);
void vf_oracle_destroy(vf_oracle_t *o);

int vf_oracle_failed(const vf_oracle_t *o);       /* failing check or 0 */
const char *vf_oracle_message(const vf_oracle_t *o); /* report line or "" */
uint64_t vf_oracle_fail_index(const vf_oracle_t *o);
uint64_t vf_oracle_live(const vf_oracle_t *o);     /* live blocks */
uint64_t vf_oracle_live_req(const vf_oracle_t *o); /* sum of requested sizes */
uint64_t vf_oracle_skipped(const vf_oracle_t *o);  /* ops on empty slots etc */
uint64_t vf_oracle_misuses(const vf_oracle_t *o);  /* misuse ops carried out */

/* Block contents pattern, exposed for tests. */
void vf_pattern_fill(void *p, size_t n, uint64_t id);
/* Offset of the first byte that differs from the pattern, or SIZE_MAX. */
size_t vf_pattern_check(const void *p, size_t n, uint64_t id);
/* Sampled pattern (opts.pattern_sample): a range of n bytes is patterned
 * whole up to VF_PAT_SAMPLE_WHOLE bytes; above, only in windows: the first
 * and last VF_PAT_SAMPLE_EDGE bytes, VF_PAT_SAMPLE_WIN bytes around every
 * power of two from 4 KiB (page and size-doubling edges, where layout,
 * trim and copy-length bugs land), and VF_PAT_SAMPLE_RAND windows at
 * offsets drawn from the block id (so any inner page gets checked across
 * blocks, reproducibly).  Byte k of a window holds the same value as in the
 * full pattern. */
#define VF_PAT_SAMPLE_WHOLE 4096
#define VF_PAT_SAMPLE_EDGE 256
#define VF_PAT_SAMPLE_WIN 64
#define VF_PAT_SAMPLE_RAND 4
#define VF_PAT_MAX_WINDOWS 64
typedef struct vf_pat_window {
  size_t lo, hi; /* [lo, hi) */
} vf_pat_window_t;
/* The windows of a range of n bytes of block id, sorted by lo (they may
 * overlap); returns their count (at most VF_PAT_MAX_WINDOWS). */
size_t vf_pattern_windows(size_t n, uint64_t id, vf_pat_window_t *w);
/* Pattern bytes [lo, hi) of block id at p (p is the block start). */
void vf_pattern_fill_range(void *p, size_t lo, size_t hi, uint64_t id);
/* First bad offset in [lo, hi), or SIZE_MAX. */
size_t vf_pattern_check_range(const void *p, size_t lo, size_t hi, uint64_t id);
/* Fill the windows of a range of n bytes. */
void vf_pattern_fill_sampled(void *p, size_t n, uint64_t id);
/* Check the windows of a range of n bytes that lie below lim (lim <= n):
 * the lowest bad offset, or SIZE_MAX. */
size_t vf_pattern_check_sampled(const void *p, size_t n, size_t lim, uint64_t id);
/* Expected pattern byte at offset `off` of block `id`. */
unsigned char vf_pattern_byte(uint64_t id, size_t off);

#ifdef __cplusplus
}
#endif
#endif
