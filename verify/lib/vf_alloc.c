/* vf_alloc.c - allocator backends for the oracle: system malloc, any
 * malloc-compatible shared object via dlopen, and name lookup.
 *
 * Invariants: every entry of a dlopen'ed table resolves to a symbol defined
 * in that very object (checked with dladdr), never to a libc fallback found
 * through the object's dependencies, so a block is always freed by the
 * allocator that made it.  Missing optional entries stay NULL.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vf_alloc.h"
#include "vf_hak_adapter.h"
#include "vf_san.h"

/* Under TSan the system malloc is TSan's, whose usable size can overstate
 * (see vf_san.h): the oracle then takes usable == requested. */
#ifdef VF_UNDER_TSAN
#define SYS_USABLE NULL
#else
static size_t sys_usable(void *p) { return malloc_usable_size(p); }
#define SYS_USABLE sys_usable
#endif

static const vf_alloc_t sys_alloc = {
    .name = "system",
    .malloc = malloc,
    .free = free,
    .calloc = calloc,
    .realloc = realloc,
    .posix_memalign = posix_memalign,
    .aligned_alloc = aligned_alloc,
    .memalign = memalign,
    .usable_size = SYS_USABLE,
    .trim = malloc_trim,
    .min_align = 16,
};

const vf_alloc_t *vf_alloc_system(void) { return &sys_alloc; }

/* Resolve `name` in handle h, accepting it only if defined by object
 * `fname` (the object that was opened, not one of its dependencies). */
static void *own_sym(void *h, const char *name, const char *fname) {
  void *s = dlsym(h, name);
  if (!s) return NULL;
  Dl_info di;
  if (!dladdr(s, &di) || !di.dli_fname || strcmp(di.dli_fname, fname) != 0)
    return NULL;
  return s;
}

static void dl_close(vf_alloc_t *a) {
  if (a->handle) dlclose(a->handle);
}

vf_alloc_t *vf_alloc_dlopen(const char *path, char *err, size_t errlen) {
  void *h = dlopen(path, RTLD_LOCAL | RTLD_NOW);
  if (!h) {
    snprintf(err, errlen, "dlopen %s: %s", path, dlerror());
    return NULL;
  }
  vf_alloc_t *a = calloc(1, sizeof *a);
  if (!a) {
    dlclose(h);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  struct link_map *lm = NULL;
  const char *fname = "";
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name) fname = lm->l_name;
  a->handle = h;
  a->name = path;
  a->close = dl_close;
  a->malloc = (void *(*)(size_t))own_sym(h, "malloc", fname);
  a->free = (void (*)(void *))own_sym(h, "free", fname);
  a->calloc = (void *(*)(size_t, size_t))own_sym(h, "calloc", fname);
  a->realloc = (void *(*)(void *, size_t))own_sym(h, "realloc", fname);
  a->posix_memalign =
      (int (*)(void **, size_t, size_t))own_sym(h, "posix_memalign", fname);
  a->aligned_alloc =
      (void *(*)(size_t, size_t))own_sym(h, "aligned_alloc", fname);
  a->memalign = (void *(*)(size_t, size_t))own_sym(h, "memalign", fname);
  a->usable_size = (size_t(*)(void *))own_sym(h, "malloc_usable_size", fname);
  a->trim = (int (*)(size_t))own_sym(h, "malloc_trim", fname);
  a->min_align = 0;
  if (!a->malloc || !a->free || !a->calloc || !a->realloc) {
    snprintf(err, errlen, "%s does not define malloc, free, calloc and realloc",
             path);
    vf_alloc_close(a);
    return NULL;
  }
  /* a hakmem build loaded as a .so: use its stats and heap walk too */
  vf_hak_adapter_attach(a, own_sym(h, "hak_stats_get", fname),
                        own_sym(h, "hak_check_heap", fname));
  return a;
}

static const char *peer_path(const char *name) {
  static const struct {
    const char *name, *path;
  } peers[] = {
      {"jemalloc", "/lib/x86_64-linux-gnu/libjemalloc.so.2"},
      {"mimalloc", "/lib/x86_64-linux-gnu/libmimalloc.so.2"},
      {"tcmalloc", "/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"},
  };
  for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++)
    if (strcmp(peers[i].name, name) == 0) return peers[i].path;
  return NULL;
}

vf_alloc_t *vf_alloc_by_name(const char *name, char *err, size_t errlen) {
  const vf_alloc_t *fixed = NULL;
  if (strcmp(name, "system") == 0 || strcmp(name, "glibc") == 0) {
    fixed = vf_alloc_system();
  } else if (strcmp(name, "hakmem") == 0) {
    fixed = vf_alloc_hakmem();
    if (!fixed) {
      snprintf(err, errlen, "this build has no hakmem backend");
      return NULL;
    }
  }
  if (fixed) {
    vf_alloc_t *a = malloc(sizeof *a);
    if (a) *a = *fixed;
    else snprintf(err, errlen, "out of memory");
    return a;
  }
  const char *path = peer_path(name);
  return vf_alloc_dlopen(path ? path : name, err, errlen);
}

void vf_alloc_close(vf_alloc_t *a) {
  if (!a) return;
  if (a->close) a->close(a);
  free(a);
}
