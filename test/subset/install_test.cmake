# An installed subset of Herald (HERALD_ONLY_MODULES) is a package a third
# party builds against: `cmake --install` of the subset's tree into a prefix,
# then test/subset/consumer (find_package(herald CONFIG)) is configured,
# built and run against it. The package must hold herald::herald and none of
# the libraries a subset does not build (server, desk, simulation, the
# PostgreSQL store).
#   -DBINARY_DIR= -DSOURCE_DIR= -DWORK_DIR= -DMODULES="core;expr;mail"
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})

include(${CMAKE_CURRENT_LIST_DIR}/../run_step.cmake)  # run_step(WHAT COMMAND...)

set(prefix ${WORK_DIR}/prefix)
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
file(GLOB config ${prefix}/lib*/cmake/herald/heraldConfig.cmake)
if(NOT config)
  message(FATAL_ERROR "the subset's install holds no lib/cmake/herald/heraldConfig.cmake")
endif()
file(GLOB targets ${prefix}/lib*/cmake/herald/heraldTargets.cmake)
file(READ ${targets} exported)
foreach(absent server desk simulation store_postgres)
  if(exported MATCHES "herald::${absent}[ \n)]")
    message(FATAL_ERROR "the subset's package exports herald::${absent}, which a subset does not build")
  endif()
endforeach()
run_step("configuring test/subset/consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/test/subset/consumer
         -B ${WORK_DIR}/build -G Ninja -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("building test/subset/consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("test/subset/consumer" ${WORK_DIR}/build/subset_consumer)
message(STATUS "consumer said: ${step_output}")
if(NOT step_output MATCHES "^families:[^\n]*\nuser.age >= 18 for 30: true\n$")
  message(FATAL_ERROR "the consumer of the installed subset did not list its families "
                      "and run its expression: ${step_output}")
endif()
# Each module's own family is there exactly when the module is in the subset.
string(REGEX MATCH "^families:[^\n]*" families "${step_output}")
string(APPEND families " ")
foreach(pair "mail:mail" "csf:selection" "discount:basket" "conversion:conversion" "store:store")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 module)
  list(GET pair 1 family)
  string(FIND "${families}" " ${family} " at)
  if(module IN_LIST MODULES AND at EQUAL -1)
    message(FATAL_ERROR "the installed subset has the module ${module} but registers no ${family} family: ${families}")
  elseif(NOT module IN_LIST MODULES AND NOT at EQUAL -1)
    message(FATAL_ERROR "the installed subset lacks the module ${module} but registers the ${family} family: ${families}")
  endif()
endforeach()
