/* vf_replay.c - trace replay through the oracle, with a deterministic
 * multi-thread scheduler.
 *
 * Scheduler invariants: exactly one thread holds the token at any time and
 * only the holder touches the oracle and the shared cursor; the token moves
 * only at a SWITCH op or when the next op names another thread, with a
 * sem_post to the receiver (which orders all prior writes before the
 * receiver's reads).  When the trace ends or a check fails, the holder sets
 * `done` and wakes every thread; the final checks run on the calling thread
 * after all workers have exited, so their thread caches are back.  If the
 * workers cannot all be created, nothing has run yet and the trace is
 * replayed on the calling thread instead.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vf_replay.h"

static volatile uint64_t g_current_op = UINT64_MAX;
static volatile uint64_t g_first_misuse = UINT64_MAX;

uint64_t vf_replay_current_op(void) { return g_current_op; }
uint64_t vf_replay_first_misuse(void) { return g_first_misuse; }

static int g_allow_misuse;

/* Mark op i as current (and as the first misuse when it is one). */
static void enter_op(const vf_op_t *op, uint64_t i) {
  g_current_op = i;
  if (g_allow_misuse && VF_OP_IS_MISUSE(op->code) && g_first_misuse == UINT64_MAX)
    g_first_misuse = i;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct mt_ctx {
  const vf_trace_t *t;
  vf_oracle_t *o;
  size_t pos;
  int done;
  int result;
  uint64_t ops_done;
  sem_t sem[VF_TRACE_MAX_THREADS];
} mt_ctx_t;

typedef struct mt_arg {
  mt_ctx_t *c;
  unsigned me;
} mt_arg_t;

static void finish_all(mt_ctx_t *c, unsigned me) {
  c->done = 1;
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++)
    if (i != me) sem_post(&c->sem[i]);
}

/* Run ops for thread `me` whenever it holds the token. */
static void run_as(mt_ctx_t *c, unsigned me) {
  const vf_trace_t *t = c->t;
  for (;;) {
    sem_wait(&c->sem[me]);
    if (c->done) return;
    for (;;) {
      if (c->pos >= t->n) {
        finish_all(c, me);
        return;
      }
      const vf_op_t *op = &t->ops[c->pos];
      if (op->code == VF_OP_SWITCH) c->pos++;
      if (op->tid != me) {
        sem_post(&c->sem[op->tid]);
        break;
      }
      if (op->code == VF_OP_SWITCH) continue;
      enter_op(op, c->pos);
      int r = vf_oracle_op(c->o, c->pos, op);
      c->pos++;
      c->ops_done++;
      if (r) {
        c->result = r;
        finish_all(c, me);
        return;
      }
    }
  }
}

static void *worker(void *p) {
  mt_arg_t *a = p;
  run_as(a->c, a->me);
  return NULL;
}

static int replay_mt(const vf_trace_t *t, vf_oracle_t *o, uint64_t *ops_done) {
  mt_ctx_t *c = calloc(1, sizeof *c);
  mt_arg_t args[VF_TRACE_MAX_THREADS];
  pthread_t th[VF_TRACE_MAX_THREADS];
  unsigned char used[VF_TRACE_MAX_THREADS] = {0};
  if (!c) return VF_CHK_NULL;
  c->t = t;
  c->o = o;
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++) sem_init(&c->sem[i], 0, 0);
  for (size_t i = 0; i < t->n; i++) used[t->ops[i].tid] = 1;
  int ok = 1;
  for (unsigned i = 1; i < VF_TRACE_MAX_THREADS && ok; i++) {
    if (!used[i]) continue;
    args[i].c = c;
    args[i].me = i;
    if (pthread_create(&th[i], NULL, worker, &args[i]) != 0) used[i] = 0, ok = 0;
  }
  if (ok) {
    sem_post(&c->sem[t->n ? t->ops[0].tid : 0]);
    run_as(c, 0);
  } else { /* no thread for some id: stop the others, nothing ran yet */
    finish_all(c, 0);
    c->result = -1;
  }
  for (unsigned i = 1; i < VF_TRACE_MAX_THREADS; i++)
    if (used[i]) pthread_join(th[i], NULL);
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++) sem_destroy(&c->sem[i]);
  int r = c->result;
  *ops_done = c->ops_done;
  free(c);
  return r;
}

int vf_replay(const vf_trace_t *t, const vf_alloc_t *a,
              const vf_oracle_opts_t *opts, int threads,
              vf_replay_result_t *res) {
  memset(res, 0, sizeof *res);
  vf_oracle_t *o = vf_oracle_new(a, t->n ? t->max_slot + 1 : 1, opts);
  if (!o) {
    res->check = VF_CHK_NULL;
    strcpy(res->message, "oracle: out of memory");
    return res->check;
  }
  g_first_misuse = UINT64_MAX;
  g_allow_misuse = opts && opts->allow_misuse;
  double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  int r = VF_OK;
  int serial = !(threads && t->nthreads > 1);
  if (!serial && (r = replay_mt(t, o, &res->ops_done)) < 0) {
    r = VF_OK; /* could not start the threads: replay serially */
    serial = 1;
  }
  if (serial) {
    for (size_t i = 0; i < t->n && !r; i++) {
      enter_op(&t->ops[i], i);
      r = vf_oracle_op(o, i, &t->ops[i]);
      res->ops_done++;
    }
  }
  res->seconds = clock_s(CLOCK_MONOTONIC) - t0;
  res->cpu_seconds = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  g_current_op = t->n;
  if (!r) r = vf_oracle_finish(o, t->n);
  g_current_op = UINT64_MAX;
  res->check = r;
  res->index = r ? vf_oracle_fail_index(o) : 0;
  res->skipped = vf_oracle_skipped(o);
  snprintf(res->message, sizeof res->message, "%s", vf_oracle_message(o));
  vf_oracle_destroy(o);
  return r;
}
