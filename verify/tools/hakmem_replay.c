/* hakmem_replay.c - hakmem-replay: replay a trace with the shadow-heap
 * oracle on, against hakmem (hak_* API), the system malloc, or any malloc
 * shared object.  Exit 0 when every check passes, 1 on the first violation
 * (one "oracle: op N: <check>: ..." line on stderr), 2 on usage/input errors.
 * A crash or a hang inside the allocator is reported the same way.
 * --space replays with the space check (vf_space.h): the footprint against
 * the trace's peak live bytes, and back down after free-all and trim.
 * --keep-going goes on past the findings that leave the heap usable
 * (vf_finding_fatal) and ends with one line per kind of finding, its count
 * and first op (docs/oracle.md); exit 1 when there is any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_cli.h"
#include "vf_replay.h"
#include "vf_space.h"

static void usage(void) {
  fputs("usage: hakmem-replay TRACE [options]\n"
        "  --allocator NAME   hakmem | system | jemalloc | mimalloc | tcmalloc |\n"
        "                     PATH.so (default: hakmem when built in, else system)\n"
        "  --check-every N    stats and heap walk every N ops (default 1024, 0=end only)\n"
        "  --serial           ignore thread ids: run every op on one thread\n"
        "  --no-aslr          run with address randomization off (exact repeats)\n"
        "  --misuse           carry out misuse ops (double/interior/foreign free,\n"
        "                     overflow); without it they are skipped\n"
        "  --expect-death     --misuse, and the allocator must die after the first\n"
        "                     misuse op (exit 0 when it does, 1 when it survives)\n"
        "  --strict-align     require 16-byte alignment for every request size\n"
        "  --pattern-cap N    pattern at most N bytes per block (default 64M)\n"
        "  --timeout S        report a hang after S seconds (default 0 = none)\n"
        "  --repeat N         replay N times, report the best ops/s (default 1)\n"
        "  --keep-going       go on past findings that leave the heap usable; end\n"
        "                     with one line per kind: count and first op\n"
        "  --space            the space check: footprint <= F x peak live + S, and\n"
        "                     back within B of the start after free-all + trim\n"
        "  --space-bound F,S,B  F factor, S and B in MiB (default 2,32,4)\n"
        "  -q, --quiet        print only violations\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  const char *path = NULL;
  const char *alloc_name = vf_alloc_hakmem() ? "hakmem" : "system";
  vf_oracle_opts_t oo;
  vf_oracle_defaults(&oo);
  int threads = 1, quiet = 0, strict = 0, no_aslr = 0, expect_death = 0, keep_going = 0;
  int space = 0;
  vf_space_opts_t so;
  vf_space_defaults(&so);
  static vf_findings_t findings;
  unsigned timeout = 0;
  uint64_t repeat = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--allocator") && v) alloc_name = v, i++;
    else if (!strcmp(a, "--check-every") && v) oo.check_every = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--pattern-cap") && v) oo.pattern_cap = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--timeout") && v) timeout = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--repeat") && v) repeat = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--no-aslr")) no_aslr = 1;
    else if (!strcmp(a, "--expect-death")) expect_death = oo.allow_misuse = 1;
    else if (!strcmp(a, "--misuse")) oo.allow_misuse = 1;
    else if (!strcmp(a, "--serial")) threads = 0;
    else if (!strcmp(a, "--keep-going")) keep_going = 1;
    else if (!strcmp(a, "--space")) space = 1;
    else if (!strcmp(a, "--space-bound") && v) {
      double f;
      unsigned long long sl, back;
      if (sscanf(v, "%lf,%llu,%llu", &f, &sl, &back) != 3 || f <= 0)
        vf_cli_die("hakmem-replay: --space-bound F,S,B (factor, MiB, MiB)");
      so.factor = f, so.slack = (uint64_t)sl << 20, so.back_slack = (uint64_t)back << 20;
      space = 1, i++;
    }
    else if (!strcmp(a, "--strict-align")) strict = 1;
    else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else if (a[0] == '-' && a[1]) vf_cli_die("hakmem-replay: unknown option %s", a);
    else if (!path) path = a;
    else usage();
  }
  if (!path) usage();
  if (no_aslr) vf_cli_no_aslr(argv);
  vf_trace_t t;
  char err[512];
  if (vf_trace_load(path, &t, err, sizeof err)) vf_cli_die("hakmem-replay: %s", err);
  vf_alloc_t *al = vf_cli_alloc(alloc_name, argv);
  if (strict) al->min_align = 16;
  vf_cli_crash_handlers(timeout, expect_death);
  if (keep_going && expect_death) vf_cli_die("hakmem-replay: --keep-going and --expect-death exclude each other");
  if (keep_going) {
    oo.keep_going = &findings;
    vf_cli_crash_findings(&findings);
  }
  if (space) {
    if (keep_going || expect_death || repeat > 1)
      vf_cli_die("hakmem-replay: --space runs alone (no --keep-going, --expect-death, --repeat)");
    vf_space_result_t sr;
    int rc = vf_space_replay(&t, al, &oo, &so, &sr);
    if (rc < 0) vf_cli_die("hakmem-replay: --space: %s reports no footprint (mapped bytes)", al->name);
    if (!quiet || rc)
      printf("space: %s: %llu ops, allocator %s: footprint %.1f MiB at the start, peak %.1f MiB "
             "(op %llu), %.1f MiB after free-all and trim; peak live %.1f MiB; bound %.2f x peak "
             "live + %.0f MiB; process RSS %.1f / %.1f / %.1f MiB: %s\n",
             path, (unsigned long long)sr.ops_done, al->name, sr.start_mapped / 1048576.0,
             sr.peak_mapped / 1048576.0, (unsigned long long)sr.peak_op, sr.end_mapped / 1048576.0,
             sr.peak_live / 1048576.0, so.factor, so.slack / 1048576.0, sr.start_rss / 1048576.0,
             sr.peak_rss / 1048576.0, sr.end_rss / 1048576.0, rc ? "FAILED" : "ok");
    vf_trace_free(&t);
    vf_alloc_close(al);
    return rc ? 1 : 0;
  }
  vf_replay_result_t res;
  double best = 0, best_cpu = 0;
  int rc = 0;
  for (uint64_t r = 0; r < (repeat ? repeat : 1) && !rc; r++) {
    rc = vf_replay(&t, al, &oo, threads, &res);
    if (res.seconds > 0 && res.ops_done / res.seconds > best)
      best = (double)res.ops_done / res.seconds;
    if (res.cpu_seconds > 0 && res.ops_done / res.cpu_seconds > best_cpu)
      best_cpu = (double)res.ops_done / res.cpu_seconds;
  }
  if (expect_death) {
    uint64_t mis = vf_replay_first_misuse();
    if (mis == UINT64_MAX) vf_cli_die("hakmem-replay: --expect-death: %s has no misuse op", path);
    fprintf(stderr,
            "oracle: op %llu: misuse-survived: ptr=0x0 size=0 usable=0 (%s "
            "returned from %s at op %llu; replay ended %s)\n",
            (unsigned long long)mis, al->name, vf_op_name(t.ops[mis].code),
            (unsigned long long)mis, rc ? res.message : "clean");
    rc = VF_CHK_MISUSE_SURVIVED;
  }
  if (keep_going && vf_findings_print(&findings, stderr)) rc = rc ? rc : 1;
  if (!quiet)
    printf("replay: %s: %zu ops (%llu executed, %llu skipped), %u thread(s), "
           "allocator %s: %.0f ops/s (%.0f per CPU second): %s\n",
           path, t.n, (unsigned long long)res.ops_done,
           (unsigned long long)res.skipped, t.nthreads ? t.nthreads : 1,
           al->name, best, best_cpu, rc ? "FAILED" : "ok");
  if (!quiet && al->os_failed && al->os_failed())
    printf("replay: OS fault layer: %llu mapping calls failed\n",
           (unsigned long long)al->os_failed());
  vf_trace_free(&t);
  vf_alloc_close(al);
  return rc ? 1 : 0;
}
