# HakmemToolchain.cmake - project-wide compiler flags: warnings (-Werror with
# HAKMEM_WERROR), the HAKMEM_SANITIZE sanitizers, and the fuzzing engine
# (HAKMEM_FUZZ_ENGINE), exposed to fuzz targets as hakmem::fuzz_engine.
# Each capability is test-linked here, so a missing runtime stops the
# configure step with the Debian package that provides it.
include(CheckCSourceCompiles)

add_compile_options(-Wall -Wextra)
if(HAKMEM_WERROR)
  add_compile_options(-Werror)
endif()

# hakmem_require_links(FLAGS <flag>... PACKAGE <pkg> WHAT <text> [SOURCE_VAR <var>]):
# stop unless a program (main(), or the C source in <var>) compiled and
# linked with FLAGS builds.
function(hakmem_require_links)
  cmake_parse_arguments(ARG "" "PACKAGE;WHAT;SOURCE_VAR" "FLAGS" ${ARGN})
  set(_src "int main(void) { return 0; }")
  if(ARG_SOURCE_VAR)
    set(_src "${${ARG_SOURCE_VAR}}")
  endif()
  list(JOIN ARG_FLAGS " " _flags)
  string(MAKE_C_IDENTIFIER "HAKMEM_LINKS_${_flags}" _var)
  set(CMAKE_REQUIRED_FLAGS "${_flags}")
  set(CMAKE_REQUIRED_LINK_OPTIONS ${ARG_FLAGS})
  set(CMAKE_REQUIRED_QUIET ON)
  check_c_source_compiles("${_src}" ${_var})
  if(NOT ${_var})
    message(FATAL_ERROR
      "hakmem: ${ARG_WHAT}: '${CMAKE_C_COMPILER}' cannot build a program with ${_flags}.\n"
      "Install the Debian package '${ARG_PACKAGE}' (ci/setup installs it), then configure again "
      "(delete the build directory if this was cached).")
  endif()
endfunction()

# ---- sanitizers --------------------------------------------------------------
set(HAKMEM_SANITIZE_FLAGS "")
if(HAKMEM_SANITIZE)
  list(JOIN HAKMEM_SANITIZE "," _hakmem_san)
  set(HAKMEM_SANITIZE_FLAGS -fsanitize=${_hakmem_san} -fno-omit-frame-pointer)
  if("undefined" IN_LIST HAKMEM_SANITIZE)
    # A UBSan report fails the test instead of scrolling by.
    list(APPEND HAKMEM_SANITIZE_FLAGS -fno-sanitize-recover=undefined)
  endif()
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(_hakmem_san_pkg "libclang-rt-14-dev")
  else()
    set(_hakmem_san_pkg "libasan8, libubsan1 and libtsan2 (gcc's sanitizer runtimes)")
  endif()
  hakmem_require_links(FLAGS ${HAKMEM_SANITIZE_FLAGS} PACKAGE "${_hakmem_san_pkg}"
    WHAT "HAKMEM_SANITIZE=${HAKMEM_SANITIZE}")
  add_compile_options(${HAKMEM_SANITIZE_FLAGS})
  add_link_options(${HAKMEM_SANITIZE_FLAGS})
endif()

# ---- fuzzing engine ----------------------------------------------------------
# hakmem::fuzz_engine carries what a fuzz target (one LLVMFuzzerTestOneInput
# harness) must link with to get the engine's main(); with "none" it is empty
# and fuzz/ supplies its own replay main().
add_library(hakmem_fuzz_engine INTERFACE)
add_library(hakmem::fuzz_engine ALIAS hakmem_fuzz_engine)
set(_hakmem_fuzz_probe
  "#include <stddef.h>
   #include <stdint.h>
   int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }")
if(HAKMEM_FUZZ_ENGINE STREQUAL "libfuzzer")
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "hakmem: HAKMEM_FUZZ_ENGINE=libfuzzer needs clang, not ${CMAKE_C_COMPILER_ID}.\n"
      "Use the 'fuzz' preset or -DCMAKE_C_COMPILER=clang (Debian packages clang and libclang-rt-14-dev).")
  endif()
  hakmem_require_links(FLAGS -fsanitize=fuzzer PACKAGE libclang-rt-14-dev
    WHAT "libFuzzer (HAKMEM_FUZZ_ENGINE=libfuzzer)" SOURCE_VAR _hakmem_fuzz_probe)
  # Coverage feedback from every object, the allocator's above all.
  add_compile_options(-fsanitize=fuzzer-no-link)
  target_compile_options(hakmem_fuzz_engine INTERFACE -fsanitize=fuzzer)
  target_link_options(hakmem_fuzz_engine INTERFACE -fsanitize=fuzzer)
elseif(HAKMEM_FUZZ_ENGINE STREQUAL "afl")
  get_filename_component(_hakmem_cc_name "${CMAKE_C_COMPILER}" NAME)
  if(NOT _hakmem_cc_name MATCHES "^afl-")
    message(FATAL_ERROR
      "hakmem: HAKMEM_FUZZ_ENGINE=afl needs AFL++'s compiler (CC=afl-clang-fast), not '${_hakmem_cc_name}'.\n"
      "Use the 'afl' preset; afl-clang-fast comes with the Debian package 'afl++' (ci/setup installs it).")
  endif()
  # AFL++ maps -fsanitize=fuzzer to its persistent-mode driver (libAFLDriver.a).
  hakmem_require_links(FLAGS -fsanitize=fuzzer PACKAGE afl++
    WHAT "AFL++ libFuzzer driver (HAKMEM_FUZZ_ENGINE=afl)" SOURCE_VAR _hakmem_fuzz_probe)
  target_link_options(hakmem_fuzz_engine INTERFACE -fsanitize=fuzzer)
endif()
