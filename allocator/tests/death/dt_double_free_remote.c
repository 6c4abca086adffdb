/* dt_double_free_remote.c - death test: a block freed by two other threads (two
 * remote frees).  The remote freer only reads the state bit, so the second
 * push is found when the owner drains its queue: "double free" there
 * (debug: at the second free already). */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  static char *p;
  p = hak_malloc(40);
  pthread_t t1, t2;
  pthread_create(&t1, NULL, (void *(*)(void *))hak_free, p);
  pthread_join(t1, NULL);
  /* debug reports at this second free (the block's request slot says
   * "free"); hardened when the owner drains the queue below */
  dt_expect("double free", p, dt_class(40));
  pthread_create(&t2, NULL, (void *(*)(void *))hak_free, p);
  pthread_join(t2, NULL);
  for (int i = 0; i < 100000; i++) (void)hak_malloc(40); /* until the drain */
}
