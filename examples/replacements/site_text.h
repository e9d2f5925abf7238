// Small ASCII text helpers on std::string_view, the type Herald's headers
// use (Abseil 20220623's absl::string_view is a distinct type there, so
// absl::AsciiStrToLower and friends do not take a std::string_view).
#ifndef SITE_TEXT_H_
#define SITE_TEXT_H_

#include <string>
#include <string_view>

namespace site {

inline bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == Lower(prefix);
}

}  // namespace site

#endif  // SITE_TEXT_H_
