# HakmemCmocka.cmake - find the system cmocka (pkg-config first, then cmocka's
# own CMake package; never vendored) and expose it as hakmem::cmocka.
if(TARGET hakmem::cmocka)
  return()
endif()

add_library(hakmem::cmocka INTERFACE IMPORTED GLOBAL)

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(CMOCKA QUIET IMPORTED_TARGET GLOBAL cmocka)
endif()

if(CMOCKA_FOUND)
  target_link_libraries(hakmem::cmocka INTERFACE PkgConfig::CMOCKA)
  set(HAKMEM_CMOCKA_VERSION "${CMOCKA_VERSION}")
else()
  find_package(cmocka CONFIG QUIET)
  if(TARGET cmocka::cmocka)
    target_link_libraries(hakmem::cmocka INTERFACE cmocka::cmocka)
  elseif(cmocka_FOUND AND CMOCKA_LIBRARIES)
    target_include_directories(hakmem::cmocka INTERFACE ${CMOCKA_INCLUDE_DIR})
    target_link_libraries(hakmem::cmocka INTERFACE ${CMOCKA_LIBRARIES})
  else()
    message(FATAL_ERROR
      "hakmem: cmocka not found (unit tests need it; looked with pkg-config and find_package).\n"
      "Install the Debian packages 'libcmocka-dev' and 'pkg-config' (ci/setup installs them), "
      "or configure with -DBUILD_TESTING=OFF to build without tests.")
  endif()
  set(HAKMEM_CMOCKA_VERSION "${cmocka_VERSION}")
endif()
