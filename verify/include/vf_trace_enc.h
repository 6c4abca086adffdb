/* vf_trace_enc.h - trace operations and their binary encoding.
 *
 * The bottom of the trace code: the opcodes, one operation (vf_op_t), how
 * many numbers each carries, and the encoder of the binary file header and
 * of one record (docs/trace-format.md).  vf_trace_enc.c defines the
 * functions; it never allocates and calls nothing but memcpy, so the
 * LD_PRELOAD recorder links it alone.  The in-memory trace, the parser and
 * the writers (vf_trace.h, vf_trace.c) are built on this file and this file
 * on nothing of theirs.
 */
#ifndef VF_TRACE_ENC_H
#define VF_TRACE_ENC_H

#include <stddef.h>
#include <stdint.h>

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
  /* the OS fault layer (no slot; aux, size = its two numbers): the
   * allocator's hook, when it has one (hakmem's checked builds), else a
   * no-op; docs/trace-format.md */
  VF_OP_FAULT = 15,         /* mmap/mremap calls aux..aux+size-1 from
                               now fail (ENOMEM); size 0: none        */
  VF_OP_FAULT_RATE = 16,    /* each later call fails at aux/65536,
                               drawn from seed `size`                 */
  VF_OP_RECLAIM = 17,       /* MADV_FREE pages read: aux 0 as the
                               kernel does, 1 zero, 2 their contents,
                               3 either per page from seed `size`     */
  VF_OP_LAST_ = 17          /* last opcode of all                     */
} vf_opcode_t;

#define VF_OP_IS_MISUSE(c) ((c) >= VF_OP_DOUBLE_FREE && (c) <= VF_OP_OVERFLOW)
#define VF_OP_IS_FAULT(c) ((c) >= VF_OP_FAULT && (c) <= VF_OP_RECLAIM)

typedef struct vf_op {
  uint8_t code;  /* vf_opcode_t */
  uint8_t tid;   /* thread that runs the op (for SWITCH: the new thread) */
  uint16_t pad_;
  uint32_t slot;
  uint64_t size; /* bytes (calloc: element size) */
  uint64_t aux;  /* calloc: nmemb; memalign family: alignment; else 0 */
} vf_op_t;

/* 1 when the op names a slot (all but switch, thread exit and the fault
 * ops). */
static inline int vf_op_has_slot(unsigned code) {
  return code != VF_OP_SWITCH && code != VF_OP_THREAD_EXIT && !VF_OP_IS_FAULT(code);
}
/* Numbers an op carries after its slot (or its tid, for ops without one):
 * 0, 1 (size) or 2 (aux, size). */
int vf_op_nargs(unsigned code);

#define VF_TRACE_MAGIC "HKTR"
#define VF_TRACE_HEADER_LEN 8
#define VF_TRACE_MAX_RECORD 32 /* upper bound of one encoded record */
/* Write the 8-byte file header into hdr. */
void vf_trace_header(unsigned char hdr[VF_TRACE_HEADER_LEN]);
/* Encode one op into buf (>= VF_TRACE_MAX_RECORD bytes); returns length. */
size_t vf_trace_encode_op(const vf_op_t *op, unsigned char *buf);

#ifdef __cplusplus
}
#endif
#endif
