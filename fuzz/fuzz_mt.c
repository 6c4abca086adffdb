/* fuzz_mt.c - multi-thread traces under the deterministic scheduler.
 *
 * Input: a hakmem trace.  Thread ids are folded onto 4 threads (t0..t3), so
 * a trace runs on 2 to 4 threads; the verify replayer's scheduler lets
 * exactly one thread run at a time and passes the token at each switch, so
 * cross-thread (remote) frees, remote-queue drains, thread exit with live
 * blocks (abandoned slabs) and adoption happen in trace order and every
 * crash reproduces.  Limits: 1024 ops, 256 slots, 16 MiB of requests.
 *
 * Forced races (checked builds, hak_race_hook): the input's bytes also
 * choose, race point by race point, which compare-and-swap attempts of the
 * remote-free push and the slab park are lost: decision k takes bits 2k
 * and 2k+1 of the input, read round and round, and fires when both are set
 * (one in four).  Only one thread runs at a time, so a lost attempt is the
 * retry path taken, in an order the input fixes: the same input makes the
 * same choices.  (Yield points consume their decision too; nothing yields,
 * there is no other thread to run.)
 *
 * Invariant: all worker threads have exited, and every block is freed, when
 * an input returns; the hook is off between inputs.
 */
#include <stdatomic.h>

#include "hakmem.h"
#include "hkf.h"

typedef struct race_bits {
  const uint8_t *data;
  size_t bits;
  _Atomic size_t next; /* the next decision's bit */
} race_bits_t;

static int race_decide(unsigned point, void *arg) {
  race_bits_t *r = arg;
  (void)point;
  size_t k = atomic_fetch_add_explicit(&r->next, 2, memory_order_relaxed);
  size_t a = k % r->bits, b = (k + 1) % r->bits;
  return (r->data[a / 8] >> (a % 8) & 1) && (r->data[b / 8] >> (b % 8) & 1);
}

static int run_mt(const uint8_t *data, size_t size) {
  race_bits_t r = {data, size * 8, 0};
  int hooked = size != 0 && hak_race_hook(race_decide, &r) == 0;
  int rc = hkf_run_trace(data, size);
  if (hooked) hak_race_hook(NULL, NULL);
  return rc;
}

const hkf_target_t hkf_target = {
    .name = "fuzz_mt",
    .run = run_mt,
    .limits = HKF_LIMITS_MT,
    .profile = HKF_PROF_MT,
    .structured = 1,
};
