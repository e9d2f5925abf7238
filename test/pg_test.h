// PostgreSQL in tests: the server HERALD_TEST_PG names (a libpq URI; started by
// scripts/pg_test_server.sh, and by `./dev.sh test` itself), or a test that
// reports SKIPPED. Never a test that passes without having run.
//
// A skipped test prints "SKIPPED: <reason>" and its executable exits with
// kSkipReturnCode (unless a test failed); herald_test() sets ctest's
// SKIP_RETURN_CODE to it, so ctest lists the test as skipped ("Not Run"),
// never as passed. Under CI (CI=true) dev.sh fails when any test was skipped.
#ifndef HERALD_TEST_PG_TEST_H_
#define HERALD_TEST_PG_TEST_H_

#include <string_view>

namespace herald::testing {

// The exit code of a test executable whose tests passed but one was skipped.
inline constexpr int kSkipReturnCode = 77;

// Marks the running test skipped for `reason` (printed on stdout). The caller
// returns from the test right after.
void SkipTest(std::string_view reason);

// How many tests of this process were skipped.
int SkippedTests();

// HERALD_TEST_PG, or nullptr after SkipTest("<what> needs PostgreSQL: ...").
//   const char* pg = testing::PostgresOrSkip("the claims test");
//   if (pg == nullptr) return;
const char* PostgresOrSkip(std::string_view what);

}  // namespace herald::testing

#endif  // HERALD_TEST_PG_TEST_H_
