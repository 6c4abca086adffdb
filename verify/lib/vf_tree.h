/* vf_tree.h - ordered address map for the oracle (randomized treap).
 *
 * Nodes live in a caller-owned array and are named by index; index 0 is the
 * nil node and is never linked.  Keys are block start addresses and are
 * unique among linked nodes.  The treap keeps BST order on `lo` and heap
 * order on `prio`, so insert, erase and predecessor queries take expected
 * O(log n).  The tree never allocates.
 */
#ifndef VF_TREE_H
#define VF_TREE_H

#include <stdint.h>

typedef struct vf_tnode {
  uintptr_t lo, hi; /* [lo, hi) */
  uint32_t left, right;
  uint32_t prio;
} vf_tnode_t;

typedef struct vf_tree {
  vf_tnode_t *n; /* node array, n[0] is nil */
  uint32_t root;
  uint32_t count;
  uint64_t rng;
} vf_tree_t;

void vf_tree_init(vf_tree_t *t, vf_tnode_t *nodes, uint64_t seed);
/* Re-point at a moved node array (after realloc of the array). */
static inline void vf_tree_rebase(vf_tree_t *t, vf_tnode_t *nodes) { t->n = nodes; }
/* Link node x (lo/hi already set).  The caller guarantees that no linked
 * node has the same lo (the oracle links only non-overlapping blocks). */
int vf_tree_insert(vf_tree_t *t, uint32_t x);
/* Unlink node x (found by its lo).  Returns 0, or -1 if not linked. */
int vf_tree_erase(vf_tree_t *t, uint32_t x);
/* Node with the largest lo < key, or 0. */
uint32_t vf_tree_pred(const vf_tree_t *t, uintptr_t key);
/* A linked node whose [lo, hi) intersects [lo, hi), or 0.  Exact as long
 * as the linked nodes do not overlap each other. */
uint32_t vf_tree_overlap(const vf_tree_t *t, uintptr_t lo, uintptr_t hi);
/* Smallest node (leftmost), or 0. */
uint32_t vf_tree_first(const vf_tree_t *t);

#endif
