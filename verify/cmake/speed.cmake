# speed.cmake - the oracle's speed target as a (bench-labelled) test: a
# 1M-op random trace (--profile small) replayed with the oracle on against
# ALLOC must reach MIN ops per CPU second (best of 3; CPU time, because the
# machine is shared).  Inputs: REPLAY, TRACE, ALLOC, MIN, WORK.
file(MAKE_DIRECTORY "${WORK}")
set(tr "${WORK}/speed.hktr")
execute_process(COMMAND "${TRACE}" gen --seed 42 --ops 1000000 --profile small -o "${tr}"
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "gen failed")
endif()
execute_process(COMMAND "${REPLAY}" "${tr}" --allocator ${ALLOC} --repeat 3
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc)
  message(FATAL_ERROR "replay failed (${rc})")
endif()
string(REGEX MATCH "\\(([0-9]+) per CPU second\\)" m "${out}")
if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS MIN)
  message(FATAL_ERROR "oracle replay at ${CMAKE_MATCH_1} ops per CPU second, below ${MIN}")
endif()
