# HakmemInstall.cmake - `cmake --install`: libhakmem.so, libhakmem.a, hakmem.h,
# hakmem.pc (pkg-config) and the CMake package hakmemConfig.cmake with the
# exported targets hakmem::hakmem and hakmem::hakmem_static.
# hakmem_core is internal and is not installed.
include(CMakePackageConfigHelpers)

set(HAKMEM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/hakmem" CACHE STRING
  "Where the hakmem CMake package files are installed (relative to the prefix)")
mark_as_advanced(HAKMEM_INSTALL_CMAKEDIR)

install(TARGETS hakmem hakmem_static EXPORT hakmemTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/allocator/include/hakmem.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# ---- CMake package -----------------------------------------------------------
install(EXPORT hakmemTargets
  NAMESPACE hakmem::
  FILE hakmemTargets.cmake
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/hakmemConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/hakmemConfig.cmake"
  INSTALL_DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}")
# 0.x: a minor version bump may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/hakmemConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/hakmemConfig.cmake"
  "${PROJECT_BINARY_DIR}/hakmemConfigVersion.cmake"
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}")

# ---- pkg-config ----------------------------------------------------------------
# The prefix is computed from the .pc file's own location, so the installed
# tree stays usable when `cmake --install --prefix` moves it elsewhere.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HAKMEM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _hakmem_up "/x/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/x")
  string(REGEX REPLACE "/$" "" _hakmem_up "${_hakmem_up}")
  set(HAKMEM_PC_PREFIX "\${pcfiledir}/${_hakmem_up}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/hakmem.pc.in"
  "${PROJECT_BINARY_DIR}/hakmem.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/hakmem.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
