# HakmemOutputInDoc.cmake - test script (cmake -P): fails unless the output of
# PROGRAM appears verbatim in the file DOC, so generated docs cannot go stale.
#   cmake -DPROGRAM=<exe> -DDOC=<file.md> -P HakmemOutputInDoc.cmake
execute_process(COMMAND "${PROGRAM}" OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${_rc}")
endif()
file(READ "${DOC}" _doc)
string(FIND "${_doc}" "${_out}" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "${DOC} is stale: it does not contain the output of ${PROGRAM}.\n"
    "Regenerate that part with: ${PROGRAM}\n--- output ---\n${_out}")
endif()
message(STATUS "${DOC} contains the current output of ${PROGRAM}")
