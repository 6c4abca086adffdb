/* vf_trace.h - allocation traces: in-memory form, parser and writers.
 *
 * A trace is a sequence of operations.  Every operation names a thread id
 * (0..VF_TRACE_MAX_THREADS-1) and, except for a thread switch, a slot id
 * (0..VF_TRACE_MAX_SLOT).  Slots are the trace's names for blocks: an
 * allocation stores its result in a slot, free/realloc/usable_size use it.
 * Any sequence of valid records is a valid trace: ops on an empty slot are
 * defined (see docs/trace-format.md), which is what lets the minimizer and the
 * fuzzers drop or mutate records freely.
 *
 * Two encodings (docs/trace-format.md): binary ("HKTR" magic, version 1,
 * varint records) and text (first line "hktrace v1", one op per line).
 * The parser takes a buffer and a length, never reads outside it, never
 * allocates more than O(len), and reports the first error with its byte or
 * line offset.
 *
 * The operations themselves and the binary record encoder are one layer
 * below, in vf_trace_enc.h (vf_trace_enc.c): the parser and writers here
 * use them, they use nothing of this file.
 */
#ifndef VF_TRACE_H
#define VF_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vf_trace_enc.h" /* the ops, vf_op_t and the binary record encoder */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vf_trace {
  vf_op_t *ops;
  size_t n, cap;
  uint32_t max_slot;  /* largest slot id used (valid when n > 0) */
  uint32_t nthreads;  /* 1 + largest tid used */
} vf_trace_t;

typedef enum vf_trace_fmt { VF_FMT_BINARY = 0, VF_FMT_TEXT = 1 } vf_trace_fmt_t;

void vf_trace_init(vf_trace_t *t);
void vf_trace_free(vf_trace_t *t);
/* Append one op; returns 0, or -1 when out of memory. */
int vf_trace_push(vf_trace_t *t, const vf_op_t *op);
/* Recompute max_slot / nthreads after editing ops[] directly. */
void vf_trace_refresh(vf_trace_t *t);

/* Name of an opcode ("malloc", ...), or NULL. */
const char *vf_op_name(unsigned code);
/* 1 when `op` is structurally valid (code, tid, slot ranges). */
int vf_op_valid(const vf_op_t *op);

/* Parse binary or text (detected from the first bytes).  Returns 0 on
 * success; on error returns -1, leaves `out` empty and writes a one-line
 * message naming the byte offset (binary) or line number (text) to err. */
int vf_trace_parse(const void *buf, size_t len, vf_trace_t *out, char *err,
                   size_t errlen);
/* The same into t (initialized, its ops discarded), reusing t's buffer:
 * for callers that parse one input after another (the fuzz targets and
 * their mutator).  On error t is left with no ops (its buffer is kept);
 * release it with vf_trace_free. */
int vf_trace_parse_reuse(const void *buf, size_t len, vf_trace_t *t, char *err,
                         size_t errlen);
/* Read a whole file ("-" = stdin) and parse it. */
int vf_trace_load(const char *path, vf_trace_t *out, char *err, size_t errlen);

/* Write the whole trace.  Returns 0, or -1 on I/O error. */
int vf_trace_write(const vf_trace_t *t, FILE *f, vf_trace_fmt_t fmt);
int vf_trace_save(const vf_trace_t *t, const char *path, vf_trace_fmt_t fmt);
/* Format one op as a text line without newline; returns snprintf result. */
int vf_trace_format_op(const vf_op_t *op, char *buf, size_t len);

/* Random trace generator (hakmem-trace gen). */
typedef struct vf_gen_opts {
  uint64_t seed;
  uint64_t ops;       /* number of ops to emit (switches included)      */
  unsigned threads;   /* 1..VF_TRACE_MAX_THREADS                        */
  unsigned slots;     /* slot ids used: 0..slots-1                      */
  unsigned profile;   /* VF_GEN_MIXED (all paths), VF_GEN_SMALL,
                         VF_GEN_REUSE (grow, free all, grow other sizes) or
                         VF_GEN_HANDOFF (threads exit with blocks live,
                         other threads free them later)                 */
  int impossible;     /* include impossible sizes/alignments (default 1) */
  int free_at_end;    /* append frees for every live slot (default 1)   */
  unsigned misuse;    /* misuse ops per 100000 ops (default 0)          */
  unsigned exits;     /* thread exits per 100000 ops (default 0)        */
  unsigned faults;    /* OS fault ops per 100000 ops (default 0)        */
  uint64_t phase_bytes; /* VF_GEN_REUSE: live bytes each phase grows to
                           (default 8 MiB)                                */
} vf_gen_opts_t;
enum { VF_GEN_MIXED = 0, VF_GEN_SMALL = 1, VF_GEN_REUSE = 2, VF_GEN_HANDOFF = 3 };
void vf_gen_defaults(vf_gen_opts_t *o);
int vf_trace_gen(const vf_gen_opts_t *o, vf_trace_t *out);
/* The class and whale boundaries the mixed profile sweeps (+-16 each):
 * every class's largest request, then 2, 4, 6 and 8 MiB; sorted. */
size_t vf_gen_boundaries(const uint64_t **out);

#ifdef __cplusplus
}
#endif
#endif
