// FindEqualityGuards (herald/expr.h): the guards of an expression, read off
// its syntax tree.
#include <string>
#include <vector>

#include "expr/parser.h"
#include "herald/expr.h"

namespace herald::expr {
namespace {

using internal::Ast;
using internal::Node;
using internal::NodeKind;
using internal::Op;

// "var.field" for a kSelect node on an identifier, else "".
std::string FieldPath(const Ast& ast, const Node& n) {
  if (n.kind != NodeKind::kSelect || n.children.size() != 1) return "";
  const Node& base = ast.node(n.children[0]);
  if (base.kind != NodeKind::kIdent) return "";
  return base.name + "." + n.name;
}

// `n` as a guard: `var.field == 'v'`, `'v' == var.field` or
// `var.field in ['v', ...]` (a list of string literals only).
bool GuardOf(const Ast& ast, const Node& n, EqualityGuard* guard) {
  if (n.kind != NodeKind::kBinary || n.children.size() != 2) return false;
  const Node& a = ast.node(n.children[0]);
  const Node& b = ast.node(n.children[1]);
  guard->values.clear();
  if (n.op == Op::kEq) {
    if (!(guard->path = FieldPath(ast, a)).empty() && b.kind == NodeKind::kString) {
      guard->values.push_back(b.text);
      return true;
    }
    if (!(guard->path = FieldPath(ast, b)).empty() && a.kind == NodeKind::kString) {
      guard->values.push_back(a.text);
      return true;
    }
    return false;
  }
  if (n.op != Op::kIn) return false;
  guard->path = FieldPath(ast, a);
  if (guard->path.empty() || b.kind != NodeKind::kList) return false;
  for (int c : b.children) {
    if (ast.node(c).kind != NodeKind::kString) return false;
    guard->values.push_back(ast.node(c).text);
  }
  return true;
}

}  // namespace

EqualityGuards FindEqualityGuards(std::string_view source) {
  EqualityGuards out;
  internal::ParseLimits limits;
  auto ast = internal::Parse(source, limits);
  if (!ast.ok() || ast->root < 0) return out;
  const Node& root = ast->node(ast->root);
  std::vector<int> conjuncts;
  if (root.kind == NodeKind::kAnd) {
    conjuncts = root.children;
  } else {
    conjuncts.push_back(ast->root);
  }
  out.conjuncts = static_cast<int>(conjuncts.size());
  EqualityGuard guard;
  for (int c : conjuncts) {
    if (GuardOf(*ast, ast->node(c), &guard)) out.guards.push_back(guard);
  }
  return out;
}

}  // namespace herald::expr
