/* dt_double_free_remote_batch_later.c - death test: one thread frees three
 * blocks of another thread's slab and then the second of them again.  All
 * four frees go into the remote freer's batch for that slab, where the
 * repeated block now closes a cycle; the batch is handed over at the
 * thread's exit and the owner's drain walk meets the block twice: "double
 * free" there (debug: at the second free already). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static char *blk[3];

static void *free_four(void *arg) {
  (void)arg;
  hak_free(blk[0]);
  hak_free(blk[1]);
  hak_free(blk[2]);
  hak_free(blk[1]);
  return NULL;
}

static void dt_misuse(void) {
  for (int i = 0; i < 3; i++) blk[i] = hak_malloc(40);
  dt_expect("double free", blk[1], dt_class(40));
  pthread_t t;
  pthread_create(&t, NULL, free_four, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < 100000; i++) (void)hak_malloc(40); /* until the drain */
}
