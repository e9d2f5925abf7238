#include "progress.h"

#include <unistd.h>

#include "absl/time/clock.h"
#include "fmt/format.h"

namespace herald::cli {

void AddProgressFlags(CLI::App* cmd, ProgressFlags* flags) {
  cmd->add_flag("--progress", flags->always, "show progress (rate, time left) on stderr even when it is not a terminal");
  cmd->add_flag("--no-progress", flags->never, "never show progress");
}

std::string FormatTimeLeft(absl::Duration d) {
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) return "?";
  int64_t s = absl::ToInt64Seconds(d);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string FormatProgressLine(std::string_view what, std::string_view unit, int64_t done, int64_t total,
                               int64_t done_in_elapsed, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? static_cast<double>(done_in_elapsed) / seconds : 0.0;
  std::string line = std::string(what);
  if (total > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int filled = static_cast<int>(fraction * 30);
    line += fmt::format(" [{:<30}] {:3}% {}/{} {}", std::string(filled, '#'), static_cast<int>(fraction * 100),
                        done, total, unit);
  } else {
    line += fmt::format(" {} {}", done, unit);
  }
  line += fmt::format("  {:.0f}/s", rate);
  if (total > 0) {
    std::string eta = "?";
    if (done >= total) eta = "0:00";
    else if (rate > 0) eta = FormatTimeLeft(absl::Seconds(static_cast<double>(total - done) / rate));
    line += "  ETA " + eta;
  }
  return line;
}

ProgressMeter::ProgressMeter(std::string what, std::string unit, const ProgressFlags& flags)
    : ProgressMeter(std::move(what), std::move(unit), stderr, isatty(STDERR_FILENO) != 0, [] { return absl::Now(); }) {
  enabled_ = flags.always || (terminal_ && !flags.never);
}

ProgressMeter::ProgressMeter(std::string what, std::string unit, std::FILE* out, bool terminal,
                             std::function<absl::Time()> clock)
    : what_(std::move(what)), unit_(std::move(unit)), out_(out), terminal_(terminal), enabled_(true),
      clock_(std::move(clock)), start_(clock_()) {}

ProgressMeter::~ProgressMeter() { Finish(); }

void ProgressMeter::Update(int64_t done, int64_t total) {
  if (!enabled_ || done == last_done_) return;
  const absl::Time now = clock_();
  if (base_done_ < 0) {
    // The rate counts this run's work only (a resumed mail job starts part done).
    base_done_ = done;
    base_time_ = start_;
    if (done > 0) base_time_ = now;
  }
  const bool last = total > 0 && done >= total;
  if (!last && now - last_draw_ < (terminal_ ? absl::Milliseconds(100) : absl::Seconds(1))) return;
  last_draw_ = now;
  last_done_ = done;
  std::string line = FormatProgressLine(what_, unit_, done, total, done - base_done_, now - base_time_);
  if (terminal_) {
    // Pad over a longer previous line.
    const size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');
    last_width_ = width;
    std::fprintf(out_, "\r%s", line.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressMeter::Finish() {
  if (!enabled_ || last_done_ < 0) return;
  if (terminal_ && last_width_ > 0) {
    std::fprintf(out_, "\r%*s\r", static_cast<int>(last_width_), "");
    std::fflush(out_);
  }
  // A later Update starts a new line (the next run of a scheduled export).
  last_done_ = base_done_ = -1;
  last_width_ = 0;
  last_draw_ = absl::InfinitePast();
  start_ = clock_();
}

}  // namespace herald::cli
