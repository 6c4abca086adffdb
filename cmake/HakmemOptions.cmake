# HakmemOptions.cmake - the HAKMEM_* cache options (variant, sanitizers, bug
# injection, fuzz engine, -Werror), their validation, and the compile
# definitions they imply for allocator code (HAKMEM_ALLOCATOR_DEFINITIONS).

# hakmem_choice(<var> <default> <help> <choices>...): a cache string whose value
# must be one of <choices>; anything else stops the configure step.
function(hakmem_choice var default help)
  set(${var} "${default}" CACHE STRING "${help}")
  set_property(CACHE ${var} PROPERTY STRINGS ${ARGN})
  if(NOT "${${var}}" IN_LIST ARGN)
    list(JOIN ARGN ", " _allowed)
    string(REGEX REPLACE "^, " "(empty), " _allowed "${_allowed}")
    message(FATAL_ERROR
      "hakmem: ${var}='${${var}}' is not valid.\nAllowed values: ${_allowed}.")
  endif()
endfunction()

# ---- HAKMEM_VARIANT --------------------------------------------------------
hakmem_choice(HAKMEM_VARIANT release
  "Allocator variant: release (no checks), hardened (cheap production checks), debug (every check, fill patterns, heap walk)"
  release hardened debug)
# check level: release=0, hardened=1, debug=2 (allocator/config.h).
set(_hakmem_level_release 0)
set(_hakmem_level_hardened 1)
set(_hakmem_level_debug 2)
set(HAKMEM_CHECK_LEVEL ${_hakmem_level_${HAKMEM_VARIANT}})

# Build type follows the variant unless one is given.
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  if(HAKMEM_VARIANT STREQUAL "debug")
    set(CMAKE_BUILD_TYPE Debug CACHE STRING "Build type" FORCE)
  else()
    set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
  endif()
endif()
# The debug variant keeps assert() whatever the build type's flags say.
if(HAKMEM_VARIANT STREQUAL "debug")
  foreach(_cfg RELEASE RELWITHDEBINFO MINSIZEREL)
    foreach(_lang C CXX)
      string(REGEX REPLACE "(^| )[-/]DNDEBUG( |$)" " "
        CMAKE_${_lang}_FLAGS_${_cfg} "${CMAKE_${_lang}_FLAGS_${_cfg}}")
    endforeach()
  endforeach()
endif()

# ---- HAKMEM_SANITIZE -------------------------------------------------------
set(HAKMEM_SANITIZE "" CACHE STRING
  "Sanitizers for the whole build, a ;-list of: address, undefined, thread (thread excludes address). Empty = none")
set_property(CACHE HAKMEM_SANITIZE PROPERTY STRINGS
  "" "address" "undefined" "address;undefined" "thread" "thread;undefined")
set(_hakmem_sanitizers address undefined thread)
foreach(_san IN LISTS HAKMEM_SANITIZE)
  if(NOT _san IN_LIST _hakmem_sanitizers)
    message(FATAL_ERROR
      "hakmem: HAKMEM_SANITIZE='${HAKMEM_SANITIZE}' names unknown sanitizer '${_san}'.\n"
      "Allowed: a ;-separated subset of address;undefined;thread, e.g. -DHAKMEM_SANITIZE=address\\;undefined")
  endif()
endforeach()
if("thread" IN_LIST HAKMEM_SANITIZE AND "address" IN_LIST HAKMEM_SANITIZE)
  message(FATAL_ERROR
    "hakmem: HAKMEM_SANITIZE='${HAKMEM_SANITIZE}': ThreadSanitizer cannot be combined with AddressSanitizer.\n"
    "Use 'address;undefined' (preset asan) or 'thread' (preset tsan).")
endif()
list(REMOVE_DUPLICATES HAKMEM_SANITIZE)

# ---- HAKMEM_INJECT ---------------------------------------------------------
# The bug catalog (design brief, section 7): at most one is compiled in.
set(HAKMEM_INJECT_CATALOG
  stride_mismatch capacity_overrun headerless_confusion remote_drop double_push
  whale_undersize realloc_truncate align_drift calloc_dirty usable_overstate
  class_boundary superslab_early_release stale_geometry counter_underflow
  multi_drainer whale_slot_leak span_orphan whale_release_dirty whale_cache_align
  lazy_zero_tail slot_decay_stale
  whale_remap_unregistered whale_fail_counted whale_release_header refill_fail_current
  remote_stale_link abandon_clear_queue canary_short
  ss_unmap_partial prefault_overreach whale_join_dirty)
hakmem_choice(HAKMEM_INJECT ""
  "Compile one known bug from the catalog into the allocator (empty = none), to prove the suite catches it"
  "" ${HAKMEM_INJECT_CATALOG})

# ---- HAKMEM_FUZZ_ENGINE ----------------------------------------------------
hakmem_choice(HAKMEM_FUZZ_ENGINE none
  "Engine the fuzz targets link against: none (replay only), libfuzzer (clang -fsanitize=fuzzer), afl (AFL++ compiler, persistent mode)"
  none libfuzzer afl)

# ---- HAKMEM_VALGRIND -------------------------------------------------------
# valgrind client requests in allocator/track.h (MALLOCLIKE/FREELIKE blocks,
# no-access free blocks and headers).  Outside valgrind each request is a
# few no-op instructions; the debug preset turns this on.
option(HAKMEM_VALGRIND "Issue valgrind memcheck client requests for hakmem's blocks (needs the Debian package valgrind)" OFF)
if(HAKMEM_VALGRIND)
  include(CheckIncludeFile)
  check_include_file(valgrind/memcheck.h HAKMEM_HAVE_MEMCHECK_H)
  if(NOT HAKMEM_HAVE_MEMCHECK_H)
    message(FATAL_ERROR
      "hakmem: HAKMEM_VALGRIND=ON needs <valgrind/memcheck.h>.\n"
      "Install the Debian package 'valgrind' (ci/setup installs it), or configure with -DHAKMEM_VALGRIND=OFF.")
  endif()
endif()

# ---- HAKMEM_WERROR ---------------------------------------------------------
option(HAKMEM_WERROR "Treat compiler warnings as errors (the presets turn this on)" OFF)

# ---- definitions for allocator code -----------------------------------------
set(HAKMEM_ALLOCATOR_DEFINITIONS
  HAKMEM_CHECK_LEVEL=${HAKMEM_CHECK_LEVEL}
  HAKMEM_VARIANT_NAME="${HAKMEM_VARIANT}")
if(HAKMEM_VALGRIND)
  list(APPEND HAKMEM_ALLOCATOR_DEFINITIONS HAKMEM_VALGRIND=1)
endif()
# Fuzz-engine builds leave out allocator/leak.c's registry (HAKMEM_LEAK_CHECK=0):
# the oracle checks after every input that hakmem's live set is empty again,
# which the registry's exit-time check could only repeat, and its hook on
# every allocation and free was 9% of fuzz_trace's time (docs/fuzzing.md).
if(NOT HAKMEM_FUZZ_ENGINE STREQUAL "none")
  list(APPEND HAKMEM_ALLOCATOR_DEFINITIONS HAKMEM_LEAK_CHECK=0)
endif()
if(HAKMEM_INJECT)
  string(TOUPPER "${HAKMEM_INJECT}" _hakmem_inject_upper)
  list(APPEND HAKMEM_ALLOCATOR_DEFINITIONS
    HAKMEM_INJECT_NAME="${HAKMEM_INJECT}"
    HAKMEM_INJECT_${_hakmem_inject_upper}=1)
endif()
