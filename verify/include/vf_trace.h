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
 */
#ifndef VF_TRACE_H
#define VF_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VF_TRACE_VERSION 1
#define VF_TRACE_MAX_THREADS 64
#define VF_TRACE_MAX_SLOT ((1u << 20) - 1)

typedef enum vf_opcode {
  VF_OP_MALLOC = 1,         /* slot = malloc(size)                    */
  VF_OP_CALLOC = 2,         /* slot = calloc(aux, size)   aux = nmemb */
  VF_OP_REALLOC = 3,        /* slot = realloc(slot, size)             */
  VF_OP_FREE = 4,           /* free(slot)                             */
  VF_OP_POSIX_MEMALIGN = 5, /* posix_memalign(&slot, aux, size)       */
  VF_OP_ALIGNED_ALLOC = 6,  /* slot = aligned_alloc(aux, size)        */
  VF_OP_MEMALIGN = 7,       /* slot = memalign(aux, size)             */
  VF_OP_USABLE_SIZE = 8,    /* malloc_usable_size(slot)               */
  VF_OP_SWITCH = 9,         /* hand the token to thread `tid`         */
  VF_OP_MAX_ = 9,           /* last ordinary op                       */
  /* misuse (the allocator is expected to reject or die, see docs); the
   * oracle skips these unless vf_oracle_opts_t.allow_misuse is set */
  VF_OP_DOUBLE_FREE = 10,   /* free(slot); free(slot)                 */
  VF_OP_INTERIOR_FREE = 11, /* free(slot + size)     size = offset    */
  VF_OP_FOREIGN_FREE = 12,  /* free(a pointer no allocator made)      */
  VF_OP_OVERFLOW = 13,      /* write `size` bytes past slot's usable end */
  VF_OP_MISUSE_MAX_ = 13,   /* last misuse op                         */
  VF_OP_THREAD_EXIT = 14,   /* thread `tid` exits (a later op for `tid`
                               runs on a new thread)                  */
  VF_OP_LAST_ = 14          /* last opcode of all                     */
} vf_opcode_t;

#define VF_OP_IS_MISUSE(c) ((c) >= VF_OP_DOUBLE_FREE && (c) <= VF_OP_OVERFLOW)

typedef struct vf_op {
  uint8_t code;  /* vf_opcode_t */
  uint8_t tid;   /* thread that runs the op (for SWITCH: the new thread) */
  uint16_t pad_;
  uint32_t slot;
  uint64_t size; /* bytes (calloc: element size) */
  uint64_t aux;  /* calloc: nmemb; memalign family: alignment; else 0 */
} vf_op_t;

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
/* 1 when the op names a slot (all but switch and thread exit). */
static inline int vf_op_has_slot(unsigned code) {
  return code != VF_OP_SWITCH && code != VF_OP_THREAD_EXIT;
}
/* Numbers an op carries after its slot: 0, 1 (size) or 2 (aux, size). */
int vf_op_nargs(unsigned code);
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

/* Binary encoding helpers (also used by the LD_PRELOAD recorder). */
#define VF_TRACE_MAGIC "HKTR"
#define VF_TRACE_HEADER_LEN 8
#define VF_TRACE_MAX_RECORD 32 /* upper bound of one encoded record */
/* Write the 8-byte file header into hdr. */
void vf_trace_header(unsigned char hdr[VF_TRACE_HEADER_LEN]);
/* Encode one op into buf (>= VF_TRACE_MAX_RECORD bytes); returns length. */
size_t vf_trace_encode_op(const vf_op_t *op, unsigned char *buf);

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
  unsigned profile;   /* VF_GEN_MIXED (all paths), VF_GEN_SMALL, or
                         VF_GEN_REUSE (grow, free all, grow other sizes) */
  int impossible;     /* include impossible sizes/alignments (default 1) */
  int free_at_end;    /* append frees for every live slot (default 1)   */
  unsigned misuse;    /* misuse ops per 100000 ops (default 0)          */
  unsigned exits;     /* thread exits per 100000 ops (default 0)        */
  uint64_t phase_bytes; /* VF_GEN_REUSE: live bytes each phase grows to
                           (default 8 MiB)                                */
} vf_gen_opts_t;
enum { VF_GEN_MIXED = 0, VF_GEN_SMALL = 1, VF_GEN_REUSE = 2 };
void vf_gen_defaults(vf_gen_opts_t *o);
int vf_trace_gen(const vf_gen_opts_t *o, vf_trace_t *out);
/* The class and whale boundaries the mixed profile sweeps (+-16 each):
 * every class's largest request, then 2, 4, 6 and 8 MiB; sorted. */
size_t vf_gen_boundaries(const uint64_t **out);

#ifdef __cplusplus
}
#endif
#endif
