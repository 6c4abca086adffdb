/* vf_testutil.h - helpers shared by the verify cmocka tests (header-only,
 * include after <cmocka.h>): a generated trace with the common knobs.
 */
#ifndef VF_TESTUTIL_H
#define VF_TESTUTIL_H

#include "vf_trace.h"

/* Generate `ops` ops over `threads` threads and `slots` slots (0 = the
 * generator's default); impossible requests only when `impossible`. */
static inline void vf_test_gen(vf_trace_t *t, uint64_t seed, uint64_t ops,
                               unsigned threads, unsigned slots, int impossible) {
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.seed = seed;
  g.ops = ops;
  g.threads = threads;
  if (slots) g.slots = slots;
  g.impossible = impossible;
  assert_int_equal(vf_trace_gen(&g, t), 0);
}

#endif
