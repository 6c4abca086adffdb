/* mu_cxx_ok.cc - positive control of the C++ operators (new.cc): every form
 * of new and delete, matched, at sizes across the classes and above; the
 * standard containers; new(0) unique; the new_handler loop (called until it
 * gives up, then std::bad_alloc); nothrow new returning nullptr, also when
 * the handler throws; blocks of new[] freed by another thread and reused by
 * new; a clean heap walk.  Must not die in any variant. */
#define DT_MIN_LEVEL 3
#define DT_BELOW DT_SURVIVE
#include "death.h"

#include <cstdint>
#include <new>
#include <string>
#include <thread>
#include <vector>

struct Dtor {
  char c[24];
  ~Dtor() { __asm__ volatile("" ::: "memory"); }
};
struct alignas(128) Wide {
  char c[200];
};

static int handler_calls;
static void give_up_third(void) {
  if (++handler_calls == 3) std::set_new_handler(nullptr);
}
struct Thrown {};
static void throw_thrown(void) { throw Thrown(); }

/* an impossible size the compiler cannot see */
static size_t huge(size_t n) {
  volatile size_t v = n;
  return v;
}

static void check(bool ok, const char *what) {
  if (!ok) dt_setup_fail(what);
}

static void dt_misuse(void) {
  static const size_t sizes[] = {0, 1, 8, 15, 16, 100, 895, 896, 1024, 4096, 5000,
                                 65536, 200000, 262144, 262145, 1u << 21, 5u << 20};
  for (size_t n : sizes) {
    void *a = ::operator new(n);
    void *b = ::operator new[](n);
    void *c = ::operator new(n, std::nothrow);
    void *d = ::operator new[](n, std::nothrow);
    void *e = ::operator new(n, std::align_val_t(64));
    void *f = ::operator new[](n, std::align_val_t(4096));
    void *g = ::operator new(n, std::align_val_t(32), std::nothrow);
    void *h = ::operator new[](n, std::align_val_t(256), std::nothrow);
    check(a && b && c && d && e && f && g && h, "new returned nullptr");
    check((uintptr_t)e % 64 == 0 && (uintptr_t)f % 4096 == 0 && (uintptr_t)g % 32 == 0 &&
              (uintptr_t)h % 256 == 0, "aligned new misaligned");
    check(a != b && a != c && b != d, "new returned one pointer twice");
    ::operator delete(a, n);
    ::operator delete[](b, n);
    ::operator delete(c, std::nothrow);
    ::operator delete[](d);
    ::operator delete(e, n, std::align_val_t(64));
    ::operator delete[](f, n, std::align_val_t(4096));
    ::operator delete(g, std::align_val_t(32), std::nothrow);
    ::operator delete[](h, std::align_val_t(256));
    void *u = ::operator new(n);
    ::operator delete(u);
  }
  /* what the compiler emits: cookies, over-aligned types, containers */
  for (int i = 0; i < 1000; i++) {
    Dtor *x = new Dtor[i % 7 + 1];
    delete[] x;
    Wide *w = new Wide;
    check((uintptr_t)w % 128 == 0, "new Wide misaligned");
    delete w;
    Wide *ws = new Wide[3];
    delete[] ws;
    int *k = new int[i % 100 + 1];
    delete[] k;
    std::string *s = new std::string(i % 300, 'x');
    delete s;
  }
  std::vector<std::string> v;
  for (int i = 0; i < 20000; i++) v.emplace_back(i % 50, 'y');
  v.clear();
  v.shrink_to_fit();
  /* new[] blocks deleted by another thread, then reused by new and delete */
  for (int r = 0; r < 50; r++) {
    std::vector<char *> arr;
    for (int i = 0; i < 200; i++) arr.push_back(new char[i % 64 + 1]);
    std::thread t([&arr] {
      for (char *p : arr) delete[] p;
    });
    t.join();
    for (int i = 0; i < 200; i++) {
      char *p = new char(1);
      delete p;
      p = new char[i % 64 + 1];
      delete[] p;
    }
  }
  /* the new_handler loop */
  std::set_new_handler(give_up_third);
  bool threw = false;
  try {
    void *x = ::operator new(huge(SIZE_MAX - 4096));
    ::operator delete(x);
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  check(threw && handler_calls == 3, "the new_handler loop or bad_alloc");
  threw = false;
  try {
    void *x = ::operator new[](huge(SIZE_MAX / 2), std::align_val_t(64));
    ::operator delete[](x, std::align_val_t(64));
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  check(threw, "bad_alloc from aligned new[]");
  check(::operator new(huge(SIZE_MAX / 2), std::nothrow) == nullptr, "nothrow new of an impossible size");
  std::set_new_handler(throw_thrown);
  check(::operator new[](huge(SIZE_MAX / 2), std::nothrow) == nullptr, "nothrow new, throwing handler");
  threw = false;
  try {
    (void)::operator new(huge(SIZE_MAX / 2));
  } catch (const Thrown &) {
    threw = true;
  }
  check(threw, "the handler's exception passes through new");
  std::set_new_handler(nullptr);
  if (hak_check_heap() > 0) dt_setup_fail("heap walk found problems");
}
