# replay_gen.cmake - CTest driver: generate random traces (single- and
# multi-thread, every op type, class-edge sizes) and replay each with the
# oracle against ALLOC (the last two with thread exits, so thread caches are
# given back and abandoned blocks freed by others).  Any violation fails.
# Inputs: REPLAY, TRACE (tool paths), ALLOC, WORK (scratch directory).
file(MAKE_DIRECTORY "${WORK}")
# (the fifth: the handoff profile, threads that exit with blocks live and
# others that free them later)
foreach(spec "1;1;60000;0;mixed" "2;4;60000;0;mixed" "3;1;200000;0;mixed" "4;4;60000;300;mixed"
        "5;4;60000;0;handoff")
  list(GET spec 0 seed)
  list(GET spec 1 threads)
  list(GET spec 2 ops)
  list(GET spec 3 exits)
  list(GET spec 4 profile)
  set(tr "${WORK}/gen-${seed}.hktr")
  execute_process(COMMAND "${TRACE}" gen --seed ${seed} --threads ${threads}
                          --ops ${ops} --exits ${exits} --profile ${profile} -o "${tr}"
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "hakmem-trace gen failed (${rc})")
  endif()
  execute_process(COMMAND "${REPLAY}" "${tr}" --allocator ${ALLOC}
                          --check-every 64 --timeout 300
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "replay of ${tr} against ${ALLOC} failed (${rc})")
  endif()
endforeach()
