/* vf_space.c - the space check beside the oracle (see vf_space.h): replay
 * with the oracle, footprint sampled against the peak of the live bytes,
 * then free-all, trim, and the footprint must come back.
 *
 * Invariants: the oracle sees every op exactly as vf_replay's serial mode
 * would (same op indexes in its reports); the bound is checked only at
 * samples, against the peak live bytes up to that op, so a footprint that
 * a past peak explains never fails; one report line, the oracle's format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vf_space.h"

void vf_space_defaults(vf_space_opts_t *o) {
  o->factor = 2.0;
  o->slack = (uint64_t)32 << 20;
  o->back_slack = (uint64_t)4 << 20;
  o->every = 64;
}

static uint64_t rss_bytes(void) {
  unsigned long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
  fclose(f);
  return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t mapped(const vf_alloc_t *a) {
  vf_stats_t s;
  memset(&s, 0, sizeof s);
  return a->stats_get && a->stats_get(&s) == 0 ? s.mapped_bytes : 0;
}

static int space_fail(vf_space_result_t *r, const vf_oracle_opts_t *oo, uint64_t idx,
                      uint64_t live, uint64_t foot, const char *why) {
  snprintf(r->message, sizeof r->message,
           "oracle: op %" PRIu64 ": space: ptr=0x0 size=%" PRIu64 " usable=%" PRIu64 " (%s)",
           idx, live, foot, why);
  if (oo && oo->report) fprintf(oo->report, "%s\n", r->message);
  return r->check = VF_CHK_SPACE;
}

/* Sample the footprint after op idx; VF_CHK_SPACE when above the bound. */
static int sample(const vf_alloc_t *a, const vf_space_opts_t *so, const vf_oracle_opts_t *oo,
                  vf_space_result_t *r, uint64_t idx) {
  uint64_t foot = mapped(a), rss = rss_bytes();
  if (rss > r->peak_rss) r->peak_rss = rss;
  if (foot > r->peak_mapped) {
    r->peak_mapped = foot;
    r->peak_op = idx;
  }
  double bound = so->factor * (double)r->peak_live + (double)so->slack;
  if ((double)foot <= bound) return VF_OK;
  char why[200];
  snprintf(why, sizeof why,
           "footprint %" PRIu64 " bytes above %.2f x peak live %" PRIu64 " + %" PRIu64,
           foot, so->factor, r->peak_live, so->slack);
  return space_fail(r, oo, idx, r->peak_live, foot, why);
}

int vf_space_replay(const vf_trace_t *t, const vf_alloc_t *a, const vf_oracle_opts_t *oo,
                    const vf_space_opts_t *so, vf_space_result_t *r) {
  vf_space_opts_t defs;
  if (!so) {
    vf_space_defaults(&defs);
    so = &defs;
  }
  memset(r, 0, sizeof *r);
  r->start_mapped = mapped(a);
  r->start_rss = r->peak_rss = rss_bytes();
  if (!r->start_mapped) return -1;
  r->peak_mapped = r->start_mapped;
  vf_oracle_t *o = vf_oracle_new(a, t->n ? t->max_slot + 1 : 1, oo);
  if (!o) return space_fail(r, NULL, 0, 0, 0, "oracle out of memory");
  int rc = VF_OK;
  uint64_t every = so->every ? so->every : 1;
  for (size_t i = 0; i < t->n && !rc; i++) {
    rc = vf_oracle_op(o, i, &t->ops[i]);
    r->ops_done++;
    uint64_t live = vf_oracle_live_req(o);
    if (live > r->peak_live) r->peak_live = live;
    if (!rc && (i + 1) % every == 0) rc = sample(a, so, oo, r, i);
  }
  if (!rc) rc = sample(a, so, oo, r, t->n);
  if (!rc) rc = vf_oracle_finish(o, t->n);
  if (rc && rc != VF_CHK_SPACE) {
    snprintf(r->message, sizeof r->message, "%s", vf_oracle_message(o));
    r->check = rc;
  }
  if (!rc) {
    if (a->trim) a->trim(0);
    r->end_mapped = mapped(a);
    r->end_rss = rss_bytes();
    if (r->end_mapped > r->start_mapped + so->back_slack) {
      char why[200];
      snprintf(why, sizeof why,
               "after free-all and trim the footprint is %" PRIu64 " bytes, %" PRIu64
               " at the start (+%" PRIu64 " allowed)",
               r->end_mapped, r->start_mapped, so->back_slack);
      rc = space_fail(r, oo, t->n, 0, r->end_mapped, why);
    }
  }
  vf_oracle_destroy(o);
  return rc;
}
