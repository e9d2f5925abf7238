// The lock a selection request takes on its user's history shard:
// PlainMutex (std::mutex, lib/core/plain_mutex.h) against absl::Mutex, whose
// Debian build runs deadlock detection on every Lock().
//
// Each iteration locks and unlocks one of 64 cache-line-aligned shards, as
// requests for different users do; with 2 threads both pick shards the same
// way, so they rarely meet on one shard but always on Abseil's global
// deadlock-detection lock.
//
// BM_ShardLock_Herald (PlainMutex) and BM_ShardLock_Reference (absl::Mutex),
// 1 and 2 threads.
#include <benchmark/benchmark.h>

#include "absl/synchronization/mutex.h"
#include "core/plain_mutex.h"

namespace {

constexpr size_t kShards = 64;

template <typename Mutex>
struct alignas(64) Shard {
  Mutex mu;
  int64_t hits = 0;
};

void Lock(herald::PlainMutex& mu) { mu.Lock(); }
void Unlock(herald::PlainMutex& mu) { mu.Unlock(); }
void Lock(absl::Mutex& mu) { mu.Lock(); }
void Unlock(absl::Mutex& mu) { mu.Unlock(); }

template <typename Mutex>
void Run(benchmark::State& state) {
  static Shard<Mutex> shards[kShards];
  size_t i = static_cast<size_t>(state.thread_index()) * (kShards / 2);
  for (auto _ : state) {
    Shard<Mutex>& s = shards[(i += 7) % kShards];
    Lock(s.mu);
    ++s.hits;
    Unlock(s.mu);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ShardLock_Herald(benchmark::State& state) { Run<herald::PlainMutex>(state); }
void BM_ShardLock_Reference(benchmark::State& state) { Run<absl::Mutex>(state); }
BENCHMARK(BM_ShardLock_Herald)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ShardLock_Reference)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
