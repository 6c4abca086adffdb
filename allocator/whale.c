/* whale.c - blocks above the class range (> 256 KiB): one mapping per
 * block, with its header at the mapping's 2 MiB-aligned base, a bounded
 * cache of freed mappings for reuse, and the checks of the checked builds
 * (guard page, state, a ring of recently unmapped blocks).
 *
 * Cache: a list of freed mappings sorted by size.  A request takes the
 * smallest cached mapping that holds it (best fit) and splits the whole
 * chunks beyond it off as a cached mapping of its own; when none holds it
 * the largest one grows, and the pages of its extension are the pages of
 * other cached mappings moved there by mremap (gather: no copy, no fault).
 * A mapping put in the cache is merged with the cached mappings contiguous
 * with it (the pieces of a split, or neighbouring mappings).  So the pages
 * a program freed serve its next requests of any size without being
 * faulted in again.  Capacity (cache_cap) follows the program: a quarter
 * of the whale bytes it holds outside the cache (live blocks and slots), at
 * least 4 MiB, at most HAKMEM_WHALE_CACHE_MB; and HAKMEM_WHALE_CACHE_COUNT
 * mappings.  Beyond the byte cap the largest entry gives its tail back
 * (munmap), beyond the count the smallest go; what stays unused decays
 * (hk_whale_decay).  HAKMEM_WHALE_RELEASE chooses what
 * happens to a cached mapping's pages: kept resident (0), MADV_DONTNEED (1:
 * RSS drops and the pages read back as zero) or MADV_FREE (2: the kernel
 * takes them only under memory pressure).  In front of the shared cache each
 * thread's heap keeps one freed mapping, so a malloc/free cycle of one whale
 * takes no lock and no syscall; a request it holds with whole chunks to
 * spare gives them to the cache (trim_slot), one it cannot hold sends it to
 * the cache, where gather can use its pages.
 *
 * realloc grows a whale with mremap: in place when the address space after
 * it is free, else by moving its pages to a new 2 MiB-aligned reservation
 * (no copy).  Hugetlb-backed whales are not remapped, nor are live ones in
 * memory-tool builds, nor cached ones under valgrind (remap_to).
 *
 * Invariants:
 *   - the mapping base is aligned to max(2 MiB, alignment): its first chunk
 *     is registered HK_CHUNK_WHALE with the header at the base, the others
 *     HK_CHUNK_TAIL, and no other segment starts in those chunks; a cached
 *     mapping stays registered (its chunks are still ours);
 *   - the header lies before the user pointer, outside the usable bytes;
 *   - usable = map_size - user_off - HK_WHALE_GUARD >= the request: the
 *     checked builds keep the mapping's last page PROT_NONE (a guard page:
 *     an overrun faults at its first byte; not for hugetlb mappings, whose
 *     pages cannot be split), release builds have no guard (0);
 *   - state is HK_WHALE_LIVE exactly while the block is handed out;
 *   - a cached mapping's header page is never given back (MADV_FREE'd
 *     pages may read zero), and the checked builds check each header the
 *     cache search passes (magic, kind, a page multiple of size);
 *   - split, merge and gather happen only to free mappings off every
 *     thread's slot: a split's pieces, a cached list entry and the mapping
 *     being cached (found on the list, never by reading memory next to a
 *     block), or donors unlinked from the list under whale_lock;
 *   - a mapping may be several kernel areas (after a merge or a gather):
 *     its pages move with move_pages, which splits a failed mremap, and it
 *     grows in place from its last page;
 *   - whale_mapped is the bytes of every whale mapping (live, slot, cached);
 *   - checked builds: a mapping on the list has been moved away from the
 *     address it was handed out at (seal_away);
 *   - cached_bytes/cached_count describe exactly the list, under whale_lock;
 *   - decay: a free mapping carries the epoch of its free (a merge keeps
 *     the newer); hk_whale_decay unmaps cached ones HK_DECAY_AGE epochs
 *     old, hk_whale_slot_decay moves an old slot entry to the cache.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* The module's globals sit in .data, not .bss.  The linker puts .bss after
 * the registry's zero leaf onto a page of its own, which a program whose
 * first allocation is a whale would touch here first: a read of
 * cached_count (the kernel maps the shared zero page), then a write (a
 * second fault, copy on write): two minor faults in its first malloc.  .data
 * (a few KiB) shares its pages with the options, which start-up writes. */
#define WHALE_DATA __attribute__((section(".data")))
pthread_mutex_t hk_whale_lock WHALE_DATA = PTHREAD_MUTEX_INITIALIZER;
#define whale_lock hk_whale_lock
static hk_whale_t *cache WHALE_DATA;   /* sorted by map_size, ascending */
static uint64_t cached_bytes WHALE_DATA, cached_count WHALE_DATA;
                                       /* under whale_lock; cached_count is
                                          also peeked without it */
/* Allocation counters live in the heap of the thread (h->wcnt, plain
 * stores); threads without a heap count here, atomically. */
static hk_whale_cnt_t orphan WHALE_DATA;
static _Atomic uint64_t whale_misses WHALE_DATA, whale_evictions WHALE_DATA,
    whale_remaps WHALE_DATA;
/* bytes of every whale mapping (live, in a slot or cached): changed only
 * where a mapping is made, remapped or unmapped */
static _Atomic uint64_t whale_mapped WHALE_DATA;
#define MAPPED_ADD(n) atomic_fetch_add_explicit(&whale_mapped, (uint64_t)(n), memory_order_relaxed)
#define MAPPED_SUB(n) atomic_fetch_sub_explicit(&whale_mapped, (uint64_t)(n), memory_order_relaxed)

#define WCNT(h, field, n)                                                      \
  do {                                                                         \
    if ((h) != &hk_heap_empty) HK_CNT_ADD((h)->wcnt.field, (n));               \
    else __atomic_fetch_add(&orphan.field, (n), __ATOMIC_RELAXED);             \
  } while (0)

#define HK_WHALE_GUARD (HK_ON(HARDEN) ? HK_PAGE : 0)
static size_t guard_of(const hk_whale_t *w) { return w->huge ? 0 : HK_WHALE_GUARD; }
/* Checked builds (not under a memory tool, whose own poisoning catches a
 * use after free, and not for hugetlb mappings): a mapping put on the
 * shared list is first moved away (seal_away, below): its pages go to a
 * new address by mremap, so the range the program was given is unmapped
 * and a use of the freed block faults, while the pages stay resident for
 * reuse (a cached mapping is handed out at its new address).  The slot's
 * mapping stays where it is: a cached cycle costs no system call
 * (docs/hardening.md). */
#define HK_WHALE_SEAL (HK_ON(HARDEN) && !HK_TRACK_MEMORY)
#define SEALING (HK_WHALE_SEAL && hk_opt.whale_seal) /* HAKMEM_WHALE_SEAL=0: off */
/* checked builds: make the last page of the mapping a guard (on = 1) or
 * ordinary memory again (on = 0, before a remap or an unmap) */
static void guard_set(hk_whale_t *w, int on) {
  if (guard_of(w)) hk_os_protect((char *)w + w->map_size - HK_PAGE, HK_PAGE, !on);
}

/* the cache's fit test: a cached mapping of map_size bytes holds need
 * bytes (whatever it has beyond them is split off: trim_excess) */
static int fits(size_t map_size, size_t need) {
  /* INJECTED BUG (WHALE_UNDERSIZE): half the request taken for enough */
  return map_size >= (HK_INJECT(WHALE_UNDERSIZE) ? need / 2 : need);
}

static size_t user_off_for(size_t align) {
  if (align < 64) align = 64;
  return (sizeof(hk_whale_t) + align - 1) & ~(align - 1);
}

/* Bytes to map for size at user_off (hugetlb mappings round to 2 MiB). */
static size_t map_size_for(size_t user_off, size_t size, int huge) {
  size_t round = huge ? HK_SS_SIZE : HK_PAGE;
  return (user_off + size + round - 1) & ~(round - 1);
}

/* ---- the shared cache ------------------------------------------------------ */
static void cache_unlink(hk_whale_t *w) {
  if (w->prev) w->prev->next = w->next; else cache = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  cached_bytes -= w->map_size;
  __atomic_store_n(&cached_count, cached_count - 1, __ATOMIC_RELAXED);
}

/* LSan's root-region calls (HK_TRACK_SEGMENT/UNMAP) take LSan's own lock:
 * made under whale_lock, which fork_prepare holds, no fork can copy that
 * lock taken into a child (which then hung in its next call).  Only ASan
 * builds take the lock (and only they have work to do: HK_TRACK_UNMAP and
 * HK_TRACK_SEGMENT are LSan/ASan-only); whale_lock is never held here. */
#define TRACK_UNDER_WHALE_LOCK(stmt)                                           \
  do {                                                                         \
    if (HK_TRACK_ASAN) {                                                       \
      pthread_mutex_lock(&whale_lock);                                         \
      stmt;                                                                    \
      pthread_mutex_unlock(&whale_lock);                                       \
    }                                                                          \
  } while (0)

static void unmap_whale(hk_whale_t *w) {
  size_t map_size = w->map_size;
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, map_size)); /* (only ASan has work here) */
  hk_registry_set(w, map_size, HK_CHUNK_NONE);
  hk_os_unmap(w, map_size);
  MAPPED_SUB(map_size);
}

/* Best fit: the smallest cached mapping of at least need bytes or, when
 * none is that large, the largest one (the caller grows it).  Called with
 * whale_lock held. */
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
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, old));
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
  guard_set(w, 1); /* t keeps the old guard, at its own end */
  HK_TRACK_NOACCESS((char *)t + sizeof *t, t->map_size - sizeof *t);
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, keep); HK_TRACK_SEGMENT(t, t->map_size));
  return t;
}

/* Free mapping b, which starts where a ends, joins a; whale_lock held. */
static void join_locked(hk_whale_t *a, hk_whale_t *b) {
  if (HK_TRACK_ASAN) {
    HK_TRACK_UNMAP(a, a->map_size);
    HK_TRACK_UNMAP(b, b->map_size);
  }
  guard_set(a, 0); /* a's last page is ordinary memory again */
  hk_registry_set(b, b->map_size, HK_CHUNK_TAIL);
  /* INJECTED BUG (WHALE_JOIN_DIRTY): b's first page, kept resident by the
   * release (it held b's header), is not zeroed: inside a it is taken to
   * read zero with the rest */
  if (a->released && b->released && hk_opt.whale_release == 1 && !HK_INJECT(WHALE_JOIN_DIRTY)) {
    /* a released mapping is zero but for its first page (cache_put):
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
 * a live block being moved or unmapped by another thread.  whale_lock
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

static void cache_put(hk_whale_t *w);
static void insert_locked(hk_whale_t *w);

/* w (free, off every list) is about to serve need bytes: the whole chunks
 * beyond them go to the cache. */
static void trim_excess(hk_whale_t *w, size_t need) {
  size_t keep = (need + HK_SS_SIZE - 1) & ~(HK_SS_SIZE - 1);
  if (!w->huge && w->map_size >= keep + HK_SS_SIZE) cache_put(split(w, keep));
}

/* Move the pages of [src, src+len) to dst (page multiples), replacing what
 * is mapped there.  The range may be several of the kernel's areas (the
 * pieces of a merge or a gather), which one mremap cannot move: a failed
 * move is split in halves, and a single page that still cannot move (the
 * kernel's area count at its limit) is copied and unmapped. */
static void move_pages(char *src, size_t len, char *dst) {
  if (hk_os_remap(src, len, len, dst) != NULL) return;
  if (len <= HK_PAGE) {
    memcpy(dst, src, len);
    hk_os_unmap(src, len);
    return;
  }
  size_t half = (len / 2) & ~(size_t)(HK_PAGE - 1);
  move_pages(src, half, dst);
  move_pages(src + half, len - half, dst + half);
}

/* Checked builds: free mapping w (off every list) moved to a new 2 MiB-
 * aligned address, its old range unmapped (above); the moved mapping, or
 * NULL when no new address could be had (w is then unmapped: freed either
 * way).  The guard page moves as a piece of its own (another kernel area). */
static hk_whale_t *seal_away(hk_whale_t *w) {
  if (!SEALING || w->huge) return w;
  size_t n = w->map_size, g = guard_of(w);
  char *dst = hk_os_map(n, HK_SS_SIZE);
  if (dst != NULL && hk_registry_reserve(dst, n) != 0) {
    hk_os_unmap(dst, n);
    dst = NULL;
  }
  if (dst == NULL) {
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    unmap_whale(w);
    return NULL;
  }
  hk_registry_set(w, n, HK_CHUNK_NONE); /* before the range is given up */
  move_pages((char *)w, n - g, dst);
  /* the guard page has nothing to copy, and cannot be read: when mremap
   * fails (ENOMEM) it is made anew at dst instead */
  if (g != 0 && hk_os_remap((char *)w + n - g, g, g, dst + n - g) == NULL) {
    hk_os_unmap((char *)w + n - g, g);
    guard_set((hk_whale_t *)dst, 1); /* dst's header came with the pages */
  }
  hk_registry_set(dst, n, HK_CHUNK_WHALE);
  return (hk_whale_t *)dst;
}

/* Remap w to new_size bytes (a page multiple): in place, or when growing
 * and the address space after it is taken, by moving its pages to a fresh
 * 2 MiB-aligned reservation (no copy).  Returns the header (moved or not),
 * or NULL with w untouched.  Hugetlb mappings are never remapped.
 * Memory tools keep per-address state that mremap leaves behind: valgrind
 * builds never remap (realloc copies, the cache maps anew); under ASan a
 * cached (free) whale is remapped with its shadow cleared and LSan's root
 * region moved, and the hand-out sets the block's shadow afresh, but a live
 * block is not (hk_whale_resize: realloc copies), whose shadow and leak
 * registry entry would have to move with it. */
static hk_whale_t *remap_to(hk_whale_t *w, size_t new_size, int count_fresh) {
  size_t old_size = w->map_size;
  if (new_size == old_size) return w;
  if (HK_TRACK_VALGRIND || w->huge) return NULL;
  /* the registry leaves of an in-place growth, before anything changes */
  if (hk_registry_reserve(w, new_size) != 0) return NULL;
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_UNMAP(w, old_size));
  guard_set(w, 0); /* one mapping again; the guard moves to the new end */
  /* Unregister while the range is still ours: once mremap gives part of it
   * back, another thread may map and register a segment there. */
  hk_registry_set(w, old_size, HK_CHUNK_NONE);
  hk_whale_t *nw = NULL;
  if (new_size < old_size) {
    hk_os_unmap((char *)w + new_size, old_size - new_size);
    nw = w;
  } else if (hk_os_remap((char *)w + old_size - HK_PAGE, HK_PAGE,
                         HK_PAGE + new_size - old_size, NULL) != NULL) {
    nw = w; /* grown in place (its last page's area: w may be several areas) */
  } else {
    void *dst = hk_os_map(new_size, HK_SS_SIZE);
    if (dst != NULL && hk_registry_reserve(dst, new_size) != 0) {
      hk_os_unmap(dst, new_size);
      dst = NULL;
    }
    if (dst != NULL) {
      move_pages((char *)w, old_size, dst);
      nw = dst;
    }
  }
  if (nw == NULL) {
    /* INJECTED BUG (WHALE_REMAP_UNREGISTERED): the failure path takes the
     * mapping for gone with the failed mremap and leaves it unregistered */
    if (!HK_INJECT(WHALE_REMAP_UNREGISTERED))
      hk_registry_set(w, old_size, HK_CHUNK_WHALE); /* untouched: ours again */
    guard_set(w, 1);
    TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, old_size));
    return NULL;
  }
  /* whatever the shadow of the new range held (the extension's, or the
   * reservation's) is cleared; the hand-out poisons what is not the user's */
  HK_TRACK_DEFINED(nw, new_size);
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(nw, new_size));
  hk_registry_set(nw, new_size, HK_CHUNK_WHALE);
  nw->map_size = new_size;
  MAPPED_ADD(new_size - old_size); /* (wraps to a subtraction when shrinking) */
  guard_set(nw, 1);
  if (new_size > old_size && count_fresh)
    hk_fresh_pages(HK_BUCKET_WHALE, (new_size - old_size) / HK_PAGE);
  atomic_fetch_add_explicit(&whale_remaps, 1, memory_order_relaxed);
  return nw;
}

/* ---- gathering: pages of several cached mappings made one -----------------
 * When no cached mapping holds a request, the largest one grows (remap_to)
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
  move_pages((char *)d + rest, m, dst);
  MAPPED_SUB(m);
  if (rest == 0) return NULL;
  d->map_size = rest;
  if (rest < GATHER_KEEP) {
    unmap_whale(d);
    return NULL;
  }
  return d;
}

/* w (free, off every list) is smaller than need: grown to need with the
 * cache's pages (above); NULL when it cannot grow (w untouched). */
static hk_whale_t *gather(hk_whale_t *w, size_t need) {
  hk_whale_t *donors = NULL;
  size_t old = w->map_size, want = need - old, got = 0;
  if (!HK_TRACK_MEMORY && !w->huge) {
    pthread_mutex_lock(&whale_lock);
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
    pthread_mutex_unlock(&whale_lock);
  }
  size_t filled = 0, end = need - guard_of(w); /* (w is gone once moved) */
  hk_whale_t *nw = remap_to(w, need, donors == NULL);
  int zero = nw != NULL && nw->released;
  while (donors != NULL) {
    hk_whale_t *d = donors, *left = d;
    donors = d->next;
    d->next = NULL;
    if (nw != NULL && old + filled < end) {
      guard_set(d, 0);
      size_t m = d->map_size < end - old - filled ? d->map_size : end - old - filled;
      int whole = m == d->map_size, released = d->released;
      left = donate(d, m, (char *)nw + old + filled);
      if (zero && released && whole && hk_opt.whale_release == 1)
        memset((char *)nw + old + filled, 0, HK_PAGE); /* d's header page */
      zero &= released;
      filled += m;
      if (left != NULL) guard_set(left, 1);
      if (left != NULL) cache_put(left);
    } else { /* not needed: back as it was */
      pthread_mutex_lock(&whale_lock);
      insert_locked(d);
      pthread_mutex_unlock(&whale_lock);
    }
  }
  if (nw != NULL) {
    nw->released = (uint8_t)zero;
    hk_fresh_pages(HK_BUCKET_WHALE, (need - old - filled) / HK_PAGE);
  }
  return nw;
}

/* Fit a cached mapping to need bytes: a larger one splits its excess off,
 * a smaller one grows (gather).  NULL when the mapping cannot be fitted
 * (it is then unmapped). */
static hk_whale_t *fit(hk_whale_t *w, size_t need) {
  if (fits(w->map_size, need)) {
    trim_excess(w, need);
    return w;
  }
  hk_whale_t *nw = gather(w, need);
  if (nw == NULL) {
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    unmap_whale(w);
  }
  return nw;
}

/* The cache's capacity in bytes (whale_lock held, w about to go on the
 * list): a share of the whale bytes the program holds outside the cache
 * (live blocks and slots, w included), at least CAP_FLOOR, at most
 * HAKMEM_WHALE_CACHE_MB.  A quarter: on bench/large_blocks (20 live
 * buffers of 5-25 MiB replaced 2000 times) an eighth faulted 166k pages, a
 * quarter 105k, a half 104k, at the same peak RSS (the cache fills while
 * the program frees, and empties as it allocates). */
#define CAP_SHARE 4
#define CAP_FLOOR ((uint64_t)2 * HK_SS_SIZE)
static uint64_t cache_cap(void) {
  uint64_t ceiling = (uint64_t)hk_opt.whale_cache_mb << 20;
  uint64_t mapped = atomic_load_explicit(&whale_mapped, memory_order_relaxed);
  uint64_t held = mapped > cached_bytes ? mapped - cached_bytes : 0;
  uint64_t cap = held / CAP_SHARE;
  if (cap < CAP_FLOOR) cap = CAP_FLOOR;
  return cap < ceiling ? cap : ceiling;
}

/* Put free mapping w (off every list) on the list, merged with the cached
 * mappings contiguous with it; whale_lock held. */
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

static void cache_put(hk_whale_t *w) {
  uint64_t cap_count = (uint64_t)hk_opt.whale_cache_count;
  if (hk_opt.whale_cache_mb == 0 || cap_count == 0) {
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    unmap_whale(w);
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
  if ((w = seal_away(w)) == NULL) return;
  hk_whale_t *evict = NULL, *shrink = NULL;
  size_t shrink_to = 0;
  pthread_mutex_lock(&whale_lock);
  uint64_t cap_bytes = cache_cap();
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
  pthread_mutex_unlock(&whale_lock);
  if (shrink != NULL) {
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    hk_whale_t *sw = remap_to(shrink, shrink_to, 0);
    if (sw == NULL) { /* (valgrind builds): whole */
      shrink->next = evict;
      evict = shrink;
    } else {
      pthread_mutex_lock(&whale_lock);
      insert_locked(sw);
      pthread_mutex_unlock(&whale_lock);
    }
  }
  while (evict != NULL) {
    hk_whale_t *next = evict->next;
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    unmap_whale(evict);
    evict = next;
  }
}

/* ---- checks (hardened and debug builds) -----------------------------------
 * A small ring of recently freed large blocks: once unmapped, a block's
 * chunks may hold a superslab (or, after a merge or gather, the middle of
 * another mapping), and a second free of it must still be reported as a
 * double free, not as a pointer of the wrong shape.  The ring is read only
 * for a pointer already found bad, to name its fault, so an entry may stay
 * after its address is handed out again (no clean-up on the malloc path). */
#define WHALE_RING 64
static _Atomic uintptr_t whale_freed[WHALE_RING];
static _Atomic unsigned whale_freed_pos;

void hk_whale_check(hk_whale_t *w, const void *p, int op) {
  /* a freed block's pointer that now lies inside another mapping (merged
   * or gathered into it) is reported as what it is */
  if (HK_ON(HARDEN) && (const char *)p != (const char *)w + w->user_off &&
      hk_whale_recently_freed(p))
    hk_fatal(op ? "realloc of a freed block" : "double free", p, -1);
  HK_CHECK(HARDEN, (const char *)p == (const char *)w + w->user_off,
           op ? "invalid realloc (interior pointer of a large block)"
              : "invalid free (interior pointer of a large block)", p, -1);
  HK_CHECK(HARDEN, w->state == HK_WHALE_LIVE,
           op ? "realloc of a freed block" : "double free", p, -1);
}

static void note_freed(const void *p) {
  /* no locked add on the free path: two racing frees may share a slot (the
   * ring names faults, it decides none) */
  unsigned i = atomic_load_explicit(&whale_freed_pos, memory_order_relaxed);
  atomic_store_explicit(&whale_freed_pos, i + 1, memory_order_relaxed);
  atomic_store_explicit(&whale_freed[i % WHALE_RING], (uintptr_t)p, memory_order_relaxed);
}

int hk_whale_recently_freed(const void *p) {
  if (!HK_ON(HARDEN)) return 0;
  for (unsigned i = 0; i < WHALE_RING; i++)
    if (atomic_load_explicit(&whale_freed[i], memory_order_relaxed) == (uintptr_t)p)
      return 1;
  return 0;
}

/* ---- allocation ---------------------------------------------------------- */
HK_INLINE void *hand_out(hk_heap_t *h, hk_whale_t *w, size_t user_off) {
  HK_ASSERT(w->seg.magic == HK_SEG_MAGIC && w->seg.kind == HK_SEG_WHALE &&
            ((uintptr_t)w & (HK_SS_SIZE - 1)) == 0 && user_off < w->map_size);
  w->user_off = user_off;
  w->usable = w->map_size - user_off - guard_of(w);
  w->state = HK_WHALE_LIVE;
  WCNT(h, allocs, 1);
  WCNT(h, bytes_in, w->usable);
  return (char *)w + user_off;
}

/* Memory tools (track.h): the padding after the header and the slack after
 * the request stay the allocator's; the user gets exactly [p, p+size). */
#define TRACK_HAND_OUT(w, p, size)                                             \
  do {                                                                         \
    HK_TRACK_NOACCESS((char *)(w) + sizeof(hk_whale_t), (w)->user_off - sizeof(hk_whale_t)); \
    HK_TRACK_NOACCESS((char *)(p) + (size), (w)->usable - (size));             \
    HK_TRACK_ALLOC((p), (size), 0);                                            \
  } while (0)

static hk_whale_t *map_new(size_t size, size_t align, size_t user_off) {
  size_t map_align = align > HK_SS_SIZE ? align : HK_SS_SIZE;
  int huge = 0;
  if (size > PTRDIFF_MAX || size > SIZE_MAX - user_off - HK_SS_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  /* the size a hugetlb mapping would take; hk_os_map_data decides */
  size_t map_size = map_size_for(user_off, size, hk_opt.hugetlb != 0);
  uint64_t f0 = hk_fault_begin();
  char *base = hk_os_map_data(map_size, map_align, &huge);
  if (base == NULL) return NULL;
  if (!huge && hk_opt.hugetlb) { /* fell back: give the rounding back */
    size_t exact = map_size_for(user_off, size, 0);
    hk_os_unmap(base + exact, map_size - exact);
    map_size = exact;
  }
  hk_whale_t *w = (hk_whale_t *)base;
  w->seg.magic = HK_SEG_MAGIC;
  w->seg.kind = HK_SEG_WHALE;
  w->map_size = map_size;
  w->huge = (uint8_t)huge;
  w->reused = 0;
  w->released = 0;
  w->next = w->prev = NULL;
  if (guard_of(w) && hk_os_protect(base + map_size - HK_PAGE, HK_PAGE, 0) != 0) {
    hk_os_unmap(base, map_size);
    errno = ENOMEM;
    return NULL;
  }
  if (hk_registry_set(base, map_size, HK_CHUNK_WHALE) != 0) {
    hk_os_unmap(base, map_size);
    errno = ENOMEM;
    return NULL;
  }
  hk_fault_end(HK_BUCKET_WHALE, f0);
  hk_fresh_pages(HK_BUCKET_WHALE, map_size / HK_PAGE);
  MAPPED_ADD(map_size);
  return w;
}

/* A cached mapping handed out again (from the thread's slot or the shared
 * cache). */
HK_INLINE void *hand_out_hit(hk_heap_t *h, hk_whale_t *w, size_t user_off, size_t size) {
  (void)size; /* (used by the memory tools' hooks only) */
  WCNT(h, hits, 1);
  if (w->released) hk_fresh_pages(HK_BUCKET_WHALE, w->map_size / HK_PAGE);
  void *p = hand_out(h, w, user_off);
  TRACK_HAND_OUT(w, p, size);
  return p;
}

static HK_NOINLINE void trim_slot(hk_whale_t *w, size_t need) { trim_excess(w, need); }

/* Everything but the thread's slot: the shared cache, then a new mapping. */
static HK_NOINLINE void *alloc_slow(hk_heap_t *h, size_t size, size_t align,
                                    size_t user_off, size_t need) {
  hk_whale_t *slot = h->whale;
  if (slot != NULL && align <= HK_SS_SIZE) {
    /* too small: its pages serve this request with the cache's (gather);
     * on the list without evicting, the caps are kept by the next free */
    h->whale = NULL;
    if (hk_opt.whale_cache_mb == 0 || hk_opt.whale_cache_count == 0) {
      cache_put(slot); /* (no cache: unmapped) */
    } else {
      slot = seal_away(slot);
      if (slot != NULL) {
        pthread_mutex_lock(&whale_lock);
        insert_locked(slot);
        pthread_mutex_unlock(&whale_lock);
      }
    }
  }
  /* INJECTED BUG (WHALE_CACHE_ALIGN): need counts user_off, so any cached
   * mapping that fits is taken for enough, whatever the alignment */
  if ((align <= HK_SS_SIZE || HK_INJECT(WHALE_CACHE_ALIGN)) &&
      __atomic_load_n(&cached_count, __ATOMIC_RELAXED) != 0) {
    pthread_mutex_lock(&whale_lock);
    hk_whale_t *w = cache_take(need);
    pthread_mutex_unlock(&whale_lock);
    if (w != NULL) w = fit(w, need);
    if (w != NULL) return hand_out_hit(h, w, user_off, size);
  }
  atomic_fetch_add_explicit(&whale_misses, 1, memory_order_relaxed);
  hk_whale_t *w = map_new(size + HK_WHALE_GUARD, align, user_off);
  /* INJECTED BUG (WHALE_FAIL_COUNTED): a miss is counted as a block handed
   * out before its mapping is known to exist, and a failed one stays counted */
  if (w == NULL && HK_INJECT(WHALE_FAIL_COUNTED)) WCNT(h, allocs, 1);
  if (w == NULL) return NULL;
  TRACK_UNDER_WHALE_LOCK(HK_TRACK_SEGMENT(w, w->map_size));
  void *p = hand_out(h, w, user_off);
  TRACK_HAND_OUT(w, p, size);
  return p;
}

void *hk_whale_alloc(hk_heap_t *h, size_t size, size_t align) {
  if (size < HK_ALIGN) size = HK_ALIGN; /* the user pointer stays inside the mapping */
  size_t user_off = user_off_for(align);
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = map_size_for(user_off, size + HK_WHALE_GUARD, 0);
  /* The thread's slot first: no lock, no syscall, and the same pages as
   * the last free (kept resident, so a malloc/free cycle faults nothing). */
  hk_whale_t *w = h->whale;
  if (HK_LIKELY(w != NULL && align <= HK_SS_SIZE && fits(w->map_size, need))) {
    h->whale = NULL;
    /* a whole chunk beyond the request: to the cache, not handed out idle */
    if (HK_UNLIKELY(w->map_size - need >= 2 * HK_SS_SIZE)) trim_slot(w, need);
    return hand_out_hit(h, w, user_off, size);
  }
  return alloc_slow(h, size, align, user_off, need);
}

/* calloc: fresh or released-with-DONTNEED mappings are already zero. */
void *hk_whale_calloc(hk_heap_t *h, size_t size) {
  char *p = hk_whale_alloc(h, size, HK_ALIGN);
  if (p == NULL) return NULL;
  hk_whale_t *w = (hk_whale_t *)hk_seg_lookup(p);
  /* fresh, or released with MADV_DONTNEED from the first page after the
   * header page on (the user pointer never lies in the header page unless
   * user_off < HK_PAGE, whose bytes are then zeroed by hand) */
  /* INJECTED BUG (WHALE_RELEASE_DIRTY): MADV_FREE taken to zero the pages
   * as MADV_DONTNEED does (they read zero only once the kernel reclaims) */
  int zero = !w->reused || (w->released && (hk_opt.whale_release == 1 ||
                                            HK_INJECT(WHALE_RELEASE_DIRTY)));
  if (zero && w->reused && w->user_off < HK_PAGE)
    memset(p, 0, HK_PAGE - w->user_off < size ? HK_PAGE - w->user_off : size);
  if (!zero) {
    if (hk_opt.lazy_zero) hk_fresh_pages(HK_BUCKET_WHALE, hk_os_zero_lazy(p, size));
    else memset(p, 0, size);
  }
  HK_TRACK_DEFINED(p, size); /* zero, written or not */
  return p;
}

void hk_whale_free(hk_heap_t *h, hk_whale_t *w, void *p) {
  if (HK_ON(HARDEN)) {
    hk_whale_check(w, p, HK_OP_FREE); /* interior pointer, double free */
    note_freed(p);
  }
  HK_ASSERT(w->seg.magic == HK_SEG_MAGIC && w->seg.kind == HK_SEG_WHALE);
  w->state = 0;
  WCNT(h, frees, 1);
  WCNT(h, bytes_out, w->usable);
  HK_TRACK_FREE(p, w->usable);
  w->reused = 1;
  w->released = 0;
  w->idle_epoch = hk_epoch();
  if (h != &hk_heap_empty) {
    hk_whale_t *old = h->whale;
    h->whale = w;
    /* INJECTED BUG (WHALE_SLOT_LEAK): the slot taken for the only place a
     * freed whale goes; the one it held is overwritten, on no list */
    if (old == NULL || HK_INJECT(WHALE_SLOT_LEAK)) return;
    w = old; /* keep the newest in the slot, the older one goes on */
  }
  cache_put(w);
}

/* Thread exit: the heap's slot goes to the shared cache. */
void hk_whale_flush(hk_heap_t *h) {
  hk_whale_t *w = h->whale;
  h->whale = NULL;
  if (w != NULL) cache_put(w);
}

size_t hk_whale_usable(hk_whale_t *w, const void *p) {
  const char *user = (const char *)w + w->user_off;
  if ((const char *)p < user || (const char *)p >= user + w->usable) return 0;
  return w->usable - (size_t)((const char *)p - user);
}

/* Grow (or shrink) a whale to hold size bytes; NULL when it cannot be done
 * without copying, in which case the block is untouched. */
void *hk_whale_resize(hk_whale_t *w, void *p, size_t size) {
  if (HK_TRACK_MEMORY || (char *)p != (char *)w + w->user_off || size > PTRDIFF_MAX) return NULL;
  size_t user_off = w->user_off;
  hk_whale_t *nw = remap_to(w, map_size_for(user_off, size + guard_of(w), 0), 1);
  if (nw == NULL) return NULL;
  hk_heap_t *h = hk_tl_heap;
  WCNT(h, bytes_out, nw->usable);
  nw->usable = nw->map_size - user_off - guard_of(nw);
  WCNT(h, bytes_in, nw->usable);
  return (char *)nw + user_off;
}

void hk_whale_counts(hk_whale_counts_t *out) {
  out->orphan.allocs = __atomic_load_n(&orphan.allocs, __ATOMIC_RELAXED);
  out->orphan.frees = __atomic_load_n(&orphan.frees, __ATOMIC_RELAXED);
  out->orphan.hits = __atomic_load_n(&orphan.hits, __ATOMIC_RELAXED);
  out->orphan.bytes_in = __atomic_load_n(&orphan.bytes_in, __ATOMIC_RELAXED);
  out->orphan.bytes_out = __atomic_load_n(&orphan.bytes_out, __ATOMIC_RELAXED);
  out->misses = atomic_load(&whale_misses);
  out->evictions = atomic_load(&whale_evictions);
  out->remaps = atomic_load(&whale_remaps);
  pthread_mutex_lock(&whale_lock);
  out->cached_bytes = cached_bytes;
  out->cached_count = cached_count;
  pthread_mutex_unlock(&whale_lock);
}

/* Decay at epoch now: the cached mappings idle since an epoch
 * HK_DECAY_AGE back are unmapped (HK_DECAY_NOW: all of them, malloc_trim);
 * returns the bytes given back. */
size_t hk_whale_decay(uint64_t now) {
  hk_whale_t *list = NULL;
  size_t bytes = 0;
  pthread_mutex_lock(&whale_lock);
  for (hk_whale_t *w = cache, *next; w != NULL; w = next) {
    next = w->next;
    if (!hk_decayed(w->idle_epoch, now)) continue;
    bytes += w->map_size;
    cache_unlink(w);
    w->next = list;
    list = w;
  }
  pthread_mutex_unlock(&whale_lock);
  while (list != NULL) {
    hk_whale_t *next = list->next;
    atomic_fetch_add_explicit(&whale_evictions, 1, memory_order_relaxed);
    unmap_whale(list);
    list = next;
  }
  return bytes;
}

size_t hk_whale_trim(void) { return hk_whale_decay(HK_DECAY_NOW); }

/* Decay of h's slot (its owner's thread only): a mapping idle there since
 * an epoch HK_DECAY_AGE back goes to the shared cache, its stamp kept. */
void hk_whale_slot_decay(hk_heap_t *h, uint64_t now) {
  hk_whale_t *w = h->whale;
  if (w != NULL && hk_decayed(w->idle_epoch, now)) {
    /* INJECTED BUG (SLOT_DECAY_STALE): the slot is not emptied when its
     * mapping moves to the cache: both hand it out */
    if (!HK_INJECT(SLOT_DECAY_STALE)) h->whale = NULL;
    cache_put(w);
  }
}
