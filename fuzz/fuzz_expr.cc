// libFuzzer target for the expression language: every input is compiled,
// checked and unchecked, against a schema with each variable type, then (if
// it compiles) evaluated against three activations: all attributes set, all
// absent, and edge values (extreme ints, NaN, empty strings, another
// currency, the ends of time).
// No input may crash, hang or leak; errors must be Status or error values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "herald/expr.h"

namespace {

using herald::expr::Activation;
using herald::expr::Currency;
using herald::expr::Money;
using herald::expr::Schema;
using herald::expr::Slot;
using herald::expr::Type;
using herald::expr::Value;

struct Fixture {
  Schema schema = Schema::WithBuiltins();
  std::vector<std::string_view> interests = {"golf", "books", ""};
  std::vector<std::string_view> empty_list;
  Activation full{size_t{0}};
  Activation absent{size_t{0}};
  Activation edge{size_t{0}};

  Fixture() {
    const std::pair<std::string_view, Type> kVars[] = {
        {"user.age", Type::kInt},           {"user.state", Type::kString},
        {"user.registered", Type::kBool},   {"user.score", Type::kDouble},
        {"user.interests", Type::kStringList}, {"user.birthday", Type::kTimestamp},
        {"user.balance", Type::kMoney},     {"user.wait", Type::kDuration},
        {"context.page_group", Type::kString}, {"context.page", Type::kString},
    };
    for (const auto& [path, type] : kVars) (void)schema.Declare(path, type);
    full = Activation(schema);
    absent = Activation(schema);
    edge = Activation(schema);
    auto set = [&](Activation& a, std::string_view path, Value v) { a.Set(schema.Find(path), v); };
    set(full, "user.age", Value::Int(30));
    set(full, "user.state", Value::String("WA"));
    set(full, "user.registered", Value::Bool(true));
    set(full, "user.score", Value::Double(0.5));
    set(full, "user.interests", Value::StringList(interests));
    set(full, "user.birthday", Value::Timestamp(absl::FromUnixSeconds(0)));
    set(full, "user.balance", Value::FromMoney(Money{1999, 2, Currency::Of("USD")}));
    set(full, "user.wait", Value::Duration(absl::Minutes(90)));
    set(full, "context.page_group", Value::String("sports"));
    set(full, "product.id", Value::String("SKU-1"));
    set(full, "product.category", Value::String("books"));
    set(full, "product.price", Value::FromMoney(Money{2499, 2, Currency::Of("USD")}));
    set(full, "product.quantity", Value::Int(2));
    set(full, "basket.subtotal", Value::FromMoney(Money{4998, 2, Currency::Of("USD")}));
    set(full, "basket.currency", Value::String("USD"));
    set(full, "now", Value::Timestamp(absl::FromUnixSeconds(1780338600)));

    set(edge, "user.age", Value::Int(std::numeric_limits<int64_t>::min()));
    set(edge, "user.state", Value::String(""));
    set(edge, "user.registered", Value::Bool(false));
    set(edge, "user.score", Value::Double(std::nan("")));
    set(edge, "user.interests", Value::StringList(empty_list));
    set(edge, "user.birthday", Value::Timestamp(absl::FromUnixSeconds(253402300799)));
    set(edge, "user.balance",
        Value::FromMoney(Money{std::numeric_limits<int64_t>::max(), 18, Currency::Of("EUR")}));
    set(edge, "user.wait", Value::Duration(absl::Nanoseconds(std::numeric_limits<int64_t>::min())));
    set(edge, "product.price", Value::FromMoney(Money{-1, 0, Currency::Of("JPY")}));
    set(edge, "product.quantity", Value::Int(std::numeric_limits<int64_t>::max()));
    set(edge, "now", Value::Timestamp(absl::FromUnixSeconds(-62135596800)));
    set(edge, "context.page", Value::Error("profile store unavailable"));
  }
};

void CompileAndRun(std::string_view source, Fixture& f, bool unchecked) {
  herald::expr::CompileOptions options;
  options.unchecked = unchecked;
  auto program = herald::expr::Compile(source, f.schema, options);
  if (!program.ok()) {
    // The message must be well formed: "line:column: ...".
    if (program.status().message().empty()) __builtin_trap();
    return;
  }
  for (Activation* a : {&f.full, &f.absent, &f.edge}) {
    Value v = program->Evaluate(*a);
    (void)v.DebugString();
    (void)v.JsonString();
    if (v.is_error()) (void)program->DescribeError(v, true);
    Value why;
    (void)program->Matches(*a, &why);
  }
}

}  // namespace

// Each input is compiled checked (as catalogs are) and unchecked (type errors
// deferred to run time, CompileOptions::unchecked).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  std::string_view source(reinterpret_cast<const char*>(data), size);
  CompileAndRun(source, *fixture, false);
  CompileAndRun(source, *fixture, true);
  return 0;
}
