// Shared fixtures of the expression tests: a schema with typical user,
// context and product attributes, and helpers that compile and evaluate.
#ifndef HERALD_TEST_EXPR_EXPR_TEST_UTIL_H_
#define HERALD_TEST_EXPR_EXPR_TEST_UTIL_H_

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "herald/expr.h"

namespace herald::expr::testing {

inline Schema TestSchema() {
  Schema s = Schema::WithBuiltins();
  const std::pair<std::string_view, Type> kVars[] = {
      {"user.age", Type::kInt},
      {"user.state", Type::kString},
      {"user.registered", Type::kBool},
      {"user.name", Type::kString},
      {"user.score", Type::kDouble},
      {"user.interests", Type::kStringList},
      {"user.birthday", Type::kTimestamp},
      {"user.balance", Type::kMoney},
      {"user.gender", Type::kString},
      {"context.page_group", Type::kString},
      {"context.page", Type::kString},
      {"context.tz", Type::kString},
      {"product.manufacturer", Type::kString},
  };
  for (const auto& [path, type] : kVars) {
    auto slot = s.Declare(path, type);
    REQUIRE(slot.ok());
  }
  return s;
}

inline Money Usd(int64_t cents) { return Money{cents, 2, Currency::Of("USD")}; }

// A schema, an activation over it, and helpers. The default activation holds
// a typical registered adult in WA on the sports page, a $24.99 product and
// now = 2026-06-01T18:30:00Z (11:30 in Los Angeles, a Monday).
class Env {
 public:
  Env() : schema_(TestSchema()), activation_(schema_) { Reset(); }

  void Reset() {
    activation_.Clear();
    Set("user.age", Value::Int(30));
    Set("user.state", Value::String("WA"));
    Set("user.registered", Value::Bool(true));
    Set("user.name", Value::String("Ada Lovelace"));
    Set("user.score", Value::Double(0.75));
    Set("user.interests", Value::StringList(interests_));
    Set("context.page_group", Value::String("sports"));
    Set("product.id", Value::String("SKU-1"));
    Set("product.category", Value::String("books"));
    Set("product.price", Value::FromMoney(Usd(2499)));
    Set("product.quantity", Value::Int(2));
    Set("basket.subtotal", Value::FromMoney(Usd(4998)));
    Set("basket.currency", Value::String("USD"));
    Set("now", Value::Timestamp(absl::FromUnixSeconds(1780338600)));  // 2026-06-01T18:30:00Z
  }

  void Set(std::string_view path, Value v) {
    Slot slot = schema_.Find(path);
    REQUIRE(slot.valid());
    activation_.Set(slot, v);
  }
  void Unset(std::string_view path) { activation_.Unset(schema_.Find(path)); }

  absl::StatusOr<Program> Compile(std::string_view source, CompileOptions options = {}) {
    return expr::Compile(source, schema_, options);
  }

  // The value as DebugString(), failing the test on a compile error.
  std::string Eval(std::string_view source) {
    auto program = Compile(source);
    INFO(source);
    if (!program.ok()) FAIL(std::string(program.status().message()));
    programs_.push_back(*program);
    return programs_.back().Evaluate(activation_).DebugString();
  }

  // The compile error message, failing the test when it compiles.
  std::string CompileError(std::string_view source, CompileOptions options = {}) {
    auto program = Compile(source, options);
    INFO(source);
    if (program.ok()) FAIL("compiled, expected an error");
    return std::string(program.status().message());
  }

  // The first line of the compile error ("1:6: unknown field ...").
  std::string CompileErrorLine(std::string_view source) {
    std::string m = CompileError(source);
    return m.substr(0, m.find('\n'));
  }

  const Schema& schema() const { return schema_; }
  Activation& activation() { return activation_; }

 private:
  std::vector<std::string_view> interests_ = {"golf", "books", "travel"};
  Schema schema_;
  Activation activation_;
  std::vector<Program> programs_;
};

}  // namespace herald::expr::testing

#endif  // HERALD_TEST_EXPR_EXPR_TEST_UTIL_H_
