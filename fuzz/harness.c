/* harness.c - the one LLVMFuzzerTestOneInput of every hakmem fuzz target.
 *
 * Built from the same source for every engine (docs/fuzzing.md):
 *   - libFuzzer (preset fuzz):   linked with -fsanitize=fuzzer;
 *   - AFL++ (preset afl):        afl-clang-fast, AFL++'s libFuzzer-compatible
 *                                persistent-mode driver (libAFLDriver);
 *   - none (release/debug/hardened presets): linked with replay_main.c, a
 *                                main() that feeds files to this function.
 * The target file linked next to it (fuzz_*.c) defines `hkf_target`; this
 * file only dispatches to it and holds the shared oracle replay.
 *
 * Invariants: hakmem is reached through hakmem_core's hak_* API only (the
 * libc names are never overridden in these programs); each input frees
 * everything it allocated before returning; a violation aborts the process
 * after one "hkfuzz: <target>: ..." line, which every engine records as a
 * crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hakmem.h"
#include "hkf.h"
#include "vf_replay.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned seed);
/* libFuzzer's own byte-level mutator; absent (NULL) under other engines. */
__attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static int g_ready;

static void init_once(void) {
  if (g_ready) return;
  g_ready = 1;
  hkf_edges_add_classes();
  (void)hkf_alloc();
  if (hkf_target.init) hkf_target.init();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  init_once();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  hkf_set_input(data, size);
  return hkf_target.run(data, size);
}

/* Structure-aware mutation (mutator.c) with this target's limits.  The
 * byte-level targets (trace parser) mostly use libFuzzer's mutator and only
 * sometimes start from a well-formed trace. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed) {
  hkf_bytes_fn bytes = LLVMFuzzerMutate ? LLVMFuzzerMutate : NULL;
  if (!hkf_target.structured && bytes && seed % 4 != 0) return bytes(data, size, max_size);
  const hkf_limits_t trace_limits = HKF_LIMITS_TRACE;
  const hkf_limits_t *l = hkf_target.structured ? &hkf_target.limits : &trace_limits;
  return hkf_mutate(data, size, max_size, seed, hkf_target.profile, hkf_target.prefix, l, bytes);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned seed) {
  const hkf_limits_t trace_limits = HKF_LIMITS_TRACE;
  const hkf_limits_t *l = hkf_target.structured ? &hkf_target.limits : &trace_limits;
  return hkf_crossover(d1, s1, d2, s2, out, max_out, seed, hkf_target.prefix, l);
}

/* The decoded input, its buffer kept from one input to the next (see
 * mutator.c's g_work). */
static vf_trace_t g_input;

int hkf_run_trace(const uint8_t *data, size_t size) {
  if (hkf_decode(data, size, &hkf_target.limits, &g_input)) return -1;
  hkf_replay_checked(&g_input, hkf_target.limits.threads > 1);
  return 0;
}

void hkf_replay_checked(const vf_trace_t *t, int threads) {
  vf_oracle_opts_t o;
  vf_replay_result_t res;
  hkf_oracle_opts(&o);
  if (vf_replay(t, hkf_alloc(), &o, threads, &res) != VF_OK) {
    hkf_dump(t);
    hkf_die("%s (hakmem %s%s%s, %zu ops, %u threads)", res.message, hak_variant(),
            *hak_injected_bug() ? ", injected " : "", hak_injected_bug(), t->n,
            t->nthreads);
  }
}
