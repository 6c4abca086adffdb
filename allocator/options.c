/* options.c - the HAKMEM_* runtime options, read once at start-up, and the
 * build's identity (variant, check level, injected bug).
 *
 * One table (HK_OPTION_TABLE in options.h) drives the environment parsing,
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
  hk_line_t l = {.len = 0};
  hk_line_str(&l, "hakmem: ignoring ");
  hk_line_str(&l, env);
  hk_line_str(&l, "=");
  hk_line_str(&l, val);
  hk_line_str(&l, " (expected an integer in [");
  hk_line_u64(&l, (uint64_t)lo, 0);
  hk_line_str(&l, ", ");
  hk_line_u64(&l, (uint64_t)hi, 0);
  hk_line_str(&l, "])");
  hk_line_end(&l, 2);
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

HK_PUBLIC const char *hak_variant(void) {
#ifdef HAKMEM_VARIANT_NAME
  return HAKMEM_VARIANT_NAME;
#else
  return HAKMEM_CHECK_LEVEL == 2 ? "debug" : HAKMEM_CHECK_LEVEL == 1 ? "hardened" : "release";
#endif
}
HK_PUBLIC int hak_check_level(void) { return HAKMEM_CHECK_LEVEL; }
HK_PUBLIC const char *hak_injected_bug(void) {
#ifdef HAKMEM_INJECT_NAME
  return HAKMEM_INJECT_NAME;
#else
  return "";
#endif
}

void hk_options_print(int fd) {
  hk_line_t l = {.len = 0};
  hk_line_str(&l, "hakmem: variant ");
  hk_line_str(&l, hak_variant());
  if (hak_injected_bug()[0]) {
    hk_line_str(&l, " (injected bug: ");
    hk_line_str(&l, hak_injected_bug());
    hk_line_str(&l, ")");
  }
  hk_line_str(&l, ", options:");
  hk_line_end(&l, fd);
#define HK_OPT_PRINT(N, f, d, lo, hi, help)                                    \
  hk_line_str(&l, "hakmem:   HAKMEM_" #N "=");                                 \
  hk_line_u64(&l, (uint64_t)hk_opt.f, 0);                                      \
  hk_line_str(&l, hk_opt.f == (d) ? "  (default) " : "  (set) ");              \
  hk_line_str(&l, help);                                                       \
  hk_line_end(&l, fd);
  HK_OPTION_TABLE(HK_OPT_PRINT)
#undef HK_OPT_PRINT
}

/* The markdown table in docs/options.md, generated from the same rows.
 * A unit test regenerates it and fails when the committed file differs. */
HK_PUBLIC void hak_options_markdown(int fd) {
  hk_line_t l = {.len = 0};
  hk_line_str(&l, "| variable | default | range | meaning |");
  hk_line_end(&l, fd);
  hk_line_str(&l, "|---|---|---|---|");
  hk_line_end(&l, fd);
#define HK_OPT_MD(N, f, d, lo, hi, help)                                       \
  hk_line_str(&l, "| `HAKMEM_" #N "` | ");                                     \
  hk_line_u64(&l, (uint64_t)(d), 0);                                           \
  hk_line_str(&l, " | ");                                                      \
  hk_line_u64(&l, (uint64_t)(lo), 0);                                          \
  hk_line_str(&l, "..");                                                       \
  hk_line_u64(&l, (uint64_t)(hi), 0);                                          \
  hk_line_str(&l, " | " help " |");                                            \
  hk_line_end(&l, fd);
  HK_OPTION_TABLE(HK_OPT_MD)
#undef HK_OPT_MD
}
