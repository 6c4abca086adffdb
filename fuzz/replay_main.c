/* replay_main.c - standalone driver for builds without a fuzzing engine
 * (HAKMEM_FUZZ_ENGINE=none, and the *_replay programs of the afl preset):
 * a main() that feeds files to LLVMFuzzerTestOneInput, the way libFuzzer
 * does with file arguments, so corpus and regression inputs replay in the
 * release, debug and hardened builds without libFuzzer.
 *
 *   fuzz_trace FILE|DIR...     run every file (directories: their files, in
 *                              name order; dot files and README* skipped)
 *
 * Invariants: inputs run in a deterministic order, one at a time, each from
 * its own heap copy of exactly the file's bytes (so ASan sees overreads);
 * a failing input aborts the process after the harness's one-line report,
 * and the name of the input being run is printed first when HKF_VERBOSE=1.
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
void hkf_full_checks(int on);

static int g_verbose;
static size_t g_runs;

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

int main(int argc, char **argv) {
  const char *v = getenv("HKF_VERBOSE");
  g_verbose = v && *v == '1';
  hkf_full_checks(1); /* replays run every check in full after every input */
  LLVMFuzzerInitialize(&argc, &argv);
  int rc = 0, inputs = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (argv[i][0] == '-') continue; /* libFuzzer-style flags: ignored */
    inputs++;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      rc = 2;
    } else if (S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i])) {
      rc = 2;
    }
  }
  if (!inputs) {
    fprintf(stderr, "usage: %s FILE|DIR...  (replays inputs through LLVMFuzzerTestOneInput)\n",
            argv[0]);
    return 2;
  }
  printf("replay: %zu inputs ran\n", g_runs);
  return rc;
}
