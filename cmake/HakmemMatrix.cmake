# HakmemMatrix.cmake - reads the option matrix (verify/options-matrix.txt:
# one line per HAKMEM_* value that changes a path; the same file drives
# ci/mutants) for the CTest cases matrix.<name>.<kind> of verify/,
# allocator/tests/ and fuzz/.
#   hakmem_matrix_read(<variant>)  sets HK_MATRIX_NAMES (the lines whose
#     variants column admits <variant>: release, hardened or debug, empty
#     meaning release; "any" admits every line) and, per name, HK_MATRIX_ENV_<name> (a CMake list
#     of NAME=value assignments, the form of the ENVIRONMENT property),
#     HK_MATRIX_THREADS_<name> (mt, or 1t: one thread allocating at a time)
#     and HK_MATRIX_REACHES_<name> (catalog bugs, a list, maybe empty).
# The CTest cases are registered only outside sanitizer builds (ASan, UBSan
# and TSan would multiply the matrix's time; the matrix is about hakmem's
# own paths, which the unsanitized checked builds run).
set(HK_MATRIX_FILE "${CMAKE_CURRENT_LIST_DIR}/../verify/options-matrix.txt")

function(hakmem_matrix_read variant)
  if(variant STREQUAL "")
    set(variant release)
  endif()
  file(STRINGS "${HK_MATRIX_FILE}" _lines)
  set(_names "")
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "#.*" "" _line "${_line}")
    string(STRIP "${_line}" _line)
    if(_line STREQUAL "")
      continue()
    endif()
    string(REGEX REPLACE "[ \t]+" ";" _f "${_line}")
    list(LENGTH _f _n)
    if(_n LESS 5)
      message(FATAL_ERROR "${HK_MATRIX_FILE}: too few columns: ${_line}")
    endif()
    list(POP_FRONT _f _name _variants _threads _reaches)
    if(NOT _name MATCHES "^[a-z0-9_]+$" OR NOT _variants MATCHES "^(all|checked|hardened|debug)$"
       OR NOT _threads MATCHES "^(mt|1t)$")
      message(FATAL_ERROR "${HK_MATRIX_FILE}: bad name, variants or threads column: ${_line}")
    endif()
    foreach(_a IN LISTS _f)
      if(NOT _a MATCHES "^HAKMEM_[A-Z_]+=[0-9]+$")
        message(FATAL_ERROR "${HK_MATRIX_FILE}: not a HAKMEM_NAME=value assignment: ${_a}")
      endif()
    endforeach()
    if(NOT variant STREQUAL "any" AND NOT _variants STREQUAL "all")
      if(_variants STREQUAL "checked" AND variant STREQUAL "release")
        continue()
      elseif(NOT _variants STREQUAL "checked" AND NOT _variants STREQUAL variant)
        continue()
      endif()
    endif()
    list(APPEND _names ${_name})
    set(HK_MATRIX_ENV_${_name} "${_f}" PARENT_SCOPE)
    set(HK_MATRIX_THREADS_${_name} "${_threads}" PARENT_SCOPE)
    if(_reaches STREQUAL "-")
      set(_reaches "")
    endif()
    string(REPLACE "," ";" _reaches "${_reaches}")
    set(HK_MATRIX_REACHES_${_name} "${_reaches}" PARENT_SCOPE)
  endforeach()
  set(HK_MATRIX_NAMES "${_names}" PARENT_SCOPE)
endfunction()

# Script mode (cmake -DDOC=docs/options.md -P HakmemMatrix.cmake): the test
# matrix.covers_options.  Every option of the generated table in DOC must
# be set off its default by at least one line of the matrix.
if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  hakmem_matrix_read(any)
  set(_set "")
  foreach(_name IN LISTS HK_MATRIX_NAMES)
    list(APPEND _set ${HK_MATRIX_ENV_${_name}})
  endforeach()
  file(STRINGS "${DOC}" _rows REGEX "^\\| `HAKMEM_[A-Z_]+` \\|")
  set(_missing "")
  set(_count 0)
  foreach(_row IN LISTS _rows)
    string(REGEX MATCH "^\\| `(HAKMEM_[A-Z_]+)` \\| ([0-9]+) \\|" _m "${_row}")
    set(_opt "${CMAKE_MATCH_1}")
    set(_def "${CMAKE_MATCH_2}")
    math(EXPR _count "${_count} + 1")
    set(_off 0)
    foreach(_a IN LISTS _set)
      if(_a MATCHES "^${_opt}=([0-9]+)$" AND NOT CMAKE_MATCH_1 STREQUAL _def)
        set(_off 1)
      endif()
    endforeach()
    if(NOT _off)
      list(APPEND _missing "${_opt} (default ${_def})")
    endif()
  endforeach()
  if(_count EQUAL 0)
    message(FATAL_ERROR "${DOC}: no option rows found")
  endif()
  if(_missing)
    string(REPLACE ";" ", " _missing "${_missing}")
    message(FATAL_ERROR "${HK_MATRIX_FILE} takes no value of ${_missing} off its default: "
      "add a line (one per value that changes a path)")
  endif()
  list(LENGTH HK_MATRIX_NAMES _nl)
  message(STATUS "the option matrix's ${_nl} lines take all ${_count} options of ${DOC} off their defaults")
endif()
