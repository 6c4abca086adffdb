/* dt_double_free_remote_batch.c - death test: one thread frees another
 * thread's block twice in a row.  The remote freer gathers its frees to a
 * slab in a batch (class.c hk_free_remote) and only reads the state bit,
 * so the second free links the block to itself in the batch; the batch's
 * first block must still hold its NULL link when the batch is handed over
 * (here at the thread's exit): "double free" there (debug: at the second
 * free already). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void *free_twice(void *p) {
  hak_free(p);
  hak_free(p);
  return NULL;
}

static void dt_misuse(void) {
  char *p = hak_malloc(40);
  dt_expect("double free", p, dt_class(40));
  pthread_t t;
  pthread_create(&t, NULL, free_twice, p);
  pthread_join(t, NULL);
}
