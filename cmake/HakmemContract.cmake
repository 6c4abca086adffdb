# HakmemContract.cmake - configure-time checks of docs/TEAM-CONTRACT.md:
# in sanitizer builds no program may link the libc-name override
# (hakmem / hakmem_static); tests there link hakmem_core and call hak_*.

# _hakmem_targets_below(<dir> <out-var>): every target defined in <dir> and below.
function(_hakmem_targets_below dir out)
  get_property(_targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(_subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(_sub IN LISTS _subdirs)
    _hakmem_targets_below("${_sub}" _more)
    list(APPEND _targets ${_more})
  endforeach()
  set(${out} ${_targets} PARENT_SCOPE)
endfunction()

if(HAKMEM_SANITIZE)
  _hakmem_targets_below("${PROJECT_SOURCE_DIR}" _hakmem_all_targets)
  set(_hakmem_offenders "")
  foreach(_t IN LISTS _hakmem_all_targets)
    get_target_property(_type ${_t} TYPE)
    if(NOT _type STREQUAL "EXECUTABLE")
      continue()
    endif()
    get_target_property(_libs ${_t} LINK_LIBRARIES)
    foreach(_lib IN LISTS _libs)
      if(_lib MATCHES "^(hakmem|hakmem_static|hakmem::hakmem|hakmem::hakmem_static)$")
        list(APPEND _hakmem_offenders "${_t} (links ${_lib})")
      endif()
    endforeach()
  endforeach()
  if(_hakmem_offenders)
    list(JOIN _hakmem_offenders ", " _hakmem_offenders)
    message(SEND_ERROR
      "hakmem: with HAKMEM_SANITIZE=${HAKMEM_SANITIZE} these programs link the libc-name "
      "override, which the sanitizer's own malloc must keep: ${_hakmem_offenders}.\n"
      "Link hakmem::core and call hak_* instead, or skip them in sanitizer builds "
      "(docs/TEAM-CONTRACT.md).")
  endif()
endif()
