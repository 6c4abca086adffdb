/* options.c - the HAKMEM_* runtime options, read once at start-up, and the
 * build's identity (variant, check level, injected bug).
 *
 * One table (HK_OPTION_TABLE in options.h) drives the environment parsing,
 * the HAKMEM_VERBOSE printout (hk_options_print) and docs/options.md
 * (hak_options_markdown).
 *
 * Also the forced races' decisions (hk_race, checked builds: internal.h),
 * driven by HAKMEM_RACE and HAKMEM_RACE_SEED or by hak_race_hook.
 *
 * Invariants: every option value lies in [min, max] of its row; a value
 * that does not parse or lies outside keeps the default and is reported
 * once on stderr.  Nothing here allocates (getenv and write only).  A
 * thread never loses two CAS attempts running to hk_race.
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>
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
#if HK_ON(RACE)
  if (hk_opt.race > 0) hk_race_on = 1;
#endif
}

/* ---- forced races ---------------------------------------------------------- */
#if HK_ON(RACE)
int hk_race_on;
static int (*race_hook)(unsigned, void *);
static void *race_arg;
static _Atomic uint64_t race_threads;
static __thread uint64_t race_rng;  /* 0: not seeded yet */
static __thread int race_lost;      /* the last CAS point fired */

int hk_race(unsigned point) {
  int fire;
  if (point < HK_RACE_YIELDS && race_lost) {
    race_lost = 0; /* the retry's attempt is a real one */
    return 0;
  }
  if (race_hook != NULL) {
    fire = race_hook(point, race_arg);
  } else {
    uint64_t x = race_rng;
    if (x == 0) /* the seed and this thread's order of first use */
      x = ((uint64_t)hk_opt.race_seed + 1) * 0x9E3779B97F4A7C15ull ^
          (atomic_fetch_add_explicit(&race_threads, 1, memory_order_relaxed) + 1) *
              0xD1B54A32D192ED03ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    race_rng = x ? x : 1;
    fire = (long)((x * 0x2545F4914F6CDD1Dull) >> 33) % 1000 < hk_opt.race;
  }
  if (!fire) return 0;
  /* (a hook's scheduler decides who runs: it yields itself if it wants) */
  if (race_hook == NULL) sched_yield();
  if (point >= HK_RACE_YIELDS) return 0;
  race_lost = 1;
  return 1;
}
#endif

HK_PUBLIC int hak_race_hook(int (*decide)(unsigned point, void *arg), void *arg) {
#if HK_ON(RACE)
  race_hook = decide;
  race_arg = arg;
  hk_race_on = decide != NULL || hk_opt.race > 0;
  return 0;
#else
  (void)decide, (void)arg;
  return -1;
#endif
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
