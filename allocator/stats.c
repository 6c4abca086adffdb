/* stats.c - statistics snapshot (hak_stats_get) and the HAKMEM_STATS=1 dump.
 *
 * Counters live where they are bumped: per slab (allocs, folded into
 * hk_retired_allocs when a span goes back), per heap and class (remote
 * frees, refills), globally for heapless threads, whale.c for large
 * blocks, os.c for syscalls, superslab.c for superslabs.  The live count
 * of each class is read off the slabs themselves (hk_slab_live), less the
 * blocks that threads hold in their remote-free batches (hk_remote_pending;
 * the calling thread hands its own over first), and frees = allocs - live,
 * so the fast free path counts nothing.  This file
 * only reads; it sits above every layer that keeps a counter (below it
 * only init.c and the API files).
 *
 * Invariants: live_blocks = allocs - frees over all paths, exact whenever
 * no other thread is allocating or freeing; live_bytes sums the usable
 * size of each live block's class (or mapping).  The dump builds its lines
 * on the stack (report.c) and never allocates, so it is safe at exit.
 */
#include "internal.h"

#include <fcntl.h>
#include <stddef.h>
#include <string.h>

typedef struct class_sums {
  uint64_t live[HK_NCLASSES], allocs[HK_NCLASSES];
  uint64_t batched[HK_NCLASSES]; /* freed, in a thread's remote-free batch */
} class_sums_t;

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
  static class_sums_t sum; /* 1 KiB: off the caller's stack */
  hk_remote_flush(hk_tl_heap); /* (the other threads' batches: below) */
  pthread_mutex_lock(&hk_snapshot_lock);
  memset(&sum, 0, sizeof sum);
  hk_ss_foreach(sum_slabs, &sum);
  out->version = HAKMEM_API_VERSION;
  out->nclasses = HK_NCLASSES;
  pthread_mutex_lock(&hk_heaps_lock);
  for (hk_heap_t *h = hk_heaps_all; h != NULL; h = h->next_all) hk_remote_pending(h, sum.batched);
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    /* blocks in remote-free batches count in their slabs' used: freed */
    sum.live[c] = sum.live[c] > sum.batched[c] ? sum.live[c] - sum.batched[c] : 0;
    hak_class_stats_t *cs = &out->cls[c];
    cs->size = hk_class[c].usable;
    cs->stride = hk_class[c].stride;
    cs->usable = hk_class[c].usable;
    cs->header = hk_class[c].header;
    cs->canary = HK_CLASS_CANARY(&hk_class[c]);
    cs->allocs = sum.allocs[c] + atomic_load(&hk_retired_allocs[c]);
    cs->remote_frees = HK_CNT_GET(hk_orphan_cnt[c].remote_frees) + sum.batched[c];
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
  for (unsigned b = 0; b < HK_BUCKETS; b++)
    out->fresh_pages[b] = atomic_load_explicit(&hk_orphan_fresh[b], memory_order_relaxed);
  for (hk_heap_t *h = hk_heaps_all; h != NULL; h = h->next_all) {
    out->remote_drains += HK_CNT_GET(h->drains);
    for (unsigned b = 0; b < HK_BUCKETS; b++) out->fresh_pages[b] += HK_CNT_GET(h->fresh[b]);
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
  hk_fault_counts(out->faults);
  out->allocs += out->large_allocs;
  out->frees += out->large_frees;
  uint64_t za, zf; /* malloc(0)'s blocks in checked builds (zero.c): 0 bytes each */
  hk_zero_counts(&za, &zf);
  out->allocs += za;
  out->frees += zf;
  out->live_bytes += out->large_live_bytes;
  out->live_blocks = out->allocs - out->frees;

  hk_ss_counts(&out->superslabs_live, &out->superslabs_cached,
               &out->superslabs_mapped, &out->superslabs_unmapped);
  hk_os_stats(out);
  return 0;
}

/* ---- the dump ------------------------------------------------------------ */
static void put_kv(hk_line_t *l, const char *k, uint64_t v) {
  hk_line_str(l, " ");
  hk_line_str(l, k);
  hk_line_str(l, "=");
  hk_line_u64(l, v, 0);
}

/* The dump after the per-class table: one line per entry, "key=value"
 * pairs read from hak_stats_t by offset.  DUMP_HIT_RATE names the one
 * derived value. */
typedef struct dump_field { const char *key; size_t off; } dump_field_t;
typedef struct dump_line { const char *title; dump_field_t fields[12]; } dump_line_t;
#define F(key, member) {key, offsetof(hak_stats_t, member)}
#define DUMP_HIT_RATE SIZE_MAX
#define BUCKETS(arr) F("tiny", arr[0]), F("mid", arr[1]), F("l25", arr[2]), \
                     F("whale", arr[3]), F("meta", arr[4])
static const dump_line_t dump_lines[] = {
    {"whale", {F("allocs", large_allocs), F("frees", large_frees),
               F("live_bytes", large_live_bytes), F("cache_hits", whale_hits),
               F("cache_misses", whale_misses), {"hit_rate_pct", DUMP_HIT_RATE},
               F("evictions", whale_evictions), F("remaps", whale_remaps),
               F("cached_bytes", whale_cached_bytes),
               F("cached_count", whale_cached_count)}},
    {"faults", {BUCKETS(faults)}},
    {"fresh_pages", {BUCKETS(fresh_pages)}},
    {"superslabs", {F("live", superslabs_live), F("cached", superslabs_cached),
                    F("mapped", superslabs_mapped), F("unmapped", superslabs_unmapped)}},
    {"threads", {F("started", threads_started), F("exited", threads_exited),
                 F("slabs_abandoned", slabs_abandoned), F("slabs_adopted", slabs_adopted),
                 F("remote_drains", remote_drains)}},
    {"os", {F("mmap", mmap_calls), F("munmap", munmap_calls),
            F("madvise", madvise_calls), F("mmap_cycles", mmap_cycles),
            F("munmap_cycles", munmap_cycles), F("madvise_cycles", madvise_cycles),
            F("mremap", mremap_calls), F("mremap_cycles", mremap_cycles),
            F("mapped_bytes", mapped_bytes)}},
    {"policies", {F("prefaulted_bytes", prefaulted_bytes), F("thp_advised", thp_advised),
                  F("hugetlb_maps", hugetlb_maps), F("hugetlb_fallbacks", hugetlb_fallbacks),
                  F("lazy_zeroed_bytes", lazy_zeroed_bytes)}},
};
#undef BUCKETS
#undef F

static uint64_t field_value(const hak_stats_t *st, size_t off) {
  if (off == DUMP_HIT_RATE) {
    uint64_t n = st->whale_hits + st->whale_misses;
    return n ? st->whale_hits * 100 / n : 0;
  }
  uint64_t v;
  memcpy(&v, (const char *)st + off, sizeof v);
  return v;
}

HK_PUBLIC void hak_stats_print(int fd) {
  static hak_stats_t st; /* large; static keeps it off small thread stacks */
  hak_stats_get(&st);
  hk_line_t l = {.len = 0};
  hk_line_str(&l, "hakmem stats: variant=");
  hk_line_str(&l, hak_variant());
  put_kv(&l, "live_blocks", st.live_blocks);
  put_kv(&l, "live_bytes", st.live_bytes);
  put_kv(&l, "allocs", st.allocs);
  put_kv(&l, "frees", st.frees);
  hk_line_end(&l, fd);
  hk_line_str(&l, "hakmem stats: class stride usable     allocs      frees  remote_frees    refills  slabs");
  hk_line_end(&l, fd);
  for (unsigned c = 0; c < st.nclasses; c++) {
    const hak_class_stats_t *cs = &st.cls[c];
    if (cs->allocs == 0 && cs->frees == 0) continue;
    hk_line_str(&l, "hakmem stats: ");
    hk_line_u64(&l, c, 5);
    hk_line_u64(&l, cs->stride, 7);
    hk_line_u64(&l, cs->usable, 7);
    hk_line_u64(&l, cs->allocs, 11);
    hk_line_u64(&l, cs->frees, 11);
    hk_line_u64(&l, cs->remote_frees, 14);
    hk_line_u64(&l, cs->refills, 11);
    hk_line_u64(&l, cs->slabs, 7);
    hk_line_end(&l, fd);
  }
  for (unsigned i = 0; i < sizeof dump_lines / sizeof dump_lines[0]; i++) {
    const dump_line_t *d = &dump_lines[i];
    hk_line_str(&l, "hakmem stats: ");
    hk_line_str(&l, d->title);
    for (const dump_field_t *f = d->fields; f->key != NULL; f++)
      put_kv(&l, f->key, field_value(&st, f->off));
    hk_line_end(&l, fd);
  }
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
