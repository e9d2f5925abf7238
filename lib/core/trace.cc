#include "core/strings.h"
#include "herald/trace.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace herald {

void Trace::Enter(std::string_view stage, std::string_view component) {
  stage_.assign(stage);
  component_.assign(component);
}

void Trace::Note(std::string_view subject, std::string_view verdict, std::string_view reason,
                 double value) {
  entries_.push_back(TraceEntry{stage_, component_, std::string(subject), std::string(verdict),
                                std::string(reason), value, {}});
}

std::string Trace::ToText(bool include_timings) const {
  std::string out;
  for (const TraceEntry& e : entries_) {
    if (e.verdict == "timing") {
      if (!include_timings) continue;
      CatTo(out, "[", e.stage, "] ", e.component, ": ",
                      absl::FormatDuration(e.elapsed), "\n");
      continue;
    }
    CatTo(out, "[", e.stage, "] ", e.component, ": ");
    if (!e.subject.empty()) CatTo(out, e.subject, " ");
    CatTo(out, e.verdict);
    if (e.value != 0 || e.verdict == "multiplier" || e.verdict == "score") {
      CatTo(out, absl::StrFormat(" %.4g", e.value));
    }
    if (!e.reason.empty()) CatTo(out, " (", e.reason, ")");
    out.push_back('\n');
  }
  return out;
}

std::string Trace::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const TraceEntry& e : entries_) {
    nlohmann::json j = {{"stage", e.stage}, {"component", e.component}, {"verdict", e.verdict}};
    if (!e.subject.empty()) j["subject"] = e.subject;
    if (!e.reason.empty()) j["reason"] = e.reason;
    if (e.verdict == "timing") {
      j["elapsed_us"] = absl::ToDoubleMicroseconds(e.elapsed);
    } else {
      j["value"] = e.value;
    }
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace herald
