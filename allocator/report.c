/* report.c - the bottom layer: every line the allocator writes is built
 * here (hk_line_*), the one-line fatal report, and the ring of recent
 * operations that debug builds print after it.
 *
 * hk_fatal prints the report of a failed check,
 *     hakmem: <fault>: ptr=0x<address> class=<n>
 * (class "-" when there is none), then, in debug builds, the ring, each
 * entry "hakmem: recent: <op> ptr=0x... size=<n> heap=0x...", and aborts.
 *
 * Invariants: nothing here allocates or takes a lock, so it is safe inside
 * the allocator, in any state it may be in; a line never overflows its
 * buffer (appends are cut) and always ends in one '\n'; this file calls no
 * other file of the allocator.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* room kept for the '\n' and the terminating NUL */
#define LINE_MAX_LEN (sizeof(((hk_line_t *)0)->buf) - 2)

void hk_line_str(hk_line_t *l, const char *s) {
  while (*s && l->len < LINE_MAX_LEN) l->buf[l->len++] = *s++;
  l->buf[l->len] = 0;
}

void hk_line_u64(hk_line_t *l, uint64_t v, int width) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int pad = width - (int)n; pad > 0; pad--) hk_line_str(l, " ");
  char out[24];
  memcpy(out, tmp + sizeof tmp - n, n);
  out[n] = 0;
  hk_line_str(l, out);
}

void hk_line_hex(hk_line_t *l, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  char out[20];
  size_t n = 0;
  int shift = 60;
  while (shift > 0 && (v >> shift) == 0) shift -= 4;
  out[n++] = '0';
  out[n++] = 'x';
  for (; shift >= 0; shift -= 4) out[n++] = digits[(v >> shift) & 15];
  out[n] = 0;
  hk_line_str(l, out);
}

void hk_line_fault(hk_line_t *l, const char *prefix, const char *what, const char *key,
                   const void *p, int cls) {
  hk_line_str(l, prefix);
  /* the fault text may be long; the pointer and class always fit */
  size_t keep = l->len + 160 < LINE_MAX_LEN - 48 ? l->len + 160 : LINE_MAX_LEN - 48;
  while (*what && l->len < keep) l->buf[l->len++] = *what++;
  l->buf[l->len] = 0;
  hk_line_str(l, ": ");
  hk_line_str(l, key);
  hk_line_str(l, "=");
  hk_line_hex(l, (uint64_t)(uintptr_t)p);
  hk_line_str(l, " class=");
  if (cls < 0) hk_line_str(l, "-");
  else hk_line_u64(l, (uint64_t)cls, 0);
}

void hk_line_end(hk_line_t *l, int fd) {
  l->buf[l->len++] = '\n';
  const char *s = l->buf;
  size_t n = l->len;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) break;
    s += w;
    n -= (size_t)w;
  }
  l->len = 0;
  l->buf[0] = 0;
}

/* ---- the ring of recent operations (debug builds) ------------------------ */
#if HK_ON(DEBUG)
#define RING 16
typedef struct ring_ent { const void *p; size_t n; uintptr_t heap; int op; } ring_ent_t;
static ring_ent_t ring[RING];
static _Atomic unsigned ring_pos;
static const char *const op_name[] = {"malloc", "free", "calloc", "realloc", "aligned"};

void hk_ring_note(int op, const void *p, size_t n, uintptr_t heap) {
  unsigned i = atomic_fetch_add_explicit(&ring_pos, 1, memory_order_relaxed) % RING;
  ring[i].p = p;
  ring[i].n = n;
  ring[i].heap = heap;
  ring[i].op = op;
}

static void ring_dump(int fd) {
  unsigned end = atomic_load_explicit(&ring_pos, memory_order_relaxed);
  unsigned start = end > RING ? end - RING : 0;
  hk_line_t l = {.len = 0};
  for (unsigned k = start; k < end; k++) {
    const ring_ent_t *e = &ring[k % RING];
    hk_line_str(&l, "hakmem: recent: ");
    hk_line_str(&l, e->op >= 0 && e->op < (int)(sizeof op_name / sizeof op_name[0])
                        ? op_name[e->op] : "?");
    hk_line_str(&l, " ptr=");
    hk_line_hex(&l, (uint64_t)(uintptr_t)e->p);
    hk_line_str(&l, " size=");
    hk_line_u64(&l, e->n, 0);
    hk_line_str(&l, " heap=");
    hk_line_hex(&l, e->heap);
    hk_line_end(&l, fd);
  }
}
#endif

void hk_fatal(const char *fault, const void *ptr, int cls) {
  hk_line_t l = {.len = 0};
  hk_line_fault(&l, "hakmem: ", fault, "ptr", ptr, cls);
  hk_line_end(&l, 2);
#if HK_ON(DEBUG)
  ring_dump(2); /* the ring of recent operations, after the one line */
#endif
  abort();
}
