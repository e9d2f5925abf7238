// A plain tree-walking interpreter over Herald's parse tree: the reference
// that the benchmarks compare compiled expressions (and the selector) with.
// Values live in a std::variant and variables are looked up by dotted name in
// a hash map, as a straightforward interpreter does. Shared by bench_expr.cc
// and bench_select.cc; checked against Herald's evaluator at the start of each.
#ifndef HERALD_BENCH_REFERENCE_EXPR_H_
#define HERALD_BENCH_REFERENCE_EXPR_H_

#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "expr/ast.h"
#include "herald/expr.h"

namespace herald::bench {

using herald::expr::internal::Ast;
using herald::expr::internal::Node;
using herald::expr::internal::NodeKind;
using herald::expr::internal::Op;

struct RefMoney {
  __int128 units = 0;
  int scale = 0;
  std::string currency;
};
struct RefError {
  std::string reason;
};
using RefList = std::vector<std::string>;
using RefValue =
    std::variant<std::monostate, bool, int64_t, double, std::string, RefMoney, RefList, RefError>;
using Variables = std::unordered_map<std::string, RefValue>;

class Reference {
 public:
  Reference(const Ast& ast, const Variables& vars) : ast_(ast), vars_(vars) {}

  RefValue Eval(int id) {
    const Node& n = ast_.node(id);
    switch (n.kind) {
      case NodeKind::kNull: return std::monostate{};
      case NodeKind::kBool: return n.bool_value;
      case NodeKind::kInt: return n.int_value;
      case NodeKind::kDouble: return n.double_value;
      case NodeKind::kString: return n.text;
      case NodeKind::kIdent:
      case NodeKind::kSelect: {
        std::string path = PathOf(id);
        auto it = vars_.find(path);
        if (it == vars_.end()) return RefError{path + " is not set"};
        return it->second;
      }
      case NodeKind::kUnary: {
        RefValue v = Eval(n.children[0]);
        if (std::holds_alternative<RefError>(v)) return v;
        if (n.op == Op::kNot) {
          if (auto* b = std::get_if<bool>(&v)) return !*b;
          return RefError{"no matching overload"};
        }
        if (auto* i = std::get_if<int64_t>(&v)) return -*i;
        if (auto* d = std::get_if<double>(&v)) return -*d;
        return RefError{"no matching overload"};
      }
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        bool is_and = n.kind == NodeKind::kAnd;
        RefValue error;
        bool have_error = false;
        for (int child : n.children) {
          RefValue v = Eval(child);
          if (auto* b = std::get_if<bool>(&v)) {
            if (*b != is_and) return *b;  // false for &&, true for ||
          } else if (!have_error) {
            error = std::holds_alternative<RefError>(v) ? v : RefValue(RefError{"not a bool"});
            have_error = true;
          }
        }
        if (have_error) return error;
        return is_and;
      }
      case NodeKind::kCond: {
        RefValue c = Eval(n.children[0]);
        if (auto* b = std::get_if<bool>(&c)) return Eval(n.children[*b ? 1 : 2]);
        return std::holds_alternative<RefError>(c) ? c : RefValue(RefError{"not a bool"});
      }
      case NodeKind::kBinary:
        return Binary(n);
      case NodeKind::kCall:
        if (n.name == "has" && !n.is_method) {
          return vars_.count(PathOf(n.children[0])) > 0;
        }
        return RefError{"unsupported call " + n.name};
      default:
        return RefError{"unsupported expression"};
    }
  }

 private:
  std::string PathOf(int id) {
    const Node& n = ast_.node(id);
    if (n.kind == NodeKind::kIdent) return n.name;
    return PathOf(n.children[0]) + "." + n.name;
  }

  // Numeric literals beside money are read exactly from their text.
  RefValue AsMoneyIfLiteral(int id, const RefValue& v) {
    const Node& n = ast_.node(id);
    if (n.kind != NodeKind::kInt && n.kind != NodeKind::kDouble) return v;
    auto d = herald::expr::ParseDecimal(n.text);
    if (!d.ok()) return RefError{"bad amount"};
    return RefMoney{d->minor_units, d->scale, ""};
  }

  // -1, 0, 1; 2 = unordered; 3 = incomparable; 4 = currency mismatch.
  static int Order(const RefValue& a, const RefValue& b) {
    auto three = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
    if (a.index() == b.index()) {
      if (auto* x = std::get_if<bool>(&a)) return three(*x, std::get<bool>(b));
      if (auto* x = std::get_if<int64_t>(&a)) return three(*x, std::get<int64_t>(b));
      if (auto* x = std::get_if<double>(&a)) {
        double y = std::get<double>(b);
        if (*x != *x || y != y) return 2;
        return three(*x, y);
      }
      if (auto* x = std::get_if<std::string>(&a)) return three(*x, std::get<std::string>(b));
      if (auto* x = std::get_if<RefMoney>(&a)) {
        const RefMoney& y = std::get<RefMoney>(b);
        if (!x->currency.empty() && !y.currency.empty() && x->currency != y.currency) return 4;
        __int128 u = x->units, v = y.units;
        for (int s = x->scale; s < y.scale; ++s) u *= 10;
        for (int s = y.scale; s < x->scale; ++s) v *= 10;
        return three(u, v);
      }
      if (std::holds_alternative<std::monostate>(a)) return 0;
      return 3;
    }
    if (auto* i = std::get_if<int64_t>(&a)) {
      if (auto* d = std::get_if<double>(&b)) {
        if (*d != *d) return 2;
        return three(static_cast<long double>(*i), static_cast<long double>(*d));
      }
    }
    if (auto* d = std::get_if<double>(&a)) {
      if (auto* i = std::get_if<int64_t>(&b)) {
        if (*d != *d) return 2;
        return three(static_cast<long double>(*d), static_cast<long double>(*i));
      }
    }
    return 3;
  }

  RefValue Binary(const Node& n) {
    RefValue a = Eval(n.children[0]);
    if (std::holds_alternative<RefError>(a)) return a;
    if (n.op == Op::kIn) {
      const Node& list = ast_.node(n.children[1]);
      if (list.kind == NodeKind::kList) {
        for (int child : list.children) {
          RefValue e = Eval(child);
          if (std::holds_alternative<RefError>(e)) return e;
          if (std::holds_alternative<RefMoney>(a)) e = AsMoneyIfLiteral(child, e);
          if (Order(a, e) == 0) return true;
        }
        return false;
      }
      RefValue l = Eval(n.children[1]);
      if (std::holds_alternative<RefError>(l)) return l;
      if (auto* strings = std::get_if<RefList>(&l)) {
        auto* s = std::get_if<std::string>(&a);
        if (s == nullptr) return false;
        for (const std::string& e : *strings) {
          if (e == *s) return true;
        }
        return false;
      }
      return RefError{"no matching overload"};
    }
    RefValue b = Eval(n.children[1]);
    if (std::holds_alternative<RefError>(b)) return b;
    if (std::holds_alternative<RefMoney>(a)) b = AsMoneyIfLiteral(n.children[1], b);
    if (std::holds_alternative<RefMoney>(b)) a = AsMoneyIfLiteral(n.children[0], a);
    switch (n.op) {
      case Op::kEq:
      case Op::kNe: {
        int o = Order(a, b);
        if (o == 4) return RefError{"amounts of different currencies"};
        return (o == 0) == (n.op == Op::kEq);
      }
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        int o = Order(a, b);
        if (o == 4) return RefError{"amounts of different currencies"};
        if (o == 3) return RefError{"no matching overload"};
        if (o == 2) return false;
        if (n.op == Op::kLt) return o < 0;
        if (n.op == Op::kLe) return o <= 0;
        if (n.op == Op::kGt) return o > 0;
        return o >= 0;
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul: {
        auto* x = std::get_if<int64_t>(&a);
        auto* y = std::get_if<int64_t>(&b);
        if (x == nullptr || y == nullptr) return RefError{"no matching overload"};
        int64_t r;
        bool overflow = n.op == Op::kAdd   ? __builtin_add_overflow(*x, *y, &r)
                        : n.op == Op::kSub ? __builtin_sub_overflow(*x, *y, &r)
                                           : __builtin_mul_overflow(*x, *y, &r);
        if (overflow) return RefError{"integer overflow"};
        return r;
      }
      default:
        return RefError{"unsupported operator"};
    }
  }

  const Ast& ast_;
  const Variables& vars_;
};

}  // namespace herald::bench

#endif  // HERALD_BENCH_REFERENCE_EXPR_H_
