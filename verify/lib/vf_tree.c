/* vf_tree.c - ordered address map for the oracle: a B+tree (see vf_tree.h).
 *
 * Nodes live in a pool owned by the tree and are named by index (0 = none).
 * A node holds up to VF_BT_MAX entries (key, ptr), sorted by key.  In a leaf
 * ptr is the block index; in an inner node ptr is a child and key is the
 * EXACT smallest key below that child.  Invariants after every call:
 *  - all leaves are at the same depth;
 *  - every node but the root has at least VF_BT_MIN entries, so the height
 *    is O(log n) and every operation is one root-to-leaf pass plus a few
 *    neighbour moves;
 *  - inner keys equal their child's first key, so a search that descends
 *    into the last child with key < q reaches a leaf holding a key < q.
 * Wide nodes keep the searches short and the branches predictable, which is
 * what the oracle's speed target needs (three tree operations per block).
 */
#include <stdlib.h>
#include <string.h>

#include "vf_tree.h"

struct vf_btnode {
  uint16_t n, leaf;
  uintptr_t key[VF_BT_MAX + 1]; /* +1: room to overflow before a split */
  uint32_t ptr[VF_BT_MAX + 1];
};

/* Put nodes [lo, hi) on the free list, lowest first out (node 0 is
 * never used: index 0 means "none"). */
static void pool_add(vf_tree_t *t, uint32_t lo, uint32_t hi) {
  for (uint32_t i = hi; i-- > lo;) {
    t->b[i].ptr[0] = t->bfree;
    t->bfree = i;
  }
}

static uint32_t node_new(vf_tree_t *t, int leaf) {
  if (!t->bfree) {
    uint32_t ncap = t->bcap ? t->bcap * 2 : 64;
    vf_btnode_t *nb = realloc(t->b, (size_t)ncap * sizeof *nb);
    if (!nb) return 0;
    t->b = nb;
    pool_add(t, t->bcap ? t->bcap : 1, ncap);
    t->bcap = ncap;
  }
  uint32_t x = t->bfree;
  t->bfree = t->b[x].ptr[0];
  t->b[x].n = 0;
  t->b[x].leaf = (uint16_t)leaf;
  return x;
}

static void node_free(vf_tree_t *t, uint32_t x) {
  t->b[x].ptr[0] = t->bfree;
  t->bfree = x;
}

int vf_tree_init(vf_tree_t *t, vf_tnode_t *nodes, uint64_t seed) {
  (void)seed;
  memset(t, 0, sizeof *t);
  t->n = nodes;
  t->root = node_new(t, 1);
  return t->root ? 0 : -1;
}

void vf_tree_destroy(vf_tree_t *t) {
  free(t->b);
  t->b = NULL;
  t->root = t->bcap = t->bfree = 0;
}

/* Number of entries with key <= k (so the entry to follow is that - 1).
 * Counting compares instead of binary search: no unpredictable branches. */
static unsigned upper(const vf_btnode_t *x, uintptr_t k) {
  unsigned c = 0;
  for (unsigned j = 0; j < x->n; j++) c += x->key[j] <= k;
  return c;
}

/* Number of entries with key < k. */
static unsigned lower(const vf_btnode_t *x, uintptr_t k) {
  unsigned c = 0;
  for (unsigned j = 0; j < x->n; j++) c += x->key[j] < k;
  return c;
}

/* Entries move by hand, not with memmove: a node holds at most 17, and in
 * ASan processes (the fuzz targets) memmove is ASan's interceptor, which
 * checks both ranges and then copies byte by byte (internal_memmove):
 * that was 3-4% of fuzz_trace's time (docs/fuzzing.md, "Speed").  (Each
 * loop moves two arrays, which clang -O2 does not turn back into memmove
 * calls; check with objdump when changing them.) */
static void shift_right(vf_btnode_t *x, unsigned i) {
  for (unsigned j = x->n; j > i; j--) {
    x->key[j] = x->key[j - 1];
    x->ptr[j] = x->ptr[j - 1];
  }
}

static void shift_left(vf_btnode_t *x, unsigned i) {
  for (unsigned j = i; j < x->n; j++) {
    x->key[j] = x->key[j + 1];
    x->ptr[j] = x->ptr[j + 1];
  }
}

/* Append src's n entries from `from` to dst (no overlap). */
static void take(vf_btnode_t *dst, const vf_btnode_t *src, unsigned from, unsigned n) {
  for (unsigned j = 0; j < n; j++) {
    dst->key[dst->n + j] = src->key[from + j];
    dst->ptr[dst->n + j] = src->ptr[from + j];
  }
}

static void put(vf_btnode_t *x, unsigned i, uintptr_t k, uint32_t p) {
  shift_right(x, i);
  x->key[i] = k;
  x->ptr[i] = p;
  x->n++;
}

static void cut(vf_btnode_t *x, unsigned i) {
  x->n--;
  shift_left(x, i);
}

/* Insert under node xi; returns a new right sibling (0 = no split), or
 * UINT32_MAX when out of memory. */
static uint32_t ins(vf_tree_t *t, uint32_t xi, uintptr_t k, uint32_t v) {
  vf_btnode_t *x = &t->b[xi];
  if (x->leaf) {
    put(x, upper(x, k), k, v);
  } else {
    unsigned i = upper(x, k);
    i = i ? i - 1 : 0;
    uint32_t s = ins(t, x->ptr[i], k, v);
    if (s == UINT32_MAX) return s;
    x = &t->b[xi]; /* the pool may have moved */
    if (k < x->key[i]) x->key[i] = k;
    if (s) put(x, i + 1, t->b[s].key[0], s);
  }
  if (x->n <= VF_BT_MAX) return 0;
  int leaf = x->leaf;
  uint32_t si = node_new(t, leaf);
  if (!si) return UINT32_MAX;
  x = &t->b[xi];
  vf_btnode_t *s = &t->b[si];
  unsigned half = x->n / 2;
  s->n = 0;
  take(s, x, half, x->n - half);
  s->n = (uint16_t)(x->n - half);
  x->n = (uint16_t)half;
  return si;
}

int vf_tree_insert(vf_tree_t *t, uint32_t v) {
  uintptr_t k = t->n[v].lo;
  uint32_t s = ins(t, t->root, k, v);
  if (s == UINT32_MAX) return -1;
  if (s) {
    uint32_t r = node_new(t, 0);
    if (!r) return -1;
    vf_btnode_t *root = &t->b[r];
    root->n = 2;
    root->key[0] = t->b[t->root].key[0];
    root->ptr[0] = t->root;
    root->key[1] = t->b[s].key[0];
    root->ptr[1] = s;
    t->root = r;
  }
  t->count++;
  return 0;
}

/* Child i of x is below VF_BT_MIN: merge with or borrow from a neighbour. */
static void fix(vf_tree_t *t, vf_btnode_t *x, unsigned i) {
  unsigned li = i + 1 < x->n ? i : i - 1; /* left of the pair (li, li+1) */
  vf_btnode_t *l = &t->b[x->ptr[li]], *r = &t->b[x->ptr[li + 1]];
  if (l->n + r->n <= VF_BT_MAX) { /* merge r into l */
    take(l, r, 0, r->n);
    l->n = (uint16_t)(l->n + r->n);
    node_free(t, x->ptr[li + 1]);
    cut(x, li + 1);
    return;
  }
  if (l->n < r->n) { /* move r's first entry to l's end */
    l->key[l->n] = r->key[0];
    l->ptr[l->n] = r->ptr[0];
    l->n++;
    cut(r, 0);
  } else { /* move l's last entry to r's front */
    l->n--;
    put(r, 0, l->key[l->n], l->ptr[l->n]);
  }
  x->key[li + 1] = r->key[0];
}

/* Remove key k (value v) under x; 1 if removed. */
static int del(vf_tree_t *t, uint32_t xi, uintptr_t k, uint32_t v) {
  vf_btnode_t *x = &t->b[xi];
  if (x->leaf) {
    unsigned j = lower(x, k);
    if (j >= x->n || x->key[j] != k || x->ptr[j] != v) return 0;
    cut(x, j);
    return 1;
  }
  unsigned i = upper(x, k);
  if (!i) return 0;
  i--;
  if (!del(t, x->ptr[i], k, v)) return 0;
  vf_btnode_t *c = &t->b[x->ptr[i]];
  if (c->n) x->key[i] = c->key[0];
  if (c->n < VF_BT_MIN && x->n > 1) fix(t, x, i);
  return 1;
}

int vf_tree_erase(vf_tree_t *t, uint32_t v) {
  if (!del(t, t->root, t->n[v].lo, v)) return -1;
  vf_btnode_t *r = &t->b[t->root];
  if (!r->leaf && r->n == 1) { /* shrink the height */
    uint32_t old = t->root;
    t->root = r->ptr[0];
    node_free(t, old);
  }
  t->count--;
  return 0;
}

uint32_t vf_tree_pred(const vf_tree_t *t, uintptr_t key) {
  const vf_btnode_t *x = &t->b[t->root];
  for (;;) {
    unsigned i = lower(x, key);
    if (!i) return 0;
    if (x->leaf) return x->ptr[i - 1];
    x = &t->b[x->ptr[i - 1]];
  }
}

uint32_t vf_tree_overlap(const vf_tree_t *t, uintptr_t lo, uintptr_t hi) {
  /* The block with the largest start below hi is the only candidate: any
   * other block starting below hi starts (and, being disjoint from it,
   * ends) before that one. */
  if (hi <= lo) hi = lo + 1; /* a zero-size block still owns its address */
  uint32_t p = vf_tree_pred(t, hi);
  if (!p) return 0;
  uintptr_t phi = t->n[p].hi > t->n[p].lo ? t->n[p].hi : t->n[p].lo + 1;
  return phi > lo ? p : 0;
}

static int walk(const vf_tree_t *t, uint32_t xi, int (*fn)(void *, uint32_t), void *ctx) {
  const vf_btnode_t *x = &t->b[xi];
  for (unsigned j = 0; j < x->n; j++) {
    int r = x->leaf ? fn(ctx, x->ptr[j]) : walk(t, x->ptr[j], fn, ctx);
    if (r) return r;
  }
  return 0;
}

int vf_tree_walk(const vf_tree_t *t, int (*fn)(void *ctx, uint32_t x), void *ctx) {
  return walk(t, t->root, fn, ctx);
}

void vf_tree_clear(vf_tree_t *t) {
  t->bfree = 0;
  pool_add(t, 1, t->bcap);
  t->root = node_new(t, 1); /* the pool is not empty: no allocation */
  t->count = 0;
}

uint32_t vf_tree_first(const vf_tree_t *t) {
  const vf_btnode_t *x = &t->b[t->root];
  while (!x->leaf) x = &t->b[x->ptr[0]];
  return x->n ? x->ptr[0] : 0;
}
