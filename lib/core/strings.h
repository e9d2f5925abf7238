// Internal: string helpers that accept std::string_view.
//
// Debian 12's Abseil is built with its own absl::string_view class
// (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::StrCat does not take a
// std::string_view. Cat() does, and numbers, and absl::string_view.
#ifndef HERALD_LIB_CORE_STRINGS_H_
#define HERALD_LIB_CORE_STRINGS_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/string_map.h"

namespace herald {

inline void CatPiece(std::string& out, std::string_view v) { out.append(v.data(), v.size()); }
inline void CatPiece(std::string& out, const char* v) { out.append(v == nullptr ? "(null)" : v); }
inline void CatPiece(std::string& out, const std::string& v) { out.append(v); }
template <typename T>
  requires(std::is_same_v<T, absl::string_view> && !std::is_same_v<T, std::string_view>)
inline void CatPiece(std::string& out, T v) {
  out.append(v.data(), v.size());
}
template <typename T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, bool>)
inline void CatPiece(std::string& out, T v) {
  absl::StrAppend(&out, v);
}
inline void CatPiece(std::string& out, char v) { out.push_back(v); }
inline void CatPiece(std::string& out, bool v) { out.append(v ? "true" : "false"); }

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (CatPiece(out, args), ...);
  return out;
}

// Appends to `out`.
template <typename... Args>
void CatTo(std::string& out, const Args&... args) {
  (CatPiece(out, args), ...);
}

// Joins a range of string-like pieces with `sep`.
template <typename Range>
std::string Join(const Range& pieces, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& piece : pieces) {
    if (!first) out.append(sep.data(), sep.size());
    first = false;
    CatPiece(out, piece);
  }
  return out;
}

// absl::string_view of a std::string_view (for absl APIs).
inline absl::string_view AbslView(std::string_view v) { return absl::string_view(v.data(), v.size()); }

}  // namespace herald

#endif  // HERALD_LIB_CORE_STRINGS_H_
