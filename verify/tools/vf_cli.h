/* vf_cli.h - small helpers shared by the verify command-line tools:
 * number parsing with K/M/G suffixes, fatal usage errors (exit 2), and the
 * crash/timeout handlers that turn a signal during replay into one oracle
 * report line.  Tools exit 0 = clean, 1 = oracle violation, 2 = usage or
 * input error.
 */
#ifndef VF_CLI_H
#define VF_CLI_H

#include <stdint.h>

#include "vf_alloc.h"
#include "vf_oracle.h"

__attribute__((noreturn, format(printf, 1, 2))) void vf_cli_die(const char *fmt, ...);
/* Parse a non-negative integer with optional K, M, G (binary) suffix. */
uint64_t vf_cli_u64(const char *opt, const char *s);
/* Allocator by name or exit 2.  When a peer cannot be dlopen'ed for lack of
 * static TLS, re-executes argv once with more static TLS reserved. */
vf_alloc_t *vf_cli_alloc(const char *name, char **argv);
/* Run this program again (same argv) with address-space randomization off,
 * unless it already is: replays of address-dependent bugs then repeat
 * exactly across processes.  Returns only when already off (or on error). */
void vf_cli_no_aslr(char **argv);
/* Install SIGSEGV/SIGBUS/SIGABRT/SIGFPE/SIGILL (and SIGALRM when
 * timeout_s > 0) handlers that print
 *   oracle: op N: crash: ptr=0x0 size=0 usable=0 (signal S)
 * using vf_replay_current_op(), then die with the same signal.  With
 * expect_death, a fatal signal after a misuse op is the expected outcome:
 * the handler prints "replay: misuse at op M detected ..." and exits 0. */
void vf_cli_crash_handlers(unsigned timeout_s, int expect_death);
/* With a findings table (hakmem-replay --keep-going), the crash line is
 * followed by one "findings: <check>: <count>, first at op <i>" line per
 * kind counted so far, and the crash. */
void vf_cli_crash_findings(const vf_findings_t *f);

#endif
