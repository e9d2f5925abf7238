// herald/trace.h: the record of what a pipeline run did (TraceScores and the
// explanations of priced baskets, mail jobs and exports).
//
// A Trace is filled by the pipeline runner (one timing entry per component,
// and any error a component reported under ERROR_POLICY_CONTINUE) and by the
// components themselves through Note(). Tracing is off unless the caller
// passes a Trace: components test `context.trace != nullptr` before building
// any message, so an untraced run costs nothing.
//
// Lifetime: owned by the caller of the run; entries are copies.
// Thread-safety: a Trace belongs to one run on one thread; not synchronized.
#ifndef HERALD_TRACE_H_
#define HERALD_TRACE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace herald {

struct TraceEntry {
  std::string stage;      // pipeline stage, e.g. "score"
  std::string component;  // component label, e.g. "HistoryPenalty"
  std::string subject;    // what the entry is about: an item, a discount, a recipient; empty = the run
  std::string verdict;    // "filtered", "multiplier", "score", "winner", "applied", "skipped", "error", "timing" ...
  std::string reason;     // human-readable why
  double value = 0;       // the multiplier, score or amount, when there is one
  absl::Duration elapsed; // "timing" entries: the component's wall time
};

class Trace {
 public:
  // Adds an entry attributed to the component currently running.
  void Note(std::string_view subject, std::string_view verdict, std::string_view reason,
            double value = 0);
  // Adds a fully specified entry.
  void Add(TraceEntry entry) { entries_.push_back(std::move(entry)); }

  // Set by the pipeline runner around each component.
  void Enter(std::string_view stage, std::string_view component);

  const std::vector<TraceEntry>& entries() const { return entries_; }
  void Clear() { entries_.clear(); }

  // One line per entry: "[stage] component: subject verdict value (reason)".
  std::string ToText(bool include_timings = true) const;
  // A JSON array of the entries.
  std::string ToJson() const;

 private:
  std::string stage_, component_;
  std::vector<TraceEntry> entries_;
};

}  // namespace herald

#endif  // HERALD_TRACE_H_
