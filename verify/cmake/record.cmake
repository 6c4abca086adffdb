# record.cmake - CTest driver for the LD_PRELOAD recorder: record PROG (4
# threads, cross-thread frees, a fork+exec child) and `sort`, check the
# traces parse, have the expected threads, and replay clean with the oracle
# against every backend in ALLOCS.
# Inputs: TRACE, REPLAY (tools), PROG, ALLOCS (comma-separated), WORK.
string(REPLACE "," ";" ALLOCS "${ALLOCS}")
file(MAKE_DIRECTORY "${WORK}")
set(t1 "${WORK}/prog.hktr")
execute_process(COMMAND "${TRACE}" record -o "${t1}" -- "${PROG}" RESULT_VARIABLE rc TIMEOUT 120)
if(rc)
  message(FATAL_ERROR "recording ${PROG} failed (${rc})")
endif()
execute_process(COMMAND "${TRACE}" stats "${t1}" OUTPUT_VARIABLE st RESULT_VARIABLE rc)
message(STATUS "${st}")
string(REGEX MATCH "threads: ([0-9]+)" m "${st}")
if(rc OR CMAKE_MATCH_1 LESS 5)
  message(FATAL_ERROR "expected >= 5 threads in the recorded trace")
endif()
string(REGEX MATCH "ops: ([0-9]+)" m "${st}")
if(CMAKE_MATCH_1 LESS 30000)
  message(FATAL_ERROR "recorded only ${CMAKE_MATCH_1} ops")
endif()
set(t2 "${WORK}/sort.txt")
file(WRITE "${WORK}/in.txt" "3\n1\n2\nbanana\napple\n")
execute_process(COMMAND "${TRACE}" record --text -o "${t2}" -- sort "${WORK}/in.txt"
                OUTPUT_QUIET RESULT_VARIABLE rc TIMEOUT 60)
if(rc)
  message(FATAL_ERROR "recording sort failed (${rc})")
endif()
foreach(a IN LISTS ALLOCS)
  foreach(t "${t1}" "${t2}")
    execute_process(COMMAND "${REPLAY}" "${t}" --allocator ${a} --check-every 256
                    RESULT_VARIABLE rc TIMEOUT 300)
    if(rc)
      message(FATAL_ERROR "replay of ${t} against ${a} failed (${rc})")
    endif()
  endforeach()
endforeach()
