/* dt_remote_corrupt.c - death test: the link of a block on a remote queue is
 * overwritten; the owner validates every node when it drains. */
#define DT_MIN_LEVEL 1
#define DT_BELOW DT_UNDEFINED
#include "death.h"

static void dt_misuse(void) {
  char *p = hak_malloc(40);
  pthread_t t;
  pthread_create(&t, NULL, (void *(*)(void *))hak_free, p);
  pthread_join(t, NULL);
  memset(p, 0x5A, 8);
  dt_expect("corrupt remote-queue node", p, dt_class(40));
  for (int i = 0; i < 100000; i++) (void)hak_malloc(40); /* until the drain */
}
