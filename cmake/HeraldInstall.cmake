# `cmake --install` yields a package that find_package(herald CONFIG) consumes:
# targets herald::herald, herald::proto, herald::plugin_abi and the
# herald_add_plugin() helper.
include(CMakePackageConfigHelpers)
install(TARGETS herald herald_proto herald_plugin_abi EXPORT heraldTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/herald DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(EXPORT heraldTargets NAMESPACE herald:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heraldConfig.cmake.in
  ${CMAKE_BINARY_DIR}/heraldConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/heraldConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/heraldConfig.cmake ${CMAKE_BINARY_DIR}/heraldConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/HeraldPlugin.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/herald)
