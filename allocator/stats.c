/* stats.c - statistics snapshot (hak_stats_get) and the HAKMEM_STATS=1 dump.
 *
 * Counters live where they are bumped: per slab (allocs, folded into
 * hk_retired_allocs when a span goes back), per heap and class (remote
 * frees, refills), globally for heapless threads, whale.c for large
 * blocks, os.c for syscalls, superslab.c for superslabs.  The live count
 * of each class is read off the slabs themselves (hk_slab_live), and
 * frees = allocs - live, so the fast free path counts nothing.  This file
 * only reads; it sits above every other layer.
 *
 * Invariants: live_blocks = allocs - frees over all paths, exact whenever
 * no other thread is allocating or freeing; live_bytes sums the usable
 * size of each live block's class (or mapping).  The dump uses write(2)
 * on a stack buffer and never allocates, so it is safe at exit.
 */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct class_sums { uint64_t live[HK_NCLASSES], allocs[HK_NCLASSES]; } class_sums_t;

/* Reads owner-thread counters without synchronisation: a snapshot is exact
 * only while no other thread allocates (see the header comment). */
HK_NO_TSAN static void sum_slabs(hk_ss_t *ss, void *arg) {
  class_sums_t *sum = arg;
  for (unsigned u = 0; u < HK_UNITS; u++) {
    const hk_slab_t *s = &ss->slab[u];
    if (s->unit_kind != HK_UNIT_HEAD) continue;
    sum->live[s->cls] += hk_slab_live(s);
    sum->allocs[s->cls] += s->allocs;
  }
}

HK_PUBLIC int hak_stats_get(hak_stats_t *out) {
  if (out == NULL) return -1;
  memset(out, 0, sizeof *out);
  static class_sums_t sum; /* 704 bytes: off the caller's stack */
  pthread_mutex_lock(&hk_snapshot_lock);
  memset(&sum, 0, sizeof sum);
  hk_ss_foreach(sum_slabs, &sum);
  out->version = HAKMEM_API_VERSION;
  out->nclasses = HK_NCLASSES;
  pthread_mutex_lock(&hk_heaps_lock);
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    hak_class_stats_t *cs = &out->cls[c];
    cs->size = hk_class[c].usable;
    cs->stride = hk_class[c].stride;
    cs->usable = hk_class[c].usable;
    cs->header = hk_class[c].header;
    cs->allocs = sum.allocs[c] + atomic_load(&hk_retired_allocs[c]);
    cs->remote_frees = HK_CNT_GET(hk_orphan_cnt[c].remote_frees);
    for (hk_heap_t *h = hk_heaps_all; h != NULL; h = h->next_all) {
      cs->remote_frees += HK_CNT_GET(h->cnt[c].remote_frees);
      cs->refills += HK_CNT_GET(h->cnt[c].refills);
    }
    cs->slabs = atomic_load_explicit(&hk_class_spans[c], memory_order_relaxed);
    /* racing threads can skew a snapshot; clamp rather than underflow */
    cs->frees = cs->allocs > sum.live[c] ? cs->allocs - sum.live[c] : 0;
    out->allocs += cs->allocs;
    out->frees += cs->frees;
    out->live_bytes += (cs->allocs - cs->frees) * (uint64_t)cs->usable;
  }
  hk_whale_counts_t wc;
  hk_whale_counts(&wc);
  hk_whale_cnt_t w = wc.orphan;
  for (hk_heap_t *h = hk_heaps_all; h != NULL; h = h->next_all) {
    out->remote_drains += HK_CNT_GET(h->drains);
    w.allocs += HK_CNT_GET(h->wcnt.allocs);
    w.frees += HK_CNT_GET(h->wcnt.frees);
    w.hits += HK_CNT_GET(h->wcnt.hits);
    w.bytes_in += HK_CNT_GET(h->wcnt.bytes_in);
    w.bytes_out += HK_CNT_GET(h->wcnt.bytes_out);
  }
  out->threads_started = hk_threads_started;
  out->threads_exited = hk_threads_exited;
  pthread_mutex_unlock(&hk_heaps_lock);
  pthread_mutex_unlock(&hk_snapshot_lock);

  pthread_mutex_lock(&hk_abandoned_lock);
  out->slabs_abandoned = hk_slabs_abandoned;
  out->slabs_adopted = hk_slabs_adopted;
  pthread_mutex_unlock(&hk_abandoned_lock);

  out->large_allocs = w.allocs;
  out->large_frees = w.frees;
  out->large_live_bytes = w.bytes_in - w.bytes_out;
  out->whale_hits = w.hits;
  out->whale_misses = wc.misses;
  out->whale_evictions = wc.evictions;
  out->whale_remaps = wc.remaps;
  out->whale_cached_bytes = wc.cached_bytes;
  out->whale_cached_count = wc.cached_count;
  _Static_assert(HK_BUCKETS == 5 && (int)HAK_BUCKET_META == (int)HK_BUCKET_META,
                 "hak_stats_t fault buckets match the allocator's");
  hk_fault_counts(out->faults, out->fresh_pages);
  out->allocs += out->large_allocs;
  out->frees += out->large_frees;
  out->live_bytes += out->large_live_bytes;
  out->live_blocks = out->allocs - out->frees;

  hk_ss_counts(&out->superslabs_live, &out->superslabs_cached,
               &out->superslabs_mapped, &out->superslabs_unmapped);
  hk_os_stats_t os;
  hk_os_stats(&os);
  out->mmap_calls = os.mmap_calls;
  out->munmap_calls = os.munmap_calls;
  out->madvise_calls = os.madvise_calls;
  out->mmap_cycles = os.mmap_cycles;
  out->munmap_cycles = os.munmap_cycles;
  out->madvise_cycles = os.madvise_cycles;
  out->mapped_bytes = os.mapped_bytes;
  out->mremap_calls = os.mremap_calls;
  out->mremap_cycles = os.mremap_cycles;
  out->prefaulted_bytes = os.prefaulted_bytes;
  out->thp_advised = os.thp_advised;
  out->hugetlb_maps = os.hugetlb_maps;
  out->hugetlb_fallbacks = os.hugetlb_fallbacks;
  out->lazy_zeroed_bytes = os.lazy_zeroed_bytes;
  return 0;
}

/* ---- the dump ------------------------------------------------------------ */
typedef struct line { char buf[256]; size_t len; } line_t;

static void put_s(line_t *l, const char *s) {
  while (*s && l->len < sizeof l->buf - 1) l->buf[l->len++] = *s++;
}
static void put_u(line_t *l, uint64_t v, int width) {
  char tmp[24];
  size_t n = hk_fmt_u64(tmp, v);
  for (int pad = width - (int)n; pad > 0; pad--) put_s(l, " ");
  tmp[n] = 0;
  put_s(l, tmp);
}
static void put_kv(line_t *l, const char *k, uint64_t v) {
  put_s(l, " ");
  put_s(l, k);
  put_s(l, "=");
  put_u(l, v, 0);
}
static void flush(int fd, line_t *l) {
  put_s(l, "\n");
  ssize_t r = write(fd, l->buf, l->len);
  (void)r;
  l->len = 0;
}

HK_PUBLIC void hak_stats_print(int fd) {
  static hak_stats_t st; /* large; static keeps it off small thread stacks */
  hak_stats_get(&st);
  line_t l = {.len = 0};
  put_s(&l, "hakmem stats: variant=");
  put_s(&l, hak_variant());
  put_kv(&l, "live_blocks", st.live_blocks);
  put_kv(&l, "live_bytes", st.live_bytes);
  put_kv(&l, "allocs", st.allocs);
  put_kv(&l, "frees", st.frees);
  flush(fd, &l);
  put_s(&l, "hakmem stats: class stride usable     allocs      frees  remote_frees    refills  slabs");
  flush(fd, &l);
  for (unsigned c = 0; c < st.nclasses; c++) {
    const hak_class_stats_t *cs = &st.cls[c];
    if (cs->allocs == 0 && cs->frees == 0) continue;
    put_s(&l, "hakmem stats: ");
    put_u(&l, c, 5);
    put_u(&l, cs->stride, 7);
    put_u(&l, cs->usable, 7);
    put_u(&l, cs->allocs, 11);
    put_u(&l, cs->frees, 11);
    put_u(&l, cs->remote_frees, 14);
    put_u(&l, cs->refills, 11);
    put_u(&l, cs->slabs, 7);
    flush(fd, &l);
  }
  put_s(&l, "hakmem stats: whale");
  put_kv(&l, "allocs", st.large_allocs);
  put_kv(&l, "frees", st.large_frees);
  put_kv(&l, "live_bytes", st.large_live_bytes);
  put_kv(&l, "cache_hits", st.whale_hits);
  put_kv(&l, "cache_misses", st.whale_misses);
  put_kv(&l, "hit_rate_pct", st.whale_hits + st.whale_misses
                                 ? st.whale_hits * 100 / (st.whale_hits + st.whale_misses) : 0);
  put_kv(&l, "evictions", st.whale_evictions);
  put_kv(&l, "remaps", st.whale_remaps);
  put_kv(&l, "cached_bytes", st.whale_cached_bytes);
  put_kv(&l, "cached_count", st.whale_cached_count);
  flush(fd, &l);
  static const char *const bucket[] = {"tiny", "mid", "l25", "whale", "meta"};
  put_s(&l, "hakmem stats: faults");
  for (unsigned b = 0; b < 5; b++) put_kv(&l, bucket[b], st.faults[b]);
  flush(fd, &l);
  put_s(&l, "hakmem stats: fresh_pages");
  for (unsigned b = 0; b < 5; b++) put_kv(&l, bucket[b], st.fresh_pages[b]);
  flush(fd, &l);
  put_s(&l, "hakmem stats: superslabs");
  put_kv(&l, "live", st.superslabs_live);
  put_kv(&l, "cached", st.superslabs_cached);
  put_kv(&l, "mapped", st.superslabs_mapped);
  put_kv(&l, "unmapped", st.superslabs_unmapped);
  flush(fd, &l);
  put_s(&l, "hakmem stats: threads");
  put_kv(&l, "started", st.threads_started);
  put_kv(&l, "exited", st.threads_exited);
  put_kv(&l, "slabs_abandoned", st.slabs_abandoned);
  put_kv(&l, "slabs_adopted", st.slabs_adopted);
  put_kv(&l, "remote_drains", st.remote_drains);
  flush(fd, &l);
  put_s(&l, "hakmem stats: os");
  put_kv(&l, "mmap", st.mmap_calls);
  put_kv(&l, "munmap", st.munmap_calls);
  put_kv(&l, "madvise", st.madvise_calls);
  put_kv(&l, "mmap_cycles", st.mmap_cycles);
  put_kv(&l, "munmap_cycles", st.munmap_cycles);
  put_kv(&l, "madvise_cycles", st.madvise_cycles);
  put_kv(&l, "mremap", st.mremap_calls);
  put_kv(&l, "mremap_cycles", st.mremap_cycles);
  put_kv(&l, "mapped_bytes", st.mapped_bytes);
  flush(fd, &l);
  put_s(&l, "hakmem stats: policies");
  put_kv(&l, "prefaulted_bytes", st.prefaulted_bytes);
  put_kv(&l, "thp_advised", st.thp_advised);
  put_kv(&l, "hugetlb_maps", st.hugetlb_maps);
  put_kv(&l, "hugetlb_fallbacks", st.hugetlb_fallbacks);
  put_kv(&l, "lazy_zeroed_bytes", st.lazy_zeroed_bytes);
  flush(fd, &l);
}

/* Programs may close stderr before exit (coreutils' close_stdout does), so
 * the exit dump writes to a duplicate taken at start-up. */
static int exit_fd = -1;

void hk_stats_init(void) {
  if (hk_opt.stats || hk_opt.verbose >= 2) exit_fd = fcntl(2, F_DUPFD_CLOEXEC, 64);
}

__attribute__((destructor)) static void stats_at_exit(void) {
  int fd = exit_fd >= 0 ? exit_fd : 2;
  if (hk_opt.stats) hak_stats_print(fd);
  if (hk_opt.verbose >= 2) hk_options_print(fd);
}
