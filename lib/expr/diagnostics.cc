#include "expr/diagnostics.h"
#include "expr/strings.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "herald/spelling.h"

namespace herald::expr::internal {
namespace {

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

LineColumn LineColumnAt(std::string_view source, uint32_t offset) {
  LineColumn lc;
  size_t end = std::min<size_t>(offset, source.size());
  for (size_t i = 0; i < end; ++i) {
    char c = source[i];
    if (c == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if (c == '\r') {
      if (i + 1 < source.size() && source[i + 1] == '\n') continue;
      ++lc.line;
      lc.column = 1;
    } else if (!IsContinuationByte(c)) {
      ++lc.column;
    }
  }
  return lc;
}

std::string FormatDiagnostic(std::string_view source, uint32_t offset,
                             std::string_view message, bool with_excerpt) {
  LineColumn lc = LineColumnAt(source, offset);
  std::string out = Cat(lc.line, ":", lc.column, ": ", message);
  if (!with_excerpt) return out;
  size_t at = std::min<size_t>(offset, source.size());
  size_t begin = at;
  while (begin > 0 && source[begin - 1] != '\n' && source[begin - 1] != '\r') --begin;
  size_t end = at;
  while (end < source.size() && source[end] != '\n' && source[end] != '\r') ++end;
  std::string_view line = source.substr(begin, end - begin);
  Append(&out, "\n", line, "\n");
  // Tabs stay tabs so that the caret lines up in a terminal.
  for (size_t i = begin; i < at; ++i) {
    char c = source[i];
    if (IsContinuationByte(c)) continue;
    out.push_back(c == '\t' ? '\t' : ' ');
  }
  out.push_back('^');
  return out;
}

absl::Status SyntaxError(std::string_view source, uint32_t offset,
                         std::string_view message) {
  return absl::InvalidArgumentError(FormatDiagnostic(source, offset, message));
}

absl::Status LimitError(std::string_view source, uint32_t offset,
                        std::string_view message) {
  return absl::ResourceExhaustedError(FormatDiagnostic(source, offset, message));
}

// The CLI and the catalog loader use the same suggestions (herald/spelling.h).
int EditDistance(std::string_view a, std::string_view b, int cap) {
  return herald::EditDistance(a, b, cap);
}

std::string_view NearestName(std::string_view name,
                             absl::Span<const std::string_view> candidates) {
  return herald::NearestName(name, candidates);
}

}  // namespace herald::expr::internal
