/* fuzz_trace.c - single-thread traces of the class sizes (requests up to
 * 256 KiB) through every hak_* entry point; fuzz_large takes the whales.
 *
 * Input: a hakmem trace (binary or text, docs/trace-format.md).  Normalized
 * to one thread, 256 slots, 2048 ops, requests of at most 256 KiB and 1 MiB
 * of possible requests in all (hkf.h), then
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
