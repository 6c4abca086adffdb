/* vf_trace_enc.c - binary trace encoder: file header and one record, and
 * how many numbers each op carries (vf_trace_enc.h).
 *
 * Kept apart from the parser so the LD_PRELOAD recorder can link it alone:
 * it never allocates, calls nothing but memcpy and includes nothing of the
 * parser's (vf_trace.h); the parser and writers (vf_trace.c) call it.  A record is the opcode
 * byte, uvarint tid, then (not for switch, exit and the fault ops) uvarint
 * slot, then the op's numbers in C argument order; see docs/trace-format.md.
 */
#include <string.h>

#include "vf_trace_enc.h"

int vf_op_nargs(unsigned code) {
  switch (code) {
  case VF_OP_MALLOC:
  case VF_OP_REALLOC:
  case VF_OP_INTERIOR_FREE:
  case VF_OP_OVERFLOW:
    return 1;
  case VF_OP_CALLOC:
  case VF_OP_POSIX_MEMALIGN:
  case VF_OP_ALIGNED_ALLOC:
  case VF_OP_MEMALIGN:
  case VF_OP_FAULT:
  case VF_OP_FAULT_RATE:
  case VF_OP_RECLAIM:
    return 2;
  default:
    return 0;
  }
}

void vf_trace_header(unsigned char hdr[VF_TRACE_HEADER_LEN]) {
  memcpy(hdr, VF_TRACE_MAGIC, 4);
  hdr[4] = VF_TRACE_VERSION;
  hdr[5] = hdr[6] = hdr[7] = 0;
}

static size_t put_uvarint(unsigned char *b, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    b[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  b[n++] = (unsigned char)v;
  return n;
}

size_t vf_trace_encode_op(const vf_op_t *op, unsigned char *buf) {
  size_t n = 0;
  buf[n++] = op->code;
  n += put_uvarint(buf + n, op->tid);
  if (vf_op_has_slot(op->code)) n += put_uvarint(buf + n, op->slot);
  int na = vf_op_nargs(op->code);
  if (na == 2) n += put_uvarint(buf + n, op->aux);
  if (na >= 1) n += put_uvarint(buf + n, op->size);
  return n;
}

