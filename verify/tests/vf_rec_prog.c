/* vf_rec_prog.c - a program for the recorder test: 4 threads allocate with
 * every entry point, hand blocks to each other (cross-thread frees), and the
 * process forks a child that allocates and execs /bin/true.  The recorder
 * must record the parent's threads, not the child, and not deadlock.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4
#define ROUNDS 2000
static void *volatile mailbox[N];

static void *work(void *arg) {
  unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919u + 1;
  void *keep[64] = {0};
  for (int i = 0; i < ROUNDS; i++) {
    seed = seed * 1103515245u + 12345u;
    unsigned k = (seed >> 8) % 64, sz = (seed >> 12) % 3000 + 1;
    free(keep[k]);
    switch (i % 6) {
    case 0: keep[k] = malloc(sz); break;
    case 1: keep[k] = calloc(3, sz / 3 + 1); break;
    case 2: keep[k] = realloc(malloc(sz / 2 + 1), sz); break;
    case 3: keep[k] = memalign(64, sz); break;
    case 4: keep[k] = aligned_alloc(32, (sz + 31) & ~31u); break;
    default: {
      void *p = NULL;
      keep[k] = posix_memalign(&p, 128, sz) ? NULL : p;
    }
    }
    if (keep[k]) memset(keep[k], (int)id, 1);
    /* pass one block to the next thread, free the one we got */
    void *give = malloc(48);
    void *got = __atomic_exchange_n(&mailbox[(id + 1) % N], give, __ATOMIC_ACQ_REL);
    free(got);
  }
  for (int k = 0; k < 64; k++) free(keep[k]);
  return NULL;
}

int main(void) {
  pthread_t th[N];
  for (unsigned i = 0; i < N; i++) pthread_create(&th[i], NULL, work, (void *)(uintptr_t)i);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 1000; i++) free(malloc((size_t)i + 1));
    execl("/bin/true", "true", (char *)NULL);
    _exit(1);
  }
  for (unsigned i = 0; i < N; i++) pthread_join(th[i], NULL);
  int st;
  waitpid(pid, &st, 0);
  for (unsigned i = 0; i < N; i++) free(mailbox[i]);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
