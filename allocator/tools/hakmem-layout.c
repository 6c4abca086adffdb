/* hakmem-layout - print the size-class layout table and the space each
 * request size wastes, measured through the public API.
 *
 * For every class: stride, header, canary (the checked builds' bytes after
 * the usable ones, layout.h; 0 in release), usable bytes.  For every request size n in a range:
 * the usable size hakmem hands out; waste = usable - n.  The summary gives
 * the mean and worst waste per range, as bytes and as a share of the
 * block's stride (the header byte, the canary and rounding all counted).
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
  printf("| class | stride | header | canary | usable |\n|---:|---:|---:|---:|---:|\n");
  for (unsigned c = 0; c < st.nclasses; c++)
    printf("| %u | %u | %u | %u | %u |\n", c, st.cls[c].stride, st.cls[c].header,
           st.cls[c].canary, st.cls[c].usable);
}

/* The stride of the class whose usable size is u, or u (a large block). */
static size_t stride_of(size_t u) {
  static hak_stats_t st;
  if (st.nclasses == 0) hak_stats_get(&st);
  for (unsigned c = 0; c < st.nclasses; c++)
    if (st.cls[c].usable == u) return st.cls[c].stride;
  return u;
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
      /* bytes the block occupies: its class's stride (usable, header and
       * canary); a large block its usable bytes */
      size_t block = stride_of(u);
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
