// herald/web.h's helpers, shared by the decision API and the Business Desk.
#include "herald/web.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "server/absl_view.h"

namespace herald {

using server_internal::AbslView;
using server_internal::StdView;

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    int value = 0;
    if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && absl::SimpleHexAtoi(AbslView(in.substr(i + 1, 2)), &value)) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::string QueryParam(std::string_view query, std::string_view name) {
  for (absl::string_view pair : absl::StrSplit(AbslView(query), '&')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (StdView(kv.first) == name) return PercentDecode(StdView(kv.second), /*plus_is_space=*/true);
  }
  return "";
}

}  // namespace herald
