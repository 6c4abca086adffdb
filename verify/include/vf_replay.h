/* vf_replay.h - replay a trace through the oracle, single- or multi-thread.
 *
 * Multi-thread replay is deterministic: one worker thread per trace thread
 * id, and exactly one worker runs at a time.  The running worker holds the
 * token and passes it on at each SWITCH op (or when the next op names
 * another thread), so remote frees happen in trace order on every run.  A
 * THREAD_EXIT op ends its worker (its thread caches go back); a later op of
 * that id runs on a new worker.  The calling thread only waits.
 */
#ifndef VF_REPLAY_H
#define VF_REPLAY_H

#include "vf_oracle.h"
#include "vf_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vf_replay_result {
  int check;         /* VF_OK or the failing vf_check_t */
  uint64_t index;    /* op index of the failure */
  uint64_t ops_done; /* ops executed */
  uint64_t skipped;  /* ops on empty slots (no-ops) */
  double seconds;    /* wall time of the replay loop */
  double cpu_seconds; /* process CPU time of the replay loop */
  char message[512]; /* the oracle's report line, "" when clean */
} vf_replay_result_t;

/* Replay `t` against `a`.  opts may be NULL (defaults).  When the trace uses
 * more than one thread id and threads != 0 the deterministic multi-thread
 * scheduler is used; otherwise all ops run on the calling thread. */
int vf_replay(const vf_trace_t *t, const vf_alloc_t *a,
              const vf_oracle_opts_t *opts, int threads,
              vf_replay_result_t *res);

/* Index of the op being executed (for crash handlers); UINT64_MAX if none. */
uint64_t vf_replay_current_op(void);
/* Index of the first misuse op executed by the running (or last) replay;
 * UINT64_MAX if none. */
uint64_t vf_replay_first_misuse(void);

#ifdef __cplusplus
}
#endif
#endif
