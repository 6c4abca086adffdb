/* vf_hak_adapter.h - turns hakmem's introspection (hak_stats_get,
 * hak_check_heap) into the oracle's optional vtable entries, whether hakmem
 * is linked in (hakmem_core) or loaded as a shared object.
 * Invariant: one hakmem instance per process, so the adapter keeps its
 * function pointers and class table in file-level state.
 */
#ifndef VF_HAK_ADAPTER_H
#define VF_HAK_ADAPTER_H

#include "vf_alloc.h"

/* stats_fn: int (*)(hak_stats_t *); check_fn: int (*)(void).  Either may be
 * NULL; entries are only set for the ones given. */
void vf_hak_adapter_attach(vf_alloc_t *a, void *stats_fn, void *check_fn);

#endif
