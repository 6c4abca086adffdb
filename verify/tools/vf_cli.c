/* vf_cli.c - helpers shared by the verify tools (see vf_cli.h).
 * The signal handlers only use async-signal-safe calls (write, signal,
 * raise) and format numbers by hand.
 */
#include <signal.h>
#include <sys/personality.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf_cli.h"
#include "vf_replay.h"

void vf_cli_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(2);
}

uint64_t vf_cli_u64(const char *opt, const char *s) {
  char *end;
  if (!s || !*s || *s == '-') vf_cli_die("%s: expected a number", opt);
  unsigned long long v = strtoull(s, &end, 0);
  unsigned shift = 0;
  if (*end == 'k' || *end == 'K') shift = 10, end++;
  else if (*end == 'm' || *end == 'M') shift = 20, end++;
  else if (*end == 'g' || *end == 'G') shift = 30, end++;
  if (*end) vf_cli_die("%s: bad number '%s'", opt, s);
  return (uint64_t)v << shift;
}

/* jemalloc uses initial-exec TLS, which a dlopen'ed object only gets from
 * the surplus static TLS; glibc lets a process ask for more at start-up.
 * So on that error, run ourselves again with the tunable set (once). */
#define VF_TLS_TUNABLE "glibc.rtld.optional_static_tls=1048576"
static void reexec_with_static_tls(char **argv) {
  if (!argv || getenv("VF_STATIC_TLS_REEXEC")) return;
  const char *old = getenv("GLIBC_TUNABLES");
  char buf[1024];
  snprintf(buf, sizeof buf, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "",
           VF_TLS_TUNABLE);
  setenv("GLIBC_TUNABLES", buf, 1);
  setenv("VF_STATIC_TLS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
}

vf_alloc_t *vf_cli_alloc(const char *name, char **argv) {
  char err[512];
  vf_alloc_t *a = vf_alloc_by_name(name, err, sizeof err);
  if (!a && strstr(err, "static TLS")) {
    reexec_with_static_tls(argv);
  }
  if (!a) vf_cli_die("allocator %s: %s", name, err);
  return a;
}

void vf_cli_no_aslr(char **argv) {
  int cur = personality(0xffffffff);
  if (cur == -1 || (cur & ADDR_NO_RANDOMIZE)) return;
  if (personality((unsigned long)cur | ADDR_NO_RANDOMIZE) == -1) return;
  execv("/proc/self/exe", argv);
}

static size_t fmt_u64(char *b, unsigned long long v) {
  char tmp[24];
  size_t n = 0, k = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) b[k++] = tmp[--n];
  return k;
}

static int g_expect_death;
static const vf_findings_t *g_findings;

void vf_cli_crash_findings(const vf_findings_t *f) { g_findings = f; }

/* The findings so far, from the signal handler (write(2) only). */
static void put_findings(const char *check, uint64_t op) {
  char line[200];
  for (int c = VF_OK + 1; g_findings && c < VF_CHK_COUNT_; c++) {
    const vf_finding_t *k = &g_findings->kind[c];
    int here = !strcmp(vf_check_name(c), check);
    if (!k->count && !here) continue;
    size_t n = 0;
#define PUT(s) (memcpy(line + n, (s), strlen(s)), n += strlen(s))
    PUT("findings: ");
    PUT(vf_check_name(c));
    PUT(": ");
    n += fmt_u64(line + n, k->count + (uint64_t)here);
    PUT(", first at op ");
    n += fmt_u64(line + n, k->count ? k->first : op);
    PUT(here ? " (stopped the replay)\n" : "\n");
#undef PUT
    ssize_t w = write(2, line, n);
    (void)w;
  }
}

static void on_signal(int sig) {
  char line[160];
  size_t n = 0;
  uint64_t op = vf_replay_current_op(), mis = vf_replay_first_misuse();
  const char *check = sig == SIGALRM ? "timeout" : "crash";
#define PUT(s) (memcpy(line + n, (s), strlen(s)), n += strlen(s))
  if (g_expect_death && sig != SIGALRM && mis != UINT64_MAX) {
    PUT("replay: misuse at op ");
    n += fmt_u64(line + n, mis);
    PUT(" detected: signal ");
    n += fmt_u64(line + n, (unsigned)sig);
    PUT(" at op ");
    n += fmt_u64(line + n, op == UINT64_MAX ? 0 : op);
    PUT("\n");
    ssize_t w = write(2, line, n);
    (void)w;
    _exit(0);
  }
  PUT("oracle: op ");
  n += fmt_u64(line + n, op == UINT64_MAX ? 0 : op);
  PUT(": ");
  PUT(check);
  PUT(": ptr=0x0 size=0 usable=0 (signal ");
  n += fmt_u64(line + n, (unsigned)sig);
  PUT(sig == SIGALRM ? ", replay hung)\n" : ")\n");
#undef PUT
  ssize_t w = write(2, line, n);
  (void)w;
  put_findings(check, op == UINT64_MAX ? 0 : op);
  signal(sig, SIG_DFL);
  raise(sig);
}

void vf_cli_crash_handlers(unsigned timeout_s, int expect_death) {
  g_expect_death = expect_death;
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction(sigs[i], &sa, NULL);
  if (timeout_s) {
    sigaction(SIGALRM, &sa, NULL);
    alarm(timeout_s);
  }
}
