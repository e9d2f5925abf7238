# herald_add_plugin(<target> SOURCES <files...>)
#
# Builds a Herald loadable plugin: a MODULE library that includes only
# <herald/plugin_abi.h> (plain C, no Herald or protobuf symbols) and exports the
# single entry point `herald_plugin_entry`. Load it with `herald --plugin FILE`
# or herald::LoadPlugin(). Installed with the package, so third parties use the
# same helper after find_package(herald CONFIG).
function(herald_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED HERALD_PLUGIN_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${HERALD_PLUGIN_OUTPUT_DIRECTORY})
  endif()
  if(TARGET herald::plugin_abi)
    target_link_libraries(${target} PRIVATE herald::plugin_abi)
  else()
    target_link_libraries(${target} PRIVATE herald_plugin_abi)
  endif()
  if(ARG_LIBRARIES)
    target_link_libraries(${target} PRIVATE ${ARG_LIBRARIES})
  endif()
endfunction()
