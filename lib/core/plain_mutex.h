// Internal: a std::mutex with Abseil's thread-safety annotations, for locks
// taken on every request.
//
// Why not absl::Mutex there: Debian's Abseil 20220623 is built without
// NDEBUG, so its Mutex runs deadlock detection on each Lock(): a process-wide
// spin lock and a graph lookup. bench/bench_lock.cc (one lock and unlock of
// one of 64 shards) measured 44.7 ns against 5.1 ns on one thread, and 262 ns
// against 64 ns of CPU time per lock on two, since both threads write that
// one spin lock.
// absl::Mutex stays everywhere else (its deadlock reports are worth having
// where locks are rare).
//
// Thread-safety: as std::mutex. Not reentrant.
#ifndef HERALD_LIB_CORE_PLAIN_MUTEX_H_
#define HERALD_LIB_CORE_PLAIN_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace herald {

class ABSL_LOCKABLE PlainMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a PlainMutex for its scope.
class ABSL_SCOPED_LOCKABLE PlainLock {
 public:
  explicit PlainLock(PlainMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~PlainLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  PlainLock(const PlainLock&) = delete;
  PlainLock& operator=(const PlainLock&) = delete;

 private:
  PlainMutex* const mu_;
};

}  // namespace herald

#endif  // HERALD_LIB_CORE_PLAIN_MUTEX_H_
