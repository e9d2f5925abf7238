# `cpack -G DEB` (in the build tree) makes three Debian packages from the
# install components of cmake/HeraldInstall.cmake:
#   libherald0     runtime: the shared libraries and the bundled plugins
#   libherald-dev  headers, .proto files and the CMake package; depends on libherald0
#   herald         the `herald` program; depends on libherald0
# The version is project(VERSION) and the runtime package's name carries the
# SONAME's major version, as Debian's policy has it. Dependencies on Debian's
# libraries come from dpkg-shlibdeps. test/core/consumer_test.cmake (mode deb)
# builds them, unpacks them into a scratch root and builds examples/consumer
# against that root.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME herald)
set(CPACK_PACKAGE_VENDOR "Herald")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Herald developers <herald@localhost>")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev cli)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The programs and libraries link each other (herald -> libherald.so.0);
# dpkg-shlibdeps finds those in the build tree and leaves them to the
# component dependencies below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_LIBRARY_OUTPUT_DIRECTORY})

set(CPACK_COMPONENT_RUNTIME_DISPLAY_NAME "Herald libraries")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "Herald campaign engine: shared libraries\n The ads, discount, direct mail and conversion export engine as shared libraries (libherald, the PostgreSQL store, the decision server and the Business Desk), with the bundled selection plugins.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libherald${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)

set(CPACK_COMPONENT_DEV_DISPLAY_NAME "Herald development files")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "Herald campaign engine: development files\n Headers, the data model's .proto files and the CMake package (find_package(herald CONFIG)) for programs and plugins built against Herald.")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libherald-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# find_package(herald) finds absl and Protobuf, and the headers include theirs.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libabsl-dev, libprotobuf-dev, protobuf-compiler")

set(CPACK_COMPONENT_CLI_DISPLAY_NAME "Herald command-line program")
set(CPACK_COMPONENT_CLI_DESCRIPTION
  "Herald campaign engine: the herald program\n Validate catalogs, select ads, price baskets, send mail, export conversions, serve the decision API and the Business Desk.")
set(CPACK_COMPONENT_CLI_DEPENDS runtime)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME herald)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
include(CPack)
