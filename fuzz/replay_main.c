/* replay_main.c - standalone driver for builds without a fuzzing engine
 * (HAKMEM_FUZZ_ENGINE=none, and the *_replay programs of the afl preset):
 * a main() that feeds files to LLVMFuzzerTestOneInput, the way libFuzzer
 * does with file arguments, so corpus and regression inputs replay in the
 * release, debug and hardened builds without libFuzzer.
 *
 *   fuzz_trace FILE|DIR...     run every file (directories: their files, in
 *                              name order; dot files and README* skipped)
 *   fuzz_trace -runs=N [-seed=S] [-max_len=L] FILE|DIR...
 *                              then a bounded fuzz run without an engine: N
 *                              inputs made from the files by the targets'
 *                              own structure-aware mutator and crossover
 *                              (LLVMFuzzerCustomMutator/-CrossOver), one to
 *                              three mutations stacked on a file picked by
 *                              a generator seeded with S (default 1), at
 *                              most L bytes (default 4096).  No coverage
 *                              feedback: what it adds to the replay is new
 *                              inputs near the corpus, in every build and
 *                              under every option (docs/fuzzing.md,
 *                              "Option matrix").
 *
 * Invariants: inputs run in a deterministic order, one at a time, each from
 * its own heap copy of exactly the file's bytes (so ASan sees overreads);
 * a failing input aborts the process after the harness's one-line report,
 * and the name of the input being run is printed first when HKF_VERBOSE=1
 * (for a made input: its run number and seed).  The made inputs depend only
 * on the files, -seed and -max_len: a failing run repeats with the same
 * command line (HKF_DUMP=path writes the failing input's normalized trace).
 * Exit 0 when every input ran.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned seed);
void hkf_full_checks(int on);

static int g_verbose;
static size_t g_runs;

/* -runs=N: the files' bytes are kept (g_pool) to make inputs from */
typedef struct {
  uint8_t *data;
  size_t size;
} input_t;
static size_t g_fuzz_runs, g_max_len = 4096;
static uint64_t g_seed = 1;
static input_t *g_pool;
static size_t g_pool_n, g_pool_cap;

static void pool_add(const uint8_t *data, size_t size) {
  if (g_pool_n == g_pool_cap) {
    size_t cap = g_pool_cap ? g_pool_cap * 2 : 64;
    input_t *np = realloc(g_pool, cap * sizeof *np);
    if (!np) return;
    g_pool = np;
    g_pool_cap = cap;
  }
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return;
  memcpy(copy, data, size);
  g_pool[g_pool_n].data = copy;
  g_pool[g_pool_n++].size = size;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "replay: %s: out of memory\n", path);
    return -1;
  }
  /* an exact-size copy, so a read past the input is an ASan report */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  if (g_verbose) fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
  if (g_fuzz_runs) pool_add(exact, len);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  g_runs++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    size_t l = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(l);
    if (!names[n]) break;
    snprintf(names[n], l, "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(d);
  if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* (names is NULL when n is 0) */
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && run_file(names[i])) rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

static uint64_t rng_next(uint64_t *x) { /* splitmix64 */
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The bounded fuzz run (-runs=N) over the files run before. */
static int fuzz_runs(void) {
  if (!g_pool_n) {
    fprintf(stderr, "replay: -runs needs at least one input file\n");
    return -1;
  }
  uint8_t *buf = malloc(g_max_len), *tmp = malloc(g_max_len);
  if (!buf || !tmp) {
    free(buf);
    free(tmp);
    return -1;
  }
  uint64_t rng = g_seed;
  for (size_t i = 0; i < g_fuzz_runs; i++) {
    const input_t *a = &g_pool[rng_next(&rng) % g_pool_n];
    size_t len = a->size < g_max_len ? a->size : g_max_len;
    memcpy(buf, a->data, len);
    unsigned stack = 1 + (unsigned)(rng_next(&rng) % 3);
    for (unsigned k = 0; k < stack; k++) {
      unsigned seed = (unsigned)rng_next(&rng);
      if (seed % 4 == 0) { /* crossover with another file */
        const input_t *b = &g_pool[rng_next(&rng) % g_pool_n];
        len = LLVMFuzzerCustomCrossOver(buf, len, b->data, b->size, tmp, g_max_len, seed);
        memcpy(buf, tmp, len);
      } else {
        len = LLVMFuzzerCustomMutator(buf, len, g_max_len, seed);
      }
    }
    /* an exact-size copy, as for the files */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) break;
    memcpy(exact, buf, len);
    if (g_verbose) fprintf(stderr, "replay: made input %zu (seed %llu, %zu bytes)\n", i,
                           (unsigned long long)g_seed, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    g_runs++;
  }
  free(buf);
  free(tmp);
  return 0;
}

int main(int argc, char **argv) {
  const char *v = getenv("HKF_VERBOSE");
  g_verbose = v && *v == '1';
  hkf_full_checks(1); /* replays run every check in full after every input */
  LLVMFuzzerInitialize(&argc, &argv);
  int rc = 0, inputs = 0;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "-runs=", 6) == 0) g_fuzz_runs = strtoull(argv[i] + 6, NULL, 10);
    if (strncmp(argv[i], "-seed=", 6) == 0) g_seed = strtoull(argv[i] + 6, NULL, 10);
    if (strncmp(argv[i], "-max_len=", 9) == 0) g_max_len = strtoull(argv[i] + 9, NULL, 10);
  }
  if (g_max_len < 64) g_max_len = 64;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (argv[i][0] == '-') continue; /* libFuzzer-style flags: read above or ignored */
    inputs++;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      rc = 2;
    } else if (S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i])) {
      rc = 2;
    }
  }
  if (!inputs) {
    fprintf(stderr,
            "usage: %s [-runs=N [-seed=S] [-max_len=L]] FILE|DIR...  (replays inputs through "
            "LLVMFuzzerTestOneInput, then N made from them)\n",
            argv[0]);
    return 2;
  }
  size_t files = g_runs;
  if (g_fuzz_runs && fuzz_runs()) rc = 2;
  for (size_t i = 0; i < g_pool_n; i++) free(g_pool[i].data);
  free(g_pool);
  if (g_fuzz_runs)
    printf("replay: %zu inputs ran (%zu files, %zu made, seed %llu)\n", g_runs, files,
           g_runs - files, (unsigned long long)g_seed);
  else
    printf("replay: %zu inputs ran\n", g_runs);
  return rc;
}
