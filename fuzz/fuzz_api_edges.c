/* fuzz_api_edges.c - the API's edges: zero and huge sizes, overflowing
 * calloc and reallocarray, every alignment from 1 to 2^20 (and impossible
 * ones), realloc to and from 0 and NULL.
 *
 * Input: a hakmem trace, normalized to one thread, 32 slots, 512 ops and
 * 16 MiB of possible requests (impossible requests, >= 2^48 bytes or
 * overflowing, always run: they must fail with the right errno).  The
 * custom mutator draws this target's numbers from the API edge tables
 * (hkf_api_edges, hkf_align_edges); the oracle checks NULL/errno rules,
 * alignment and the realloc cases, and the wrapper vtable checks the
 * contracts around them (posix_memalign leaves *out alone on failure,
 * reallocarray overflow is ENOMEM, usable_size(NULL) is 0).
 */
#include "hkf.h"

const hkf_target_t hkf_target = {
    .name = "fuzz_api_edges",
    .run = hkf_run_trace,
    .limits = HKF_LIMITS_EDGES,
    .profile = HKF_PROF_EDGES,
    .structured = 1,
};
