# A program and a plugin built by a third party against an installed Herald.
#   MODE=install: `cmake --install` of the build tree into a prefix.
#   MODE=deb:     `cpack -G DEB` makes the three packages (cmake/HeraldPackage.cmake);
#                 their fields are checked, they are unpacked into a scratch root,
#                 and the prefix is that root's /usr.
# Then examples/consumer (find_package(herald CONFIG)) is configured, built and
# run against the prefix, examples/custom_component is built with
# herald_add_plugin and loaded by the prefix's own `herald` program, and
# examples/replacements (one built-in of each pipeline family re-implemented
# from the public headers alone) is built against the prefix and its driver
# must prove all four; the PostgreSQL store (plugins/store_postgres) builds
# against the prefix too, on its own (deb) or inside a third party's project
# whose program opens a store through it (install).
cmake_minimum_required(VERSION 3.25)  # (policies: a quoted "deb" is never read as the variable deb)
file(REMOVE_RECURSE ${WORK_DIR})

include(${CMAKE_CURRENT_LIST_DIR}/../run_step.cmake)  # run_step(WHAT COMMAND...)

function(check_deb_field deb field expected)  # the field must match the regex EXPECTED
  run_step("dpkg-deb -f ${deb} ${field}" dpkg-deb -f ${deb} ${field})
  string(STRIP "${step_output}" value)
  if(NOT value MATCHES "${expected}")
    message(FATAL_ERROR "${deb}: ${field} is \"${value}\", expected to match \"${expected}\"")
  endif()
  set(field_value "${value}" PARENT_SCOPE)
endfunction()

# Every package a .deb depends on is installed here, by name or as a virtual
# package another provides (the dependency list is what an installing machine
# will be asked for), or is one of ours.
function(check_dependencies_installed deb)
  execute_process(COMMAND dpkg-query -W "-f=\${db:Status-Abbrev} \${Package} \${Provides}\n"
                  OUTPUT_VARIABLE installed)
  string(REGEX REPLACE "\\([^)]*\\)" "" installed "${installed}")  # versions of Provides
  check_deb_field(${deb} Depends ".")
  string(REPLACE "," ";" relations "${field_value}")
  foreach(relation ${relations})
    string(REGEX REPLACE "^ *([a-z0-9.+-]+).*" "\\1" package "${relation}")
    if(package MATCHES "^(libherald${VERSION_MAJOR}|libherald-dev|herald)$")
      continue()
    endif()
    string(REPLACE "+" "\\+" quoted "${package}")
    string(REPLACE "." "\\." quoted "${quoted}")
    if(NOT installed MATCHES "(^|\n)ii +[^\n]*[ ,]${quoted}(:[a-z0-9]+)?([ ,\n]|$)")
      message(FATAL_ERROR "${deb} depends on ${package}, which no installed package is or provides")
    endif()
  endforeach()
endfunction()

if(MODE STREQUAL "deb")
  set(prefix ${WORK_DIR}/root/usr)
  run_step("cpack -G DEB" ${CMAKE_CPACK_COMMAND} -G DEB -B ${WORK_DIR}/packages --config ${BINARY_DIR}/CPackConfig.cmake)
  set(debs libherald${VERSION_MAJOR} libherald-dev herald)
  foreach(name ${debs})
    set(deb ${WORK_DIR}/packages/${name}_${VERSION}-1_amd64.deb)
    if(NOT EXISTS ${deb})
      file(GLOB made ${WORK_DIR}/packages/*.deb)
      message(FATAL_ERROR "cpack did not make ${deb}; it made: ${made}")
    endif()
    check_deb_field(${deb} Package "^${name}$")
    check_deb_field(${deb} Version "^${VERSION}-1$")
    run_step("dpkg-deb -x ${deb}" dpkg-deb -x ${deb} ${WORK_DIR}/root)
  endforeach()
  set(runtime ${WORK_DIR}/packages/libherald${VERSION_MAJOR}_${VERSION}-1_amd64.deb)
  check_deb_field(${runtime} Depends "libabsl20220623.*libprotobuf32.*libsqlite3-0")
  check_dependencies_installed(${runtime})
  foreach(name libherald-dev herald)
    set(deb ${WORK_DIR}/packages/${name}_${VERSION}-1_amd64.deb)
    check_deb_field(${deb} Depends "libherald${VERSION_MAJOR} \\(= ${VERSION}-1\\)")
    check_dependencies_installed(${deb})
  endforeach()
  # Every shared library is versioned: its SONAME is lib<name>.so.<major>,
  # the runtime package holds only that file and its link, and the dev
  # package the unversioned link.
  file(GLOB libraries ${prefix}/lib/libherald*.so.${VERSION})
  list(LENGTH libraries count)
  if(count LESS 6)
    message(FATAL_ERROR "expected the six Herald libraries in ${prefix}/lib, found: ${libraries}")
  endif()
  foreach(library ${libraries})
    get_filename_component(file ${library} NAME)
    string(REGEX REPLACE "\\.so\\..*" ".so.${VERSION_MAJOR}" soname "${file}")
    run_step("readelf -d ${file}" readelf -d ${library})
    if(NOT step_output MATCHES "Library soname: \\[${soname}\\]")
      message(FATAL_ERROR "${file}: SONAME is not ${soname}:\n${step_output}")
    endif()
  endforeach()
else()
  set(prefix ${WORK_DIR}/prefix)
  run_step("cmake --install" ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
endif()

run_step("configuring examples/consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/consumer
         -B ${WORK_DIR}/build -G Ninja -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("building examples/consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("examples/consumer" ${WORK_DIR}/build/herald_consumer ${SOURCE_DIR}/examples/storefront/catalog.textproto)
message(STATUS "consumer said: ${step_output}")
if(NOT step_output MATCHES "^herald ${VERSION} winner: ")
  message(FATAL_ERROR "examples/consumer did not select an ad with Herald ${VERSION}: ${step_output}")
endif()

run_step("configuring examples/custom_component" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/custom_component
         -B ${WORK_DIR}/plugin -G Ninja -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("building examples/custom_component" ${CMAKE_COMMAND} --build ${WORK_DIR}/plugin)
run_step("the installed herald loading tier_boost.so"
         ${prefix}/bin/herald --plugin ${WORK_DIR}/plugin/tier_boost.so components --family selection)
if(NOT step_output MATCHES "TierBoost")
  message(FATAL_ERROR "the installed herald did not list TierBoost from tier_boost.so: ${step_output}")
endif()
run_step("the installed herald --version" ${prefix}/bin/herald --version)
if(NOT step_output MATCHES "^herald ${VERSION}")
  message(FATAL_ERROR "the installed herald says it is \"${step_output}\", not herald ${VERSION}")
endif()

# Every built-in can be re-implemented from the installed public headers:
# the driver runs Herald's pipelines with the site's four components in
# place, then with the same four as C-ABI plugins, and exits non-zero naming
# the family that did not hold.
run_step("configuring examples/replacements" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/replacements
         -B ${WORK_DIR}/replacements -G Ninja -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("building examples/replacements" ${CMAKE_COMMAND} --build ${WORK_DIR}/replacements)
run_step("examples/replacements" ${WORK_DIR}/replacements/herald_replacements ${SOURCE_DIR}/examples/replacements)
message(STATUS "replacements said:\n${step_output}")
if(NOT step_output MATCHES "\nall four replacements work, as C\\+\\+ components and as C-ABI plugins\n$")
  message(FATAL_ERROR "examples/replacements did not prove all four replacements: ${step_output}")
endif()
# The C-ABI plugins cross only herald/plugin_abi.h: none may need a library of
# Herald's (or protobuf, or Abseil), and each exports the two ABI symbols.
foreach(plugin exposure_limit member_order_discount skip_domains webhook)
  set(so ${WORK_DIR}/replacements/replacement_${plugin}.so)
  run_step("readelf -d ${so}" readelf -d ${so})
  if(step_output MATCHES "NEEDED[^\n]*(libherald|libprotobuf|libabsl)")
    message(FATAL_ERROR "${so} links ${CMAKE_MATCH_1}: a C-ABI plugin must need none of Herald's libraries")
  endif()
  run_step("nm -D ${so}" nm -D --defined-only ${so})
  if(NOT step_output MATCHES "herald_plugin_entry" OR NOT step_output MATCHES "herald_plugin_abi_hash")
    message(FATAL_ERROR "${so} does not export herald_plugin_entry and herald_plugin_abi_hash")
  endif()
endforeach()

# The PostgreSQL store out of Herald's tree: no lib/ include path, only the
# prefix's package.
if(MODE STREQUAL "deb")
  run_step("configuring plugins/store_postgres on its own" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/plugins/store_postgres
           -B ${WORK_DIR}/store_postgres -G Ninja -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
  run_step("building plugins/store_postgres on its own" ${CMAKE_COMMAND} --build ${WORK_DIR}/store_postgres)
  if(NOT EXISTS ${WORK_DIR}/store_postgres/libherald_store_postgres.so.${VERSION_MAJOR})
    message(FATAL_ERROR "plugins/store_postgres built on its own made no libherald_store_postgres.so.${VERSION_MAJOR}")
  endif()
else()
  run_step("configuring the out-of-tree PostgreSQL store" ${CMAKE_COMMAND}
           -S ${SOURCE_DIR}/test/core/out_of_tree_postgres -B ${WORK_DIR}/out_of_tree_postgres -G Ninja
           -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release -DHERALD_SOURCE_DIR=${SOURCE_DIR})
  run_step("building the out-of-tree PostgreSQL store" ${CMAKE_COMMAND} --build ${WORK_DIR}/out_of_tree_postgres)
  run_step("the out-of-tree PostgreSQL store" ${WORK_DIR}/out_of_tree_postgres/postgres_out_of_tree)
  message(STATUS "out-of-tree PostgreSQL store: ${step_output}")
endif()
