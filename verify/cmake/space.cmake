# space.cmake - CTest driver for the space check (hakmem-replay --space,
# verify/include/vf_space.h): generated reuse traces (grow to a byte target
# with one size band, free all, grow with the next band) replayed against
# libvf_buggy_malloc.so answering hak_stats_get (VF_BUGGY_STATS=1).  The
# bug-free library must pass under the default bound (footprint <= 2 x peak
# live + 32 MiB, back within 4 MiB of the start after free-all and trim);
# with free_leaks (blocks of 4 KiB or more never given back) the long trace
# must fail on the growth bound and the short one, whose leak stays under
# the bound, after free-all and trim.
# Inputs: REPLAY, TRACE (tools), ALLOC (libvf_buggy_malloc.so), WORK.
file(MAKE_DIRECTORY "${WORK}")
set(ENV{VF_BUGGY_STATS} 1)
function(gen name ops phase)
  execute_process(COMMAND "${TRACE}" gen --profile reuse --ops ${ops} --slots 65536
                          --phase-bytes ${phase} --seed 1 -o "${WORK}/${name}.hktr"
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "gen failed")
  endif()
endfunction()
function(space name bugs want_rc want)
  set(ENV{VF_BUGGY} "${bugs}")
  execute_process(COMMAND "${REPLAY}" "${WORK}/${name}.hktr" --allocator "${ALLOC}" --space
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${name}, bugs '${bugs}':\n${err}${out}")
  if(NOT rc EQUAL want_rc)
    message(FATAL_ERROR "exit ${rc}, expected ${want_rc}")
  endif()
  if(NOT "${err}${out}" MATCHES "${want}")
    message(FATAL_ERROR "expected '${want}'")
  endif()
endfunction()
gen(long 300000 8388608)
gen(short 100000 4194304)
space(long "" 0 "space: .*: ok")
space(short "" 0 "space: .*: ok")
space(long free_leaks 1 "oracle: op [0-9]+: space: .*footprint [0-9]+ bytes above 2.00 x peak live")
space(short free_leaks 1 "oracle: op [0-9]+: space: .*after free-all and trim the footprint is")
