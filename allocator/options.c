/* options.c - the HAKMEM_* runtime options, read once at start-up.
 *
 * One table (HK_OPTION_TABLE in internal.h) drives the environment parsing,
 * the HAKMEM_VERBOSE printout (hk_options_print) and docs/options.md
 * (hak_options_markdown).
 *
 * Invariants: every option value lies in [min, max] of its row; a value
 * that does not parse or lies outside keeps the default and is reported
 * once on stderr.  Nothing here allocates (getenv and write only).
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HK_OPT_DEFAULT(N, f, d, lo, hi, help) .f = d,
hk_options_t hk_opt = {HK_OPTION_TABLE(HK_OPT_DEFAULT)};
#undef HK_OPT_DEFAULT

static int parse_long(const char *s, long *out) {
  if (s == NULL || *s == '\0') return -1;
  int neg = 0;
  if (*s == '-') { neg = 1; s++; }
  long v = 0;
  if (*s == '\0') return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (LONG_MAX - 9) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

static void report_bad(const char *env, const char *val, long lo, long hi) {
  char buf[32];
  hk_write_str(2, "hakmem: ignoring ");
  hk_write_str(2, env);
  hk_write_str(2, "=");
  hk_write_str(2, val);
  hk_write_str(2, " (expected an integer in [");
  buf[hk_fmt_u64(buf, (uint64_t)lo)] = 0;
  hk_write_str(2, buf);
  hk_write_str(2, ", ");
  buf[hk_fmt_u64(buf, (uint64_t)hi)] = 0;
  hk_write_str(2, buf);
  hk_write_str(2, "])\n");
}

void hk_options_init(void) {
#define HK_OPT_READ(N, f, d, lo, hi, help)                                     \
  do {                                                                         \
    const char *s = getenv("HAKMEM_" #N);                                      \
    long v;                                                                    \
    if (s != NULL) {                                                           \
      if (parse_long(s, &v) == 0 && v >= (lo) && v <= (hi))                    \
        hk_opt.f = v;                                                          \
      else                                                                     \
        report_bad("HAKMEM_" #N, s, lo, hi);                                   \
    }                                                                          \
  } while (0);
  HK_OPTION_TABLE(HK_OPT_READ)
#undef HK_OPT_READ
}

void hk_options_print(int fd) {
  char buf[32];
  hk_write_str(fd, "hakmem: variant ");
  hk_write_str(fd, hak_variant());
  if (hak_injected_bug()[0]) {
    hk_write_str(fd, " (injected bug: ");
    hk_write_str(fd, hak_injected_bug());
    hk_write_str(fd, ")");
  }
  hk_write_str(fd, ", options:\n");
#define HK_OPT_PRINT(N, f, d, lo, hi, help)                                    \
  hk_write_str(fd, "hakmem:   HAKMEM_" #N "=");                                \
  buf[hk_fmt_u64(buf, (uint64_t)hk_opt.f)] = 0;                                \
  hk_write_str(fd, buf);                                                       \
  hk_write_str(fd, hk_opt.f == (d) ? "  (default) " : "  (set) ");             \
  hk_write_str(fd, help "\n");
  HK_OPTION_TABLE(HK_OPT_PRINT)
#undef HK_OPT_PRINT
}

/* The markdown table in docs/options.md, generated from the same rows.
 * A unit test regenerates it and fails when the committed file differs. */
HK_PUBLIC void hak_options_markdown(int fd) {
  char buf[32];
  hk_write_str(fd, "| variable | default | range | meaning |\n|---|---|---|---|\n");
#define HK_OPT_MD(N, f, d, lo, hi, help)                                       \
  hk_write_str(fd, "| `HAKMEM_" #N "` | ");                                    \
  buf[hk_fmt_u64(buf, (uint64_t)(d))] = 0;                                     \
  hk_write_str(fd, buf);                                                       \
  hk_write_str(fd, " | ");                                                     \
  buf[hk_fmt_u64(buf, (uint64_t)(lo))] = 0;                                    \
  hk_write_str(fd, buf);                                                       \
  hk_write_str(fd, "..");                                                      \
  buf[hk_fmt_u64(buf, (uint64_t)(hi))] = 0;                                    \
  hk_write_str(fd, buf);                                                       \
  hk_write_str(fd, " | " help " |\n");
  HK_OPTION_TABLE(HK_OPT_MD)
#undef HK_OPT_MD
}
