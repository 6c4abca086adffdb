/* vf_hak_adapter.c - hakmem backend for the oracle and the stats adapter.
 *
 * The adapter maps hak_stats_t onto vf_stats_t (live_blocks, live_bytes,
 * mapped_bytes) and
 * derives the usable-size class bound from the class table in hak_stats_t:
 * a default-aligned request of n bytes must not get more usable bytes than
 * the smallest class whose `size` is >= n has room for: its stride less its
 * header and its canary (the checked builds' canary column, layout.h; 0 in
 * release), so a build whose usable bytes reach into the canary (the
 * catalog's canary_short) is found at its first block whatever the table
 * says of `usable`.  Requests above every class and over-aligned requests
 * have no bound.  The class table is read once.
 * The OS fault layer's hooks (vf_fault.h) are set for a linked hakmem
 * whose build has the layer (hak_os_fault answers 0: checked builds).
 */
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"
#include "vf_hak_adapter.h"

typedef int (*hak_stats_fn)(hak_stats_t *);
typedef int (*hak_check_fn)(void);

static hak_stats_fn g_stats;
static hak_check_fn g_check;
static struct {
  uint32_t size, usable;
} g_cls[HAK_STATS_MAX_CLASSES];
static int g_ncls = -1; /* -1: not read yet */
/* bound for requests 0..VF_SMALL_MAX, by (size + 15) / 16: no search */
#define VF_SMALL_MAX 4096
static uint32_t g_small[VF_SMALL_MAX / 16 + 1];

static int adapter_stats(vf_stats_t *out) {
  hak_stats_t s;
  if (!g_stats || g_stats(&s) != 0) return -1;
  out->live_blocks = s.live_blocks;
  out->live_bytes = s.live_bytes;
  out->mapped_bytes = s.mapped_bytes;
  return 0;
}

static int adapter_check(void) { return g_check ? g_check() : -1; }

static int cls_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void load_classes(void) {
  hak_stats_t s;
  g_ncls = 0;
  if (!g_stats || g_stats(&s) != 0) return;
  uint32_t n = s.nclasses < HAK_STATS_MAX_CLASSES ? s.nclasses
                                                  : HAK_STATS_MAX_CLASSES;
  for (uint32_t i = 0; i < n; i++) {
    if (!s.cls[i].size || !s.cls[i].usable) continue;
    g_cls[g_ncls].size = s.cls[i].size;
    /* the room between the header and the canary, per variant */
    g_cls[g_ncls].usable = s.cls[i].stride ? s.cls[i].stride - s.cls[i].header - s.cls[i].canary
                                           : s.cls[i].usable;
    g_ncls++;
  }
  qsort(g_cls, (size_t)g_ncls, sizeof g_cls[0], cls_cmp);
  for (size_t i = 0; i <= VF_SMALL_MAX / 16; i++) g_small[i] = 0;
}

static size_t search_bound(size_t size) {
  int lo = 0, hi = g_ncls; /* first class with size >= request */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (g_cls[mid].size < size) lo = mid + 1;
    else hi = mid;
  }
  return lo < g_ncls ? g_cls[lo].usable : 0;
}

static size_t adapter_bound(size_t size, size_t align) {
  if (g_ncls < 0) load_classes();
  if (align > 16) return 0;
  if (size > VF_SMALL_MAX) return search_bound(size);
  /* requests in one 16-byte step can straddle a class edge (class sizes
   * such as 15 or 1024+1); cache per step only when the step is uniform */
  size_t step = (size + 15) / 16;
  if (!g_small[step]) {
    size_t lo = step ? step * 16 - 15 : 0, hi = step * 16;
    size_t a = search_bound(lo), b = search_bound(hi);
    g_small[step] = a == b ? (uint32_t)a + 1 : UINT32_MAX;
  }
  return g_small[step] == UINT32_MAX ? search_bound(size) : g_small[step] - 1;
}

void vf_hak_adapter_attach(vf_alloc_t *a, void *stats_fn, void *check_fn) {
  if (stats_fn) {
    g_stats = (hak_stats_fn)stats_fn;
    g_ncls = -1;
    a->stats_get = adapter_stats;
    a->usable_bound = adapter_bound;
    a->min_align = 16;
  }
  if (check_fn) {
    g_check = (hak_check_fn)check_fn;
    a->check_heap = adapter_check;
  }
}

#ifdef VF_HAVE_HAKMEM
static size_t hak_usable(void *p) { return hak_malloc_usable_size(p); }
static uint64_t hak_failed(void) {
  hak_os_fault_stats_t f;
  return hak_os_fault_stats(&f) == 0 ? f.map_failed : 0;
}

static vf_alloc_t hak_alloc = {
    .name = "hakmem",
    .malloc = hak_malloc,
    .free = hak_free,
    .calloc = hak_calloc,
    .realloc = hak_realloc,
    .posix_memalign = hak_posix_memalign,
    .aligned_alloc = hak_aligned_alloc,
    .memalign = hak_memalign,
    .usable_size = hak_usable,
    .trim = hak_malloc_trim,
    .min_align = 16,
};

const vf_alloc_t *vf_alloc_hakmem(void) {
  if (!hak_alloc.stats_get) {
    vf_hak_adapter_attach(&hak_alloc, (void *)hak_stats_get,
                          (void *)hak_check_heap);
    if (hak_os_fault(HAK_FAULT_OFF, 0, 0) == 0) { /* checked builds */
      hak_alloc.os_fault = hak_os_fault;
      hak_alloc.os_failed = hak_failed;
    }
  }
  return &hak_alloc;
}
#else
const vf_alloc_t *vf_alloc_hakmem(void) { return NULL; }
#endif
