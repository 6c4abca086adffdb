/* vf_space.h - the space check beside the oracle: an allocator's footprint
 * against the live bytes of the trace it serves.
 *
 * vf_space_replay replays a trace (one thread, every op in trace order)
 * with the shadow-heap oracle on, and samples the allocator's footprint
 * (vf_stats_t.mapped_bytes: what it holds from the OS) every `every` ops.
 * It fails the trace, with the oracle's report line and check "space",
 *   - when the footprint rises above factor * P + slack, P being the peak
 *     of the bytes the trace had live (requested) so far: memory that is
 *     neither in use nor reused grows without bound;
 *   - when, after every block is freed and the allocator trimmed
 *     (vf_alloc_t.trim, malloc_trim(0)), the footprint stays above what it
 *     was before the first op plus back_slack: memory that does not come
 *     back.
 * Any other oracle finding ends the replay the same way.  Process RSS
 * (/proc/self/statm) is reported beside it, not judged: it holds the
 * oracle's own tables too.
 */
#ifndef VF_SPACE_H
#define VF_SPACE_H

#include "vf_oracle.h"
#include "vf_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vf_space_opts {
  double factor;       /* bound: factor * peak live + slack             */
  uint64_t slack;      /* bytes                                         */
  uint64_t back_slack; /* bytes above the start after free-all + trim   */
  uint64_t every;      /* sample every N ops (and at the end)           */
} vf_space_opts_t;

typedef struct vf_space_result {
  int check;               /* VF_OK or the failing vf_check_t           */
  uint64_t ops_done;
  uint64_t start_mapped;   /* footprint before the first op             */
  uint64_t peak_mapped;    /* highest footprint sampled, at op peak_op  */
  uint64_t peak_op;
  uint64_t peak_live;      /* peak of the requested live bytes          */
  uint64_t end_mapped;     /* after free-all and trim                   */
  uint64_t start_rss, peak_rss, end_rss; /* process RSS, bytes          */
  char message[512];
} vf_space_result_t;

void vf_space_defaults(vf_space_opts_t *o);
/* Replay t against a with the oracle (oo may be NULL) and the space check.
 * Returns VF_OK, the failing check, or -1 when a reports no footprint
 * (no stats_get or mapped_bytes 0: nothing to judge). */
int vf_space_replay(const vf_trace_t *t, const vf_alloc_t *a, const vf_oracle_opts_t *oo,
                    const vf_space_opts_t *so, vf_space_result_t *r);

#ifdef __cplusplus
}
#endif
#endif
