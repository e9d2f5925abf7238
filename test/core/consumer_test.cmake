# Installs the build tree into a prefix, then configures and builds
# examples/consumer against it with find_package(herald CONFIG), and runs it.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/consumer -B ${WORK_DIR}/build -G Ninja
                -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring examples/consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building examples/consumer failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/herald_consumer ${SOURCE_DIR}/examples/storefront/catalog.textproto
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer said: ${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "winner: ")
  message(FATAL_ERROR "examples/consumer did not select an ad: ${rc} ${out}")
endif()

# A third-party plugin built against the installed package with herald_add_plugin,
# loaded by the installed herald program.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/custom_component -B ${WORK_DIR}/plugin -G Ninja
                -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring examples/custom_component failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/plugin RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building examples/custom_component failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/prefix/bin/herald --plugin ${WORK_DIR}/plugin/tier_boost.so components --family selection
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "TierBoost")
  message(FATAL_ERROR "the installed herald did not load tier_boost.so: ${rc} ${out} ${err}")
endif()
