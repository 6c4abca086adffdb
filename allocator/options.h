/* options.h - the one table of HAKMEM_* options (defined in options.c):
 * X(NAME, field, default, min, max, help) -- it drives env parsing
 * (HAKMEM_<NAME>), the verbose printout and docs/options.md.
 *
 * Invariants: every option is read once, at start-up, before the first
 * allocation is served, and lies in [min, max] after parsing (an out-of-range
 * value is reported and the default kept).  Included by internal.h only. */
#ifndef HAKMEM_OPTIONS_H
#define HAKMEM_OPTIONS_H

#define HK_OPTION_TABLE(X)                                                      \
  X(VERBOSE,  verbose,  0, 0, 2,    "print the effective options at start-up (2: also at exit)") \
  X(STATS,    stats,    0, 0, 1,    "print the statistics dump at exit")   \
  X(TIMING,   timing,   0, 0, 1,    "time mmap/munmap/madvise calls with rdtsc") \
  X(SS_CACHE, ss_cache, 8, 0, 1024, "empty superslabs kept mapped for reuse, given back by decay (HAKMEM_DECAY_MS) and malloc_trim; 0: unmapped at once") \
  X(CARVE,    carve,    4, 1, 4096, "KiB carved from a slab per refill (at least one block)") \
  X(REMOTE_BATCH, remote_batch, 8, 0, 1024, "KiB of blocks freed by one thread into one slab of another thread that it gathers (at most 64 blocks a slab, 32 slabs at a time) and hands over with one atomic operation; 0 = each such free at once") \
  X(PREFAULT, prefault, 0, 0, 3,    "prefault new superslabs and whale mappings: 0 off, 1 MAP_POPULATE, 2 MADV_POPULATE_WRITE (touch where unsupported), 3 touch every page") \
  X(PREWARM,  prewarm,  1, 0, 64,   "superslabs mapped at start-up and parked in the cache (the cache grows to hold them)") \
  X(THP,      thp,      0, 0, 2,    "transparent huge pages for superslabs and whales: 0 system default, 1 madvise(MADV_HUGEPAGE), 2 madvise(MADV_NOHUGEPAGE)") \
  X(HUGETLB,  hugetlb,  0, 0, 1,    "back superslabs and whales with reserved 2 MiB pages (MAP_HUGETLB); without reserved pages: one log line, normal pages") \
  X(LAZY_ZERO, lazy_zero, 0, 0, 1,  "calloc of a reused block of 64 KiB or more zeroes its whole pages by MADV_DONTNEED instead of memset") \
  X(WHALE_CACHE_MB, whale_cache_mb, 1024, 0, 1048576, "ceiling in MiB of the freed whale mappings kept for reuse; below it the cache holds a quarter of the whale bytes the program holds (at least 4 MiB), or more when misses after its evictions show the program asking again for what it freed (up to its peak of the last HAKMEM_DECAY_MS); 0 = no cache") \
  X(WHALE_CACHE_COUNT, whale_cache_count, 16, 0, 4096, "freed whale mappings kept for reuse") \
  X(WHALE_RELEASE, whale_release, 0, 0, 2, "pages of cached whale mappings: 0 kept resident, 1 MADV_DONTNEED, 2 MADV_FREE") \
  X(WHALE_SEAL, whale_seal, 1, 0, 1, "hardened builds: a freed large block put on the shared whale cache is moved to a new address (mremap), its old range unmapped, so a use after free faults once the block has left its thread's slot; 0 = off") \
  X(WIPE_MAX, wipe_max, 4096, 0, 262144, "hardened builds: freed blocks of the classes that serve requests of at most this many bytes are zeroed, and checked to be still zero when handed out again (write after free); 0 = off (HAKMEM_WIPE_LARGE too)") \
  X(WIPE_LARGE, wipe_large, 1, 0, 1, "hardened builds, HAKMEM_WIPE_MAX not 0: the blocks of the L2.5 classes (requests above 64 KiB up to 256 KiB) are zeroed and checked too, whatever HAKMEM_WIPE_MAX; 0 = only the classes up to HAKMEM_WIPE_MAX") \
  X(DELAY, delay, 1, 0, 1, "hardened and debug builds: a freed block is held back until the next free of its slab, so the next malloc of its class does not return it") \
  X(DECAY_MS, decay_ms, 10000, 0, 86400000, "ms after which memory left idle (whale cache and slots, empty spans, free units of superslabs, empty superslabs, heaps of exited threads) goes back to the OS (after 0.75-1.25x that); checked on slow paths, no background thread; 0 = never (malloc_trim only)") \
  X(CHECK_EVERY, check_every, 0, 0, 1000000000, "debug builds: walk the heap (hak_check_heap) every N operations and abort on a problem (single-threaded programs only: the walk does not stop other threads, whose blocks in mid-move it would report); 0 = never") \
  X(RACE, race, 0, 0, 1000, "hardened, debug and TSan builds: forced races, per mille of race points that fire: the remote-free push and slab park compare-and-swap attempts fail (after a yield; never twice running), the yield points of the remote-free, drain, abandon and adopt paths call sched_yield; 0 = off") \
  X(RACE_SEED, race_seed, 1, 0, 1000000000, "hardened, debug and TSan builds: seed of HAKMEM_RACE's choices (each thread's stream: the seed and the thread's order of first use)")
#define HK_OPT_FIELD(N, f, d, lo, hi, help) long f;
typedef struct hk_options { HK_OPTION_TABLE(HK_OPT_FIELD) } hk_options_t;
#undef HK_OPT_FIELD
extern hk_options_t hk_opt;
void hk_options_init(void);
void hk_options_print(int fd);

#endif /* HAKMEM_OPTIONS_H */
