# catch_bug.cmake - CTest driver: prove the oracle catches a known bug and
# the minimizer shrinks its reproducer.  Random 100k-op traces (small,
# mixed and 4-thread profiles, in that order) are replayed against ALLOC
# until one fails; the test fails if none does.  The failing trace must then
# minimize to fewer than 50 ops that fail the same check.  Prints which
# check caught the bug and at which op (how fast).  Everything runs with
# --no-aslr, so address-dependent bugs repeat across processes.
# Inputs: REPLAY, TRACE, MINIMIZE (tools), ALLOC (backend name or .so),
#   WORK; BUG (optional): selects the bug of libvf_buggy_malloc.so through
#   $VF_BUGGY after checking that the bug-free library passes.
file(MAKE_DIRECTORY "${WORK}")
set(failing "")
foreach(spec IN ITEMS "small|--profile|small" "mixed" "mt|--threads|4")
  string(REPLACE "|" ";" spec "${spec}")
  list(POP_FRONT spec name)
  set(tr "${WORK}/${name}.hktr")
  execute_process(COMMAND "${TRACE}" gen --seed 5 --ops 100000 --no-impossible ${spec}
                          -o "${tr}" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "gen failed")
  endif()
  if(BUG)
    unset(ENV{VF_BUGGY})
    execute_process(COMMAND "${REPLAY}" "${tr}" --allocator "${ALLOC}" -q --no-aslr RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "the bug-free library fails ${tr} (${rc})")
    endif()
    set(ENV{VF_BUGGY} "${BUG}")
  endif()
  execute_process(COMMAND "${REPLAY}" "${tr}" --allocator "${ALLOC}" -q --timeout 300 --no-aslr
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REGEX MATCH "oracle: op ([0-9]+): ([a-z-]+):" m "${err}")
    set(op "${CMAKE_MATCH_1}")
    set(check "${CMAKE_MATCH_2}")
    message(STATUS "caught on the ${name} trace by '${check}' at op ${op}: ${err}")
    set(failing "${tr}")
    break()
  endif()
endforeach()
if(NOT failing)
  message(FATAL_ERROR "the oracle did not catch the bug on any trace")
endif()
set(small "${WORK}/small.txt")
execute_process(COMMAND "${MINIMIZE}" "${failing}" -o "${small}" --text
                        --allocator "${ALLOC}" --check-every 64 --no-aslr
                RESULT_VARIABLE rc ERROR_VARIABLE err2)
message(STATUS "${err2}")
if(rc)
  message(FATAL_ERROR "hakmem-minimize failed (${rc})")
endif()
file(STRINGS "${small}" lines REGEX "^t[0-9]")
list(LENGTH lines n)
execute_process(COMMAND "${REPLAY}" "${small}" --allocator "${ALLOC}" -q --check-every 64 --no-aslr
                RESULT_VARIABLE rc ERROR_VARIABLE err3)
string(REGEX MATCH "oracle: op [0-9]+: ([a-z-]+):" m3 "${err3}")
if(NOT rc EQUAL 1 OR NOT CMAKE_MATCH_1 STREQUAL check)
  if(NOT (check STREQUAL "" AND NOT rc EQUAL 0))
    message(FATAL_ERROR "minimized trace does not fail '${check}' (${rc}): ${err3}")
  endif()
endif()
if(n GREATER_EQUAL 50)
  message(FATAL_ERROR "minimized trace has ${n} ops (want < 50)")
endif()
message(STATUS "100000 ops -> ${n} ops, still failing '${check}'")
