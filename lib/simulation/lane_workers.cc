#include "lane_workers.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace herald::simulation_internal {

struct LaneWorkers::State {
  int workers = 1;
  int lanes = 1;
  absl::Mutex mu;
  uint64_t round ABSL_GUARDED_BY(mu) = 0;    // bumped for every RunLanes
  int running ABSL_GUARDED_BY(mu) = 0;       // started threads still in this round
  bool stopping ABSL_GUARDED_BY(mu) = false;
  const std::function<void(int)>* run_lane ABSL_GUARDED_BY(mu) = nullptr;
  std::vector<std::thread> threads;

  // Worker `w`'s share of a round: lanes w, w + workers, ...
  void RunShare(const std::function<void(int)>& run, int w) const {
    for (int lane = w; lane < lanes; lane += workers) run(lane);
  }

  // What a started worker waits for: a new round, or the end.
  struct NextRound {
    const State* state;
    uint64_t seen;
    bool Ready() const ABSL_NO_THREAD_SAFETY_ANALYSIS {  // evaluated by Await, under mu
      return state->stopping || state->round != seen;
    }
  };

  void Loop(int w) {
    NextRound next{this, 0};
    for (;;) {
      const std::function<void(int)>* run = nullptr;
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(&next, &NextRound::Ready));
        if (stopping) return;
        next.seen = round;
        run = run_lane;
      }
      RunShare(*run, w);
      absl::MutexLock lock(&mu);
      --running;
    }
  }
};

LaneWorkers::LaneWorkers(int workers, int lanes) : state_(std::make_unique<State>()) {
  // More workers than lanes would have nothing to run: at most one a lane.
  state_->lanes = lanes < 1 ? 1 : lanes;
  state_->workers = workers < 1 ? 1 : workers > state_->lanes ? state_->lanes : workers;
  for (int w = 1; w < state_->workers; ++w) state_->threads.emplace_back([s = state_.get(), w] { s->Loop(w); });
}

LaneWorkers::~LaneWorkers() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  for (std::thread& t : state_->threads) t.join();
}

void LaneWorkers::RunLanes(const std::function<void(int lane)>& run_lane) {
  State& s = *state_;
  {
    absl::MutexLock lock(&s.mu);
    s.run_lane = &run_lane;
    s.running = s.workers - 1;
    ++s.round;
  }
  s.RunShare(run_lane, 0);
  absl::MutexLock lock(&s.mu);
  s.mu.Await(absl::Condition(+[](int* running) { return *running == 0; }, &s.running));
  s.run_lane = nullptr;
}

}  // namespace herald::simulation_internal
