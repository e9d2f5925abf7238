// Positions, caret excerpts and "did you mean" suggestions for expression
// errors (internal).
#ifndef HERALD_LIB_EXPR_DIAGNOSTICS_H_
#define HERALD_LIB_EXPR_DIAGNOSTICS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace herald::expr::internal {

struct LineColumn {
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in code points
};

LineColumn LineColumnAt(std::string_view source, uint32_t offset);

// "1:6: <message>\n<source line>\n     ^"
std::string FormatDiagnostic(std::string_view source, uint32_t offset,
                             std::string_view message, bool with_excerpt = true);

absl::Status SyntaxError(std::string_view source, uint32_t offset,
                         std::string_view message);
absl::Status LimitError(std::string_view source, uint32_t offset,
                        std::string_view message);

// Levenshtein distance, capped at `cap` + 1 (no allocation beyond two rows).
int EditDistance(std::string_view a, std::string_view b, int cap);

// The candidate nearest to `name` when it is close enough (distance at most
// max(1, size/3), at most 3), else empty.
std::string_view NearestName(std::string_view name,
                             absl::Span<const std::string_view> candidates);

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_DIAGNOSTICS_H_
