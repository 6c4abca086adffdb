# HakmemSummary.cmake - print what this build tree is configured to build.
set(_hakmem_inject "${HAKMEM_INJECT}")
if(NOT _hakmem_inject)
  set(_hakmem_inject "none")
endif()
set(_hakmem_san "${HAKMEM_SANITIZE}")
if(NOT _hakmem_san)
  set(_hakmem_san "none")
endif()
message(STATUS "hakmem ${PROJECT_VERSION}: variant=${HAKMEM_VARIANT} (check level ${HAKMEM_CHECK_LEVEL}), "
  "build type=${CMAKE_BUILD_TYPE}, compiler=${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}")
message(STATUS "hakmem: sanitize=${_hakmem_san}, inject=${_hakmem_inject}, "
  "fuzz engine=${HAKMEM_FUZZ_ENGINE}, werror=${HAKMEM_WERROR}, tests=${BUILD_TESTING}")
message(STATUS "hakmem: folders built besides allocator/: ${HAKMEM_FOLDERS_BUILT}")
