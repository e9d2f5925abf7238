# Build options. Defaults suit a developer build; CI turns on the sanitizer build separately.
option(HERALD_BUILD_TESTS "Build the Catch2 test suite" ON)
option(HERALD_BUILD_BENCHMARKS "Build the Google Benchmark programs in bench/" ON)
option(HERALD_BUILD_EXAMPLES "Build the examples (storefront server, custom component)" ON)
option(HERALD_BUILD_FUZZERS "Build libFuzzer targets (needs clang)" OFF)
option(HERALD_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  add_compile_options(-Wall -Wextra -Wno-unused-parameter)
endif()

if(HERALD_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "HERALD_BUILD_FUZZERS needs clang (CC=clang-14 CXX=clang++-14)")
  endif()
  # Instrument everything for coverage; the fuzz targets add the libFuzzer
  # main. Tests built in the same tree link without libFuzzer: the sanitizer
  # runtime supplies the coverage callbacks, so one tree (dev.sh sanitize)
  # serves both the sanitizer tests and the fuzzers.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Fuzzing always runs under ASan+UBSan; any undefined behaviour is fatal, so
# neither a test nor a fuzz run can pass over it.
if(HERALD_SANITIZE OR HERALD_BUILD_FUZZERS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
