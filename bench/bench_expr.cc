// Evaluating targeting expressions: Herald's compiled bytecode against a
// reference tree-walking interpreter over the same parse tree.
//
// BM_EvalTargeting_Herald/N   compile once, fill activations by slot, Evaluate
// BM_EvalTargeting_Reference/N walk herald's parse tree each time, with values
//                              in a std::variant and variables looked up by
//                              dotted name in a hash map (what a plain
//                              interpreter does)
// N selects the expression (3, 4 or 5 comparisons). Both run over the same
// eight user profiles (including absent attributes), and the program checks at
// start that both give the same result for every expression and profile.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "expr/ast.h"
#include "expr/parser.h"
#include "herald/expr.h"

namespace {

using herald::expr::internal::Ast;
using herald::expr::internal::Node;
using herald::expr::internal::NodeKind;
using herald::expr::internal::Op;

const char* const kExpressions[] = {
    // 3 comparisons
    "user.age >= 21 && user.state == 'WA' && context.page_group in ['sports', 'news']",
    // 4 comparisons
    "user.age >= 21 && user.state == 'WA' && context.page_group in ['sports', 'news'] && "
    "product.price > 20.00",
    // 5 comparisons
    "user.registered == true && user.age >= 18 && user.age < 65 && 'golf' in user.interests && "
    "product.price > 20.00",
};

// --- the reference interpreter ---------------------------------------------

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

// --- the inputs ---------------------------------------------------------------

struct Profile {
  bool has_age;
  int64_t age;
  const char* state;  // nullptr = absent
  bool has_registered;
  bool registered;
  const char* page_group;
  int64_t price_cents;
};

constexpr Profile kProfiles[] = {
    {true, 30, "WA", true, true, "sports", 2499},   {true, 19, "WA", true, true, "sports", 2499},
    {true, 45, "OR", true, false, "news", 1999},    {false, 0, "WA", false, false, "news", 2001},
    {true, 70, nullptr, true, true, "travel", 5000}, {true, 22, "WA", true, true, "news", 2000},
    {true, 64, "WA", true, true, "sports", 2500},   {true, 21, "WA", false, false, "sports", 2100},
};
constexpr int kProfileCount = sizeof(kProfiles) / sizeof(kProfiles[0]);

const std::vector<std::string_view>& Interests(int i) {
  static const std::vector<std::string_view> kGolf = {"books", "golf"};
  static const std::vector<std::string_view> kNone = {"travel"};
  return i % 2 == 0 ? kGolf : kNone;
}

herald::expr::Schema BenchSchema() {
  herald::expr::Schema s = herald::expr::Schema::WithBuiltins();
  (void)s.Declare("user.age", herald::expr::Type::kInt);
  (void)s.Declare("user.state", herald::expr::Type::kString);
  (void)s.Declare("user.registered", herald::expr::Type::kBool);
  (void)s.Declare("user.interests", herald::expr::Type::kStringList);
  (void)s.Declare("context.page_group", herald::expr::Type::kString);
  return s;
}

struct HeraldInputs {
  herald::expr::Schema schema = BenchSchema();
  std::vector<herald::expr::Activation> activations;

  HeraldInputs() {
    using herald::expr::Value;
    herald::expr::Slot age = schema.Find("user.age");
    herald::expr::Slot state = schema.Find("user.state");
    herald::expr::Slot registered = schema.Find("user.registered");
    herald::expr::Slot interests = schema.Find("user.interests");
    herald::expr::Slot page_group = schema.Find("context.page_group");
    herald::expr::Slot price = schema.Find("product.price");
    for (int i = 0; i < kProfileCount; ++i) {
      const Profile& p = kProfiles[i];
      herald::expr::Activation a(schema);
      if (p.has_age) a.Set(age, Value::Int(p.age));
      if (p.state != nullptr) a.Set(state, Value::String(p.state));
      if (p.has_registered) a.Set(registered, Value::Bool(p.registered));
      a.Set(interests, Value::StringList(Interests(i)));
      a.Set(page_group, Value::String(p.page_group));
      a.Set(price, Value::FromMoney(herald::expr::Money{p.price_cents, 2,
                                                        herald::expr::Currency::Of("USD")}));
      activations.push_back(std::move(a));
    }
  }
};

std::vector<Variables> ReferenceInputs() {
  std::vector<Variables> out;
  for (int i = 0; i < kProfileCount; ++i) {
    const Profile& p = kProfiles[i];
    Variables v;
    if (p.has_age) v["user.age"] = p.age;
    if (p.state != nullptr) v["user.state"] = std::string(p.state);
    if (p.has_registered) v["user.registered"] = p.registered;
    RefList interests;
    for (std::string_view s : Interests(i)) interests.emplace_back(s);
    v["user.interests"] = interests;
    v["context.page_group"] = std::string(p.page_group);
    v["product.price"] = RefMoney{p.price_cents, 2, "USD"};
    out.push_back(std::move(v));
  }
  return out;
}

Ast ParseOrDie(const char* source) {
  auto ast = herald::expr::internal::Parse(source, {});
  if (!ast.ok()) {
    std::fprintf(stderr, "parse failed: %s\n", std::string(ast.status().message()).c_str());
    std::abort();
  }
  return *std::move(ast);
}

herald::expr::Program CompileOrDie(const char* source, const herald::expr::Schema& schema) {
  auto program = herald::expr::CompileFilter(source, schema);
  if (!program.ok()) {
    std::fprintf(stderr, "compile failed: %s\n", std::string(program.status().message()).c_str());
    std::abort();
  }
  return *program;
}

// Both interpreters must agree on every expression and profile.
void CheckSameResults() {
  HeraldInputs herald_inputs;
  std::vector<Variables> ref_inputs = ReferenceInputs();
  for (const char* source : kExpressions) {
    herald::expr::Program program = CompileOrDie(source, herald_inputs.schema);
    Ast ast = ParseOrDie(source);
    for (int i = 0; i < kProfileCount; ++i) {
      herald::expr::Value h = program.Evaluate(herald_inputs.activations[i]);
      RefValue r = Reference(ast, ref_inputs[i]).Eval(ast.root);
      bool same;
      if (h.is_error()) {
        same = std::holds_alternative<RefError>(r) &&
               std::get<RefError>(r).reason == h.error_reason();
      } else {
        same = std::holds_alternative<bool>(r) && std::get<bool>(r) == h.bool_value();
      }
      if (!same) {
        std::fprintf(stderr, "MISMATCH on profile %d: %s\n  herald: %s\n", i, source,
                     h.DebugString().c_str());
        std::abort();
      }
    }
  }
}

void BM_EvalTargeting_Herald(benchmark::State& state) {
  HeraldInputs inputs;
  herald::expr::Program program = CompileOrDie(kExpressions[state.range(0)], inputs.schema);
  int i = 0;
  int64_t matches = 0;
  for (auto _ : state) {
    matches += program.Matches(inputs.activations[i]);
    i = (i + 1) & (kProfileCount - 1);
  }
  benchmark::DoNotOptimize(matches);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvalTargeting_Herald)->DenseRange(0, 2);

void BM_EvalTargeting_Reference(benchmark::State& state) {
  std::vector<Variables> inputs = ReferenceInputs();
  Ast ast = ParseOrDie(kExpressions[state.range(0)]);
  int i = 0;
  int64_t matches = 0;
  for (auto _ : state) {
    RefValue r = Reference(ast, inputs[i]).Eval(ast.root);
    const bool* b = std::get_if<bool>(&r);
    matches += b != nullptr && *b;
    i = (i + 1) & (kProfileCount - 1);
  }
  benchmark::DoNotOptimize(matches);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvalTargeting_Reference)->DenseRange(0, 2);

}  // namespace

int main(int argc, char** argv) {
  CheckSameResults();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
