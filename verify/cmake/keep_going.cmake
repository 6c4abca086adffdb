# keep_going.cmake - CTest driver for hakmem-replay --keep-going: a
# generated mixed trace (impossible requests included) replayed against
# libvf_buggy_malloc.so with several bugs at once must go past every
# finding that leaves the heap usable and end with one line per kind, its
# count and first op; with a bug that breaks the heap (double_push: two live
# blocks at one address) it must stop there and say so; the bug-free
# library must give no finding.  Exit status 1 whenever something is found.
# Inputs: REPLAY, TRACE (tools), ALLOC (libvf_buggy_malloc.so), WORK.
file(MAKE_DIRECTORY "${WORK}")
set(tr "${WORK}/mixed.hktr")
execute_process(COMMAND "${TRACE}" gen --seed 5 --ops 30000 --profile mixed -o "${tr}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "gen failed")
endif()
function(replay bugs out_rc out_err)
  set(ENV{VF_BUGGY} "${bugs}")
  execute_process(COMMAND "${REPLAY}" "${tr}" --allocator "${ALLOC}" --keep-going -q --no-aslr
                          --timeout 300
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  set(${out_rc} "${rc}" PARENT_SCOPE)
  set(${out_err} "${err}" PARENT_SCOPE)
endfunction()
function(expect err what)
  if(NOT err MATCHES "${what}")
    message(FATAL_ERROR "expected '${what}' in:\n${err}")
  endif()
endfunction()

replay("" rc err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the bug-free library fails (${rc}):\n${err}")
endif()
expect("${err}" "findings: 0 in 0 kind")

# four bugs that leave the heap usable: every kind counted, to the end
replay("realloc_truncate,calloc_dirty,align_ignored,errno_wrong" rc err)
message(STATUS "four bugs:\n${err}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "exit ${rc}, expected 1")
endif()
foreach(kind realloc calloc-zero alignment errno must-fail)
  expect("${err}" "findings: ${kind}: [0-9]+, first at op [0-9]+: oracle: op [0-9]+: ${kind}:")
endforeach()
expect("${err}" "findings: [0-9]+ in 5 kind\\(s\\); the replay went to the end")
# each kind's report line printed once, not once per finding
string(REGEX MATCHALL "\noracle: op [0-9]+: calloc-zero:" lines "\n${err}")
list(LENGTH lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "calloc-zero reported ${n} times, expected once")
endif()

# a bug that breaks the heap stops the replay; what came before is counted
replay("double_push,align_ignored" rc err)
message(STATUS "a fatal bug:\n${err}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "exit ${rc}, expected 1")
endif()
expect("${err}" "findings: alignment: [0-9]+, first at op")
expect("${err}" "findings: overlap: 1, first at op")
expect("${err}" "the replay stopped at op [0-9]+ \\(overlap leaves the heap unusable\\)")
