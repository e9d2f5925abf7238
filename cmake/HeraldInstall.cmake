# `cmake --install` yields a package that find_package(herald CONFIG) consumes:
# targets herald::herald, herald::proto, herald::plugin_abi, and, when built,
# herald::store_postgres, herald::server, herald::desk and herald::simulation; and the
# herald_add_plugin() helper.
#
# Every file belongs to one of three install components, which are also the
# Debian packages (cmake/HeraldPackage.cmake):
#   runtime  the shared libraries (versioned SONAMEs) and the bundled plugins
#   dev      headers, .proto files, the CMake package, the .so links
#   cli      the `herald` program
include(CMakePackageConfigHelpers)
set(herald_exported_targets herald herald_proto herald_plugin_abi)
foreach(optional herald_store_postgres herald_grpc_api herald_server herald_desk herald_simulation)
  if(TARGET ${optional})
    list(APPEND herald_exported_targets ${optional})
  endif()
endforeach()
install(TARGETS ${herald_exported_targets} EXPORT heraldTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/herald DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/gen/herald/version.h ${CMAKE_BINARY_DIR}/gen/herald/plugin_abi_hash.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/herald COMPONENT dev)
install(EXPORT heraldTargets NAMESPACE herald:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heraldConfig.cmake.in
  ${CMAKE_BINARY_DIR}/heraldConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/heraldConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/heraldConfig.cmake ${CMAKE_BINARY_DIR}/heraldConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/HeraldPlugin.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald COMPONENT dev)
