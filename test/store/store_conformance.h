// The store conformance suite: one set of behaviours every backend (memory,
// SQLite, PostgreSQL) must have. Each backend's test calls
// RunStoreConformance() from a TEST_CASE; the suite's SECTIONs re-enter the
// test case, so `fixture` is asked for a fresh, empty store each time.
#ifndef HERALD_TEST_STORE_STORE_CONFORMANCE_H_
#define HERALD_TEST_STORE_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "herald/store.h"

namespace herald::testing {

struct StoreFixture {
  // A new store over empty data.
  std::function<std::unique_ptr<Store>()> open_fresh;
  // A second store over the same data as `first` (another connection, as
  // another process would have); null when the backend cannot (memory).
  std::function<std::unique_ptr<Store>(Store& first)> open_again;
};

void RunStoreConformance(const StoreFixture& fixture);

}  // namespace herald::testing

#endif  // HERALD_TEST_STORE_STORE_CONFORMANCE_H_
