/* fuzz_trace_parser.c - the binary and text trace readers (vf_trace_parse).
 *
 * Input: any bytes.  Properties checked on every input:
 *   - the parser never reads outside the buffer (ASan) and returns;
 *   - failure: a one-line message (no newline) that names the byte offset
 *     ("byte N: ...") or the line ("line N: ..."), and an empty trace;
 *   - success: every op is valid, n <= len, max_slot and nthreads match the
 *     ops; the binary encoding of the ops parses back to the same ops, and
 *     equals the input when the input was binary (the binary form is
 *     canonical); the text form (vf_trace_format_op) parses back too.
 * No allocator is exercised here; the custom mutator is byte-level
 * (structured = 0), so malformed inputs are explored.
 */
#include <stdlib.h>
#include <string.h>

#include "hkf.h"

static int same_ops(const vf_trace_t *a, const vf_trace_t *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    const vf_op_t *x = &a->ops[i], *y = &b->ops[i];
    if (x->code != y->code || x->tid != y->tid || x->slot != y->slot ||
        x->size != y->size || x->aux != y->aux)
      return 0;
  }
  return a->max_slot == b->max_slot && a->nthreads == b->nthreads;
}

static void check_shape(const vf_trace_t *t, size_t len) {
  uint32_t max_slot = 0, nthreads = t->n ? 1 : 0;
  if (t->n > len) hkf_die("parser: %zu ops from %zu bytes", t->n, len);
  for (size_t i = 0; i < t->n; i++) {
    const vf_op_t *op = &t->ops[i];
    if (!vf_op_valid(op)) hkf_die("parser: op %zu is not valid (code %u)", i, op->code);
    if (vf_op_has_slot(op->code) && op->slot > max_slot) max_slot = op->slot;
    if ((uint32_t)op->tid + 1 > nthreads) nthreads = op->tid + 1u;
    if (vf_op_nargs(op->code) < 2 && op->aux) hkf_die("parser: op %zu has a stray aux", i);
    if (vf_op_nargs(op->code) < 1 && op->size) hkf_die("parser: op %zu has a stray size", i);
  }
  if (t->n && (max_slot != t->max_slot || nthreads != t->nthreads))
    hkf_die("parser: max_slot/nthreads %u/%u, ops say %u/%u", t->max_slot,
            t->nthreads, max_slot, nthreads);
}

static void roundtrip_binary(const vf_trace_t *t, const uint8_t *in, size_t len) {
  size_t cap = VF_TRACE_HEADER_LEN + t->n * VF_TRACE_MAX_RECORD;
  uint8_t *buf = malloc(cap);
  if (!buf) return;
  size_t n = hkf_encode(t->ops, t->n, buf, cap);
  int binary_in = len >= 4 && memcmp(in, VF_TRACE_MAGIC, 4) == 0;
  if (binary_in && (n != len || memcmp(buf, in, len) != 0))
    hkf_die("parser: binary input is not canonical after a successful parse "
            "(%zu bytes in, %zu re-encoded)", len, n);
  vf_trace_t u;
  char err[200];
  if (vf_trace_parse(buf, n, &u, err, sizeof err)) hkf_die("parser: re-encoded trace fails: %s", err);
  if (!same_ops(t, &u)) hkf_die("parser: binary round trip changed the ops");
  vf_trace_free(&u);
  free(buf);
}

static void roundtrip_text(const vf_trace_t *t) {
  size_t cap = 16 + t->n * 128, len = 0;
  char *buf = malloc(cap);
  if (!buf) return;
  len += (size_t)snprintf(buf, cap, "hktrace v1\n");
  for (size_t i = 0; i < t->n; i++) {
    int w = vf_trace_format_op(&t->ops[i], buf + len, cap - len - 1);
    if (w < 0 || (size_t)w >= cap - len - 1) hkf_die("parser: text line %zu too long", i);
    len += (size_t)w;
    buf[len++] = '\n';
  }
  vf_trace_t u;
  char err[200];
  if (vf_trace_parse(buf, len, &u, err, sizeof err)) hkf_die("parser: text form fails: %s", err);
  if (!same_ops(t, &u)) hkf_die("parser: text round trip changed the ops");
  vf_trace_free(&u);
  free(buf);
}

static int run(const uint8_t *data, size_t size) {
  vf_trace_t t;
  char err[256];
  memset(err, 0x7f, sizeof err);
  if (vf_trace_parse(data, size, &t, err, sizeof err)) {
    size_t n = strnlen(err, sizeof err);
    if (n == 0 || n == sizeof err) hkf_die("parser: failure without a message");
    if (memchr(err, '\n', n)) hkf_die("parser: message has a newline: %s", err);
    if (strncmp(err, "byte ", 5) && strncmp(err, "line ", 5))
      hkf_die("parser: message names no byte or line: %s", err);
    if (t.n || t.ops) hkf_die("parser: failed parse left %zu ops", t.n);
    return 0;
  }
  check_shape(&t, size);
  roundtrip_binary(&t, data, size);
  roundtrip_text(&t);
  vf_trace_free(&t);
  return 0;
}

const hkf_target_t hkf_target = {
    .name = "fuzz_trace_parser",
    .run = run,
    .limits = {.max_ops = 1u << 20, .slots = 1u << 20, .threads = 64, .budget = 0},
    .profile = HKF_PROF_TRACE,
    .structured = 0,
};
