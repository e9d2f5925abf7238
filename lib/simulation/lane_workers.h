// LaneWorkers: the simulation's threads (internal to lib/simulation).
//
// The simulated traffic is cut into a fixed number of lanes; each lane is
// always run by the same worker (lane i by worker i % workers), so whatever
// a lane's selector keeps per thread (its request scratch and the random
// stream in it) is the same whatever the number of workers. Worker 0 is the
// calling thread: with one worker no thread is started.
//
// Lifetime: the destructor stops and joins the threads.
// Thread-safety: RunLanes is called by one thread at a time (the owner's).
#ifndef HERALD_LIB_SIMULATION_LANE_WORKERS_H_
#define HERALD_LIB_SIMULATION_LANE_WORKERS_H_

#include <functional>
#include <memory>

namespace herald::simulation_internal {

class LaneWorkers {
 public:
  // `workers` threads (the caller included) for `lanes` lanes; fewer than 1
  // reads as 1, and there are never more workers than lanes.
  LaneWorkers(int workers, int lanes);
  ~LaneWorkers();
  LaneWorkers(const LaneWorkers&) = delete;
  LaneWorkers& operator=(const LaneWorkers&) = delete;

  // Runs run_lane(lane) for every lane, each on its worker, and returns
  // when all have returned. run_lane must not throw.
  void RunLanes(const std::function<void(int lane)>& run_lane);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace herald::simulation_internal

#endif  // HERALD_LIB_SIMULATION_LANE_WORKERS_H_
