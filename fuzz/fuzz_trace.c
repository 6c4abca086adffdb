/* fuzz_trace.c - single-thread traces through every hak_* entry point.
 *
 * Input: a hakmem trace (binary or text, docs/trace-format.md).  Normalized
 * to one thread, 256 slots, 2048 ops and 4 MiB + 64 KiB of possible requests, then
 * replayed with the shadow-heap oracle on; the wrapper vtable (hkf_common.c)
 * spreads the ops over malloc/realloc(NULL)/reallocarray, valloc, pvalloc,
 * memalign, posix_memalign, aligned_alloc, calloc, usable_size and trim.
 * Invariant: the input's blocks are all freed (and verified) on return.
 */
#include "hkf.h"

const hkf_target_t hkf_target = {
    .name = "fuzz_trace",
    .run = hkf_run_trace,
    .limits = HKF_LIMITS_TRACE,
    .profile = HKF_PROF_TRACE,
    .structured = 1,
};
