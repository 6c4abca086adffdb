/* whale_cache.c - the shared cache of free whale mappings: a list sorted
 * by size, best fit, split and merge, gather, the capacity, and decay.
 *
 * A request takes the smallest cached mapping that holds it (best fit) and
 * splits the whole chunks beyond it off as a cached mapping of its own;
 * when none holds it the largest one grows, and the pages of its extension
 * are the pages of other cached mappings moved there by mremap (gather: no
 * copy, no fault).  A mapping put in the cache is merged with the cached
 * mappings contiguous with it (the pieces of a split, or neighbouring
 * mappings).  So the pages a program freed serve its next requests of any
 * size without being faulted in again.  Capacity (cache_cap, "capacity"
 * below): a quarter of the whale bytes the program holds outside the
 * cache, raised by its recent misses towards its recent peak, at least
 * 4 MiB, at most HAKMEM_WHALE_CACHE_MB; and HAKMEM_WHALE_CACHE_COUNT
 * mappings.  Beyond the byte cap the largest entry gives its tail back
 * (munmap), beyond the count the smallest go; a mapping that cannot be
 * grown to a request goes back as it was; what stays unused decays
 * (hk_whale_decay), and malloc_trim gives back every cached mapping
 * (hk_whale_trim).  HAKMEM_WHALE_RELEASE chooses what
 * happens to a cached mapping's pages: kept resident (0), MADV_DONTNEED (1:
 * RSS drops and the pages read back as zero) or MADV_FREE (2: the kernel
 * takes them only under memory pressure).  In front of this cache each
 * thread's heap keeps one freed mapping (whale.c).
 *
 * Invariants:
 *   - the list holds free mappings only (state 0), each still registered
 *     (its chunks are still ours), sorted by map_size ascending;
 *     cached_bytes/cached_count describe exactly the list, under
 *     hk_whale_lock;
 *   - a cached mapping's header page is never given back (MADV_FREE'd
 *     pages may read zero), and the checked builds check each header the
 *     search passes (magic, kind, a page multiple of size);
 *   - split, merge and gather happen only to free mappings off every
 *     thread's slot: a split's pieces, a cached list entry and the mapping
 *     being cached (found on the list, never by reading memory next to a
 *     block), or donors unlinked from the list under hk_whale_lock;
 *   - a released mapping (released = 1) reads zero after its header page
 *     under HAKMEM_WHALE_RELEASE=1; a merge or gather keeps that only if
 *     every piece was released, zeroing the header pages it takes in;
 *   - checked builds: a mapping on the list has been moved away from the
 *     address it was handed out at (hk_whale_seal);
 *   - decay: a free mapping carries the epoch of its free (a merge keeps
 *     the newer); hk_whale_decay unmaps cached ones HK_DECAY_AGE epochs
 *     old; the capacity's history (peak, demand) counts only its last
 *     HK_DECAY_AGE epochs, and is changed under hk_whale_lock.
 */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

static hk_whale_t *cache HK_WHALE_DATA;   /* sorted by map_size, ascending */
static uint64_t cached_bytes HK_WHALE_DATA, cached_count HK_WHALE_DATA;
                                       /* under hk_whale_lock; cached_count is
                                          also peeked without it */

/* ---- the list -------------------------------------------------------------- */
static void cache_unlink(hk_whale_t *w) {
  if (w->prev) w->prev->next = w->next; else cache = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  cached_bytes -= w->map_size;
  __atomic_store_n(&cached_count, cached_count - 1, __ATOMIC_RELAXED);
}

/* Best fit: the smallest cached mapping of at least need bytes or, when
 * none is that large, the largest one (the caller grows it).  Called with
 * hk_whale_lock held. */
static hk_whale_t *cache_take(size_t need) {
  hk_whale_t *w = cache, *last = NULL;
  for (; w != NULL; last = w, w = w->next) {
    /* checked builds: each header passed is still whole (not written over
     * by a stray write, nor read back as zero from a reclaimed page) */
    HK_CHECK(HARDEN, w->seg.magic == HK_SEG_MAGIC && w->seg.kind == HK_SEG_WHALE &&
                         w->map_size != 0 && w->map_size % HK_PAGE == 0,
             "corrupt whale cache entry", w, -1);
    if (w->map_size >= need) {
      cache_unlink(w);
      return w;
    }
  }
  if (last != NULL) cache_unlink(last);
  return last;
}

/* ---- splitting and merging free mappings ---------------------------------
 * A free mapping serves any request it can hold: the whole chunks beyond
 * the request are split off as a free mapping of their own (its pages as
 * they were, resident or released), and a mapping put in the cache is
 * merged with the cached mappings contiguous with it, so that the pieces of
 * a split become one again.  No system call, but for the checked builds'
 * guard page, which moves to the new end. */
/* Free mapping w keeps its first `keep` bytes (a multiple of HK_SS_SIZE,
 * below map_size); the rest becomes a free mapping of its own, returned. */
static hk_whale_t *split(hk_whale_t *w, size_t keep) {
  size_t old = w->map_size;
  hk_whale_t *t = (hk_whale_t *)((char *)w + keep);
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, old));
  HK_TRACK_UNDEFINED(t, sizeof *t); /* the header goes where user bytes were */
  t->seg = w->seg;
  t->huge = 0;
  t->reused = w->reused;
  t->released = w->released;
  t->state = 0;
  t->idle_epoch = w->idle_epoch;
  t->map_size = old - keep;
  t->user_off = t->usable = 0;
  t->next = t->prev = NULL;
  hk_registry_set(t, t->map_size, HK_CHUNK_WHALE);
  w->map_size = keep;
  hk_whale_guard_set(w, 1); /* t keeps the old guard, at its own end */
  HK_TRACK_NOACCESS((char *)t + sizeof *t, t->map_size - sizeof *t);
  HK_TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, keep); HK_TRACK_SEGMENT(t, t->map_size));
  return t;
}

/* Free mapping b, which starts where a ends, joins a; hk_whale_lock held. */
static void join_locked(hk_whale_t *a, hk_whale_t *b) {
  if (HK_TRACK_ASAN) {
    HK_TRACK_UNMAP(a, a->map_size);
    HK_TRACK_UNMAP(b, b->map_size);
  }
  hk_whale_guard_set(a, 0); /* a's last page is ordinary memory again */
  hk_registry_set(b, b->map_size, HK_CHUNK_TAIL);
  /* INJECTED BUG (WHALE_JOIN_DIRTY): b's first page, kept resident by the
   * release (it held b's header), is not zeroed: inside a it is taken to
   * read zero with the rest */
  if (a->released && b->released && hk_opt.whale_release == 1 && !HK_INJECT(WHALE_JOIN_DIRTY)) {
    /* a released mapping is zero but for its first page (hk_whale_cache_put):
     * b's, now inside a, must read zero too */
    HK_TRACK_UNDEFINED(b, HK_PAGE);
    memset(b, 0, HK_PAGE);
  }
  a->map_size += b->map_size;
  a->reused |= b->reused;
  a->released &= b->released; /* released (zero) only if both were */
  if (b->idle_epoch > a->idle_epoch) a->idle_epoch = b->idle_epoch; /* the newer */
  if (HK_TRACK_ASAN) HK_TRACK_SEGMENT(a, a->map_size);
}

/* Merge free mapping w (not on the list) with the cached mappings that
 * are contiguous with it; returns the merged mapping (not on the list).
 * Only list entries are looked at, never memory next to w, which may be
 * a live block being moved or unmapped by another thread.  hk_whale_lock
 * held. */
static hk_whale_t *merge_locked(hk_whale_t *w) {
  if (w->huge) return w;
  for (hk_whale_t *e = cache; e != NULL;) {
    hk_whale_t *next = e->next;
    if (!e->huge && ((char *)e + e->map_size == (char *)w ||
                     (char *)w + w->map_size == (char *)e)) {
      cache_unlink(e);
      if ((char *)e < (char *)w) {
        join_locked(e, w);
        w = e;
      } else {
        join_locked(w, e);
      }
      next = cache; /* the merged mapping may meet another one */
    }
    e = next;
  }
  return w;
}

static void insert_locked(hk_whale_t *w);

/* w (free, off every list) is about to serve need bytes: the whole chunks
 * beyond them go to the cache. */
void hk_whale_trim_excess(hk_whale_t *w, size_t need) {
  size_t keep = (need + HK_SS_SIZE - 1) & ~(HK_SS_SIZE - 1);
  if (!w->huge && w->map_size >= keep + HK_SS_SIZE) hk_whale_cache_put(split(w, keep));
}

/* ---- gathering: pages of several cached mappings made one -----------------
 * When no cached mapping holds a request, the largest one grows (hk_whale_remap)
 * and the pages of its extension are, as far as the cache has them, the
 * pages of other cached mappings, moved there by mremap (the page tables
 * move: no copy, no fault).  So any resident page the cache holds serves
 * any request, and a cache of a few times the difference between the
 * sizes a program frees and asks for keeps it from faulting pages anew.
 * Donors are taken from the large end, whole; the last one gives its tail
 * (its head, with the header, stays cached, or is unmapped when smaller
 * than GATHER_KEEP).  Not for hugetlb mappings, nor in memory-tool builds
 * (whose per-address state would have to move with the pages). */
#define GATHER_KEEP ((size_t)HK_SS_SIZE / 8)

/* Move the last m bytes of free mapping d (off every list, its guard page
 * ordinary memory) to dst, replacing what is mapped there; what is left of
 * d stays d (returned) or is unmapped (NULL). */
static hk_whale_t *donate(hk_whale_t *d, size_t m, char *dst) {
  size_t old = d->map_size, rest = old - m;
  hk_registry_set(d, old, HK_CHUNK_NONE); /* before any of it is given up */
  if (rest != 0) hk_registry_set(d, rest, HK_CHUNK_WHALE);
  hk_whale_move_pages((char *)d + rest, m, dst);
  HK_WHALE_MAPPED_SUB(m);
  if (rest == 0) return NULL;
  d->map_size = rest;
  if (rest < GATHER_KEEP) {
    hk_whale_unmap(d);
    return NULL;
  }
  return d;
}

/* w (free, off every list) is smaller than need: grown to need with the
 * cache's pages (above), *fresh the bytes that had to be mapped anew; NULL
 * when it cannot grow (w untouched). */
static hk_whale_t *gather(hk_whale_t *w, size_t need, size_t *fresh) {
  hk_whale_t *donors = NULL;
  size_t old = w->map_size, want = need - old, got = 0;
  if (!HK_TRACK_MEMORY && !w->huge) {
    pthread_mutex_lock(&hk_whale_lock);
    hk_whale_t *e = cache;
    while (e != NULL && e->next != NULL) e = e->next;
    for (hk_whale_t *prev; e != NULL && got < want; e = prev) {
      prev = e->prev;
      if (e->huge) continue;
      cache_unlink(e);
      e->next = donors;
      donors = e;
      got += e->map_size;
    }
    pthread_mutex_unlock(&hk_whale_lock);
  }
  size_t filled = 0, end = need - hk_whale_guard(w); /* (w is gone once moved) */
  hk_whale_t *nw = hk_whale_remap(w, need, 0); /* (its fresh pages counted below) */
  int zero = nw != NULL && nw->released;
  while (donors != NULL) {
    hk_whale_t *d = donors, *left = d;
    donors = d->next;
    d->next = NULL;
    if (nw != NULL && old + filled < end) {
      hk_whale_guard_set(d, 0);
      size_t m = d->map_size < end - old - filled ? d->map_size : end - old - filled;
      int whole = m == d->map_size, released = d->released;
      left = donate(d, m, (char *)nw + old + filled);
      if (zero && released && whole && hk_opt.whale_release == 1)
        memset((char *)nw + old + filled, 0, HK_PAGE); /* d's header page */
      zero &= released;
      filled += m;
      if (left != NULL) hk_whale_guard_set(left, 1);
      if (left != NULL) hk_whale_cache_put(left);
    } else { /* not needed: back as it was */
      pthread_mutex_lock(&hk_whale_lock);
      insert_locked(d);
      pthread_mutex_unlock(&hk_whale_lock);
    }
  }
  if (nw != NULL) {
    nw->released = (uint8_t)zero;
    hk_fresh_pages(HK_BUCKET_WHALE, (need - old - filled) / HK_PAGE);
    *fresh = need - old - filled;
  }
  return nw;
}

/* Fit a cached mapping to need bytes: a larger one splits its excess off,
 * a smaller one grows (gather; *fresh: the bytes it mapped anew).  NULL when the mapping cannot be fitted: it
 * goes back on the list as it was (a request no mapping can serve, such as
 * one larger than the address space, costs the cache nothing). */
static hk_whale_t *fit(hk_whale_t *w, size_t need, size_t *fresh) {
  *fresh = 0;
  if (hk_whale_fits(w->map_size, need)) {
    hk_whale_trim_excess(w, need);
    return w;
  }
  hk_whale_t *nw = gather(w, need, fresh);
  if (nw == NULL) {
    pthread_mutex_lock(&hk_whale_lock);
    insert_locked(w);
    pthread_mutex_unlock(&hk_whale_lock);
  }
  return nw;
}

/* ---- capacity ----------------------------------------------------------------
 * The cache's byte cap follows the program, from what it holds outside the
 * cache (held: live blocks and slots) and from its history over the last
 * HK_DECAY_AGE decay epochs (HAKMEM_DECAY_MS):
 *   - its peak: the highest held that an allocation from the cache (a hit)
 *     or from a fresh mapping (a miss), or a realloc's growth, reached
 *     (a slot hit leaves held as it was);
 *   - its demand: half the bytes mapped anew by every miss (or hit that
 *     had to grow with fresh pages) that came after the byte cap had
 *     evicted (bytes a larger cache would have served), added up; kept
 *     while the cache's hits and misses go on, forgotten once a window
 *     passes without either.
 * The cap is the larger of
 *   - held / CAP_SHARE: a program that replaces its blocks in place keeps a
 *     quarter of them to spare (bench/large_blocks, 20 live buffers of
 *     5-25 MiB replaced 2000 times: a share of an eighth faulted 166k
 *     pages, a quarter 105k, a half 104k, at the same peak RSS);
 *   - the demand, but no more than brings held + cached back to the peak:
 *     a program that frees its whales and asks for them again (a request
 *     loop, fuzz_large between inputs) has the cache grow round by round
 *     (by half of what each round still had to map) to what its rounds
 *     use; one that did it once or twice (a phase of its run) adds little;
 * at least CAP_FLOOR, at most HAKMEM_WHALE_CACHE_MB.  So the whale bytes
 * mapped stay within the larger of the recent peak and 1.25 times held.
 * A peak or demand older than the window is forgotten as idle memory
 * decays (the cap falls at the next put; what is cached decays by its own
 * stamp either way); malloc_trim gives back every cached byte and leaves
 * the history.  With decay off (HAKMEM_DECAY_MS=0) the epoch never moves
 * and nothing is forgotten. */
#define CAP_SHARE 4
#define CAP_FLOOR ((uint64_t)2 * HK_SS_SIZE)
/* Under hk_whale_lock.  Stamps are 1 + an epoch (0: never). */
static uint64_t peak_bytes[HK_DECAY_AGE] HK_WHALE_DATA;  /* by epoch % AGE */
static uint64_t peak_stamp[HK_DECAY_AGE] HK_WHALE_DATA;
static uint64_t demand HK_WHALE_DATA, demand_stamp HK_WHALE_DATA;
static uint64_t evicted_stamp HK_WHALE_DATA; /* the byte cap's last eviction */

/* stamp lies within the window that ends at epoch e */
static int recent(uint64_t stamp, uint64_t e) { return stamp != 0 && stamp - 1 + HK_DECAY_AGE > e; }

static uint64_t held_locked(void) {
  uint64_t mapped = atomic_load_explicit(&hk_whale_mapped, memory_order_relaxed);
  return mapped > cached_bytes ? mapped - cached_bytes : 0;
}

/* An allocation has just raised held: the peak of this epoch follows. */
static void note_peak_locked(uint64_t e) {
  uint64_t held = held_locked();
  unsigned i = (unsigned)(e % HK_DECAY_AGE);
  if (peak_stamp[i] != e + 1) { /* the slot's last epoch is AGE or more back */
    peak_stamp[i] = e + 1;
    peak_bytes[i] = 0;
  }
  if (held > peak_bytes[i]) peak_bytes[i] = held;
}

/* An allocation from the cache or a fresh mapping that mapped fresh bytes
 * anew: after an eviction they raise the demand; either way the demand
 * is in use. */
static void note_demand_locked(uint64_t e, size_t fresh) {
  if (!recent(demand_stamp, e)) demand = 0; /* forgotten */
  if (fresh != 0 && recent(evicted_stamp, e)) {
    uint64_t ceiling = (uint64_t)hk_opt.whale_cache_mb << 20;
    demand = demand + fresh / 2 < ceiling ? demand + fresh / 2 : ceiling;
  }
  if (demand != 0) demand_stamp = e + 1;
}

void hk_whale_note_growth(size_t fresh) {
  uint64_t e = hk_epoch();
  pthread_mutex_lock(&hk_whale_lock);
  note_peak_locked(e);
  if (fresh != 0) note_demand_locked(e, fresh);
  pthread_mutex_unlock(&hk_whale_lock);
}

/* The byte cap, hk_whale_lock held, a mapping of `putting` bytes about to
 * go on the list: held counts it for the share (it was the program's), not
 * for the room to the peak (it is the cache's now). */
static uint64_t cache_cap(uint64_t putting) {
  uint64_t ceiling = (uint64_t)hk_opt.whale_cache_mb << 20;
  uint64_t held = held_locked(), e = hk_epoch(), peak = 0;
  for (unsigned i = 0; i < HK_DECAY_AGE; i++)
    if (recent(peak_stamp[i], e) && peak_bytes[i] > peak) peak = peak_bytes[i];
  uint64_t rest = held > putting ? held - putting : 0;
  uint64_t room = peak > rest ? peak - rest : 0;
  uint64_t want = recent(demand_stamp, e) ? demand : 0;
  uint64_t cap = held / CAP_SHARE;
  if ((want < room ? want : room) > cap) cap = want < room ? want : room;
  if (cap < CAP_FLOOR) cap = CAP_FLOOR;
  return cap < ceiling ? cap : ceiling;
}

/* Put free mapping w (off every list) on the list, merged with the cached
 * mappings contiguous with it; hk_whale_lock held. */
static void insert_locked(hk_whale_t *w) {
  w = merge_locked(w);
  hk_whale_t **at = &cache, *prev = NULL;
  while (*at != NULL && (*at)->map_size < w->map_size) {
    prev = *at;
    at = &(*at)->next;
  }
  w->prev = prev;
  w->next = *at;
  if (*at) (*at)->prev = w;
  *at = w;
  cached_bytes += w->map_size;
  __atomic_store_n(&cached_count, cached_count + 1, __ATOMIC_RELAXED);
}

/* Unmap a list of mappings taken off the cache (linked by next), each
 * counted as an eviction; whale_lock not held. */
static void unmap_list(hk_whale_t *list) {
  while (list != NULL) {
    hk_whale_t *next = list->next;
    HK_WHALE_EVICTED();
    hk_whale_unmap(list);
    list = next;
  }
}

void hk_whale_cache_put(hk_whale_t *w) {
  uint64_t cap_count = (uint64_t)hk_opt.whale_cache_count;
  if (hk_opt.whale_cache_mb == 0 || cap_count == 0) {
    HK_WHALE_EVICTED();
    hk_whale_unmap(w);
    return;
  }
  if (hk_opt.whale_release && !w->huge && !w->released) {
    /* every page but the header's, which must keep its contents (a page
     * given back with MADV_FREE reads zero once the kernel reclaims it) */
    /* INJECTED BUG (WHALE_RELEASE_HEADER): under MADV_FREE the header page
     * is given back too, taken to keep its contents until written again */
    size_t keep = HK_INJECT(WHALE_RELEASE_HEADER) && hk_opt.whale_release == 2 ? 0 : HK_PAGE;
    hk_os_advise((char *)w + keep, w->map_size - keep,
                 hk_opt.whale_release == 1 ? MADV_DONTNEED : MADV_FREE);
    w->released = 1;
  }
  if ((w = hk_whale_seal(w)) == NULL) return;
  hk_whale_t *evict = NULL, *shrink = NULL;
  size_t shrink_to = 0;
  pthread_mutex_lock(&hk_whale_lock);
  uint64_t cap_bytes = cache_cap(w->map_size);
  insert_locked(w);
  /* Over the count cap: the smallest go.  Over the byte cap: the largest
   * gives up the excess (its tail, when what is left is worth keeping),
   * or goes whole. */
  while (cached_count > cap_count) {
    hk_whale_t *first = cache;
    cache_unlink(first);
    first->next = evict;
    evict = first;
  }
  if (cached_bytes > cap_bytes) evicted_stamp = hk_epoch() + 1;
  while (cached_bytes > cap_bytes) {
    hk_whale_t *last = cache;
    while (last->next) last = last->next;
    cache_unlink(last);
    uint64_t over = cached_bytes + last->map_size - cap_bytes;
    if (!last->huge && last->map_size >= over + GATHER_KEEP + HK_PAGE) {
      shrink = last;
      shrink_to = (last->map_size - (size_t)over) & ~(size_t)(HK_PAGE - 1);
      break;
    }
    last->next = evict;
    evict = last;
  }
  pthread_mutex_unlock(&hk_whale_lock);
  if (shrink != NULL) {
    HK_WHALE_EVICTED();
    hk_whale_t *sw = hk_whale_remap(shrink, shrink_to, 0);
    if (sw == NULL) { /* (valgrind builds): whole */
      shrink->next = evict;
      evict = shrink;
    } else {
      pthread_mutex_lock(&hk_whale_lock);
      insert_locked(sw);
      pthread_mutex_unlock(&hk_whale_lock);
    }
  }
  unmap_list(evict);
}

/* ---- what whale.c calls ---------------------------------------------------- */
/* A free mapping (a thread's slot given up for a request it cannot hold)
 * on the list without evicting: its pages may serve the request through
 * gather, and the caps are kept by the next put.  No cache: unmapped. */
void hk_whale_cache_insert(hk_whale_t *w) {
  if (hk_opt.whale_cache_mb == 0 || hk_opt.whale_cache_count == 0) {
    hk_whale_cache_put(w); /* (unmapped) */
    return;
  }
  if ((w = hk_whale_seal(w)) == NULL) return;
  pthread_mutex_lock(&hk_whale_lock);
  insert_locked(w);
  pthread_mutex_unlock(&hk_whale_lock);
}

/* A cached mapping of at least need bytes, off the list (best fit, split
 * or gathered), or NULL (a miss). */
hk_whale_t *hk_whale_cache_get(size_t need) {
  if (__atomic_load_n(&cached_count, __ATOMIC_RELAXED) == 0) return NULL;
  pthread_mutex_lock(&hk_whale_lock);
  hk_whale_t *w = cache_take(need);
  pthread_mutex_unlock(&hk_whale_lock);
  size_t fresh = 0;
  if (w != NULL && (w = fit(w, need, &fresh)) != NULL) {
    pthread_mutex_lock(&hk_whale_lock);
    note_peak_locked(hk_epoch());
    note_demand_locked(hk_epoch(), fresh); /* (a hit: the demand is in use) */
    pthread_mutex_unlock(&hk_whale_lock);
  }
  return w;
}

void hk_whale_cache_counts(uint64_t *bytes, uint64_t *count) {
  pthread_mutex_lock(&hk_whale_lock);
  *bytes = cached_bytes;
  *count = cached_count;
  pthread_mutex_unlock(&hk_whale_lock);
}

/* Decay at epoch now: the cached mappings idle since an epoch
 * HK_DECAY_AGE back are unmapped (HK_DECAY_NOW: all of them, malloc_trim);
 * returns the bytes given back. */
size_t hk_whale_decay(uint64_t now) {
  hk_whale_t *list = NULL;
  size_t bytes = 0;
  pthread_mutex_lock(&hk_whale_lock);
  for (hk_whale_t *w = cache, *next; w != NULL; w = next) {
    next = w->next;
    if (!hk_decayed(w->idle_epoch, now)) continue;
    bytes += w->map_size;
    cache_unlink(w);
    w->next = list;
    list = w;
  }
  pthread_mutex_unlock(&hk_whale_lock);
  unmap_list(list);
  return bytes;
}

size_t hk_whale_trim(void) { return hk_whale_decay(HK_DECAY_NOW); }

