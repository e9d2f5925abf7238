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
#include "reference_expr.h"

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

// --- the reference interpreter: bench/reference_expr.h -----------------------

using herald::bench::Reference;
using herald::bench::RefError;
using herald::bench::RefList;
using herald::bench::RefMoney;
using herald::bench::RefValue;
using herald::bench::Variables;

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
