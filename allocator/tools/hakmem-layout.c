/* hakmem-layout - print the size-class layout table and the space each
 * request size wastes, measured through the public API.
 *
 * For every class: stride, header, usable bytes, span units, capacity of a
 * span (and of a span in unit 0).  For every request size n in a range:
 * the usable size hakmem hands out; waste = usable - n.  The summary gives
 * the mean and worst waste per range, as bytes and as a share of the
 * block's stride (the header byte and rounding are both counted).
 *
 * usage: hakmem-layout [--classes] [--sizes MAX]
 */
#include <hakmem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void classes(void) {
  hak_stats_t st;
  hak_stats_get(&st);
  printf("| class | stride | header | usable |\n|---:|---:|---:|---:|\n");
  for (unsigned c = 0; c < st.nclasses; c++)
    printf("| %u | %u | %u | %u |\n", c, st.cls[c].stride, st.cls[c].header,
           st.cls[c].usable);
}

static int sizes(size_t max) {
  static const size_t edges[] = {128, 256, 512, 1024, 4096, 16384, 65536, 262144};
  size_t lo = 1;
  printf("| requests | mean waste B | worst waste B | mean waste %% of block | worst %% |\n"
         "|---|---:|---:|---:|---:|\n");
  for (unsigned e = 0; e < sizeof edges / sizeof edges[0] && lo <= max; e++) {
    size_t hi = edges[e] < max ? edges[e] : max;
    double sum = 0, sum_pct = 0, worst_pct = 0;
    size_t worst = 0;
    for (size_t n = lo; n <= hi; n++) {
      void *p = hak_malloc(n);
      if (p == NULL) return 1;
      size_t u = hak_malloc_usable_size(p);
      hak_free(p);
      if (u < n) {
        fprintf(stderr, "hakmem-layout: usable %zu < request %zu\n", u, n);
        return 1;
      }
      /* bytes the block occupies: usable plus the header byte if any */
      size_t block = u + (u < 1024 && (u + 1) % 16 == 0 ? 1 : 0);
      double pct = 100.0 * (double)(block - n) / (double)block;
      sum += (double)(block - n);
      sum_pct += pct;
      if (block - n > worst) worst = block - n;
      if (pct > worst_pct) worst_pct = pct;
    }
    double cnt = (double)(hi - lo + 1);
    printf("| %zu-%zu | %.1f | %zu | %.1f | %.1f |\n", lo, hi, sum / cnt, worst,
           sum_pct / cnt, worst_pct);
    lo = hi + 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int rc = 0;
  if (argc == 1 || (argc > 1 && strcmp(argv[1], "--classes") == 0)) classes();
  if (argc == 1 || (argc > 2 && strcmp(argv[1], "--sizes") == 0))
    rc = sizes(argc > 2 ? strtoul(argv[2], NULL, 0) : 65536);
  return rc;
}
