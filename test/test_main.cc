// The main of every Catch2 test executable (herald_test()): Catch2's own run,
// then kSkipReturnCode when a test was skipped and none failed (pg_test.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>

#include "pg_test.h"

namespace herald::testing {

namespace {
std::atomic<int> skipped{0};
}  // namespace

void SkipTest(std::string_view reason) {
  skipped.fetch_add(1);
  std::cout << "SKIPPED: " << reason << std::endl;
}

int SkippedTests() { return skipped.load(); }

const char* PostgresOrSkip(std::string_view what) {
  const char* pg = std::getenv("HERALD_TEST_PG");
  if (pg != nullptr && *pg != '\0') return pg;
  SkipTest(std::string(what) +
           " needs PostgreSQL: HERALD_TEST_PG is not set (./dev.sh test starts one; or see scripts/pg_test_server.sh)");
  return nullptr;
}

}  // namespace herald::testing

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && herald::testing::SkippedTests() > 0) return herald::testing::kSkipReturnCode;
  return failed;
}
