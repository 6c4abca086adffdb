// new.cc - the C++ operators new and delete in every form (plain, array,
// nothrow, sized, aligned, aligned sized, aligned nothrow), exported by
// libhakmem.so and libhakmem.a (not hakmem_core), on the hak_ API.
//
// Failure rules ([new.delete.single]): a throwing new that gets no memory
// calls the current std::new_handler and tries again, as long as there is
// one; with none it throws std::bad_alloc.  The nothrow forms do the same
// but return nullptr where the throwing form would throw (also when the
// handler throws).  new(0) returns a unique pointer (hak_malloc(0): in the
// checked builds one into no-access memory, zero.c).  The aligned forms
// take any power of two (std::align_val_t guarantees one).
//
// Checked builds (HK_ON(HARDEN), config.h), docs/hardening.md:
//   - new and new[] mark the block they hand out (hk_cxx_new: the header
//     byte's HK_HDR_ARRAY bit, classes of blocks up to 895 bytes), and
//     delete / delete[] check the mark (hk_cxx_delete): a block of new[]
//     deleted with delete, or a block not of new[] deleted with delete[];
//   - a sized delete checks its size against the block: the class that
//     size (and alignment) is served from must be the block's, and a large
//     block's usable size must hold it;
//   then hak_free does every check a free gets.  Release calls hak_malloc
//   and hak_free and nothing else (hak_malloc, hak_free unchanged).
//
// Invariants: every operator new returns memory hak_free accepts, or
// throws, or (nothrow) returns nullptr; no operator here allocates from
// anything but the hak_ API.  Declarations of the C functions it calls are
// repeated here (allocator/internal.h is C only).
#include <cstddef>
#include <cstdint>
#include <new>

#include "hakmem.h"
extern "C" {
#include "config.h"
void hk_cxx_new(void *p, int array);
void hk_cxx_delete(void *p, std::size_t size, std::size_t align, int array);
}

namespace {

constexpr std::size_t kUnsized = SIZE_MAX;

void *allocate(std::size_t n, std::size_t align) {
  return align ? hak_aligned_alloc(align, n) : hak_malloc(n);
}

// No memory: the new_handler loop.  nothrow: nullptr instead of a throw.
[[gnu::noinline, gnu::cold]] void *out_of_memory(std::size_t n, std::size_t align, bool nothrow) {
  for (;;) {
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        h();
      } catch (...) {
        return nullptr;
      }
    } else {
      h();
    }
    if (void *p = allocate(n, align)) return p;
  }
}

inline void *do_new(std::size_t n, std::size_t align, int array, bool nothrow) {
  void *p = allocate(n, align);
  if (HK_UNLIKELY(p == nullptr)) {
    p = out_of_memory(n, align, nothrow);
    if (p == nullptr) return nullptr;
  }
  if (HK_ON(HARDEN) && align == 0) hk_cxx_new(p, array);
  return p;
}

inline void do_delete(void *p, std::size_t size, std::size_t align, int array) {
  if (HK_ON(HARDEN)) hk_cxx_delete(p, size, align, array);
  hak_free(p);
}

inline std::size_t al(std::align_val_t a) { return static_cast<std::size_t>(a); }

}  // namespace

// ---- new ---------------------------------------------------------------------
HK_PUBLIC void *operator new(std::size_t n) { return do_new(n, 0, 0, false); }
HK_PUBLIC void *operator new[](std::size_t n) { return do_new(n, 0, 1, false); }
HK_PUBLIC void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
  return do_new(n, 0, 0, true);
}
HK_PUBLIC void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
  return do_new(n, 0, 1, true);
}
HK_PUBLIC void *operator new(std::size_t n, std::align_val_t a) { return do_new(n, al(a), 0, false); }
HK_PUBLIC void *operator new[](std::size_t n, std::align_val_t a) { return do_new(n, al(a), 1, false); }
HK_PUBLIC void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
  return do_new(n, al(a), 0, true);
}
HK_PUBLIC void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
  return do_new(n, al(a), 1, true);
}

// ---- delete --------------------------------------------------------------------
HK_PUBLIC void operator delete(void *p) noexcept { do_delete(p, kUnsized, 0, 0); }
HK_PUBLIC void operator delete[](void *p) noexcept { do_delete(p, kUnsized, 0, 1); }
HK_PUBLIC void operator delete(void *p, const std::nothrow_t &) noexcept { do_delete(p, kUnsized, 0, 0); }
HK_PUBLIC void operator delete[](void *p, const std::nothrow_t &) noexcept { do_delete(p, kUnsized, 0, 1); }
HK_PUBLIC void operator delete(void *p, std::size_t n) noexcept { do_delete(p, n, 0, 0); }
HK_PUBLIC void operator delete[](void *p, std::size_t n) noexcept { do_delete(p, n, 0, 1); }
HK_PUBLIC void operator delete(void *p, std::align_val_t a) noexcept { do_delete(p, kUnsized, al(a), 0); }
HK_PUBLIC void operator delete[](void *p, std::align_val_t a) noexcept { do_delete(p, kUnsized, al(a), 1); }
HK_PUBLIC void operator delete(void *p, std::align_val_t a, const std::nothrow_t &) noexcept {
  do_delete(p, kUnsized, al(a), 0);
}
HK_PUBLIC void operator delete[](void *p, std::align_val_t a, const std::nothrow_t &) noexcept {
  do_delete(p, kUnsized, al(a), 1);
}
HK_PUBLIC void operator delete(void *p, std::size_t n, std::align_val_t a) noexcept {
  do_delete(p, n, al(a), 0);
}
HK_PUBLIC void operator delete[](void *p, std::size_t n, std::align_val_t a) noexcept {
  do_delete(p, n, al(a), 1);
}
