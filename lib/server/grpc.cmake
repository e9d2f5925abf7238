# herald_grpc_api: the messages and stubs of herald/model/decisions.proto
# (service herald.v1.Decisions), generated with Debian's grpc_cpp_plugin next
# to the model's other generated files. A shared library of its own, so that
# the server and gRPC clients (the tests) register its descriptors once.
pkg_check_modules(HERALD_GRPC REQUIRED IMPORTED_TARGET grpc++)
find_program(HERALD_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
set(_proto ${PROJECT_SOURCE_DIR}/include/herald/model/decisions.proto)
set(_out ${CMAKE_BINARY_DIR}/gen/herald/model)
set(_gen ${_out}/decisions.pb.cc ${_out}/decisions.pb.h ${_out}/decisions.grpc.pb.cc ${_out}/decisions.grpc.pb.h)
add_custom_command(OUTPUT ${_gen}
  COMMAND protobuf::protoc --cpp_out=${CMAKE_BINARY_DIR}/gen --grpc_out=${CMAKE_BINARY_DIR}/gen
          --plugin=protoc-gen-grpc=${HERALD_GRPC_CPP_PLUGIN}
          -I ${PROJECT_SOURCE_DIR}/include ${_proto}
  DEPENDS ${_proto} protobuf::protoc
  COMMENT "protoc + grpc_cpp_plugin herald/model/decisions.proto" VERBATIM)
add_library(herald_grpc_api SHARED ${_gen})
set_target_properties(herald_grpc_api PROPERTIES EXPORT_NAME grpc_api
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
target_include_directories(herald_grpc_api PUBLIC
  $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/gen> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# Installed, it is exported (herald_server links it) without the pkg-config
# target: a program that includes decisions.grpc.pb.h links grpc++ itself.
target_link_libraries(herald_grpc_api PUBLIC herald::proto $<BUILD_INTERFACE:PkgConfig::HERALD_GRPC>
                      PRIVATE PkgConfig::HERALD_GRPC)
target_compile_options(herald_grpc_api PRIVATE -w)  # generated code
# Installed and exported with the others (cmake/HeraldInstall.cmake).
install(FILES ${_proto} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/herald/model COMPONENT dev)
