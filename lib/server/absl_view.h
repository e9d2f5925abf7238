// Debian's abseil has its own absl::string_view (not std::string_view), so
// views cross between the two explicitly.
#ifndef HERALD_LIB_SERVER_ABSL_VIEW_H_
#define HERALD_LIB_SERVER_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace herald::server_internal {

inline absl::string_view AbslView(std::string_view v) { return absl::string_view(v.data(), v.size()); }
inline std::string_view StdView(absl::string_view v) { return std::string_view(v.data(), v.size()); }

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_ABSL_VIEW_H_
