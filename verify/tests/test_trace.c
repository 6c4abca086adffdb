/* test_trace.c - trace format tests: binary/text round trips, and the
 * parser on truncated, oversized and garbage input.  The parser must never
 * crash or hang, and every error names a byte offset (binary) or a line
 * (text).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vf_testutil.h"
#include "vf_trace.h"
#if __has_include("hakmem.h")
#include "hakmem.h"
#define VF_TEST_HAKMEM 1
#endif

static int ops_equal(const vf_trace_t *a, const vf_trace_t *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    const vf_op_t *x = &a->ops[i], *y = &b->ops[i];
    if (x->code != y->code || x->tid != y->tid) return 0;
    if (x->code == VF_OP_SWITCH) continue;
    if (x->slot != y->slot || x->size != y->size || x->aux != y->aux) return 0;
  }
  return 1;
}

/* Serialize t with fmt into a malloc'd buffer. */
static char *dump(const vf_trace_t *t, vf_trace_fmt_t fmt, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  assert_non_null(f);
  assert_int_equal(vf_trace_write(t, f, fmt), 0);
  fclose(f);
  return buf;
}

static void gen(vf_trace_t *t, uint64_t seed, uint64_t ops, unsigned threads) {
  vf_test_gen(t, seed, ops, threads, 0, 1);
}

static void test_round_trip(void **state) {
  (void)state;
  vf_trace_t t, u, v;
  gen(&t, 3, 5000, 4);
  assert_true(t.nthreads == 4);
  size_t blen, tlen;
  char *bin = dump(&t, VF_FMT_BINARY, &blen);
  char *txt = dump(&t, VF_FMT_TEXT, &tlen);
  char err[256];
  assert_int_equal(vf_trace_parse(bin, blen, &u, err, sizeof err), 0);
  assert_int_equal(vf_trace_parse(txt, tlen, &v, err, sizeof err), 0);
  assert_true(ops_equal(&t, &u));
  assert_true(ops_equal(&t, &v));
  /* text -> binary gives the same bytes */
  size_t blen2;
  char *bin2 = dump(&v, VF_FMT_BINARY, &blen2);
  assert_int_equal(blen, blen2);
  assert_memory_equal(bin, bin2, blen);
  /* every op type appears in a generated trace, misuse only on request */
  int seen[VF_OP_LAST_ + 1] = {0};
  for (size_t i = 0; i < t.n; i++) seen[t.ops[i].code] = 1;
  for (int c = 1; c <= VF_OP_LAST_; c++) assert_int_equal(seen[c], c <= VF_OP_MAX_);
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.misuse = 2000;
  g.exits = 200;
  g.faults = 200;
  g.threads = 2;
  vf_trace_t m;
  assert_int_equal(vf_trace_gen(&g, &m), 0);
  memset(seen, 0, sizeof seen);
  for (size_t i = 0; i < m.n; i++) seen[m.ops[i].code] = 1;
  for (int c = 1; c <= VF_OP_LAST_; c++) assert_true(seen[c]);
  vf_trace_free(&m);
  free(bin), free(bin2), free(txt);
  vf_trace_free(&t), vf_trace_free(&u), vf_trace_free(&v);
}

static void test_truncated_binary(void **state) {
  (void)state;
  vf_trace_t t, u;
  gen(&t, 4, 300, 2);
  size_t blen;
  unsigned char *bin = (unsigned char *)dump(&t, VF_FMT_BINARY, &blen);
  /* record boundaries: a prefix ending there parses, others must fail */
  unsigned char *boundary = calloc(blen + 1, 1);
  size_t pos = VF_TRACE_HEADER_LEN;
  boundary[pos] = 1;
  for (size_t i = 0; i < t.n; i++) {
    unsigned char rec[VF_TRACE_MAX_RECORD];
    pos += vf_trace_encode_op(&t.ops[i], rec);
    boundary[pos] = 1;
  }
  assert_int_equal(pos, blen);
  for (size_t len = 0; len <= blen; len++) {
    char err[256] = "";
    int r = vf_trace_parse(bin, len, &u, err, sizeof err);
    if (boundary[len]) {
      assert_int_equal(r, 0);
    } else {
      assert_int_equal(r, -1);
      assert_int_equal(u.n, 0);
      assert_true(strncmp(err, "byte ", 5) == 0);
    }
    vf_trace_free(&u);
  }
  free(boundary);
  free(bin);
  vf_trace_free(&t);
}

static void expect_error(const void *buf, size_t len, const char *needle) {
  vf_trace_t u;
  char err[256] = "";
  assert_int_equal(vf_trace_parse(buf, len, &u, err, sizeof err), -1);
  if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
  assert_int_equal(u.n, 0);
}

#define HDR "HKTR\x01\0\0\0"
static void test_bad_binary(void **state) {
  (void)state;
  expect_error("", 0, "byte 0: empty");
  expect_error("HKT", 3, "byte 0: not a hakmem trace");
  expect_error("HKTR\x01\0", 6, "byte 6: truncated header");
  expect_error("HKTR\x02\0\0\0", 8, "byte 4: unsupported trace version 2");
  expect_error("HKTR\x01\0\0\x07", 8, "byte 7: reserved");
  expect_error(HDR "\x12\x00\x00", 11, "byte 8: unknown opcode 0x12");
  expect_error(HDR "\x00", 9, "byte 8: unknown opcode 0x00");
  expect_error(HDR "\x01\x40\x00\x01", 12, "byte 8: thread id 64 above 63");
  expect_error(HDR "\x04\x00\x80\x80\x40", 13, "slot 1048576 above");
  /* an 11-byte varint overflows */
  expect_error(HDR "\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 21,
               "byte 20: size varint overflows 64 bits");
  expect_error(HDR "\x01\x00\x00\x80\x00", 13, "byte 12: size varint is not minimal");
  expect_error(HDR "\x01\x00\x00\x80", 12, "byte 12: truncated size");
  /* the largest size is representable */
  vf_trace_t u;
  char err[256];
  assert_int_equal(vf_trace_parse(HDR "\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                  21, &u, err, sizeof err), 0);
  assert_true(u.n == 1 && u.ops[0].size == UINT64_MAX);
  vf_trace_free(&u);
}

static void test_bad_text(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"hktrace v2\n", "line 1: expected header"},
      {"hktrace v1 extra\n", "line 1: expected header"},
      {"hktrace v1\nt0 malloc s1 10\nt0 mallco s1 10\n", "line 3: unknown operation 'mallco'"},
      {"hktrace v1\nx0 malloc s1 10\n", "line 2: expected thread id"},
      {"hktrace v1\nt64 malloc s1 10\n", "line 2: expected thread id"},
      {"hktrace v1\nt0 malloc 1 10\n", "line 2: malloc needs a slot"},
      {"hktrace v1\nt0 malloc s1048576 10\n", "line 2: malloc needs a slot"},
      {"hktrace v1\nt0 malloc s1\n", "line 2: malloc needs 1 number"},
      {"hktrace v1\nt0 calloc s1 3\n", "line 2: calloc needs 2 numbers"},
      {"hktrace v1\nt0 fault 1\n", "line 2: fault needs 2 numbers"},
      {"hktrace v1\nt0 reclaim s1 1 0\n", "line 2: reclaim needs 2 numbers"},
      {"hktrace v1\nt0 malloc s1 18446744073709551616\n", "line 2: malloc needs 1 number"},
      {"hktrace v1\nt0 malloc s1 0x\n", "line 2: malloc needs 1 number"},
      {"hktrace v1\nt0 malloc s1 12ab\n", "line 2: malloc needs 1 number"},
      {"hktrace v1\nt0 free s1 10\n", "line 2: unexpected '10' after free"},
      {"hktrace v1\nt0\n", "line 2: missing operation name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_error(cases[i][0], strlen(cases[i][0]), cases[i][1]);
  expect_error("hktrace v1\nt0 free s1\0\n", 22, "line 2: NUL byte");
  /* comments, blank lines, CRLF, tabs, hex and trailing comments are fine */
  const char *ok = "hktrace v1\r\n# c\n\n\tt1  malloc s0x10 0x20 # x\r\nt1 switch\n"
                   "t0 memalign s2 64 100\n";
  vf_trace_t u;
  char err[256];
  assert_int_equal(vf_trace_parse(ok, strlen(ok), &u, err, sizeof err), 0);
  assert_int_equal(u.n, 3);
  assert_int_equal(u.ops[0].slot, 16);
  assert_int_equal(u.ops[0].size, 32);
  assert_int_equal(u.ops[2].aux, 64);
  assert_int_equal(u.ops[2].size, 100);
  assert_int_equal(u.nthreads, 2);
  vf_trace_free(&u);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static void test_garbage(void **state) {
  (void)state;
  unsigned char buf[512];
  vf_trace_t base;
  gen(&base, 9, 60, 3);
  size_t blen, tlen;
  char *bin = dump(&base, VF_FMT_BINARY, &blen);
  char *txt = dump(&base, VF_FMT_TEXT, &tlen);
  for (int it = 0; it < 20000; it++) {
    size_t len = rnd() % sizeof buf;
    int kind = it % 4;
    if (kind == 0) { /* header + random bytes */
      for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rnd();
      if (len >= 8) memcpy(buf, HDR, 8);
    } else if (kind == 1 || kind == 2) { /* mutated valid trace */
      const char *src = kind == 1 ? bin : txt;
      size_t slen = kind == 1 ? blen : tlen;
      len = slen < sizeof buf ? slen : sizeof buf;
      memcpy(buf, src, len);
      for (int m = 0; m < 4; m++) buf[rnd() % len] = (unsigned char)rnd();
    } else { /* text-ish garbage */
      static const char alpha[] = "hktrace v1\nts0123456789x malloc free#\r\t";
      memcpy(buf, "hktrace v1\n", 11);
      for (size_t i = 11; i < len; i++) buf[i] = (unsigned char)alpha[rnd() % (sizeof alpha - 1)];
    }
    vf_trace_t u;
    char err[256] = "";
    if (vf_trace_parse(buf, len, &u, err, sizeof err) == 0) {
      for (size_t i = 0; i < u.n; i++) assert_true(vf_op_valid(&u.ops[i]));
    } else {
      assert_true(strncmp(err, "byte ", 5) == 0 || strncmp(err, "line ", 5) == 0);
    }
    vf_trace_free(&u);
  }
  free(bin);
  free(txt);
  vf_trace_free(&base);
}

static void test_generator_deterministic(void **state) {
  (void)state;
  vf_trace_t a, b, c;
  gen(&a, 11, 3000, 3);
  gen(&b, 11, 3000, 3);
  gen(&c, 12, 3000, 3);
  assert_true(ops_equal(&a, &b));
  assert_false(ops_equal(&a, &c));
  /* sizes hit class edges: some request of every 16*k +-1 up to 1 KiB */
  vf_trace_t big;
  gen(&big, 5, 200000, 1);
  static unsigned char hit[1026];
  for (size_t i = 0; i < big.n; i++)
    if (big.ops[i].code == VF_OP_MALLOC && big.ops[i].size <= 1025) hit[big.ops[i].size] = 1;
  for (unsigned k = 16; k <= 1024; k += 16) assert_true(hit[k - 1] && hit[k] && hit[k + 1]);
  vf_trace_free(&a), vf_trace_free(&b), vf_trace_free(&c), vf_trace_free(&big);
}

/* The generator's boundary list is hakmem's release layout as documented:
 * every class's largest request in release (hak_stats_get: the stride less
 * the header byte; in the checked builds, whose headerless classes are 16
 * bytes longer, less those 16 too: their 8-byte canary rounded up to the
 * alignment, layout.h HK_ROW_PAD), in order, then the whale boundaries
 * above the last class. */
static void test_generator_boundaries_match_layout(void **state) {
  (void)state;
  const uint64_t *b;
  size_t n = vf_gen_boundaries(&b);
  for (size_t i = 1; i < n; i++) assert_true(b[i - 1] < b[i]);
  assert_int_equal(b[n - 1], (uint64_t)8 << 20);
#ifdef VF_TEST_HAKMEM
  hak_stats_t st;
  assert_int_equal(hak_stats_get(&st), 0);
  assert_int_equal(n, st.nclasses + 4);
  for (uint32_t c = 0; c < st.nclasses; c++) {
    const hak_class_stats_t *k = &st.cls[c];
    uint32_t pad = k->header ? 0 : (k->canary + 15u) / 16u * 16u;
    assert_int_equal(b[c], k->stride - k->header - pad);
  }
  assert_true(b[st.nclasses] > st.cls[st.nclasses - 1].size);
#endif
}

/* The mixed profile requests every size from b - 16 to b + 16 around every
 * boundary b, by malloc or realloc (scudo's boundary sweep). */
static void test_generator_boundary_sweep(void **state) {
  (void)state;
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.ops = 1000000;
  g.seed = 7;
  vf_trace_t t;
  assert_int_equal(vf_trace_gen(&g, &t), 0);
  const uint64_t *b;
  size_t n = vf_gen_boundaries(&b);
  unsigned char *seen = calloc(n * 33, 1);
  assert_non_null(seen);
  for (size_t i = 0; i < t.n; i++) {
    const vf_op_t *op = &t.ops[i];
    if (op->code != VF_OP_MALLOC && op->code != VF_OP_REALLOC) continue;
    for (size_t k = 0; k < n; k++)
      if (op->size + 16 >= b[k] && op->size <= b[k] + 16) seen[k * 33 + (op->size + 16 - b[k])] = 1;
  }
  for (size_t k = 0; k < n * 33; k++)
    if (!seen[k] && b[k / 33] + (k % 33) >= 16) /* sizes below 0 do not exist */ fail_msg("size %llu + %d never requested", (unsigned long long)b[k / 33], (int)(k % 33) - 16);
  free(seen);
  vf_trace_free(&t);
}

/* Alignments up to 8 MiB (4 superslabs of 2 MiB), each of 2, 4 and 8 MiB
 * both on fresh memory and right after a larger whale was freed in the
 * same slot (cached memory). */
static void test_generator_large_alignments(void **state) {
  (void)state;
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.ops = 300000;
  vf_trace_t t;
  assert_int_equal(vf_trace_gen(&g, &t), 0);
  unsigned fresh[24] = {0}, cached[24] = {0};
  for (size_t i = 0; i < t.n; i++) {
    const vf_op_t *op = &t.ops[i];
    if (op->code != VF_OP_POSIX_MEMALIGN && op->code != VF_OP_ALIGNED_ALLOC &&
        op->code != VF_OP_MEMALIGN)
      continue;
    if (op->aux < ((uint64_t)2 << 20) || op->aux > ((uint64_t)8 << 20)) continue;
    unsigned k = (unsigned)__builtin_ctzll(op->aux);
    int after_free = i >= 2 && t.ops[i - 1].code == VF_OP_FREE && t.ops[i - 1].slot == op->slot &&
                     t.ops[i - 2].code == VF_OP_MALLOC && t.ops[i - 2].slot == op->slot &&
                     t.ops[i - 2].size > op->aux;
    (after_free ? cached : fresh)[k]++;
  }
  for (unsigned k = 21; k <= 23; k++) {
    if (!fresh[k] || !cached[k])
      fail_msg("alignment 2^%u: %u fresh, %u cached requests", k, fresh[k], cached[k]);
  }
  vf_trace_free(&t);
}

/* The handoff profile: threads exit while blocks they allocated are live,
 * and other threads free those blocks after the exit. */
static void test_generator_handoff(void **state) {
  (void)state;
  vf_gen_opts_t g;
  vf_gen_defaults(&g);
  g.profile = VF_GEN_HANDOFF;
  g.threads = 3;
  g.ops = 20000;
  g.slots = 512;
  vf_trace_t t;
  assert_int_equal(vf_trace_gen(&g, &t), 0);
  uint8_t *by = calloc(g.slots, 1);   /* 1 + the allocating thread, 0 empty */
  uint8_t *gone = calloc(g.slots, 1); /* its thread has exited since */
  size_t exits = 0, live_at_exit = 0, freed_by_other = 0;
  for (size_t i = 0; i < t.n; i++) {
    const vf_op_t *op = &t.ops[i];
    if (op->code == VF_OP_THREAD_EXIT) {
      exits++;
      for (uint32_t s = 0; s < g.slots; s++)
        if (by[s] == op->tid + 1) live_at_exit++, gone[s] = 1;
    } else if (op->code == VF_OP_FREE) {
      if (by[op->slot] && gone[op->slot] && by[op->slot] != op->tid + 1) freed_by_other++;
      by[op->slot] = 0, gone[op->slot] = 0;
    } else if (op->code != VF_OP_SWITCH && op->code != VF_OP_USABLE_SIZE) {
      by[op->slot] = (uint8_t)(op->tid + 1), gone[op->slot] = 0;
    }
  }
  assert_true(exits >= 20);
  assert_true(live_at_exit >= 20 * exits); /* each exit leaves blocks live */
  assert_true(freed_by_other >= live_at_exit / 4);
  for (uint32_t s = 0; s < g.slots; s++) assert_int_equal(by[s], 0); /* all freed */
  free(by), free(gone);
  vf_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_truncated_binary),
      cmocka_unit_test(test_bad_binary),
      cmocka_unit_test(test_bad_text),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_generator_deterministic),
      cmocka_unit_test(test_generator_boundaries_match_layout),
      cmocka_unit_test(test_generator_boundary_sweep),
      cmocka_unit_test(test_generator_large_alignments),
      cmocka_unit_test(test_generator_handoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
