# minimize_bug.cmake - CTest driver: a 100k-op random trace must fail the
# oracle against libvf_buggy_malloc.so with bug BUG, the same trace must pass
# against the bug-free build of that library, and hakmem-minimize must shrink
# it to fewer than 50 ops that still fail the same check.
# Inputs: REPLAY, TRACE, MINIMIZE (tools), BUGGY (the .so), BUG, WORK.
file(MAKE_DIRECTORY "${WORK}")
set(tr "${WORK}/big.hktr")
set(small "${WORK}/small.txt")
execute_process(COMMAND "${TRACE}" gen --seed 5 --ops 100000 --no-impossible -o "${tr}"
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "gen failed")
endif()
execute_process(COMMAND "${REPLAY}" "${tr}" --allocator "${BUGGY}" -q RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bug-free buggy_malloc fails the trace (${rc})")
endif()
set(ENV{VF_BUGGY} "${BUG}")
execute_process(COMMAND "${REPLAY}" "${tr}" --allocator "${BUGGY}" -q
                RESULT_VARIABLE rc ERROR_VARIABLE err1)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "oracle missed ${BUG} (exit ${rc}): ${err1}")
endif()
string(REGEX MATCH "oracle: op [0-9]+: ([a-z-]+):" m1 "${err1}")
set(check1 "${CMAKE_MATCH_1}")
execute_process(COMMAND "${MINIMIZE}" "${tr}" -o "${small}" --text
                        --allocator "${BUGGY}" --check-every 0
                RESULT_VARIABLE rc ERROR_VARIABLE err2)
message(STATUS "${err2}")
if(rc)
  message(FATAL_ERROR "hakmem-minimize failed (${rc})")
endif()
file(STRINGS "${small}" lines REGEX "^t[0-9]")
list(LENGTH lines n)
execute_process(COMMAND "${REPLAY}" "${small}" --allocator "${BUGGY}" -q
                RESULT_VARIABLE rc ERROR_VARIABLE err3)
string(REGEX MATCH "oracle: op [0-9]+: ([a-z-]+):" m3 "${err3}")
if(NOT rc EQUAL 1 OR NOT CMAKE_MATCH_1 STREQUAL check1)
  message(FATAL_ERROR "minimized trace does not fail ${check1}: ${err3}")
endif()
if(n GREATER_EQUAL 50)
  message(FATAL_ERROR "minimized trace has ${n} ops (want < 50)")
endif()
message(STATUS "${BUG}: 100000+ ops -> ${n} ops, check ${check1}")
