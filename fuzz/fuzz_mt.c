/* fuzz_mt.c - multi-thread traces under the deterministic scheduler.
 *
 * Input: a hakmem trace.  Thread ids are folded onto 4 threads (t0..t3), so
 * a trace runs on 2 to 4 threads; the verify replayer's scheduler lets
 * exactly one thread run at a time and passes the token at each switch, so
 * cross-thread (remote) frees, remote-queue drains, thread exit with live
 * blocks (abandoned slabs) and adoption happen in trace order and every
 * crash reproduces.  Limits: 1024 ops, 256 slots, 16 MiB of requests.
 * Invariant: all worker threads have exited, and every block is freed, when
 * an input returns.
 */
#include "hkf.h"

const hkf_target_t hkf_target = {
    .name = "fuzz_mt",
    .run = hkf_run_trace,
    .limits = HKF_LIMITS_MT,
    .profile = HKF_PROF_MT,
    .structured = 1,
};
