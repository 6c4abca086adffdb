/* vf_fault.h - the oracle's side of an allocator's OS fault layer
 * (hakmem's hak_os_fault, docs/oracle.md "OS faults").
 *
 * The trace's fault ops (fault, fault_rate, reclaim: vf_trace_enc.h) go to
 * the allocator's os_fault hook (vf_alloc_t); an allocator without one
 * skips them.  Around every op the oracle reads the hook's count of failed
 * mmap/mremap calls (once a fault op of the replay has run; before, no
 * failure can be injected and nothing is read): when it rose during the
 * op, the op may fail, but only with ENOMEM (posix_memalign: returns
 * ENOMEM), and the allocator's stats and heap walk are checked right after
 * it (the heap must still be right).
 *
 * Invariants: no plan outlives a replay (vf_fault_end runs when the oracle
 * finishes or is destroyed); with no hook every function here is a no-op
 * returning 0.
 */
#ifndef VF_FAULT_H
#define VF_FAULT_H

#include <stdint.h>

#include "vf_alloc.h"
#include "vf_trace_enc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Carry out fault op `op` on a: 1 when done, 0 when a has no fault layer
 * (the op is then skipped). */
int vf_fault_op(const vf_alloc_t *a, const vf_op_t *op);
/* The count of injected mmap/mremap failures now (0 without a hook). */
uint64_t vf_fault_mark(const vf_alloc_t *a);
/* 1 when failures were injected since `mark`. */
int vf_fault_hit(const vf_alloc_t *a, uint64_t mark);
/* End every plan (map failures and reclaim mode). */
void vf_fault_end(const vf_alloc_t *a);

#ifdef __cplusplus
}
#endif
#endif
