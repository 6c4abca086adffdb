/* vf_replay.c - trace replay through the oracle, with a deterministic
 * multi-thread scheduler.
 *
 * Scheduler invariants: every trace thread id runs on a worker thread of
 * its own, started when the id first gets the token; exactly one worker
 * holds the token at any time and only the holder touches the oracle and
 * the scheduler state (cursor, thread table); the token moves only at a
 * SWITCH op, when the next op names another id, or at a THREAD_EXIT op
 * (that worker ends, the caller joins it - so its thread-exit work is over
 * before any other op runs - and passes the token on; the id's next op
 * starts a new worker), always with a sem_post to the receiver, which
 * orders all prior writes before its reads.
 * When the trace ends or a check fails, the holder sets `done`, wakes every
 * worker and the caller; the caller joins every worker before the final
 * checks, so all thread caches are back.  If the first worker cannot be
 * created, nothing has run and the trace is replayed on the calling thread.
 * A clean replay's oracle (no failure, every block freed) is kept as the
 * spare for the next replay (vf_oracle_reset); any other is destroyed.
 */
#include <inttypes.h>
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

typedef struct mt_ctx mt_ctx_t;

typedef struct mt_arg {
  mt_ctx_t *c;
  unsigned me;
} mt_arg_t;

struct mt_ctx {
  const vf_trace_t *t;
  vf_oracle_t *o;
  size_t pos;
  int done;
  int result; /* VF_OK, a check, or -1: a thread could not be created */
  uint64_t ops_done;
  sem_t sem[VF_TRACE_MAX_THREADS];
  sem_t caller;                        /* wakes the calling thread   */
  int exiting;                         /* id whose worker ends, or -1 */
  pthread_t th[VF_TRACE_MAX_THREADS];  /* current thread of each id  */
  unsigned char alive[VF_TRACE_MAX_THREADS];
  mt_arg_t args[VF_TRACE_MAX_THREADS];
};

static void *worker(void *p);

/* End of the trace or a failure: wake every thread and the caller. */
static void finish(mt_ctx_t *c) {
  c->done = 1;
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++)
    if (c->alive[i]) sem_post(&c->sem[i]);
  sem_post(&c->caller);
}

/* Hand the token to thread id `tid`, starting a thread for it if it has
 * none (first use, or after its exit).  Only the token holder calls this. */
static int give(mt_ctx_t *c, unsigned tid) {
  if (!c->alive[tid]) {
    c->args[tid].c = c;
    c->args[tid].me = tid;
    if (pthread_create(&c->th[tid], NULL, worker, &c->args[tid]) != 0) return -1;
    c->alive[tid] = 1;
  }
  sem_post(&c->sem[tid]);
  return 0;
}

/* Pass the token to whoever runs op `pos` (or finish); 0 on success. */
static void pass_on(mt_ctx_t *c) {
  if (c->pos >= c->t->n) {
    finish(c);
  } else if (give(c, c->t->ops[c->pos].tid)) {
    c->result = -1;
    finish(c);
  }
}

/* Run ops for thread id `me` whenever it holds the token. */
static void *worker(void *p) {
  mt_arg_t *a = p;
  mt_ctx_t *c = a->c;
  unsigned me = a->me;
  const vf_trace_t *t = c->t;
  for (;;) {
    sem_wait(&c->sem[me]);
    if (c->done) return NULL;
    for (;;) {
      if (c->pos >= t->n) {
        finish(c);
        return NULL;
      }
      const vf_op_t *op = &t->ops[c->pos];
      if (op->code == VF_OP_SWITCH) {
        c->pos++;
        if (op->tid == me) continue;
      }
      if (op->tid != me) { /* a switch, or the next op is another's */
        if (give(c, op->tid)) {
          c->result = -1;
          finish(c);
          return NULL;
        }
        break;
      }
      if (op->code == VF_OP_THREAD_EXIT) {
        /* end this thread; the caller joins it (so its thread-exit work
         * is over) and only then passes the token on */
        c->pos++;
        c->exiting = (int)me;
        sem_post(&c->caller);
        return NULL;
      }
      enter_op(op, c->pos);
      int r = vf_oracle_op(c->o, c->pos, op);
      c->pos++;
      c->ops_done++;
      if (r) {
        c->result = r;
        finish(c);
        return NULL;
      }
    }
  }
}

/* Returns VF_OK, a check, -1 (no thread could be started: nothing ran) or
 * -2 (a thread could not be started midway). */
static int replay_mt(const vf_trace_t *t, vf_oracle_t *o, uint64_t *ops_done) {
  mt_ctx_t *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->t = t;
  c->o = o;
  c->exiting = -1;
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++) sem_init(&c->sem[i], 0, 0);
  sem_init(&c->caller, 0, 0);
  int r;
  if (give(c, t->n ? t->ops[0].tid : 0)) {
    r = -1;
  } else {
    for (;;) { /* wait for the end, reaping exited workers on the way */
      while (sem_wait(&c->caller) != 0) {
      }
      if (c->exiting < 0) break; /* finish() */
      unsigned x = (unsigned)c->exiting;
      c->exiting = -1;
      pthread_join(c->th[x], NULL);
      c->alive[x] = 0;
      pass_on(c); /* the caller holds the token meanwhile */
    }
    for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++)
      if (c->alive[i]) pthread_join(c->th[i], NULL);
    r = c->result == -1 ? -2 : c->result;
  }
  for (unsigned i = 0; i < VF_TRACE_MAX_THREADS; i++) sem_destroy(&c->sem[i]);
  sem_destroy(&c->caller);
  *ops_done = c->ops_done;
  free(c);
  return r;
}

/* The oracle of the last clean replay, reset for the next one instead of
 * a new one: callers that replay input after input (the fuzz targets, the
 * minimizer) otherwise allocate and free its tables every time, which
 * under ASan cycles fresh memory through the quarantine and faults it in
 * (docs/fuzzing.md, "Speed").  Taken and put back by atomic exchange, so
 * concurrent replays each get an oracle of their own. */
static vf_oracle_t *g_spare;

static vf_oracle_t *oracle_for(const vf_trace_t *t, const vf_alloc_t *a,
                               const vf_oracle_opts_t *opts) {
  uint32_t nslots = t->n ? t->max_slot + 1 : 1;
  vf_oracle_t *o = __atomic_exchange_n(&g_spare, NULL, __ATOMIC_ACQ_REL);
  if (o && vf_oracle_reset(o, a, nslots, opts) == 0) return o;
  vf_oracle_destroy(o);
  return vf_oracle_new(a, nslots, opts);
}

int vf_replay(const vf_trace_t *t, const vf_alloc_t *a,
              const vf_oracle_opts_t *opts, int threads,
              vf_replay_result_t *res) {
  memset(res, 0, sizeof *res);
  vf_oracle_t *o = oracle_for(t, a, opts);
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
  if (!serial) {
    r = replay_mt(t, o, &res->ops_done);
    if (r == -1) { /* no thread could be started: replay serially */
      r = VF_OK;
      serial = 1;
    }
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
  if (r == -2) {
    r = VF_CHK_CRASH;
    snprintf(res->message, sizeof res->message,
             "oracle: op %" PRIu64 ": crash: ptr=0x0 size=0 usable=0 "
             "(replay: pthread_create failed)", res->ops_done);
  } else {
    snprintf(res->message, sizeof res->message, "%s", vf_oracle_message(o));
  }
  res->check = r;
  res->index = r ? vf_oracle_fail_index(o) : 0;
  res->skipped = vf_oracle_skipped(o);
  if (!r && vf_oracle_live(o) == 0) o = __atomic_exchange_n(&g_spare, o, __ATOMIC_ACQ_REL);
  vf_oracle_destroy(o);
  return r;
}
