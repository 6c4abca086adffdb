/* vf_trace.c - trace container, binary/text parser and writers.
 *
 * Format (docs/trace-format.md): binary = 8-byte header "HKTR", version,
 * flags, 2 reserved bytes, then records: opcode byte, uvarint tid, uvarint
 * slot (not for switch, exit and the fault ops), then the op's numeric arguments as uvarints in C
 * argument order.  Text = first line "hktrace v1", then one op a line.
 *
 * Parser invariants: reads only inside [buf, buf+len); every loop advances
 * by at least one byte, so it terminates; memory grows with the number of
 * records, which is at most len/2; on error `out` is left empty and the
 * message names the byte offset (binary) or 1-based line (text).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_trace.h"

static const char *const op_names[VF_OP_LAST_ + 1] = {
    [VF_OP_MALLOC] = "malloc",
    [VF_OP_CALLOC] = "calloc",
    [VF_OP_REALLOC] = "realloc",
    [VF_OP_FREE] = "free",
    [VF_OP_POSIX_MEMALIGN] = "posix_memalign",
    [VF_OP_ALIGNED_ALLOC] = "aligned_alloc",
    [VF_OP_MEMALIGN] = "memalign",
    [VF_OP_USABLE_SIZE] = "usable_size",
    [VF_OP_SWITCH] = "switch",
    [VF_OP_DOUBLE_FREE] = "double_free",
    [VF_OP_INTERIOR_FREE] = "interior_free",
    [VF_OP_FOREIGN_FREE] = "foreign_free",
    [VF_OP_OVERFLOW] = "overflow",
    [VF_OP_THREAD_EXIT] = "exit",
    [VF_OP_FAULT] = "fault",
    [VF_OP_FAULT_RATE] = "fault_rate",
    [VF_OP_RECLAIM] = "reclaim",
};

const char *vf_op_name(unsigned code) {
  return code >= 1 && code <= VF_OP_LAST_ ? op_names[code] : NULL;
}

int vf_op_valid(const vf_op_t *op) {
  if (!vf_op_name(op->code) || op->tid >= VF_TRACE_MAX_THREADS) return 0;
  if (!vf_op_has_slot(op->code)) return 1;
  return op->slot <= VF_TRACE_MAX_SLOT;
}

void vf_trace_init(vf_trace_t *t) { memset(t, 0, sizeof *t); }

void vf_trace_free(vf_trace_t *t) {
  free(t->ops);
  vf_trace_init(t);
}

int vf_trace_push(vf_trace_t *t, const vf_op_t *op) {
  if (t->n == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 256;
    vf_op_t *n = realloc(t->ops, ncap * sizeof *n);
    if (!n) return -1;
    t->ops = n;
    t->cap = ncap;
  }
  t->ops[t->n++] = *op;
  if (vf_op_has_slot(op->code) && op->slot > t->max_slot) t->max_slot = op->slot;
  if ((uint32_t)op->tid + 1 > t->nthreads) t->nthreads = op->tid + 1u;
  return 0;
}

void vf_trace_refresh(vf_trace_t *t) {
  t->max_slot = 0;
  t->nthreads = t->n ? 1 : 0;
  for (size_t i = 0; i < t->n; i++) {
    const vf_op_t *op = &t->ops[i];
    if (vf_op_has_slot(op->code) && op->slot > t->max_slot) t->max_slot = op->slot;
    if ((uint32_t)op->tid + 1 > t->nthreads) t->nthreads = op->tid + 1u;
  }
}

/* ---- binary --------------------------------------------------------------*/

typedef struct perr {
  char *buf;
  size_t len;
} perr_t;

__attribute__((format(printf, 2, 3))) static int
perror_at(perr_t *e, const char *fmt, ...) {
  if (e->buf && e->len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Decode a canonical uvarint at *pos.  0 on success. */
static int get_uvarint(const unsigned char *b, size_t len, size_t *pos,
                       uint64_t *out, perr_t *e, const char *what) {
  uint64_t v = 0;
  size_t start = *pos;
  for (unsigned i = 0;; i++) {
    size_t at = start + i;
    if (at >= len)
      return perror_at(e, "byte %zu: truncated %s (record ends early)", at, what);
    unsigned c = b[at];
    if (i == 9 && c > 1)
      return perror_at(e, "byte %zu: %s varint overflows 64 bits", at, what);
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      if (c == 0 && i > 0)
        return perror_at(e, "byte %zu: %s varint is not minimal", at, what);
      *pos = at + 1;
      *out = v;
      return 0;
    }
  }
}

static int parse_binary(const unsigned char *b, size_t len, vf_trace_t *t,
                        perr_t *e) {
  if (len < VF_TRACE_HEADER_LEN)
    return perror_at(e, "byte %zu: truncated header (%zu of %d bytes)", len,
                     len, VF_TRACE_HEADER_LEN);
  if (b[4] != VF_TRACE_VERSION)
    return perror_at(e, "byte 4: unsupported trace version %u (expected %d)",
                     b[4], VF_TRACE_VERSION);
  for (int i = 5; i < VF_TRACE_HEADER_LEN; i++)
    if (b[i])
      return perror_at(e, "byte %d: reserved header byte is 0x%02x, not 0", i,
                       b[i]);
  size_t pos = VF_TRACE_HEADER_LEN;
  while (pos < len) {
    size_t rec = pos;
    vf_op_t op = {0};
    op.code = b[pos++];
    if (!vf_op_name(op.code))
      return perror_at(e, "byte %zu: unknown opcode 0x%02x in record %zu", rec,
                       op.code, t->n);
    uint64_t v;
    if (get_uvarint(b, len, &pos, &v, e, "thread id")) return -1;
    if (v >= VF_TRACE_MAX_THREADS)
      return perror_at(e, "byte %zu: thread id %" PRIu64 " above %d", rec, v,
                       VF_TRACE_MAX_THREADS - 1);
    op.tid = (uint8_t)v;
    if (vf_op_has_slot(op.code)) {
      if (get_uvarint(b, len, &pos, &v, e, "slot")) return -1;
      if (v > VF_TRACE_MAX_SLOT)
        return perror_at(e, "byte %zu: slot %" PRIu64 " above %u", rec, v,
                         VF_TRACE_MAX_SLOT);
      op.slot = (uint32_t)v;
    }
    int na = vf_op_nargs(op.code);
    if (na == 2 && get_uvarint(b, len, &pos, &op.aux, e, "argument")) return -1;
    if (na >= 1 && get_uvarint(b, len, &pos, &op.size, e, "size")) return -1;
    if (vf_trace_push(t, &op)) return perror_at(e, "byte %zu: out of memory", rec);
  }
  return 0;
}

/* ---- text ----------------------------------------------------------------*/

typedef struct lex {
  const char *p, *end; /* current line [p, end) */
} lex_t;

static int lex_word(lex_t *l, const char **w, size_t *wl) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\r')) l->p++;
  if (l->p >= l->end || *l->p == '#') return 0;
  *w = l->p;
  while (l->p < l->end && *l->p != ' ' && *l->p != '\t' && *l->p != '\r' &&
         *l->p != '#')
    l->p++;
  *wl = (size_t)(l->p - *w);
  return 1;
}

/* Parse decimal or 0x-hex u64 from [w, w+wl). */
static int parse_u64(const char *w, size_t wl, uint64_t *out) {
  uint64_t v = 0;
  unsigned base = 10;
  size_t i = 0;
  if (wl > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
    base = 16;
    i = 2;
  }
  if (i >= wl) return -1;
  for (; i < wl; i++) {
    unsigned d;
    unsigned char c = (unsigned char)w[i];
    if (isdigit(c)) d = c - '0';
    else if (base == 16 && isxdigit(c)) d = (unsigned)(tolower(c) - 'a' + 10);
    else return -1;
    if (d >= base) return -1;
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
      return -1;
  }
  *out = v;
  return 0;
}

/* Parse "<prefix><number>" such as t3 or s17. */
static int parse_tagged(const char *w, size_t wl, char tag, uint64_t *out) {
  if (wl < 2 || w[0] != tag) return -1;
  return parse_u64(w + 1, wl - 1, out);
}

static int parse_line(lex_t *l, size_t lineno, vf_trace_t *t, perr_t *e) {
  const char *w;
  size_t wl;
  uint64_t v;
  if (!lex_word(l, &w, &wl)) return 0; /* blank or comment */
  vf_op_t op = {0};
  if (parse_tagged(w, wl, 't', &v) || v >= VF_TRACE_MAX_THREADS)
    return perror_at(e, "line %zu: expected thread id t0..t%d, got '%.*s'",
                     lineno, VF_TRACE_MAX_THREADS - 1, (int)(wl > 40 ? 40 : wl), w);
  op.tid = (uint8_t)v;
  if (!lex_word(l, &w, &wl))
    return perror_at(e, "line %zu: missing operation name", lineno);
  for (unsigned c = 1; c <= VF_OP_LAST_; c++)
    if (strlen(op_names[c]) == wl && memcmp(op_names[c], w, wl) == 0) op.code = (uint8_t)c;
  if (!op.code)
    return perror_at(e, "line %zu: unknown operation '%.*s'", lineno,
                     (int)(wl > 40 ? 40 : wl), w);
  if (vf_op_has_slot(op.code)) {
    if (!lex_word(l, &w, &wl) || parse_tagged(w, wl, 's', &v) ||
        v > VF_TRACE_MAX_SLOT)
      return perror_at(e, "line %zu: %s needs a slot s0..s%u", lineno,
                       op_names[op.code], VF_TRACE_MAX_SLOT);
    op.slot = (uint32_t)v;
  }
  int na = vf_op_nargs(op.code);
  for (int i = 0; i < na; i++) {
    if (!lex_word(l, &w, &wl) || parse_u64(w, wl, &v))
      return perror_at(e, "line %zu: %s needs %d number%s (decimal or 0x hex)",
                       lineno, op_names[op.code], na, na > 1 ? "s" : "");
    if (na == 2 && i == 0) op.aux = v;
    else op.size = v;
  }
  if (lex_word(l, &w, &wl))
    return perror_at(e, "line %zu: unexpected '%.*s' after %s", lineno,
                     (int)(wl > 40 ? 40 : wl), w, op_names[op.code]);
  if (vf_trace_push(t, &op)) return perror_at(e, "line %zu: out of memory", lineno);
  return 0;
}

static int parse_text(const char *b, size_t len, vf_trace_t *t, perr_t *e) {
  const char *end = b + len, *p = b;
  size_t lineno = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    lineno++;
    if (memchr(p, '\0', (size_t)(le - p)))
      return perror_at(e, "line %zu: NUL byte in text trace", lineno);
    lex_t l = {p, le};
    if (lineno == 1) {
      const char *w;
      size_t wl;
      if (!lex_word(&l, &w, &wl) || wl != 7 || memcmp(w, "hktrace", 7) ||
          !lex_word(&l, &w, &wl) || wl != 2 || memcmp(w, "v1", 2) ||
          lex_word(&l, &w, &wl))
        return perror_at(e, "line 1: expected header 'hktrace v1'");
    } else if (parse_line(&l, lineno, t, e)) {
      return -1;
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}

/* Parse into out, which holds no ops (its buffer, if any, is reused). */
static int parse_into(const void *buf, size_t len, vf_trace_t *out, char *err,
                      size_t errlen) {
  perr_t e = {err, errlen};
  const unsigned char *b = buf;
  int r;
  out->n = 0;
  out->max_slot = out->nthreads = 0;
  if (err && errlen) err[0] = 0;
  if (len >= 4 && memcmp(b, VF_TRACE_MAGIC, 4) == 0)
    r = parse_binary(b, len, out, &e);
  else if (len >= 7 && memcmp(b, "hktrace", 7) == 0)
    r = parse_text((const char *)b, len, out, &e);
  else if (len == 0)
    r = perror_at(&e, "byte 0: empty input, not a trace");
  else
    r = perror_at(&e, "byte 0: not a hakmem trace (no 'HKTR' magic or "
                      "'hktrace v1' header)");
  return r;
}

int vf_trace_parse(const void *buf, size_t len, vf_trace_t *out, char *err,
                   size_t errlen) {
  vf_trace_init(out);
  int r = parse_into(buf, len, out, err, errlen);
  if (r) vf_trace_free(out);
  return r;
}

int vf_trace_parse_reuse(const void *buf, size_t len, vf_trace_t *t, char *err,
                         size_t errlen) {
  int r = parse_into(buf, len, t, err, errlen);
  if (r) {
    t->n = 0;
    t->max_slot = t->nthreads = 0;
  }
  return r;
}

int vf_trace_load(const char *path, vf_trace_t *out, char *err, size_t errlen) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  vf_trace_init(out);
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    if (len == cap) {
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  int ioerr = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || ioerr) {
    free(buf);
    snprintf(err, errlen, "%s: %s", path, ioerr ? "read error" : "out of memory");
    return -1;
  }
  char perr[256];
  int r = vf_trace_parse(buf, len, out, perr, sizeof perr);
  free(buf);
  if (r) snprintf(err, errlen, "%s: %s", path, perr);
  return r;
}

/* ---- writers -------------------------------------------------------------*/

int vf_trace_format_op(const vf_op_t *op, char *buf, size_t len) {
  const char *name = vf_op_name(op->code);
  if (!name) return snprintf(buf, len, "# invalid opcode %u", op->code);
  if (VF_OP_IS_FAULT(op->code))
    return snprintf(buf, len, "t%u %s %" PRIu64 " %" PRIu64, op->tid, name, op->aux, op->size);
  if (!vf_op_has_slot(op->code)) return snprintf(buf, len, "t%u %s", op->tid, name);
  switch (vf_op_nargs(op->code)) {
  case 0:
    return snprintf(buf, len, "t%u %s s%u", op->tid, name, op->slot);
  case 1:
    return snprintf(buf, len, "t%u %s s%u %" PRIu64, op->tid, name, op->slot,
                    op->size);
  default:
    return snprintf(buf, len, "t%u %s s%u %" PRIu64 " %" PRIu64, op->tid, name,
                    op->slot, op->aux, op->size);
  }
}

int vf_trace_write(const vf_trace_t *t, FILE *f, vf_trace_fmt_t fmt) {
  if (fmt == VF_FMT_TEXT) {
    fputs("hktrace v1\n", f);
    char line[128];
    for (size_t i = 0; i < t->n; i++) {
      vf_trace_format_op(&t->ops[i], line, sizeof line);
      fputs(line, f);
      fputc('\n', f);
    }
  } else {
    unsigned char hdr[VF_TRACE_HEADER_LEN], rec[VF_TRACE_MAX_RECORD];
    vf_trace_header(hdr);
    fwrite(hdr, 1, sizeof hdr, f);
    for (size_t i = 0; i < t->n; i++)
      fwrite(rec, 1, vf_trace_encode_op(&t->ops[i], rec), f);
  }
  return ferror(f) ? -1 : 0;
}

int vf_trace_save(const vf_trace_t *t, const char *path, vf_trace_fmt_t fmt) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
  if (!f) return -1;
  int r = vf_trace_write(t, f, fmt);
  if (f == stdout) return fflush(f) || r ? -1 : 0;
  return fclose(f) || r ? -1 : 0;
}
