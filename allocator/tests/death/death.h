/* death.h - the harness of the death tests (allocator/tests/death/dt_*.c).
 *
 * Each dt_<name>.c is one misuse (or one positive control) in one small
 * program.  It defines, before including this header:
 *   DT_MIN_LEVEL  lowest check level (hak_check_level()) that detects the misuse
 *                 (1 hardened, 2 debug, 3 = never: a positive control);
 *   DT_BELOW      what builds below DT_MIN_LEVEL do: DT_SURVIVE (the
 *                 documented behaviour is "no detection": the program must
 *                 exit 0 with nothing from hakmem on stderr) or
 *                 DT_UNDEFINED (undefined behaviour there: the test skips);
 *   DT_SIGNAL     (optional) the signal that must end it, SIGABRT unless set;
 * and `static void dt_misuse(void)`, which sets things up, states the exact
 * report it expects with dt_expect() (or dt_expect_line()), then commits
 * the misuse.  The harness runs dt_misuse in a forked child with stderr on a
 * pipe and checks, where detection is expected:
 *   - the child died of DT_SIGNAL (not an exit, not another signal);
 *   - stderr starts with exactly the expected lines; in hardened builds it
 *     is exactly those lines; in debug builds every further line is the
 *     ring of recent operations ("hakmem: recent: ...").
 * Exit 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
 */
#ifndef DEATH_H
#define DEATH_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

#define DT_SURVIVE 1
#define DT_UNDEFINED 2
#ifndef DT_SIGNAL
#define DT_SIGNAL SIGABRT
#endif

static int dt_expect_fd = -1;

/* The exact line hk_fatal prints for (fault, ptr, cls); cls < 0 is "-". */
__attribute__((unused)) static void dt_expect(const char *fault, const void *ptr, int cls) {
  char line[512];
  int n;
  if (cls < 0)
    n = snprintf(line, sizeof line, "hakmem: %s: ptr=0x%lx class=-\n", fault,
                 (unsigned long)(uintptr_t)ptr);
  else
    n = snprintf(line, sizeof line, "hakmem: %s: ptr=0x%lx class=%d\n", fault,
                 (unsigned long)(uintptr_t)ptr, cls);
  if (write(dt_expect_fd, line, (size_t)n) != n) _exit(3);
}
/* An expected line given whole (e.g. a heap-walk problem line). */
__attribute__((unused)) static void dt_expect_line(const char *line) {
  size_t n = strlen(line);
  if (write(dt_expect_fd, line, n) != (ssize_t)n) _exit(3);
}

/* Smallest class whose usable size covers n bytes (-1 above the classes). */
__attribute__((unused)) static int dt_class(size_t n) {
  static hak_stats_t st;
  hak_stats_get(&st);
  for (unsigned c = 0; c < st.nclasses; c++)
    if (st.cls[c].usable >= n) return (int)c;
  return -1;
}

/* Setup went wrong (not the allocator's report): fail loudly. */
__attribute__((unused)) static void dt_setup_fail(const char *what) {
  dprintf(dt_expect_fd, "setup failed: %s\n", what);
  _exit(3);
}

static void dt_misuse(void);

static size_t dt_read_all(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
    if (len + 1 >= cap) break;
  }
  buf[len] = 0;
  return len;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  int level = hak_check_level();
  int detect = level >= DT_MIN_LEVEL;
  if (!detect && DT_BELOW == DT_UNDEFINED) {
    printf("%s: skipped: undefined behaviour without checks in %s\n", name, hak_variant());
    return 77;
  }
  int ep[2], xp[2];
  if (pipe(ep) || pipe(xp)) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(ep[0]);
    close(xp[0]);
    dup2(ep[1], 2);
    dt_expect_fd = xp[1];
    alarm(60);
    dt_misuse();
    _exit(0);
  }
  close(ep[1]);
  close(xp[1]);
  static char err[65536], want[4096];
  dt_read_all(xp[0], want, sizeof want);
  dt_read_all(ep[0], err, sizeof err);
  int status;
  waitpid(pid, &status, 0);
  int ok = 1;
  char why[4400] = "";
  if (strncmp(want, "setup failed", 12) == 0) {
    ok = 0;
    snprintf(why, sizeof why, "%s", want);
  } else if (detect) {
    size_t wl = strlen(want);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != DT_SIGNAL) {
      ok = 0;
      snprintf(why, sizeof why, "expected death by signal %d, got %s %d", DT_SIGNAL,
               WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else if (strncmp(err, want, wl) != 0) {
      ok = 0;
      snprintf(why, sizeof why, "stderr does not start with the expected report");
    } else if (level < 2 && err[wl] != 0) {
      ok = 0;
      snprintf(why, sizeof why, "hardened report is more than the expected line(s)");
    } else {
      for (const char *l = err + wl; *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, "hakmem: recent: ", 16) != 0) {
          ok = 0;
          snprintf(why, sizeof why, "unexpected line after the report");
          break;
        }
        if (!strchr(l, '\n')) break;
      }
    }
  } else {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ok = 0;
      snprintf(why, sizeof why, "expected a normal exit (no detection in %s), got %s %d",
               hak_variant(), WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else if (strstr(err, "hakmem:") != NULL) {
      ok = 0;
      snprintf(why, sizeof why, "hakmem reported something although no detection is documented");
    }
  }
  if (ok) {
    printf("%s: ok (%s: %s)\n", name, hak_variant(),
           detect ? "detected with the exact report" : "no detection, as documented");
    return 0;
  }
  printf("%s: FAILED (%s): %s\n  expected: %s  stderr: %s\n", name, hak_variant(), why,
         detect ? want : "(nothing)\n", err[0] ? err : "(empty)\n");
  return 1;
}

#endif /* DEATH_H */
