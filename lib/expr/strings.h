// Small string helpers over std::string_view (internal). Debian's Abseil is
// built with its own absl::string_view, distinct from std::string_view, so
// absl::StrCat and absl::StrSplit do not take std::string_view arguments.
#ifndef HERALD_LIB_EXPR_STRINGS_H_
#define HERALD_LIB_EXPR_STRINGS_H_

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace herald::expr::internal {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline void AppendPiece(std::string* out, std::string_view s) { out->append(s); }
inline void AppendPiece(std::string* out, const char* s) { out->append(s); }
inline void AppendPiece(std::string* out, const std::string& s) { out->append(s); }
inline void AppendPiece(std::string* out, char c) { out->push_back(c); }
inline void AppendPiece(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
template <std::integral I>
  requires(!std::same_as<I, char> && !std::same_as<I, bool>)
inline void AppendPiece(std::string* out, I v) {
  out->append(std::to_string(v));
}

template <typename... Args>
void Append(std::string* out, const Args&... args) {
  (AppendPiece(out, args), ...);
}

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(&out, args), ...);
  return out;
}

inline std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_STRINGS_H_
