/* vf_oracle.c - the shadow-heap oracle (see vf_oracle.h).
 *
 * State: a block table (meta[] parallel to the address map's block array; index 0
 * unused), a slot table mapping trace slots to block indexes, and the live
 * totals.  Invariants kept between calls:
 *  - every live block is linked in the address map (B+tree) by its address
 *    (vf_oracle_finish retires them during one walk, then clears the map), with
 *    [lo, hi) = [p, p + max(usable, 1)); linked ranges never overlap
 *    (an overlapping result is reported and never linked);
 *  - a live block's first min(usable, pattern_cap) bytes hold the pattern of
 *    its id (with opts.pattern_sample: the bytes of its sample windows,
 *    vf_pattern_windows), except while an allocator call on it is in flight;
 *  - live / live_req equal the count and requested-byte sum of live blocks;
 *  - a block whose slot was overwritten stays live as an orphan (slot
 *    VF_NOSLOT) and is freed by vf_oracle_finish.
 * After the first failure the oracle is frozen and returns that check
 * (keep-going replays: after the first that leaves the heap unusable).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_fault.h"
#include "vf_oracle.h"
#include "vf_tree.h"

#define VF_NOSLOT UINT32_MAX

typedef struct vf_bmeta {
  size_t req;       /* requested bytes (calloc: nmemb*size) */
  size_t usable;    /* usable_size at allocation */
  uint64_t id;      /* pattern id */
  uint64_t born;    /* op index that created the block */
  uint32_t slot;    /* owning slot or VF_NOSLOT */
  uint32_t next;    /* free-list link when not live */
  uint8_t live;
} vf_bmeta_t;

struct vf_oracle {
  const vf_alloc_t *a;
  vf_oracle_opts_t opt;
  vf_tree_t tree;
  vf_tnode_t *nodes;
  vf_bmeta_t *meta;
  uint32_t cap, free_head;
  uint32_t *slots;
  uint32_t nslots, slots_cap;
  uint64_t next_id;
  uint64_t live, live_req;
  uint64_t since_check;
  uint64_t skipped;
  uint64_t misuses;
  uint64_t fault_mark; /* injected OS failures before this op (vf_fault.h) */
  int fault_plans;     /* a fault op ran: only then are the hooks read    */
  int failed;
  uint64_t fail_index;
  char msg[512];
};

void vf_oracle_defaults(vf_oracle_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->check_every = 1024;
  o->pattern_cap = (size_t)64 << 20;
  o->soft_limit = (uint64_t)1 << 30;
  o->verify_all_at_end = 1;
  o->report = stderr;
}

vf_oracle_t *vf_oracle_new(const vf_alloc_t *a, uint32_t nslots,
                           const vf_oracle_opts_t *opt) {
  vf_oracle_t *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->a = a;
  if (opt)
    o->opt = *opt;
  else
    vf_oracle_defaults(&o->opt);
  o->nslots = o->slots_cap = nslots ? nslots : 1;
  o->slots = calloc(o->nslots, sizeof *o->slots);
  o->cap = 64;
  o->nodes = calloc(o->cap, sizeof *o->nodes);
  o->meta = calloc(o->cap, sizeof *o->meta);
  if (!o->slots || !o->nodes || !o->meta) {
    vf_oracle_destroy(o);
    return NULL;
  }
  for (uint32_t i = o->cap - 1; i >= 1; i--) {
    o->meta[i].next = o->free_head;
    o->free_head = i;
  }
  if (vf_tree_init(&o->tree, o->nodes, 0)) {
    vf_oracle_destroy(o);
    return NULL;
  }
  o->next_id = 1;
  return o;
}

int vf_oracle_reset(vf_oracle_t *o, const vf_alloc_t *a, uint32_t nslots,
                    const vf_oracle_opts_t *opt) {
  if (o->failed || o->live) return -1;
  nslots = nslots ? nslots : 1;
  if (nslots > o->slots_cap) {
    uint32_t *s = realloc(o->slots, (size_t)nslots * sizeof *s);
    if (!s) return -1;
    o->slots = s;
    o->slots_cap = nslots;
  }
  memset(o->slots, 0, (size_t)nslots * sizeof *o->slots);
  o->nslots = nslots;
  o->a = a;
  if (opt)
    o->opt = *opt;
  else
    vf_oracle_defaults(&o->opt);
  /* every block index is free (none is live): the free list as new() made
   * it, so that block indexes come out in the same order */
  o->free_head = 0;
  for (uint32_t i = o->cap - 1; i >= 1; i--) {
    o->meta[i].next = o->free_head;
    o->free_head = i;
  }
  o->next_id = 1;
  o->live_req = o->since_check = o->skipped = o->misuses = o->fail_index = 0;
  o->fault_plans = 0;
  o->msg[0] = 0;
  return 0;
}

void vf_oracle_destroy(vf_oracle_t *o) {
  if (!o) return;
  if (o->fault_plans) vf_fault_end(o->a);
  vf_tree_destroy(&o->tree);
  free(o->slots);
  free(o->nodes);
  free(o->meta);
  free(o);
}

int vf_oracle_failed(const vf_oracle_t *o) { return o->failed; }
const char *vf_oracle_message(const vf_oracle_t *o) { return o->msg; }
uint64_t vf_oracle_fail_index(const vf_oracle_t *o) { return o->fail_index; }
uint64_t vf_oracle_live(const vf_oracle_t *o) { return o->live; }
uint64_t vf_oracle_live_req(const vf_oracle_t *o) { return o->live_req; }
uint64_t vf_oracle_skipped(const vf_oracle_t *o) { return o->skipped; }
uint64_t vf_oracle_misuses(const vf_oracle_t *o) { return o->misuses; }

/* Record a failed check as one report line; it stops the oracle, except in
 * a keep-going replay a finding that leaves the heap usable: counted, 0
 * returned, the caller goes on.  VF_FATAL: the oracle's own out of memory. */
#define VF_FATAL 0x100
__attribute__((format(printf, 7, 8))) static int
fail(vf_oracle_t *o, uint64_t idx, int chk, const void *p, uint64_t size,
     uint64_t usable, const char *fmt, ...) {
  char detail[320];
  int fatal = (chk & VF_FATAL) || vf_finding_fatal(chk);
  chk &= ~VF_FATAL;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  snprintf(o->msg, sizeof o->msg,
           "oracle: op %" PRIu64 ": %s: ptr=0x%" PRIxPTR " size=%" PRIu64
           " usable=%" PRIu64 " (%s)",
           idx, vf_check_name(chk), (uintptr_t)p, size, usable, detail);
  int first = 1;
  if (o->opt.keep_going) first = vf_findings_add(o->opt.keep_going, chk, idx, o->msg);
  if (o->opt.report && first) {
    fprintf(o->opt.report, "%s\n", o->msg);
    fflush(o->opt.report);
  }
  if (o->opt.keep_going && !fatal) return VF_OK;
  o->failed = chk;
  o->fail_index = idx;
  return chk;
}

/* ---- block table ---------------------------------------------------------*/

static int grow(vf_oracle_t *o) {
  uint32_t ncap = o->cap * 2;
  if (ncap <= o->cap) return -1;
  vf_tnode_t *n = realloc(o->nodes, (size_t)ncap * sizeof *n);
  if (!n) return -1;
  o->nodes = n;
  vf_tree_rebase(&o->tree, n);
  vf_bmeta_t *m = realloc(o->meta, (size_t)ncap * sizeof *m);
  if (!m) return -1;
  o->meta = m;
  memset(n + o->cap, 0, (size_t)(ncap - o->cap) * sizeof *n);
  memset(m + o->cap, 0, (size_t)(ncap - o->cap) * sizeof *m);
  for (uint32_t i = ncap - 1; i >= o->cap; i--) {
    m[i].next = o->free_head;
    o->free_head = i;
  }
  o->cap = ncap;
  return 0;
}

static size_t pat_len(const vf_oracle_t *o, size_t usable) {
  return usable < o->opt.pattern_cap ? usable : o->opt.pattern_cap;
}

/* Block b is no longer live: its slot, the totals, the free list (the
 * caller unlinks it from the address map). */
static void retire_block(vf_oracle_t *o, uint32_t b) {
  vf_bmeta_t *m = &o->meta[b];
  if (m->slot != VF_NOSLOT && m->slot < o->nslots && o->slots[m->slot] == b)
    o->slots[m->slot] = 0;
  o->live--;
  o->live_req -= m->req;
  m->live = 0;
  m->next = o->free_head;
  o->free_head = b;
}

/* Unlink block b and return its index to the free list. */
static void drop_block(vf_oracle_t *o, uint32_t b) {
  vf_tree_erase(&o->tree, b);
  retire_block(o, b);
}

/* Pattern a fresh block's first n bytes (all of them, or its windows). */
static void pat_fill(const vf_oracle_t *o, void *p, size_t n, uint64_t id) {
  if (o->opt.pattern_sample) vf_pattern_fill_sampled(p, n, id);
  else vf_pattern_fill(p, n, id);
}

/* Check the pattern of a block patterned over n bytes, below lim <= n. */
static size_t pat_check(const vf_oracle_t *o, const void *p, size_t n, size_t lim,
                        uint64_t id) {
  if (o->opt.pattern_sample) return vf_pattern_check_sampled(p, n, lim, id);
  return vf_pattern_check(p, lim, id);
}

static int verify_block(vf_oracle_t *o, uint64_t idx, uint32_t b,
                        const char *when) {
  vf_bmeta_t *m = &o->meta[b];
  void *p = (void *)o->nodes[b].lo;
  size_t n = pat_len(o, m->usable);
  size_t bad = pat_check(o, p, n, n, m->id);
  if (bad == SIZE_MAX) return VF_OK;
  return fail(o, idx, VF_CHK_CONTENTS, p, m->req, m->usable,
              "%s: byte +%zu is 0x%02x, expected 0x%02x; block from op %" PRIu64,
              when, bad, ((unsigned char *)p)[bad], vf_pattern_byte(m->id, bad),
              m->born);
}

/* ---- expectations for one allocation request -----------------------------*/

typedef struct vf_expect {
  size_t req;     /* bytes requested (0 when impossible) */
  size_t align;   /* alignment the result must have (0 = default rule) */
  size_t asked;   /* alignment asked for, valid or not (for the bound) */
  int must_fail;  /* impossible: success is a violation */
  int may_fail;   /* NULL is allowed */
  int any_errno;  /* NULL allowed without an errno requirement (size 0) */
  int err_a, err_b; /* acceptable errno values when failing */
} vf_expect_t;

static int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static void expect_size(const vf_oracle_t *o, vf_expect_t *e, uint64_t size,
                        int overflow) {
  e->err_a = e->err_b = ENOMEM;
  if (overflow || size > (uint64_t)PTRDIFF_MAX) {
    e->must_fail = e->may_fail = 1;
    e->req = 0;
    return;
  }
  e->req = (size_t)size;
  if (size == 0) e->may_fail = e->any_errno = 1;
  if (size >= o->opt.soft_limit) e->may_fail = 1;
}

static void expect_op(const vf_oracle_t *o, const vf_op_t *op, vf_expect_t *e) {
  memset(e, 0, sizeof *e);
  uint64_t size = op->size, al = op->aux;
  switch (op->code) {
  case VF_OP_CALLOC: {
    uint64_t total;
    int ovf = __builtin_mul_overflow(op->aux, op->size, &total);
    expect_size(o, e, total, ovf);
    return;
  }
  case VF_OP_POSIX_MEMALIGN:
  case VF_OP_ALIGNED_ALLOC:
  case VF_OP_MEMALIGN: {
    uint64_t total;
    int ovf = __builtin_add_overflow(size, al, &total);
    expect_size(o, e, size, ovf || total > (uint64_t)PTRDIFF_MAX);
    if (al >= o->opt.soft_limit) e->may_fail = 1;
    int impossible = e->must_fail;
    e->asked = al > SIZE_MAX ? SIZE_MAX : (size_t)al;
    int bad = !is_pow2(al);
    int posix = op->code == VF_OP_POSIX_MEMALIGN;
    if (posix) bad = bad || al % sizeof(void *);
    if (bad) {
      e->may_fail = 1;
      e->any_errno = 0;
      /* memalign rounds a bad alignment up (glibc): a size or alignment
       * that cannot be served then fails with ENOMEM */
      e->err_a = impossible || size >= o->opt.soft_limit || al >= o->opt.soft_limit
                     ? ENOMEM : EINVAL;
      e->err_b = EINVAL;
      if (posix) e->must_fail = 1;
    } else {
      e->align = (size_t)al;
      /* C11 let aligned_alloc reject a size that is not a multiple of the
       * alignment (ASan's does, with EINVAL); C17 dropped the rule */
      if (op->code == VF_OP_ALIGNED_ALLOC && size % al) {
        e->may_fail = 1;
        e->any_errno = 0;
        e->err_b = EINVAL;
      }
    }
    if (impossible && !posix) e->err_b = EINVAL; /* huge alignment */
    return;
  }
  default:
    expect_size(o, e, size, 0);
    return;
  }
}

/* The alignment a result must have. */
static size_t required_align(const vf_oracle_t *o, const vf_expect_t *e) {
  size_t base = 16;
  if (o->a->min_align == 0) { /* size-dependent fundamental alignment */
    base = 1;
    while (base < 16 && base * 2 <= e->req) base *= 2;
  }
  return e->align > base ? e->align : base;
}

static const char *errno_name(int e) {
  return e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "?";
}

/* An op during which the OS fault layer failed a mapping may fail with
 * ENOMEM (vf_fault.h): a possible request with ENOMEM only; one that may
 * fail anyway (memalign rounding a bad alignment up) with ENOMEM too. */
static void excuse(const vf_oracle_t *o, vf_expect_t *e) {
  if (!o->fault_plans || e->must_fail || !vf_fault_hit(o->a, o->fault_mark)) return;
  if (!e->may_fail) e->any_errno = 0, e->err_b = ENOMEM; /* err_b: the other it allowed */
  e->may_fail = 1, e->err_a = ENOMEM;
}

/* Check a NULL result against the expectation. */
static int check_null(vf_oracle_t *o, uint64_t idx, const vf_op_t *op,
                      const vf_expect_t *expect, int err) {
  vf_expect_t x = *expect, *e = &x;
  excuse(o, e);
  if (!e->may_fail)
    return fail(o, idx, VF_CHK_NULL, NULL, op->size, 0,
                "%s returned NULL for a possible request, errno=%d",
                vf_op_name(op->code), err);
  if (e->any_errno && !e->must_fail) return VF_OK;
  if (err != e->err_a && err != e->err_b)
    return fail(o, idx, VF_CHK_ERRNO, NULL, op->size, 0,
                "%s failed with errno %d, expected %s%s%s",
                vf_op_name(op->code), err, errno_name(e->err_a),
                e->err_a != e->err_b ? " or " : "",
                e->err_a != e->err_b ? errno_name(e->err_b) : "");
  return VF_OK;
}

/* Offset of the first non-zero byte of [p, p+n), or SIZE_MAX. */
static size_t first_nonzero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t k = 0;
  for (; k + 64 <= n; k += 64) {
    uint64_t acc = 0, w;
    for (size_t j = 0; j < 64; j += 8) {
      memcpy(&w, b + k + j, 8);
      acc |= w;
    }
    if (acc) break;
  }
  for (; k < n; k++)
    if (b[k]) return k;
  return SIZE_MAX;
}

/* Validate and adopt a fresh non-NULL block p for slot.  For realloc, `prev`
 * gives the id and size of the old contents that must survive as a prefix,
 * and prev_ptr the old address. */
static int adopt(vf_oracle_t *o, uint64_t idx, const vf_op_t *op,
                 const vf_expect_t *e, void *p, int zeroed,
                 const vf_bmeta_t *prev, const void *prev_ptr) {
  int r;
  if (e->must_fail) {
    r = fail(o, idx, VF_CHK_MUST_FAIL, p, op->size, 0,
             "%s succeeded for an impossible request (aux=%" PRIu64 ")",
             vf_op_name(op->code), op->aux);
    if (!r) o->a->free(p); /* keep-going: not adopted, given back */
    return r;
  }
  /* past here, in a keep-going replay, a finding leaves the block adopted */
#define SOFT(call) do { if ((r = (call)) != VF_OK) return r; } while (0)
  size_t al = required_align(o, e);
  if ((uintptr_t)p & (al - 1))
    SOFT(fail(o, idx, VF_CHK_ALIGN, p, e->req, 0,
              "%s result not %zu-byte aligned", vf_op_name(op->code), al));
  size_t u = o->a->usable_size ? o->a->usable_size(p) : e->req;
  if (u < e->req)
    SOFT(fail(o, idx, VF_CHK_USABLE, p, e->req, u, "usable size below the request"));
  if (o->a->usable_bound) {
    size_t bound = o->a->usable_bound(e->req, e->asked);
    /* realloc may keep a block in place, in its old (larger) class */
    if (bound && prev && p == prev_ptr && prev->usable > bound) bound = prev->usable;
    /* a growing realloc may reserve up to twice the old block, so that a
     * buffer grown a little at a time is copied O(1) times per byte
     * (hakmem does for growth of at most a quarter; docs/architecture.md) */
    if (bound && prev && e->req > prev->usable) {
      size_t twice = prev->usable <= SIZE_MAX / 2 ? 2 * prev->usable : SIZE_MAX;
      size_t grow = o->a->usable_bound(twice, e->asked);
      if (grow > bound) bound = grow;
    }
    if (bound && u > bound)
      SOFT(fail(o, idx, VF_CHK_BOUND, p, e->req, u,
                "usable size above the class bound %zu", bound));
  }
  uintptr_t lo = (uintptr_t)p;
  uintptr_t hi = lo + (u ? u : 1);
  if (hi < lo)
    return fail(o, idx, VF_CHK_OVERLAP, p, e->req, u, "block wraps the address space");
  uint32_t other = vf_tree_overlap(&o->tree, lo, hi);
  if (other) {
    const vf_bmeta_t *om = &o->meta[other];
    return fail(o, idx, VF_CHK_OVERLAP, p, e->req, u,
                "overlaps live block 0x%" PRIxPTR "+%zu from op %" PRIu64
                " (slot %d)",
                o->nodes[other].lo, om->usable, om->born,
                om->slot == VF_NOSLOT ? -1 : (int)om->slot);
  }
  size_t plen = pat_len(o, u);
  if (zeroed) {
    size_t n = e->req < plen ? e->req : plen, bad = SIZE_MAX;
    if (!o->opt.pattern_sample) {
      bad = first_nonzero(p, n);
    } else { /* the windows the pattern will take (a reused block's old
                pattern shows there) */
      vf_pat_window_t w[VF_PAT_MAX_WINDOWS];
      size_t c = vf_pattern_windows(plen, o->next_id, w);
      for (size_t i = 0; i < c && bad == SIZE_MAX; i++) {
        size_t hi = w[i].hi < n ? w[i].hi : n;
        if (w[i].lo >= hi) continue;
        size_t z = first_nonzero((const char *)p + w[i].lo, hi - w[i].lo);
        if (z != SIZE_MAX) bad = w[i].lo + z;
      }
    }
    if (bad != SIZE_MAX)
      SOFT(fail(o, idx, VF_CHK_CALLOC_ZERO, p, e->req, u, "byte +%zu is 0x%02x",
                bad, ((unsigned char *)p)[bad]));
  }
  if (prev) {
    size_t n = prev->req < e->req ? prev->req : e->req;
    n = n < plen ? n : plen;
    size_t bad = SIZE_MAX;
    if (!o->opt.pattern_sample) {
      bad = vf_pattern_check(p, n, prev->id);
    } else if (n) {
      /* the old block's windows below n, and the end of the kept prefix
       * (op_realloc patterned it before the call) */
      size_t oldn = pat_len(o, prev->usable), kept = prev->req < e->req ? prev->req : e->req;
      bad = vf_pattern_check_sampled(p, oldn, n < oldn ? n : oldn, prev->id);
      if (n == (kept < oldn ? kept : oldn)) { /* the window op_realloc wrote */
        size_t lo = n > VF_PAT_SAMPLE_WIN ? n - VF_PAT_SAMPLE_WIN : 0;
        size_t tail = vf_pattern_check_range(p, lo, n, prev->id);
        if (tail < bad) bad = tail;
      }
    }
    if (bad != SIZE_MAX)
      SOFT(fail(o, idx, VF_CHK_REALLOC, p, e->req, u,
                "prefix of %zu bytes not kept: byte +%zu is 0x%02x, expected "
                "0x%02x; old block from op %" PRIu64 " size %zu",
                n, bad, ((unsigned char *)p)[bad],
                vf_pattern_byte(prev->id, bad), prev->born, prev->req));
  }
#undef SOFT
  if (!o->free_head && grow(o) != 0)
    return fail(o, idx, VF_CHK_NULL | VF_FATAL, p, e->req, u, "oracle out of memory");
  uint32_t b = o->free_head;
  vf_bmeta_t *m = &o->meta[b];
  o->free_head = m->next;
  m->req = e->req;
  m->usable = u;
  m->id = o->next_id++;
  m->born = idx;
  m->live = 1;
  m->slot = op->slot;
  o->nodes[b].lo = lo;
  o->nodes[b].hi = hi;
  if (vf_tree_insert(&o->tree, b))
    return fail(o, idx, VF_CHK_NULL | VF_FATAL, p, e->req, u, "oracle out of memory");
  uint32_t old = o->slots[op->slot];
  if (old) o->meta[old].slot = VF_NOSLOT; /* orphan: stays live */
  o->slots[op->slot] = b;
  o->live++;
  o->live_req += e->req;
  pat_fill(o, p, plen, m->id);
  return VF_OK;
}

/* ---- operations ----------------------------------------------------------*/

static int op_alloc(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  const vf_alloc_t *a = o->a;
  vf_expect_t e;
  expect_op(o, op, &e);
  void *p = NULL;
  int err;
  errno = 0;
  switch (op->code) {
  case VF_OP_MALLOC:
    p = a->malloc(op->size);
    break;
  case VF_OP_CALLOC:
    p = a->calloc(op->aux, op->size);
    break;
  case VF_OP_POSIX_MEMALIGN: {
    int rc = a->posix_memalign(&p, op->aux, op->size);
    if (rc) {
      excuse(o, &e);
      if (!e.may_fail)
        return fail(o, idx, VF_CHK_NULL, NULL, op->size, 0,
                    "posix_memalign failed with %d for a possible request", rc);
      if (rc != e.err_a && rc != e.err_b)
        return fail(o, idx, VF_CHK_ERRNO, NULL, op->size, 0,
                    "posix_memalign returned %d, expected %s", rc,
                    errno_name(e.err_a));
      return VF_OK;
    }
    if (!p) /* size 0 may legally yield NULL with rc 0 */
      return e.any_errno ? VF_OK
                         : fail(o, idx, VF_CHK_NULL, NULL, op->size, 0,
                                "posix_memalign returned 0 and NULL");
    break;
  }
  case VF_OP_ALIGNED_ALLOC:
    p = a->aligned_alloc(op->aux, op->size);
    break;
  case VF_OP_MEMALIGN:
    p = a->memalign(op->aux, op->size);
    break;
  default:
    return VF_OK;
  }
  err = errno;
  if (!p) return check_null(o, idx, op, &e, err);
  return adopt(o, idx, op, &e, p, op->code == VF_OP_CALLOC, NULL, NULL);
}

static int op_free(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  uint32_t b = o->slots[op->slot];
  if (!b) {
    o->skipped++;
    return VF_OK;
  }
  int r = verify_block(o, idx, b, "at free");
  if (r) return r;
  void *p = (void *)o->nodes[b].lo;
  drop_block(o, b);
  o->a->free(p);
  return VF_OK;
}

static int op_realloc(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  uint32_t b = o->slots[op->slot];
  vf_expect_t e;
  expect_op(o, op, &e);
  if (!b) { /* realloc(NULL, n) behaves as malloc(n) */
    errno = 0;
    void *p = o->a->realloc(NULL, op->size);
    int err = errno;
    if (!p) return check_null(o, idx, op, &e, err);
    return adopt(o, idx, op, &e, p, 0, NULL, NULL);
  }
  int r = verify_block(o, idx, b, "before realloc");
  if (r) return r;
  vf_bmeta_t prev = o->meta[b];
  void *old = (void *)o->nodes[b].lo;
  if (o->opt.pattern_sample && op->size) {
    /* pattern the last bytes of the prefix realloc must keep, so that a
     * copy one byte short shows (adopt checks them) */
    size_t oldn = pat_len(o, prev.usable);
    size_t n = prev.req < e.req ? prev.req : e.req;
    n = n < oldn ? n : oldn;
    vf_pattern_fill_range(old, n > VF_PAT_SAMPLE_WIN ? n - VF_PAT_SAMPLE_WIN : 0, n, prev.id);
  }
  errno = 0;
  void *p = o->a->realloc(old, op->size);
  int err = errno;
  if (op->size == 0) {
    /* realloc(p, 0): either frees p and returns NULL (glibc), or frees p
     * and returns a fresh minimum-size block. */
    drop_block(o, b);
    if (!p) return VF_OK;
    e.may_fail = 0;
    return adopt(o, idx, op, &e, p, 0, &prev, old);
  }
  if (!p) {
    r = check_null(o, idx, op, &e, err);
    if (r) return r;
    size_t oldn = pat_len(o, prev.usable);
    if (pat_check(o, old, oldn, oldn, prev.id) != SIZE_MAX &&
        (r = fail(o, idx, VF_CHK_REALLOC, old, prev.req, prev.usable,
                  "failed realloc to %" PRIu64 " damaged the old block", op->size)) == VF_OK)
      pat_fill(o, old, oldn, prev.id); /* keep-going: the block as it should be */
    return r;
  }
  drop_block(o, b);
  return adopt(o, idx, op, &e, p, 0, &prev, old);
}

static int op_usable(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  uint32_t b = o->slots[op->slot];
  if (!b || !o->a->usable_size) {
    o->skipped++;
    return VF_OK;
  }
  void *p = (void *)o->nodes[b].lo;
  size_t u = o->a->usable_size(p);
  if (u != o->meta[b].usable)
    return fail(o, idx, VF_CHK_USABLE_STABLE, p, o->meta[b].req, u,
                "usable_size was %zu when allocated at op %" PRIu64,
                o->meta[b].usable, o->meta[b].born);
  return VF_OK;
}

/* A pointer no allocator handed out, for foreign frees. */
static unsigned char foreign_buf[256] __attribute__((aligned(64)));

static int op_misuse(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  void (*release)(void *) = o->a->free;
  if (!o->opt.allow_misuse) {
    o->skipped++;
    return VF_OK;
  }
  if (op->code == VF_OP_FOREIGN_FREE) {
    o->misuses++;
    release(foreign_buf + 64);
    return VF_OK;
  }
  uint32_t b = o->slots[op->slot];
  if (!b) {
    o->skipped++;
    return VF_OK;
  }
  unsigned char *p = (unsigned char *)o->nodes[b].lo;
  size_t u = o->meta[b].usable;
  if (op->code == VF_OP_DOUBLE_FREE) {
    int r = verify_block(o, idx, b, "at free");
    if (r) return r;
    drop_block(o, b);
    o->misuses++;
    release(p);
    release(p);
    return VF_OK;
  }
  if (op->code == VF_OP_INTERIOR_FREE) {
    if (u < 2) {
      o->skipped++;
      return VF_OK;
    }
    o->misuses++;
    release(p + 1 + (size_t)(op->size % (u - 1))); /* offset 1..usable-1 */
    return VF_OK;
  }
  /* overflow: 1..4096 bytes past the usable end, never into a live block */
  size_t n = op->size < 1 ? 1 : op->size > 4096 ? 4096 : (size_t)op->size;
  o->misuses++;
  for (size_t k = 0; k < n; k++) {
    uintptr_t a = (uintptr_t)p + u + k;
    if (!vf_tree_overlap(&o->tree, a, a + 1)) *(volatile unsigned char *)a = 0xA5;
  }
  return VF_OK;
}

int vf_oracle_check_now(vf_oracle_t *o, uint64_t idx) {
  if (o->failed) return o->failed;
  o->since_check = 0;
  const vf_alloc_t *a = o->a;
  if (a->stats_get) {
    vf_stats_t s;
    if (a->stats_get(&s) == 0) {
      if (s.live_blocks != o->live)
        return fail(o, idx, VF_CHK_STATS, NULL, o->live_req, s.live_bytes,
                    "allocator live_blocks=%" PRIu64 ", oracle has %" PRIu64,
                    s.live_blocks, o->live);
      if (s.live_bytes < o->live_req)
        return fail(o, idx, VF_CHK_STATS, NULL, o->live_req, s.live_bytes,
                    "allocator live_bytes=%" PRIu64
                    " below the requested sum %" PRIu64,
                    s.live_bytes, o->live_req);
    }
  }
  if (a->check_heap) {
    int r = a->check_heap();
    if (r > 0)
      return fail(o, idx, VF_CHK_HEAP, NULL, 0, 0,
                  "heap walk found %d problem(s) with %" PRIu64 " live blocks",
                  r, o->live);
  }
  return VF_OK;
}

int vf_oracle_op(vf_oracle_t *o, uint64_t idx, const vf_op_t *op) {
  if (o->failed) return o->failed;
  if (vf_op_has_slot(op->code) && op->slot >= o->nslots) {
    o->skipped++;
    return VF_OK;
  }
  int r;
  if (o->fault_plans) o->fault_mark = vf_fault_mark(o->a);
  switch (op->code) {
  case VF_OP_MALLOC:
  case VF_OP_CALLOC:
    r = op_alloc(o, idx, op);
    break;
  case VF_OP_FAULT:
  case VF_OP_FAULT_RATE:
  case VF_OP_RECLAIM:
    if (!vf_fault_op(o->a, op)) o->skipped++;
    else o->fault_plans = 1, o->fault_mark = vf_fault_mark(o->a);
    return VF_OK;
  case VF_OP_POSIX_MEMALIGN:
  case VF_OP_ALIGNED_ALLOC:
  case VF_OP_MEMALIGN: {
    const vf_alloc_t *a = o->a;
    void *fn = op->code == VF_OP_POSIX_MEMALIGN ? (void *)a->posix_memalign
               : op->code == VF_OP_ALIGNED_ALLOC ? (void *)a->aligned_alloc
                                                 : (void *)a->memalign;
    if (!fn) {
      o->skipped++;
      return VF_OK;
    }
    r = op_alloc(o, idx, op);
    break;
  }
  case VF_OP_REALLOC:
    r = op_realloc(o, idx, op);
    break;
  case VF_OP_FREE:
    r = op_free(o, idx, op);
    break;
  case VF_OP_USABLE_SIZE:
    r = op_usable(o, idx, op);
    break;
  case VF_OP_DOUBLE_FREE:
  case VF_OP_INTERIOR_FREE:
  case VF_OP_FOREIGN_FREE:
  case VF_OP_OVERFLOW:
    r = op_misuse(o, idx, op);
    break;
  default:
    return VF_OK;
  }
  if (r) return r;
  if (o->fault_plans && vf_fault_hit(o->a, o->fault_mark))
    return vf_oracle_check_now(o, idx); /* still right after the fault? */
  if (o->opt.check_every && ++o->since_check >= o->opt.check_every)
    return vf_oracle_check_now(o, idx);
  return VF_OK;
}

typedef struct final_free {
  vf_oracle_t *o;
  uint64_t idx;
} final_free_t;

/* vf_oracle_finish's step for one block: verify, retire, free. */
static int free_at_end(void *ctx, uint32_t b) {
  final_free_t *f = ctx;
  int r = verify_block(f->o, f->idx, b, "at final free");
  if (r) return r;
  retire_block(f->o, b);
  f->o->a->free((void *)f->o->nodes[b].lo);
  return VF_OK;
}

int vf_oracle_finish(vf_oracle_t *o, uint64_t idx) {
  if (o->fault_plans) vf_fault_end(o->a); /* no plan outlives the replay */
  o->fault_plans = 0;
  if (o->failed) return o->failed;
  int r = vf_oracle_check_now(o, idx);
  if (r || !o->opt.verify_all_at_end) return r;
  /* every block in address order (as before), the address map emptied at
   * once afterwards instead of one erase per block (2-3% of a fuzz run) */
  final_free_t f = {o, idx};
  r = vf_tree_walk(&o->tree, free_at_end, &f);
  if (r) return r;
  vf_tree_clear(&o->tree);
  return vf_oracle_check_now(o, idx);
}
