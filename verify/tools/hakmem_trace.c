/* hakmem_trace.c - hakmem-trace: make, convert, summarize and record traces.
 *
 *   hakmem-trace gen [--seed N] [--ops N] [--threads N] [--slots N]
 *                    [--profile mixed|small|reuse|handoff] [--phase-bytes N] [--no-impossible] [--misuse N]
 *                    [--exits N] [--faults N] [--text] -o FILE
 *   hakmem-trace convert IN -o OUT [--text|--binary] [--head N]
 *   hakmem-trace stats TRACE
 *   hakmem-trace record -o FILE [--text] -- PROGRAM ARGS...
 *
 * `record` runs PROGRAM with libhakmem_recorder.so preloaded (found next to
 * this binary in ../lib, or via $HAKMEM_RECORDER).  FILE may contain %p for
 * the pid (every process records); without it only PROGRAM's own process
 * records (across its execs; children do not).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf_cli.h"
#include "vf_trace.h"

static void usage(void) {
  fputs("usage: hakmem-trace gen [--seed N] [--ops N] [--threads N] [--slots N]\n"
        "                        [--profile mixed|small|reuse|handoff] [--phase-bytes N] [--no-impossible] [--misuse N]\n"
        "                        [--exits N] [--faults N] [--text] -o FILE  (N per 100000 ops)\n"
        "       hakmem-trace convert IN -o OUT [--text|--binary] [--head N]\n"
        "       hakmem-trace stats TRACE\n"
        "       hakmem-trace record -o FILE [--text] -- PROGRAM [ARGS...]\n",
        stderr);
  exit(2);
}

static void save_or_die(const vf_trace_t *t, const char *out, vf_trace_fmt_t fmt) {
  if (vf_trace_save(t, out, fmt))
    vf_cli_die("hakmem-trace: cannot write %s: %s", out, strerror(errno));
}

static int cmd_gen(int argc, char **argv) {
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  const char *out = NULL;
  vf_trace_fmt_t fmt = VF_FMT_BINARY;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--seed") && v) g.seed = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--ops") && v) g.ops = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--threads") && v) g.threads = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--slots") && v) g.slots = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--profile") && v) {
      if (!strcmp(v, "mixed")) g.profile = VF_GEN_MIXED;
      else if (!strcmp(v, "small")) g.profile = VF_GEN_SMALL;
      else if (!strcmp(v, "reuse")) g.profile = VF_GEN_REUSE;
      else if (!strcmp(v, "handoff")) g.profile = VF_GEN_HANDOFF;
      else vf_cli_die("--profile: mixed, small, reuse or handoff");
      i++;
    } else if (!strcmp(a, "--no-impossible")) g.impossible = 0;
    else if (!strcmp(a, "--misuse") && v) g.misuse = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--exits") && v) g.exits = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--faults") && v) g.faults = (unsigned)vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--phase-bytes") && v) g.phase_bytes = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--text")) fmt = VF_FMT_TEXT;
    else if (!strcmp(a, "-o") && v) out = v, i++;
    else usage();
  }
  if (!out) usage();
  if (g.threads < 1 || g.threads > VF_TRACE_MAX_THREADS)
    vf_cli_die("--threads: 1..%d", VF_TRACE_MAX_THREADS);
  if (g.slots < 1 || g.slots > VF_TRACE_MAX_SLOT + 1)
    vf_cli_die("--slots: 1..%u", VF_TRACE_MAX_SLOT + 1);
  vf_trace_t t;
  if (vf_trace_gen(&g, &t)) vf_cli_die("hakmem-trace gen: out of memory");
  save_or_die(&t, out, fmt);
  vf_trace_free(&t);
  return 0;
}

static int cmd_convert(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  int fmt = -1;
  uint64_t head = UINT64_MAX;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-o") && v) out = v, i++;
    else if (!strcmp(a, "--head") && v) head = vf_cli_u64(a, v), i++;
    else if (!strcmp(a, "--text")) fmt = VF_FMT_TEXT;
    else if (!strcmp(a, "--binary")) fmt = VF_FMT_BINARY;
    else if (!in) in = a;
    else usage();
  }
  if (!in || !out) usage();
  FILE *f = strcmp(in, "-") ? fopen(in, "rb") : NULL;
  int in_text = 0;
  if (f) {
    char m[4] = {0};
    in_text = fread(m, 1, 4, f) == 4 && memcmp(m, VF_TRACE_MAGIC, 4) != 0;
    fclose(f);
  }
  size_t ol = strlen(out);
  if (fmt < 0 && ol > 4 && !strcmp(out + ol - 4, ".txt")) fmt = VF_FMT_TEXT;
  if (fmt < 0 && ol > 5 && !strcmp(out + ol - 5, ".hktr")) fmt = VF_FMT_BINARY;
  if (fmt < 0) fmt = in_text ? VF_FMT_BINARY : VF_FMT_TEXT;
  vf_trace_t t;
  char err[512];
  if (vf_trace_load(in, &t, err, sizeof err)) vf_cli_die("hakmem-trace: %s", err);
  if (head < t.n) { /* any prefix is a valid trace; live blocks are freed at the end */
    t.n = (size_t)head;
    vf_trace_refresh(&t);
  }
  save_or_die(&t, out, (vf_trace_fmt_t)fmt);
  vf_trace_free(&t);
  return 0;
}

static int cmd_stats(int argc, char **argv) {
  if (argc != 1) usage();
  vf_trace_t t;
  char err[512];
  if (vf_trace_load(argv[0], &t, err, sizeof err)) vf_cli_die("hakmem-trace: %s", err);
  uint64_t count[VF_OP_LAST_ + 1] = {0}, hist[65] = {0};
  uint64_t *live = calloc((size_t)t.max_slot + 1, sizeof *live);
  if (!live) vf_cli_die("out of memory");
  uint64_t live_bytes = 0, peak_bytes = 0, live_blocks = 0, peak_blocks = 0;
  uint64_t max_size = 0, impossible = 0;
  for (size_t i = 0; i < t.n; i++) {
    const vf_op_t *op = &t.ops[i];
    count[op->code]++;
    if (!vf_op_has_slot(op->code) || op->code == VF_OP_USABLE_SIZE) continue;
    if (VF_OP_IS_MISUSE(op->code) && op->code != VF_OP_DOUBLE_FREE) continue;
    uint64_t *s = &live[op->slot];
    if (op->code == VF_OP_FREE || op->code == VF_OP_REALLOC ||
        op->code == VF_OP_DOUBLE_FREE) {
      if (*s) live_blocks--;
      live_bytes -= *s ? *s - 1 : 0;
      *s = 0;
      if (op->code != VF_OP_REALLOC) continue;
    }
    uint64_t size = op->size;
    if (op->code == VF_OP_CALLOC && __builtin_mul_overflow(op->aux, op->size, &size))
      size = UINT64_MAX;
    if (size > (uint64_t)PTRDIFF_MAX) {
      impossible++;
      continue;
    }
    hist[size ? 64 - __builtin_clzll(size) : 0]++;
    if (size > max_size) max_size = size;
    if (*s) live_blocks--, live_bytes -= *s - 1; /* overwritten slot */
    *s = size + 1;
    live_bytes += size;
    live_blocks++;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    if (live_blocks > peak_blocks) peak_blocks = live_blocks;
  }
  printf("trace: %s\nops: %zu  threads: %u  slots: %u\n", argv[0], t.n,
         t.nthreads, t.n ? t.max_slot + 1 : 0);
  for (unsigned c = 1; c <= VF_OP_LAST_; c++)
    if (count[c]) printf("  %-15s %llu\n", vf_op_name(c), (unsigned long long)count[c]);
  printf("peak live bytes (requested): %llu  peak live blocks: %llu\n",
         (unsigned long long)peak_bytes, (unsigned long long)peak_blocks);
  printf("largest possible request: %llu  impossible requests: %llu\n",
         (unsigned long long)max_size, (unsigned long long)impossible);
  printf("size histogram (requests, by power of two):\n");
  for (int b = 0; b < 65; b++) {
    if (!hist[b]) continue;
    unsigned long long lo = b ? 1ull << (b - 1) : 0, hi = b ? (1ull << (b - 1)) * 2 - 1 : 0;
    printf("  %12llu .. %-12llu %llu\n", lo, hi, (unsigned long long)hist[b]);
  }
  free(live);
  vf_trace_free(&t);
  return 0;
}

/* Locate libhakmem_recorder.so: $HAKMEM_RECORDER, else ../lib next to us. */
static void recorder_path(char *buf, size_t len) {
  const char *env = getenv("HAKMEM_RECORDER");
  if (env && *env) {
    snprintf(buf, len, "%s", env);
    return;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) vf_cli_die("hakmem-trace: cannot find myself; set HAKMEM_RECORDER");
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(buf, len, "%s/../lib/libhakmem_recorder.so", self);
  if (access(buf, R_OK) != 0)
    snprintf(buf, len, "%s/libhakmem_recorder.so", self);
  if (access(buf, R_OK) != 0)
    vf_cli_die("hakmem-trace: libhakmem_recorder.so not found; set HAKMEM_RECORDER");
}

static int cmd_record(int argc, char **argv) {
  const char *out = NULL;
  int i = 0, text = 0;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--text")) text = 1;
    else usage();
  }
  if (!out || i + 1 >= argc) usage();
  char lib[PATH_MAX + 64], pre[2 * PATH_MAX];
  recorder_path(lib, sizeof lib);
  char *abs = realpath(lib, NULL);
  const char *old = getenv("LD_PRELOAD");
  snprintf(pre, sizeof pre, "%s%s%s", abs ? abs : lib, old && *old ? " " : "",
           old ? old : "");
  free(abs);
  int has_pid = strstr(out, "%p") != NULL;
  char *bin_out = NULL;
  if (text && asprintf(&bin_out, "%s.hktr.tmp", out) < 0) vf_cli_die("out of memory");
  if (!has_pid) unlink(text ? bin_out : out);
  pid_t pid = fork();
  if (pid < 0) vf_cli_die("fork: %s", strerror(errno));
  if (pid == 0) {
    setenv("LD_PRELOAD", pre, 1);
    setenv("HAKMEM_TRACE_OUT", text ? bin_out : out, 1);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("HAKMEM_TRACE_PID", pid, 1);
    execvp(argv[i + 1], argv + i + 1);
    fprintf(stderr, "hakmem-trace record: %s: %s\n", argv[i + 1], strerror(errno));
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (text && !has_pid) {
    vf_trace_t t;
    char err[512];
    if (vf_trace_load(bin_out, &t, err, sizeof err)) vf_cli_die("hakmem-trace: %s", err);
    save_or_die(&t, out, VF_FMT_TEXT);
    vf_trace_free(&t);
    unlink(bin_out);
  }
  free(bin_out);
  if (code) fprintf(stderr, "hakmem-trace record: program exited with %d\n", code);
  return code;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *cmd = argv[1];
  if (!strcmp(cmd, "gen")) return cmd_gen(argc - 2, argv + 2);
  if (!strcmp(cmd, "convert")) return cmd_convert(argc - 2, argv + 2);
  if (!strcmp(cmd, "stats")) return cmd_stats(argc - 2, argv + 2);
  if (!strcmp(cmd, "record")) return cmd_record(argc - 2, argv + 2);
  usage();
}
