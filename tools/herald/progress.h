// Progress of a long command (simulate, mail, export): one line on stderr with
// the share done, the rate and the time left.
//
//   simulating [##########                    ]  34%  68000/200000 page views  41250/s  ETA 0:03
//
// Shown when stderr is a terminal, or always with --progress; never with
// --no-progress. On a terminal the line is redrawn in place ('\r'), at most
// every 100 ms; otherwise (asked for, output to a file or a pipe) a whole line
// is written at most once a second, so logs stay readable. Thread-safety: one
// thread updates a meter (the callbacks of simulate and mail run on one thread).
#ifndef HERALD_TOOLS_PROGRESS_H_
#define HERALD_TOOLS_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"

namespace herald::cli {

// When to show progress: the --progress / --no-progress flags of a command.
struct ProgressFlags {
  bool always = false;  // --progress
  bool never = false;   // --no-progress
};

// Adds --progress and --no-progress to `cmd`.
void AddProgressFlags(CLI::App* cmd, ProgressFlags* flags);

// "0:07", "1:02:03"; "?" for a negative or infinite duration.
std::string FormatTimeLeft(absl::Duration d);

// One progress line: `what [bar] pct done/total unit rate/s ETA m:ss`; the
// rate is `done_in_elapsed` units over `elapsed`, the time left the rest at
// that rate. Without a total (0): `what done unit rate/s`.
std::string FormatProgressLine(std::string_view what, std::string_view unit, int64_t done, int64_t total,
                               int64_t done_in_elapsed, absl::Duration elapsed);

class ProgressMeter {
 public:
  // `what` names the work ("simulating"), `unit` what is counted ("page views").
  // Enabled when flags.always, or when stderr is a terminal and not flags.never.
  ProgressMeter(std::string what, std::string unit, const ProgressFlags& flags);
  // For tests: writes to `out` as if it were (or were not) a terminal, with a clock.
  ProgressMeter(std::string what, std::string unit, std::FILE* out, bool terminal,
                std::function<absl::Time()> clock);
  ~ProgressMeter();  // Finish()

  bool enabled() const { return enabled_; }
  void Update(int64_t done, int64_t total);
  // Ends the line (the terminal's is cleared). A later Update starts a new
  // line with its own rate (a scheduled export's next run).
  void Finish();

 private:
  std::string what_, unit_;
  std::FILE* out_ = stderr;
  bool terminal_ = false, enabled_ = false;
  std::function<absl::Time()> clock_;
  absl::Time start_, last_draw_ = absl::InfinitePast();
  int64_t last_done_ = -1;
  int64_t base_done_ = -1;  // done at the first update: the rate counts from there
  absl::Time base_time_;
  size_t last_width_ = 0;
};

}  // namespace herald::cli

#endif  // HERALD_TOOLS_PROGRESS_H_
