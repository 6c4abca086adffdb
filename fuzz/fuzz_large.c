/* fuzz_large.c - single-thread traces of the whale sizes (requests above
 * 256 KiB) and large alignments, through every hak_* entry point.
 *
 * fuzz_trace's other half (issue 17): fuzz_trace keeps the class range (up
 * to 256 KiB), this target the blocks that are mappings of their own (whale.c):
 * fresh and cached mappings, splits and merges in the whale cache, growth
 * by mremap, guard pages, calloc of reused mappings, malloc_trim, and
 * alignments up to 16 MiB (8 superslabs), next to class blocks.  Input: a
 * hakmem trace, normalized to one thread, 64 slots, 256 ops and 16 MiB +
 * 320 KiB of possible requests (hkf.h), replayed with the shadow-heap oracle
 * on, on the same harness (harness.c) as every target.
 * Invariant: the input's blocks are all freed (and verified) on return.
 */
#include "hkf.h"

const hkf_target_t hkf_target = {
    .name = "fuzz_large",
    .run = hkf_run_trace,
    .limits = HKF_LIMITS_LARGE,
    .profile = HKF_PROF_LARGE,
    .structured = 1,
};
