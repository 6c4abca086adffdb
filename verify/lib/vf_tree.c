/* vf_tree.c - randomized treap keyed by block address (see vf_tree.h).
 *
 * Invariants: in-order traversal yields strictly increasing `lo`; every
 * parent's prio >= its children's.  Recursion depth is the tree height,
 * expected O(log n) because priorities come from a xorshift generator.
 */
#include "vf_tree.h"

static uint32_t next_prio(vf_tree_t *t) {
  uint64_t x = t->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  t->rng = x;
  return (uint32_t)(x >> 32);
}

void vf_tree_init(vf_tree_t *t, vf_tnode_t *nodes, uint64_t seed) {
  t->n = nodes;
  t->root = 0;
  t->count = 0;
  t->rng = seed ? seed : 0x2545F4914F6CDD1Dull;
}

/* Split subtree s into keys < key (*l) and keys >= key (*r). */
static void split(vf_tnode_t *n, uint32_t s, uintptr_t key, uint32_t *l,
                  uint32_t *r) {
  if (!s) {
    *l = *r = 0;
    return;
  }
  if (n[s].lo < key) {
    split(n, n[s].right, key, &n[s].right, r);
    *l = s;
  } else {
    split(n, n[s].left, key, l, &n[s].left);
    *r = s;
  }
}

/* Merge a and b where every key of a < every key of b. */
static uint32_t merge(vf_tnode_t *n, uint32_t a, uint32_t b) {
  if (!a) return b;
  if (!b) return a;
  if (n[a].prio >= n[b].prio) {
    n[a].right = merge(n, n[a].right, b);
    return a;
  }
  n[b].left = merge(n, a, n[b].left);
  return b;
}

int vf_tree_insert(vf_tree_t *t, uint32_t x) {
  vf_tnode_t *n = t->n;
  n[x].left = n[x].right = 0;
  n[x].prio = next_prio(t);
  /* descend while parents outrank x, then split there */
  uint32_t *link = &t->root;
  while (*link && n[*link].prio >= n[x].prio)
    link = n[x].lo < n[*link].lo ? &n[*link].left : &n[*link].right;
  split(n, *link, n[x].lo, &n[x].left, &n[x].right);
  *link = x;
  t->count++;
  return 0;
}

int vf_tree_erase(vf_tree_t *t, uint32_t x) {
  vf_tnode_t *n = t->n;
  uint32_t *link = &t->root;
  uintptr_t key = n[x].lo;
  while (*link && *link != x)
    link = key < n[*link].lo ? &n[*link].left : &n[*link].right;
  if (!*link) return -1;
  *link = merge(n, n[x].left, n[x].right);
  n[x].left = n[x].right = 0;
  t->count--;
  return 0;
}

uint32_t vf_tree_pred(const vf_tree_t *t, uintptr_t key) {
  const vf_tnode_t *n = t->n;
  uint32_t s = t->root, best = 0;
  while (s) {
    if (n[s].lo < key) {
      best = s;
      s = n[s].right;
    } else {
      s = n[s].left;
    }
  }
  return best;
}

uint32_t vf_tree_overlap(const vf_tree_t *t, uintptr_t lo, uintptr_t hi) {
  /* The node with the largest start below hi is the only candidate: any
   * other node starting below hi starts (and, being disjoint from it, ends)
   * before that one. */
  if (hi <= lo) hi = lo + 1; /* a zero-size block still owns its address */
  uint32_t p = vf_tree_pred(t, hi);
  if (!p) return 0;
  uintptr_t phi = t->n[p].hi > t->n[p].lo ? t->n[p].hi : t->n[p].lo + 1;
  return phi > lo ? p : 0;
}

uint32_t vf_tree_first(const vf_tree_t *t) {
  uint32_t s = t->root;
  while (s && t->n[s].left) s = t->n[s].left;
  return s;
}
