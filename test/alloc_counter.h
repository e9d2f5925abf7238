// Test support: counts global operator new calls while counting is on. The
// replacement operators live in alloc_counter.cc, which a test executable
// adds to its sources (one executable, one replacement).
#ifndef HERALD_TEST_ALLOC_COUNTER_H_
#define HERALD_TEST_ALLOC_COUNTER_H_

#include <atomic>

namespace herald::testing {

extern std::atomic<bool> g_counting;   // count operator new calls while true
extern std::atomic<long> g_allocations;

}  // namespace herald::testing

#endif  // HERALD_TEST_ALLOC_COUNTER_H_
