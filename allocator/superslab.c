/* superslab.c - the registry and superslabs, carved into spans.
 *
 * A superslab is a 2 MiB, 2 MiB-aligned mapping split into 32 units of
 * 64 KiB.  Its header (descriptors for all 32 units and the per-block state
 * bitmap) fills the first HK_SS_META bytes of unit 0.  A span is 1..8
 * contiguous units serving one class; the descriptor of its first unit is
 * the span's slab descriptor and every unit's `head` points at it, so any
 * address maps in O(1) to its slab: registry -> superslab -> unit -> head.
 *
 * The registry keeps one kind byte per 2 MiB chunk of the 47-bit address
 * space, in 64 KiB leaves mapped on first use under a top table of 1024
 * pointers, so "is this ours, and what is it" is two dependent loads;
 * every segment (superslab or whale mapping) starts at a chunk boundary
 * with its header.
 *
 * Invariants:
 *   - free_mask/nfree/unit kinds change only under hk_ss_lock;
 *   - a superslab is on ss_partial iff nfree > 0 and it is not cached;
 *   - a superslab is unmapped or cached only when all 32 units are free;
 *   - at most hk_opt.ss_cache empty superslabs are kept mapped;
 *   - checked builds: the guard pages (layout.h) are PROT_NONE from the
 *     superslab's mapping to its unmapping (the cache keeps them), and no
 *     span holds one but as its last page, which its capacity leaves out;
 *     a span shorter than a half goes into no superslab whose free units
 *     are exactly one half (that half stays for a half-superslab span: the
 *     L2.5 spans that take a whole superslab in release);
 *   - decay: a free unit whose pages may be resident has its bit in
 *     ss->dirty; hk_ss_decay gives such units of a superslab back once
 *     its last span free is HK_DECAY_AGE epochs old, and unmaps cached
 *     superslabs as old.
 */
#include "harden.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(hk_ss_t) <= HK_SS_META, "the superslab header fits HK_SS_META");
_Static_assert(HK_SPAN_MAX_UNITS == HK_UNITS || (HK_GUARD_UNIT_MASK >> (HK_SPAN_MAX_UNITS - 1) & 1u),
               "guards bound the longest spans");

/* ---- registry ----------------------------------------------------------- */
#define REG_LEAF ((size_t)1 << HK_REG_LEAF_BITS)
#define REG_MASK (REG_LEAF - 1)
/* The leaf every top entry starts at: all HK_CHUNK_NONE, never written. */
static uint8_t reg_zero[REG_LEAF];
uint8_t *hk_reg_top[(size_t)1 << HK_REG_TOP_BITS] = {
    [0 ... ((size_t)1 << HK_REG_TOP_BITS) - 1] = reg_zero};

static uint8_t *reg_leaf(uintptr_t chunk) {
  return __atomic_load_n(&hk_reg_top[chunk >> HK_REG_LEAF_BITS], __ATOMIC_ACQUIRE);
}

int hk_registry_reserve(const void *base, size_t size) {
  uintptr_t first = (uintptr_t)base >> HK_SS_SHIFT;
  uintptr_t last = ((uintptr_t)base + size - 1) >> HK_SS_SHIFT;
  if (last >> HK_REG_BITS) {
    errno = ENOMEM;
    return -1;
  }
  for (uintptr_t t = first >> HK_REG_LEAF_BITS; t <= last >> HK_REG_LEAF_BITS; t++) {
    uint8_t *leaf = __atomic_load_n(&hk_reg_top[t], __ATOMIC_ACQUIRE);
    if (leaf != reg_zero) continue;
    /* a new leaf, zero (every chunk HK_CHUNK_NONE); the loser of a race
     * gives its own back */
    uint8_t *fresh = hk_os_map(REG_LEAF, HK_PAGE);
    if (fresh == NULL) return -1; /* leaves made so far stay: harmless */
    if (!__atomic_compare_exchange_n(&hk_reg_top[t], &leaf, fresh, 0, __ATOMIC_RELEASE,
                                     __ATOMIC_ACQUIRE))
      hk_os_unmap(fresh, REG_LEAF);
  }
  return 0;
}

int hk_registry_set(void *base, size_t size, unsigned kind) {
  uintptr_t first = (uintptr_t)base >> HK_SS_SHIFT;
  uintptr_t last = ((uintptr_t)base + size - 1) >> HK_SS_SHIFT;
  HK_ASSERT(((uintptr_t)base & (HK_SS_SIZE - 1)) == 0 && !(last >> HK_REG_BITS));
  if (kind != HK_CHUNK_NONE && hk_registry_reserve(base, size) != 0) return -1;
  for (uintptr_t c = first; c <= last; c++) {
    uint8_t *leaf = reg_leaf(c);
    if (leaf == reg_zero) continue; /* (kind NONE) nothing was ever set here */
    unsigned k = kind == HK_CHUNK_NONE || c == first ? kind : HK_CHUNK_TAIL;
    __atomic_store_n(&leaf[c & REG_MASK], (uint8_t)k, __ATOMIC_RELEASE);
  }
  return 0;
}

hk_seg_t *hk_seg_lookup(const void *p) {
  unsigned k = hk_chunk_of(p);
  if (k == HK_CHUNK_NONE) return NULL;
  uintptr_t chunk = (uintptr_t)p >> HK_SS_SHIFT;
  while (k == HK_CHUNK_TAIL && chunk > 0) {
    chunk--;
    k = __atomic_load_n(&reg_leaf(chunk)[chunk & REG_MASK], __ATOMIC_RELAXED);
  }
  if (k != HK_CHUNK_SS && k != HK_CHUNK_WHALE) return NULL;
  return (hk_seg_t *)(chunk << HK_SS_SHIFT);
}

/* ---- superslabs ----------------------------------------------------------- */
pthread_mutex_t hk_ss_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_ss_t *ss_partial;          /* superslabs with free units          */
static hk_ss_t *ss_cache;            /* empty superslabs kept mapped        */
static hk_ss_t *ss_all;              /* every mapped superslab              */
static uint64_t ss_live, ss_cached, ss_mapped, ss_unmapped;

static void list_push(hk_ss_t **list, hk_ss_t *ss) {
  ss->prev = NULL;
  ss->next = *list;
  if (*list) (*list)->prev = ss;
  *list = ss;
}
static void list_remove(hk_ss_t **list, hk_ss_t *ss) {
  if (ss->prev) ss->prev->next = ss->next; else *list = ss->next;
  if (ss->next) ss->next->prev = ss->prev;
  ss->next = ss->prev = NULL;
}

/* Unregister and unmap an empty superslab; hk_ss_lock held. */
static void ss_unmap(hk_ss_t *ss) {
  if (ss->all_prev) ss->all_prev->all_next = ss->all_next;
  else ss_all = ss->all_next;
  if (ss->all_next) ss->all_next->all_prev = ss->all_prev;
  HK_TRACK_UNMAP(ss, HK_SS_SIZE);
  hk_registry_set(ss, HK_SS_SIZE, HK_CHUNK_NONE);
  if (ss->dbg_req) hk_os_unmap(ss->dbg_req, HK_SS_SIZE / 16 * sizeof(uint32_t));
  hk_os_unmap(ss, HK_SS_SIZE);
  ss_unmapped++;
}

/* HK_SLAB_NOSPAN (internal.h, checked builds): the head of every unit
 * without a span.  No thread owns it and every flag is set, so a free into
 * such a unit leaves the fast path at the owner test and the slow free
 * reports it.  (Defined in every variant; release's units hold NULL.) */
hk_slab_t hk_slab_nospan = {.owner = HK_SLAB_FLAGS, .unit_kind = HK_UNIT_FREE};

static void ss_format(hk_ss_t *ss) {
  ss->seg.magic = HK_SEG_MAGIC;
  ss->seg.kind = HK_SEG_SS;
  ss->free_mask = 0xFFFFFFFFu;
  ss->nfree = HK_UNITS;
  ss->cached = 0;
  ss->dirty = 0;
  for (unsigned u = 0; u < HK_UNITS; u++) {
    ss->slab[u].unit = (uint8_t)u;
    ss->slab[u].unit_kind = HK_UNIT_FREE;
    ss->slab[u].head = HK_SLAB_NOSPAN;
  }
}

/* Map a superslab, register it and format its header; hk_ss_lock held. */
static hk_ss_t *ss_map(void) {
  int huge;
  hk_ss_t *ss = hk_os_map_data(HK_SS_SIZE, HK_SS_SIZE, &huge);
  if (ss == NULL) return NULL;
  if (hk_registry_set(ss, HK_SS_SIZE, HK_CHUNK_SS) != 0) {
    hk_os_unmap(ss, HK_SS_SIZE);
    errno = ENOMEM;
    return NULL;
  }
  /* checked builds: the guard pages (layout.h), once per mapping; not in
   * huge-page mappings, which cannot be protected by the 4 KiB page (their
   * capacities still leave the guards out) */
  if (HK_ON(GUARD) && !huge) {
    hk_os_protect((char *)ss + HK_SS_META, HK_GUARD, 0);
    for (unsigned u = 0; u < HK_UNITS; u++)
      if (HK_GUARD_TAIL(u)) hk_os_protect((char *)ss + ((uintptr_t)(u + 1) << HK_UNIT_SHIFT) - HK_GUARD, HK_GUARD, 0);
  }
  /* debug: request end per granule (debug.c); lazily touched */
  if (HK_ON(DEBUG)) ss->dbg_req = hk_os_map(HK_SS_SIZE / 16 * sizeof(uint32_t), HK_PAGE);
  /* Every block byte is no-access until handed out (track.h). */
  HK_TRACK_NOACCESS((char *)ss + HK_SS_META, HK_SS_SIZE - HK_SS_META);
  HK_TRACK_SEGMENT(ss, HK_SS_SIZE);
  ss_mapped++;
  ss->all_prev = NULL;
  ss->all_next = ss_all;
  if (ss_all) ss_all->all_prev = ss;
  ss_all = ss;
  uint64_t f0 = hk_fault_begin();
  ss_format(ss);
  hk_fault_end(HK_BUCKET_META, f0);
  return ss;
}

/* Called with hk_ss_lock held. */
static hk_ss_t *ss_new(void) {
  hk_ss_t *ss = ss_cache;
  if (ss != NULL) {
    list_remove(&ss_cache, ss);
    ss_cached--;
    ss_format(ss);
  } else {
    ss = ss_map();
    if (ss == NULL) return NULL;
  }
  ss_live++;
  list_push(&ss_partial, ss);
  return ss;
}

/* The free_mask bits of the n units from start. */
static uint32_t unit_bits(unsigned start, unsigned n) {
  return (n == HK_UNITS ? 0xFFFFFFFFu : ((1u << n) - 1u)) << start;
}

/* Where a span of n units (a power of two) goes in a superslab whose free
 * units are mask, or -1: at a multiple of n when it can, so that spans of
 * one size tile the superslab (a 16-unit span at unit 1 left 15 units no
 * 16-unit span could use: half of each superslab of 70 KiB blocks, which
 * under `ulimit -v` halved what a program got; bench/vmlimit), and off
 * unit 0 when it can, since unit 0 holds the header and fewer blocks.
 * Any run of n free units is the last resort.  Checked builds: no run
 * that holds a guarded unit but as its last one. */
static int find_run(uint32_t mask, unsigned n) {
  uint32_t run = mask;
  for (unsigned k = 1; k < n; k++) run &= mask >> k;
  if (HK_ON(GUARD))
    for (unsigned k = 0; k + 1 < n; k++) run &= ~(HK_GUARD_UNIT_MASK >> k);
  uint32_t at_multiple = 0;
  for (unsigned u = 0; u < HK_UNITS; u += n) at_multiple |= 1u << u;
  uint32_t aligned = run & at_multiple;
  if (aligned & ~1u) return __builtin_ctz(aligned & ~1u);
  if (aligned) return 0;
  return run ? __builtin_ctz(run) : -1;
}

hk_slab_t *hk_span_alloc(unsigned cls) {
  const hk_class_info_t *ci = &hk_class[cls];
  unsigned n = ci->units;
  pthread_mutex_lock(&hk_ss_lock);
  hk_ss_t *ss;
  int start = -1;
  for (ss = ss_partial; ss != NULL; ss = ss->next) {
    /* checked builds: a shorter span leaves a superslab whose free units are
     * one whole half to a half-superslab span (layout.h) */
    if (HK_ON(GUARD) && n < HK_SPAN_MAX_UNITS &&
        (ss->free_mask == 0xFFFFu || ss->free_mask == 0xFFFF0000u))
      continue;
    if (ss->nfree >= n && (start = find_run(ss->free_mask, n)) >= 0) break;
  }
  if (ss == NULL) {
    ss = ss_new();
    if (ss == NULL) {
      pthread_mutex_unlock(&hk_ss_lock);
      errno = ENOMEM;
      return NULL;
    }
    start = find_run(ss->free_mask, n);
  }
  HK_ASSERT(start >= 0 && (unsigned)start + n <= HK_UNITS);
  uint32_t bits = unit_bits(start, n);
  HK_ASSERT((ss->free_mask & bits) == bits);
  ss->free_mask &= ~bits;
  ss->dirty &= ~bits;
  ss->nfree -= n;
  if (ss->nfree == 0) list_remove(&ss_partial, ss);
  hk_slab_t *s = &ss->slab[start];
  for (unsigned k = 0; k < n; k++) {
    ss->slab[start + k].head = s;
    ss->slab[start + k].unit_kind = k == 0 ? HK_UNIT_HEAD : HK_UNIT_TAIL;
  }
  pthread_mutex_unlock(&hk_ss_lock);

  uintptr_t base = (uintptr_t)ss + ((uintptr_t)start << HK_UNIT_SHIFT);
  s->free = NULL;
  s->used = 0;
  s->pin = 0;
  s->allocs = 0;
  s->idle = 0;
  s->carved = 0;
  s->cls = (uint8_t)cls;
  s->stride = ci->stride;
  s->stride_magic = hk_stride_magic(ci->stride);
  s->hdr = ci->header ? (uint8_t)(HK_HDR_MAGIC | cls) : 0;
  s->hdr_mask = ci->header ? (uint8_t)~HK_HDR_ARRAY : 0; /* new[]'s bit aside */
  s->hdr_at = ci->header ? 0 : 1;
#if HK_ON(CANARY) /* (release never reads it) */
  s->canary_lim = (uint64_t)1 << (64 - 8 * HK_CLASS_CANARY(ci));
#endif
  /* the classes that serve requests of up to wipe_max bytes, and the
   * L2.5 classes (wipe_large) */
  s->wipe = HK_ON(WIPE) && hk_opt.wipe_max != 0 &&
                    (hk_opt.wipe_max >= HK_CLASS_MAX || cls <= hk_class_of_size(hk_opt.wipe_max) ||
                     (hk_opt.wipe_large && cls >= HK_L25_FIRST))
                ? (uint8_t)HK_WIPE_MODE(ci->usable, ci->stride)
                : 0;
  s->delay = HK_ON(DELAY) && hk_opt.delay;
  s->held = NULL;
  s->state_bias = hk_state_bias(ss);
  /* the span's per-block state starts clear (release never touches it) */
  if (HK_ON(STATE)) memset(&ss->state[(base - (uintptr_t)ss) >> 7], 0, (size_t)n << (HK_UNIT_SHIFT - 7));
  /* and so do its new[] marks (checked builds: harden.c) */
  if (HK_ON(HARDEN)) memset(&ss->cxx_array[(base - (uintptr_t)ss) >> 13], 0, (size_t)n << (HK_UNIT_SHIFT - 13));
  s->nunits = (uint8_t)n;
  s->capacity = hk_span_capacity(cls, (unsigned)start);
  if (HK_INJECT(CAPACITY_OVERRUN)) /* INJECTED BUG: capacity from the whole
                                    * span, ignoring the superslab header
                                    * and the first-block offset */
    s->capacity = (uint32_t)(((uintptr_t)n << HK_UNIT_SHIFT) / ci->stride);
  s->user0 = base + (start == 0 ? HK_SS_FIRST : 0) + ci->first_off;
  s->next = s->prev = NULL;
  atomic_store_explicit(&s->owner, cls >= HK_MID_FIRST ? HK_SLAB_MID : 0,
                        memory_order_relaxed); /* no owner yet */
  atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
  return s;
}

/* Give the pages of the free units in `dirty` back (MADV_DONTNEED: they
 * read zero and fault in afresh when a span is carved there again); unit 0
 * keeps its header.  hk_ss_lock held (no span can be placed there
 * meanwhile).  Returns the bytes given back. */
static size_t release_units(hk_ss_t *ss, uint32_t dirty) {
  size_t bytes = 0;
  while (dirty) {
    unsigned u = (unsigned)__builtin_ctz(dirty);
    unsigned end = u;
    while (end < HK_UNITS && (dirty >> end & 1u)) end++;
    dirty &= end == HK_UNITS ? 0 : ~0u << end;
    size_t lo = (size_t)u << HK_UNIT_SHIFT, hi = (size_t)end << HK_UNIT_SHIFT;
    if (lo == 0) lo = HK_SS_META;
    int rc = hk_os_advise((char *)ss + lo, hi - lo, MADV_DONTNEED);
    bytes += hi - lo;
    /* the fresh-page telemetry counts these pages again when carved; the
     * wipe's carve (class.c) takes a fresh page to read zero, so only
     * pages the advice did release */
    for (unsigned v = u; rc == 0 && v < end; v++)
      atomic_fetch_and_explicit(&ss->handed[v / 4], ~((uint64_t)0xFFFF << (v % 4 * 16)),
                                memory_order_relaxed);
  }
  return bytes;
}

void hk_span_free(hk_slab_t *s, int idle) {
  hk_ss_t *ss = (hk_ss_t *)((uintptr_t)s & ~(HK_SS_SIZE - 1));
  unsigned start = s->unit, n = s->nunits;
  HK_ASSERT(ss->seg.magic == HK_SEG_MAGIC && s->unit_kind == HK_UNIT_HEAD && start + n <= HK_UNITS);
  pthread_mutex_lock(&hk_ss_lock);
  for (unsigned k = 0; k < n; k++) {
    ss->slab[start + k].head = HK_SLAB_NOSPAN;
    ss->slab[start + k].unit_kind = HK_UNIT_FREE;
  }
  if (ss->nfree == 0) list_push(&ss_partial, ss);
  uint32_t bits = unit_bits(start, n);
  ss->free_mask |= bits;
  ss->nfree += n;
  if (idle && ss->nfree < HK_UNITS) {
    release_units(ss, bits); /* its pages have been idle: to the OS now */
  } else {
    ss->dirty |= bits;
    ss->idle_epoch = hk_epoch();
  }
  /* INJECTED BUG (SUPERSLAB_EARLY_RELEASE): off by one, released with one
   * span still live */
  if (HK_INJECT(SUPERSLAB_EARLY_RELEASE) ? ss->nfree >= HK_UNITS - 1 : ss->nfree == HK_UNITS) {
    /* INJECTED BUG (SS_UNMAP_PARTIAL): taken off the partial list only on
     * the way into the cache; unmapped at once (HAKMEM_SS_CACHE=0, or the
     * cache full) it stays on the list, unmapped */
    if (!HK_INJECT(SS_UNMAP_PARTIAL)) list_remove(&ss_partial, ss);
    ss_live--;
    if (ss_cached < (uint64_t)hk_opt.ss_cache || ss_cached < (uint64_t)hk_opt.prewarm) {
      if (HK_INJECT(SS_UNMAP_PARTIAL)) list_remove(&ss_partial, ss);
      ss->cached = 1;
      ss->dirty = 0; /* a cached superslab decays as a whole */
      list_push(&ss_cache, ss);
      ss_cached++;
    } else {
      ss_unmap(ss);
    }
  }
  pthread_mutex_unlock(&hk_ss_lock);
}

size_t hk_ss_decay(uint64_t now) {
  size_t released = 0;
  pthread_mutex_lock(&hk_ss_lock);
  for (hk_ss_t *ss = ss_partial; ss != NULL; ss = ss->next) {
    if (ss->dirty && hk_decayed(ss->idle_epoch, now)) {
      released += release_units(ss, ss->dirty & ss->free_mask);
      ss->dirty = 0;
    }
  }
  for (hk_ss_t *ss = ss_cache, *next; ss != NULL; ss = next) {
    next = ss->next;
    if (!hk_decayed(ss->idle_epoch, now)) continue;
    list_remove(&ss_cache, ss);
    ss_cached--;
    ss_unmap(ss);
    released += HK_SS_SIZE;
  }
  pthread_mutex_unlock(&hk_ss_lock);
  return released;
}

size_t hk_ss_trim(void) { return hk_ss_decay(HK_DECAY_NOW); }

void hk_ss_counts(uint64_t *live, uint64_t *cached, uint64_t *mapped,
                  uint64_t *unmapped) {
  pthread_mutex_lock(&hk_ss_lock);
  *live = ss_live;
  *cached = ss_cached;
  *mapped = ss_mapped;
  *unmapped = ss_unmapped;
  pthread_mutex_unlock(&hk_ss_lock);
}

void hk_ss_foreach(void (*fn)(hk_ss_t *ss, void *arg), void *arg) {
  pthread_mutex_lock(&hk_ss_lock);
  for (hk_ss_t *ss = ss_all; ss != NULL; ss = ss->all_next) fn(ss, arg);
  pthread_mutex_unlock(&hk_ss_lock);
}

/* HAKMEM_PREWARM: map n superslabs at start-up and park them in the cache
 * (with the prefault policy applied), so the first refills find them. */
void hk_ss_prewarm(unsigned n) {
  pthread_mutex_lock(&hk_ss_lock);
  for (unsigned i = 0; i < n; i++) {
    hk_ss_t *ss = ss_map();
    if (ss == NULL) break;
    ss->cached = 1;
    ss->idle_epoch = hk_epoch();
    list_push(&ss_cache, ss);
    ss_cached++;
  }
  pthread_mutex_unlock(&hk_ss_lock);
}
