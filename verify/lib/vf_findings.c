/* vf_findings.c - the findings table of a keep-going replay (hakmem-replay
 * --keep-going, vf_oracle_opts_t.keep_going): which oracle checks leave the
 * heap usable, so that the replay can go past them, and one count, first op
 * and first report line per check; the checks' names.
 *
 * Invariants: total is the sum of the kinds' counts; a kind's first/msg are
 * those of its first finding and never change after it; fatal is set once,
 * by the first fatal finding (the oracle stops there).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vf_oracle.h"

static const char *const check_names[VF_CHK_COUNT_] = {
    [VF_OK] = "ok",
    [VF_CHK_NULL] = "null",
    [VF_CHK_ERRNO] = "errno",
    [VF_CHK_MUST_FAIL] = "must-fail",
    [VF_CHK_ALIGN] = "alignment",
    [VF_CHK_USABLE] = "usable-size",
    [VF_CHK_BOUND] = "class-bound",
    [VF_CHK_USABLE_STABLE] = "usable-stable",
    [VF_CHK_OVERLAP] = "overlap",
    [VF_CHK_CONTENTS] = "contents",
    [VF_CHK_CALLOC_ZERO] = "calloc-zero",
    [VF_CHK_REALLOC] = "realloc",
    [VF_CHK_STATS] = "stats",
    [VF_CHK_HEAP] = "heap-walk",
    [VF_CHK_CRASH] = "crash",
    [VF_CHK_TIMEOUT] = "timeout",
    [VF_CHK_MISUSE_SURVIVED] = "misuse-survived",
    [VF_CHK_SPACE] = "space",
};

const char *vf_check_name(int check) {
  if (check < 0 || check >= VF_CHK_COUNT_) return "unknown";
  return check_names[check];
}

int vf_check_from_name(const char *name) {
  for (int i = 0; i < VF_CHK_COUNT_; i++)
    if (strcmp(check_names[i], name) == 0) return i;
  return -1;
}

int vf_finding_fatal(int check) {
  switch (check) {
  case VF_CHK_OVERLAP:  /* two live blocks share bytes: every later op lies */
  case VF_CHK_CONTENTS: /* the allocator wrote into a live block */
  case VF_CHK_HEAP:     /* its own walk found its structures broken */
  case VF_CHK_CRASH:
  case VF_CHK_TIMEOUT:
  case VF_CHK_MISUSE_SURVIVED:
    return 1;
  default:
    return 0;
  }
}

int vf_findings_add(vf_findings_t *f, int check, uint64_t index, const char *msg) {
  if (check <= VF_OK || check >= VF_CHK_COUNT_) return 0;
  vf_finding_t *k = &f->kind[check];
  f->total++;
  if (vf_finding_fatal(check) && !f->fatal) f->fatal = check;
  if (k->count++) return 0;
  k->first = index;
  snprintf(k->msg, sizeof k->msg, "%s", msg);
  return 1;
}

uint64_t vf_findings_print(const vf_findings_t *f, FILE *out) {
  unsigned kinds = 0;
  for (int c = VF_OK + 1; c < VF_CHK_COUNT_; c++) {
    const vf_finding_t *k = &f->kind[c];
    if (!k->count) continue;
    kinds++;
    fprintf(out, "findings: %s: %" PRIu64 ", first at op %" PRIu64 ": %s\n", vf_check_name(c),
            k->count, k->first, k->msg);
  }
  if (f->fatal)
    fprintf(out, "findings: %" PRIu64 " in %u kind(s); the replay stopped at op %" PRIu64
                 " (%s leaves the heap unusable)\n",
            f->total, kinds, f->kind[f->fatal].first, vf_check_name(f->fatal));
  else
    fprintf(out, "findings: %" PRIu64 " in %u kind(s); the replay went to the end\n", f->total,
            kinds);
  return f->total;
}
