// herald/spelling.h: name distances and did-you-mean suggestions. In expr,
// which needs nothing else of Herald, because expression errors suggest
// names too; core's catalog checks and every module above use them from here.
#include "herald/spelling.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/strings.h"  // header only

namespace herald {

int EditDistance(std::string_view a, std::string_view b, int cap) {
  if (a.size() > b.size()) std::swap(a, b);
  if (static_cast<int>(b.size() - a.size()) > cap) return cap + 1;
  std::vector<int> prev(a.size() + 1), cur(a.size() + 1);
  for (size_t i = 0; i <= a.size(); ++i) prev[i] = static_cast<int>(i);
  for (size_t j = 1; j <= b.size(); ++j) {
    cur[0] = static_cast<int>(j);
    int row_min = cur[0];
    for (size_t i = 1; i <= a.size(); ++i) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[i] = std::min({prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + cost});
      row_min = std::min(row_min, cur[i]);
    }
    if (row_min > cap) return cap + 1;
    std::swap(prev, cur);
  }
  return std::min(prev[a.size()], cap + 1);
}

std::string_view NearestName(std::string_view name, absl::Span<const std::string_view> candidates) {
  int cap = std::clamp(static_cast<int>(name.size()) / 3, 1, 3);
  std::string_view best;
  int best_distance = cap + 1;
  for (std::string_view candidate : candidates) {
    int d = EditDistance(name, candidate, cap);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string_view NearestName(std::string_view name, absl::Span<const std::string> candidates) {
  std::vector<std::string_view> views(candidates.begin(), candidates.end());
  return NearestName(name, absl::MakeConstSpan(views));
}

std::string DidYouMean(std::string_view name, absl::Span<const std::string> candidates) {
  std::string_view near = NearestName(name, candidates);
  return near.empty() ? std::string() : Cat("; did you mean \"", near, "\"?");
}

absl::Status CheckKnownName(std::string_view what, std::string_view name, absl::Span<const std::string> known) {
  for (const std::string& k : known) {
    if (k == name) return absl::OkStatus();
  }
  std::string list;
  for (size_t i = 0; i < known.size() && i < 20; ++i) CatTo(list, i == 0 ? "" : ", ", known[i]);
  if (known.size() > 20) CatTo(list, ", ... (", known.size(), " in all)");
  return absl::InvalidArgumentError(Cat("unknown ", what, " \"", name, "\"", DidYouMean(name, known),
                                        known.empty() ? std::string(" (none is declared)") : Cat(" (known: ", list, ")")));
}

}  // namespace herald
