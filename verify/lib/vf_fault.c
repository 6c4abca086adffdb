/* vf_fault.c - trace fault ops to the allocator's OS fault layer, and the
 * count the oracle reads to excuse an op's ENOMEM (see vf_fault.h).
 *
 * The op's numbers are passed on as they are: fault aux size -> map plan
 * (calls aux..aux+size-1 from now), fault_rate aux size -> rate aux/65536
 * from seed size, reclaim aux size -> mode aux (0 kernel, 1 zero, 2 dirty,
 * 3 mixed) from seed size; hak_os_fault's kinds 1, 2, 3 (hakmem.h), so the
 * layer itself decides what a number means.
 * Invariant: calls nothing but the hooks of the vf_alloc_t it is given.
 */
#include "vf_fault.h"

int vf_fault_op(const vf_alloc_t *a, const vf_op_t *op) {
  if (!a->os_fault || !VF_OP_IS_FAULT(op->code)) return 0;
  int kind = op->code == VF_OP_FAULT ? 1 : op->code == VF_OP_FAULT_RATE ? 2 : 3;
  /* a mode the layer does not know is one of its own (aux modulo 4), so
   * that every record of a fuzzed trace means something */
  uint64_t aux = op->code == VF_OP_RECLAIM ? op->aux % 4 : op->aux;
  return a->os_fault(kind, aux, op->size) == 0;
}

uint64_t vf_fault_mark(const vf_alloc_t *a) { return a->os_failed ? a->os_failed() : 0; }

int vf_fault_hit(const vf_alloc_t *a, uint64_t mark) {
  return a->os_failed && a->os_failed() != mark;
}

void vf_fault_end(const vf_alloc_t *a) {
  if (a->os_fault) a->os_fault(0, 0, 0);
}
