/* vf_tree.h - ordered address map for the oracle (B+tree, vf_tree.c).
 *
 * Maps block start addresses to block indexes.  The caller owns an array of
 * vf_tnode_t (one per block index, [lo, hi) = the block's usable range);
 * the tree owns its node pool.  Keys are unique among linked blocks (the
 * oracle links only non-overlapping blocks).  Insert, erase and predecessor
 * queries take O(log n); the overlap query is one predecessor query.
 */
#ifndef VF_TREE_H
#define VF_TREE_H

#include <stdint.h>

#define VF_BT_MAX 16 /* entries per node */
#define VF_BT_MIN 4  /* entries per non-root node, at least */

typedef struct vf_tnode {
  uintptr_t lo, hi; /* [lo, hi) */
} vf_tnode_t;

typedef struct vf_btnode vf_btnode_t;

typedef struct vf_tree {
  vf_tnode_t *n; /* caller's block array, indexed by block */
  vf_btnode_t *b; /* node pool; index 0 unused */
  uint32_t bcap, bfree, root;
  uint32_t count;
} vf_tree_t;

/* 0, or -1 when out of memory.  seed is unused (kept for the API). */
int vf_tree_init(vf_tree_t *t, vf_tnode_t *nodes, uint64_t seed);
void vf_tree_destroy(vf_tree_t *t);
/* Re-point at a moved block array (after realloc of the array). */
static inline void vf_tree_rebase(vf_tree_t *t, vf_tnode_t *nodes) { t->n = nodes; }
/* Link block x (lo/hi already set).  0, or -1 when out of memory. */
int vf_tree_insert(vf_tree_t *t, uint32_t x);
/* Unlink block x (found by its lo).  Returns 0, or -1 if not linked. */
int vf_tree_erase(vf_tree_t *t, uint32_t x);
/* Block with the largest lo < key, or 0. */
uint32_t vf_tree_pred(const vf_tree_t *t, uintptr_t key);
/* A linked block whose [lo, hi) intersects [lo, hi), or 0.  Exact as long
 * as the linked blocks do not overlap each other. */
uint32_t vf_tree_overlap(const vf_tree_t *t, uintptr_t lo, uintptr_t hi);
/* Block with the smallest lo, or 0. */
uint32_t vf_tree_first(const vf_tree_t *t);
/* Call fn(ctx, x) for every linked block x in ascending lo order, until fn
 * returns non-zero (returned).  fn must not insert or erase. */
int vf_tree_walk(const vf_tree_t *t, int (*fn)(void *ctx, uint32_t x), void *ctx);
/* Unlink every block at once (the node pool keeps its memory). */
void vf_tree_clear(vf_tree_t *t);

#endif
