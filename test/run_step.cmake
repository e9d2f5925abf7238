# run_step(WHAT COMMAND...) for the test scripts run with cmake -P
# (test/core/consumer_test.cmake, test/subset/install_test.cmake): runs
# COMMAND, fails the test naming WHAT with the command's output when it
# exits non-zero, and leaves its standard output in step_output.
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()
