// Lexer and recursive-descent parser of Herald expressions (internal). The
// grammar is CEL's (cel-spec doc/langdef.md, "Syntax"), without map and
// message construction. Depth is checked before every recursion, and the
// height of the produced tree is bounded, so no input overflows the stack.
#ifndef HERALD_LIB_EXPR_PARSER_H_
#define HERALD_LIB_EXPR_PARSER_H_

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "expr/ast.h"

namespace herald::expr::internal {

struct ParseLimits {
  int max_depth = 64;
  size_t max_source_bytes = 16 * 1024;
  int max_nodes = 4096;
};

// InvalidArgument for syntax errors, ResourceExhausted beyond the limits; the
// message is "line:column: what\n<line>\n<caret>".
absl::StatusOr<Ast> Parse(std::string_view source, const ParseLimits& limits);

// Decodes the body of a string literal (between the quotes). On error returns
// false and sets *error_at to the offending byte within `body`.
// With `bytes`, \x and octal escapes are single bytes (b'\xff' is one byte).
bool DecodeStringBody(std::string_view body, bool raw, std::string* out,
                      size_t* error_at, std::string* error, bool bytes = false);

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_PARSER_H_
