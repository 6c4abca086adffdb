# HakmemPreflight.cmake - included before project(): when the generator's build
# tool or the requested C compiler is missing, stop with the Debian package to
# install (ci/setup installs all of them) instead of CMake's generic failure.

# hakmem_require_program(<out-var> <name>... PACKAGE <debian-package> [WHY <text>])
# Finds the first of the names on PATH; stops the configure step otherwise.
function(hakmem_require_program out)
  cmake_parse_arguments(ARG "" "PACKAGE;WHY" "" ${ARGN})
  set(_names ${ARG_UNPARSED_ARGUMENTS})
  list(GET _names 0 _first)
  string(MAKE_C_IDENTIFIER "HAKMEM_TOOL_${_first}" _cache)
  find_program(${_cache} NAMES ${_names})
  mark_as_advanced(${_cache})
  if(NOT ${_cache})
    set(_why "")
    if(ARG_WHY)
      set(_why " (${ARG_WHY})")
    endif()
    message(FATAL_ERROR
      "hakmem: '${_first}' not found on PATH${_why}.\n"
      "Install the Debian package '${ARG_PACKAGE}': apt-get install ${ARG_PACKAGE}\n"
      "(ci/setup installs every package the build needs).")
  endif()
  set(${out} "${${_cache}}" PARENT_SCOPE)
endfunction()

# The Debian package that ships a compiler driver.
function(_hakmem_compiler_package compiler out)
  get_filename_component(_name "${compiler}" NAME)
  if(_name MATCHES "^afl-")
    set(_pkg "afl++")
  elseif(_name MATCHES "^clang")
    set(_pkg "clang")
  elseif(_name MATCHES "^(gcc|cc|c\\+\\+|g\\+\\+)")
    set(_pkg "gcc")
  else()
    set(_pkg "the package that provides ${_name}")
  endif()
  set(${out} "${_pkg}" PARENT_SCOPE)
endfunction()

# 1. The generator's build program (presets use Ninja).
if(CMAKE_GENERATOR MATCHES "Ninja" AND NOT CMAKE_MAKE_PROGRAM)
  hakmem_require_program(_hakmem_ninja ninja ninja-build PACKAGE ninja-build
    WHY "the CMake presets use the Ninja generator")
endif()

# 2. The C compiler asked for by a preset (CMAKE_C_COMPILER) or by $CC.
set(_hakmem_cc "${CMAKE_C_COMPILER}")
if(NOT _hakmem_cc AND DEFINED ENV{CC})
  set(_hakmem_cc "$ENV{CC}")
endif()
if(_hakmem_cc AND NOT IS_ABSOLUTE "${_hakmem_cc}")
  _hakmem_compiler_package("${_hakmem_cc}" _hakmem_pkg)
  hakmem_require_program(_hakmem_cc_path "${_hakmem_cc}" PACKAGE "${_hakmem_pkg}"
    WHY "the C compiler this build asks for")
  # Folders that enable C++ later get the matching C++ driver.
  if(NOT CMAKE_CXX_COMPILER AND NOT DEFINED ENV{CXX})
    get_filename_component(_hakmem_cc_name "${_hakmem_cc}" NAME)
    if(_hakmem_cc_name MATCHES "^(clang|afl-clang-fast|afl-clang-lto)$")
      find_program(_hakmem_cxx_path NAMES "${_hakmem_cc_name}++")
      if(_hakmem_cxx_path)
        set(CMAKE_CXX_COMPILER "${_hakmem_cxx_path}")
      endif()
    endif()
  endif()
elseif(_hakmem_cc AND NOT EXISTS "${_hakmem_cc}")
  _hakmem_compiler_package("${_hakmem_cc}" _hakmem_pkg)
  message(FATAL_ERROR "hakmem: C compiler '${_hakmem_cc}' does not exist.\n"
    "Install the Debian package '${_hakmem_pkg}' (ci/setup installs it).")
endif()
