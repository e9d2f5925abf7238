// Evaluation: values, missing values, money, time zones, strings, activations.
#include <catch2/catch.hpp>

#include <deque>

#include "expr/expr_test_util.h"
#include "herald/expr.h"
#include "herald/model/catalog.pb.h"

namespace herald::expr {
namespace {

using testing::Env;
using testing::Usd;

TEST_CASE("targeting expressions evaluate against the activation", "[expr][eval]") {
  Env env;
  CHECK(env.Eval("user.age >= 21") == "true");
  CHECK(env.Eval("user.age < 21") == "false");
  CHECK(env.Eval("user.state == 'WA' && context.page_group in ['sports', 'news']") == "true");
  CHECK(env.Eval("user.state != \"WA\" || user.registered") == "true");
  CHECK(env.Eval("user.age + 1") == "31");
  CHECK(env.Eval("user.score * 2.0") == "1.5");
  CHECK(env.Eval("user.name") == "\"Ada Lovelace\"");
  CHECK(env.Eval("'books' in user.interests") == "true");
  CHECK(env.Eval("'chess' in user.interests") == "false");
  CHECK(env.Eval("size(user.interests)") == "3");
  CHECK(env.Eval("user.interests.size() == 3") == "true");
  CHECK(env.Eval("user.interests[1]") == "\"books\"");
  CHECK(env.Eval("user.age > 18 ? 'adult' : 'minor'") == "\"adult\"");
  CHECK(env.Eval("21 <= user.age") == "true");  // constant on the left
  CHECK(env.Eval("[1, 2, 3]") == "[1, 2, 3]");
}

// String equality compares short strings inline with overlapping loads
// (lib/expr/evaluator.cc, StrEq): every length around the 1/2/4/8/16-byte
// boundaries, a difference at every position, against std::string's == and <.
TEST_CASE("string equality agrees with std::string at every length and position",
          "[expr][eval][strings]") {
  Env env;
  for (size_t n = 0; n <= 40; ++n) {
    std::string a;
    for (size_t k = 0; k < n; ++k) a.push_back(static_cast<char>('a' + (k * 7 + n) % 26));
    env.Set("user.name", Value::String(a));
    CHECK(env.Eval("user.name == '" + a + "'") == "true");
    CHECK(env.Eval("user.name in ['x', '" + a + "']") == "true");
    CHECK(env.Eval("user.name == '" + a + "z'") == "false");  // longer
    if (n > 0) CHECK(env.Eval("user.name == '" + a.substr(1) + "'") == "false");  // shorter
    for (size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] = b[i] == 'q' ? 'r' : 'q';
      INFO("length " << n << ", differing at " << i << ": " << a << " vs " << b);
      CHECK(env.Eval("user.name == '" + b + "'") == "false");
      CHECK(env.Eval("user.name != '" + b + "'") == "true");
      CHECK(env.Eval("user.name in ['" + b + "']") == "false");
      CHECK(env.Eval("user.name < '" + b + "'") == (a < b ? "true" : "false"));
    }
  }
}

// CompileOptions::unchecked (CEL's disable_check): type errors become runtime
// errors that &&, || and ?: may absorb; checked compilation is unchanged.
TEST_CASE("unchecked compilation defers type errors to run time, where && || ?: absorb them",
          "[expr][eval][unchecked]") {
  Env env;
  CompileOptions unchecked;
  unchecked.unchecked = true;
  auto eval = [&](std::string_view source) {
    auto program = env.Compile(source, unchecked);
    INFO(source);
    REQUIRE(program.ok());
    static std::deque<Program> keep;  // values may borrow from the program
    keep.push_back(*program);
    return keep.back().Evaluate(env.activation()).DebugString();
  };
  // Checked, each is a compile error naming the place.
  CHECK(env.CompileErrorLine("x || true") == "1:1: unknown variable x");
  CHECK(env.CompileErrorLine("false && 32").starts_with("1:10: operand of && must be a bool"));
  CHECK(env.CompileErrorLine("true ? 'cows' : 17").find("different types") != std::string::npos);
  // Unchecked, absorbed where CEL absorbs them...
  CHECK(eval("x || true") == "true");
  CHECK(eval("false && x") == "false");
  CHECK(eval("f_unknown(17) || true") == "true");
  CHECK(eval("user.name.no_such_method() || true") == "true");
  CHECK(eval("false && 32") == "false");
  CHECK(eval("'horses' || true") == "true");
  CHECK(eval("true ? 'cows' : 17") == "\"cows\"");
  CHECK(eval("false ? 'cows' : 17") == "17");
  CHECK(eval("user.age > 21 || 1 + 'a' == 2") == "true");
  // ...and errors, with the compile message and position, where reached.
  CHECK(eval("x && true") == "error(unknown variable x)");
  CHECK(eval("true && 32") == "error(not a bool)");
  CHECK(eval("f_unknown(17)").starts_with("error(unknown function f_unknown"));
  CHECK(eval("{3.3: 15, 1.0: 5}[1.0]").starts_with("error(a map key must be"));
  // Syntax errors and limits fail in both modes.
  CHECK_FALSE(env.Compile("x ||", unchecked).ok());
  std::string deep = std::string(100, '(') + "1" + std::string(100, ')');
  absl::StatusOr<Program> too_deep = env.Compile(deep, unchecked);
  REQUIRE_FALSE(too_deep.ok());
  CHECK(absl::IsResourceExhausted(too_deep.status()));
  // The errors keep their positions for DescribeError.
  auto program = env.Compile("true && (1 + 'a' == 2)", unchecked);
  REQUIRE(program.ok());
  Value error = program->Evaluate(env.activation());
  REQUIRE(error.is_error());
  CHECK(error.error_offset() == 11);
}

TEST_CASE("the spec's examples", "[expr][eval][spec]") {
  Env env;
  // "Price of product is greater than $20.00" (a discount condition).
  CHECK(env.Eval("product.price > 20.00") == "true");
  env.Set("product.price", Value::FromMoney(Usd(1999)));
  CHECK(env.Eval("product.price > 20.00") == "false");
  env.Set("product.price", Value::FromMoney(Usd(2000)));
  CHECK(env.Eval("product.price > 20.00") == "false");
  CHECK(env.Eval("product.price >= 20") == "true");
  // "User is registered" (an eligibility expression).
  CHECK(env.Eval("user.registered == true") == "true");
  CHECK(env.Eval("has(user.registered) && user.registered") == "true");
  env.Unset("user.registered");
  CHECK(env.Eval("has(user.registered) && user.registered") == "false");
  // "Current Time > 5 pm and < 9 pm" (a happy hour), in Los Angeles.
  const char* happy_hour =
      "now.getHours('America/Los_Angeles') >= 17 && now.getHours('America/Los_Angeles') < 21";
  CHECK(env.Eval(happy_hour) == "false");  // 11:30 in Los Angeles
  env.Set("now", Value::Timestamp(absl::FromUnixSeconds(1780338600) + absl::Hours(7)));
  CHECK(env.Eval(happy_hour) == "true");  // 18:30 in Los Angeles
}

TEST_CASE("absent attributes: has() is false - reads are errors - filters are false",
          "[expr][eval][missing]") {
  Env env;
  env.Unset("user.age");
  CHECK(env.Eval("has(user.age)") == "false");
  CHECK(env.Eval("user.age > 21") == "error(user.age is not set)");
  CHECK(env.Eval("has(user.age) && user.age > 21") == "false");
  CHECK(env.Eval("!has(user.age) || user.age > 21") == "true");
  // && and || absorb the error when the other side decides.
  CHECK(env.Eval("user.age > 21 && false") == "false");
  CHECK(env.Eval("user.age > 21 || true") == "true");
  CHECK(env.Eval("user.age > 21 && true") == "error(user.age is not set)");
  env.Unset("user.interests");
  CHECK(env.Eval("'golf' in user.interests") == "error(user.interests is not set)");
  CHECK(env.Eval("user.registered && 'golf' in user.interests") ==
        "error(user.interests is not set)");
  CHECK(env.Eval("'golf' in user.interests || user.registered") == "true");

  auto program = CompileFilter("user.age >= 21 && user.state == 'WA'", env.schema());
  REQUIRE(program.ok());
  Value why;
  CHECK_FALSE(program->Matches(env.activation(), &why));
  REQUIRE(why.is_error());
  CHECK(why.error_reason() == "user.age is not set");
  CHECK(program->DescribeError(why) == "1:1: user.age is not set");
  CHECK(program->DescribeError(why, true) ==
        "1:1: user.age is not set\nuser.age >= 21 && user.state == 'WA'\n^");
  env.Set("user.age", Value::Int(40));
  CHECK(program->Matches(env.activation(), &why));
  CHECK(why.type() == Type::kNull);
}

TEST_CASE("an error value set by the caller propagates", "[expr][eval][missing]") {
  Env env;
  env.Set("user.age", Value::Error("profile store unavailable"));
  CHECK(env.Eval("user.age > 1") == "error(profile store unavailable)");
  CHECK(env.Eval("has(user.age)") == "error(profile store unavailable)");
}

TEST_CASE("money compares exactly", "[expr][eval][money]") {
  Env env;
  env.Set("product.price", Value::FromMoney(Usd(1999)));
  CHECK(env.Eval("product.price == 19.99") == "true");
  CHECK(env.Eval("product.price < 19.991") == "true");
  CHECK(env.Eval("product.price > 19.989") == "true");
  CHECK(env.Eval("product.price in [9.99, 19.99]") == "true");
  CHECK(env.Eval("product.price * 2 > 39.97") == "true");
  CHECK(env.Eval("product.price * 2") == "39.98 USD");
  CHECK(env.Eval("product.price * product.quantity") == "39.98 USD");
  CHECK(env.Eval("product.price + 0.01 == 20") == "true");
  CHECK(env.Eval("product.price * 1.5") == "29.985 USD");
  CHECK(env.Eval("basket.subtotal - product.price") == "29.99 USD");
  CHECK(env.Eval("-product.price") == "-19.99 USD");
  // 0.1 + 0.2 style surprises do not happen with amounts.
  env.Set("product.price", Value::FromMoney(Usd(30)));
  CHECK(env.CompileErrorLine("product.price == 0.10 + 0.20") ==  // a double sum is not exact
        "1:15: cannot compare money with double: amounts compare exactly; use a decimal "
        "literal such as 20.00");
  CHECK(env.Eval("product.price == 0.30") == "true");
  // Another currency is an error value, not a silent comparison.
  env.Set("product.price", Value::FromMoney(Money{1999, 2, Currency::Of("EUR")}));
  CHECK(env.Eval("product.price > basket.subtotal") == "error(amounts of different currencies)");
  // JPY has no minor digits; scales compare exactly.
  env.Set("product.price", Value::FromMoney(Money{500, 0, Currency::Of("JPY")}));
  CHECK(env.Eval("product.price == 500.00") == "true");
  CHECK(env.Eval("product.price > 499.999") == "true");
}

TEST_CASE("money type errors are found at compile time", "[expr][check][money]") {
  Env env;
  CHECK(env.CompileErrorLine("product.price > user.score") ==
        "1:15: cannot compare money with double: amounts compare exactly; use a decimal "
        "literal such as 20.00");
  CHECK(env.CompileErrorLine("product.price / 2") ==
        "1:15: no operator / for money; multiply by a decimal such as 0.5");
  CHECK(env.CompileErrorLine("product.price * basket.subtotal") ==
        "1:15: cannot multiply two amounts of money");
  CHECK(env.CompileErrorLine("product.price > 1.0000000000000000001") ==
        "1:17: cannot use 1.0000000000000000001 as an amount: number has more than 18 "
        "decimals: \"1.0000000000000000001\"");
}

TEST_CASE("ParseDecimal and FormatDecimal are exact", "[expr][money]") {
  auto d = ParseDecimal("19.99");
  REQUIRE(d.ok());
  CHECK(d->minor_units == 1999);
  CHECK(d->scale == 2);
  CHECK(FormatDecimal(*d) == "19.99");
  CHECK(ParseDecimal("2e1")->minor_units == 20);
  CHECK(ParseDecimal("-0.50")->minor_units == -50);
  CHECK(FormatDecimal(*ParseDecimal("-0.05")) == "-0.05");
  CHECK(ParseDecimal("1.5e-3")->scale == 4);
  CHECK_FALSE(ParseDecimal("abc").ok());
  CHECK_FALSE(ParseDecimal("").ok());
  CHECK_FALSE(ParseDecimal("99999999999999999999").ok());
}

TEST_CASE("time functions with zones", "[expr][eval][time]") {
  Env env;  // now = 2026-06-01T18:30:00Z, a Monday
  CHECK(env.Eval("now.getHours()") == "18");
  CHECK(env.Eval("now.getHours('UTC')") == "18");
  CHECK(env.Eval("now.getHours('America/Los_Angeles')") == "11");
  CHECK(env.Eval("now.getHours('Asia/Kolkata')") == "0");  // 00:00 on June 2
  CHECK(env.Eval("now.getMinutes('Asia/Kolkata')") == "0");
  CHECK(env.Eval("now.getDayOfWeek('Asia/Kolkata')") == "2");
  CHECK(env.Eval("now.getHours('+05:30')") == "0");
  CHECK(env.Eval("now.getHours('-08:00')") == "10");
  CHECK(env.Eval("now.getDayOfWeek()") == "1");  // Monday; Sunday = 0
  CHECK(env.Eval("now.getDate()") == "1");
  CHECK(env.Eval("now.getDayOfMonth()") == "0");
  CHECK(env.Eval("now.getMonth()") == "5");  // June, zero-based
  CHECK(env.Eval("now.getFullYear()") == "2026");
  CHECK(env.Eval("now.getDayOfYear()") == "151");
  CHECK(env.Eval("now.getMinutes()") == "30");
  CHECK(env.Eval("now > timestamp('2026-06-01T17:00:00Z')") == "true");
  CHECK(env.Eval("now - timestamp('2026-06-01T17:00:00Z')") == "duration(\"5400s\")");
  CHECK(env.Eval("now - timestamp('2026-06-01T17:00:00Z') == duration('1h30m')") == "true");
  CHECK(env.Eval("timestamp('2026-06-01T17:00:00Z') + duration('1h30m') == now") == "true");
  CHECK(env.Eval("duration('1h30m').getMinutes()") == "90");
  CHECK(env.Eval("timestamp('2026-06-01T17:00:00-07:00')") ==
        "timestamp(\"2026-06-02T00:00:00Z\")");
  // Daylight saving: 17:00 in Los Angeles is 00:00Z in summer, 01:00Z in winter.
  env.Set("now", Value::Timestamp(absl::FromUnixSeconds(1780358400)));  // 2026-06-02T00:00:00Z
  CHECK(env.Eval("now.getHours('America/Los_Angeles')") == "17");
  env.Set("now", Value::Timestamp(absl::FromUnixSeconds(1767225600)));  // 2026-01-01T00:00:00Z
  CHECK(env.Eval("now.getHours('America/Los_Angeles')") == "16");
}

TEST_CASE("time zone and time literal errors are compile errors", "[expr][check][time]") {
  Env env;
  CHECK(env.CompileErrorLine("now.getHours('Mars/Olympus_Mons') > 3") ==
        "1:14: unknown time zone \"Mars/Olympus_Mons\"; use an IANA name such as "
        "America/Los_Angeles, UTC, or a fixed offset such as +05:30");
  CHECK(env.CompileErrorLine("now.getHours(context.tz) > 3") ==
        "1:14: getHours() needs the time zone as a string literal here");
  CHECK(env.CompileErrorLine("timestamp('tomorrow')") ==
        "1:11: invalid timestamp \"tomorrow\": expected RFC 3339 such as 2026-06-01T17:00:00Z");
  CHECK(env.CompileErrorLine("duration('soon')") ==
        "1:10: invalid duration \"soon\": expected a number with h, m, s, ms, us or ns, such "
        "as 1h30m");
  CompileOptions options;
  options.default_time_zone = "Nowhere/City";
  auto program = Compile("now.getHours()", env.schema(), options);
  CHECK(program.status().message() ==
        "CompileOptions.default_time_zone: unknown time zone \"Nowhere/City\"");
}

TEST_CASE("default time zone option", "[expr][eval][time]") {
  Env env;
  CompileOptions options;
  options.default_time_zone = "America/Los_Angeles";
  auto program = Compile("now.getHours()", env.schema(), options);
  REQUIRE(program.ok());
  CHECK(program->Evaluate(env.activation()).int_value() == 11);
}

TEST_CASE("string functions", "[expr][eval][string]") {
  Env env;
  CHECK(env.Eval("user.name.startsWith('Ada')") == "true");
  CHECK(env.Eval("user.name.endsWith('lace')") == "true");
  CHECK(env.Eval("user.name.contains('Love')") == "true");
  CHECK(env.Eval("user.name.contains('love')") == "false");
  CHECK(env.Eval("user.name.lowerAscii().contains('love')") == "true");
  CHECK(env.Eval("user.name.upperAscii()") == "\"ADA LOVELACE\"");
  CHECK(env.Eval("user.name.matches('^Ada [A-Z]')") == "true");
  CHECK(env.Eval("matches(user.name, 'xyz')") == "false");
  CHECK(env.Eval("user.name.size()") == "12");
  CHECK(env.Eval("size('héllo')") == "5");  // code points, not bytes
  CHECK(env.Eval("user.state + '-' + context.page_group") == "\"WA-sports\"");
  CHECK(env.Eval("(user.state + '-' + context.page_group).size()") == "9");
  CHECK(env.CompileErrorLine("user.name.matches('(')") ==
        "1:19: invalid regular expression: missing ): (");
  CHECK(env.CompileErrorLine("user.name.matches(user.state)") ==
        "1:19: matches() needs the pattern as a string literal here");
}

TEST_CASE("list membership with non-constant elements", "[expr][eval][in]") {
  Env env;
  CHECK(env.Eval("'WA' in [user.state, 'OR']") == "true");
  CHECK(env.Eval("user.age in [1, user.age + 0]") == "true");
  CHECK(env.Eval("'CA' in [user.state, 'OR']") == "false");
  env.Unset("user.state");
  CHECK(env.Eval("'WA' in [user.state, 'WA']") == "error(user.state is not set)");
  CHECK(env.Eval("size([user.age])") == "1");
  CHECK(env.Eval("[user.age, user.age + 1][1]") == "31");
}

TEST_CASE("Activation: slots - Clear - Get", "[expr][activation]") {
  Env env;
  Slot age = env.schema().Find("user.age");
  CHECK(env.activation().has(age));
  CHECK(env.activation().Get(age).int_value() == 30);
  env.activation().Clear();
  CHECK_FALSE(env.activation().has(age));
  CHECK(env.activation().Get(age).is_error());
  // A slot beyond the activation is ignored, and an activation smaller than
  // the program's schema is an error value, not a crash.
  Activation small(size_t{1});
  small.Set(age, Value::Int(3));
  auto program = Compile("user.age > 1", env.schema());
  REQUIRE(program.ok());
  CHECK(program->Evaluate(small).error_reason() ==
        "activation has fewer slots than the program's schema");
  Program empty;
  CHECK(empty.Evaluate(small).error_reason() == "empty program");
}

TEST_CASE("a value of the wrong type in a slot is an error value", "[expr][activation]") {
  Env env;
  env.Set("user.age", Value::String("thirty"));
  CHECK(env.Eval("user.age > 21") == "error(no matching overload)");
  CHECK(env.Eval("user.age + 1") == "error(no matching overload)");
  env.Set("now", Value::Int(5));
  CHECK(env.Eval("now.getHours() > 3") == "error(no matching overload)");
}

TEST_CASE("Schema under CEL's name rules: overlapping paths read the longest, reserved names never read",
          "[expr][schema]") {
  Schema herald_rules;
  REQUIRE(herald_rules.DeclareMap("a.b", Type::kString, Type::kString).ok());
  CHECK_FALSE(herald_rules.Declare("a.b.c", Type::kString).ok());
  CHECK_FALSE(herald_rules.Declare("true", Type::kBool).ok());

  Schema cel(Schema::NameRules::kCel);
  auto map = cel.DeclareMap("a.b", Type::kString, Type::kString);
  auto leaf = cel.Declare("a.b.c", Type::kString);
  auto shadow = cel.Declare("true", Type::kBool);
  REQUIRE((map.ok() && leaf.ok() && shadow.ok()));
  CHECK_FALSE(cel.Declare("a..b", Type::kInt).ok());  // still identifiers
  const Value entries[] = {Value::String("c"), Value::String("from the map"),
                           Value::String("d"), Value::String("only in the map")};
  Activation activation(cel);
  activation.Set(*map, Value::Map(entries));
  activation.Set(*leaf, Value::String("the variable"));
  activation.Set(*shadow, Value::Bool(false));
  auto eval = [&](std::string_view source) {
    absl::StatusOr<Program> program = Compile(source, cel);
    REQUIRE(program.ok());
    return program->Evaluate(activation);
  };
  CHECK(eval("a.b.c").string_value() == "the variable");
  CHECK(eval("a.b.d").string_value() == "only in the map");  // a.b.d is not declared
  CHECK(eval("a.b['c']").string_value() == "from the map");
  CHECK(eval("true").bool_value());  // the literal, never the variable
}

TEST_CASE("Schema: declarations - conflicts - attributes - Resolve", "[expr][schema]") {
  Schema s;
  auto age = s.Declare("user.age", Type::kInt);
  REQUIRE(age.ok());
  CHECK(age->index == 0);
  CHECK(s.Declare("user.age", Type::kInt)->index == 0);
  CHECK(s.Declare("user.age", Type::kString).status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(s.Declare("user", Type::kString).status().message() ==
        "variable user would hide the declared user.age");
  CHECK(s.Declare("user.age.years", Type::kInt).status().message() ==
        "variable user.age.years is inside user.age, which is declared as a value");
  CHECK_FALSE(s.Declare("user.in", Type::kInt).ok());
  CHECK_FALSE(s.Declare("user..x", Type::kInt).ok());
  CHECK(s.Declare("user.x", Type::kList).ok());  // list(dyn)
  CHECK_FALSE(s.Declare("user.t", Type::kType).ok());
  herald::v1::AttributeDecl decl;
  decl.set_name("manufacturer");
  decl.set_type(herald::v1::VALUE_TYPE_STRING);
  auto m = s.DeclareAttribute("product", decl);
  REQUIRE(m.ok());
  CHECK(s.variable(*m).path == "product.manufacturer");
  CHECK(s.variable(*m).type == Type::kString);
  decl.set_type(herald::v1::VALUE_TYPE_UNSPECIFIED);
  CHECK_FALSE(s.DeclareAttribute("product", decl).ok());
  CHECK(s.Resolve("user.agee").status().message() ==
        "unknown variable user.agee; did you mean user.age?");
  CHECK(s.Resolve("product.manufacturer").ok());
  auto pairs = Schema::FromPairs({{"user.a", Type::kInt}, {"context.b", Type::kString}});
  REQUIRE(pairs.ok());
  CHECK(pairs->size() == 2);
  CHECK_FALSE(Schema::FromPairs({{"1x", Type::kInt}}).ok());
}

TEST_CASE("Program reports its slots - type and source", "[expr][program]") {
  Env env;
  auto program = Compile("user.age > 1 && has(user.state) && user.age < 99", env.schema());
  REQUIRE(program.ok());
  CHECK(program->result_type() == Type::kBool);
  REQUIRE(program->slots().size() == 2);
  CHECK(program->slots()[0] == env.schema().Find("user.age"));
  CHECK(program->source() == "user.age > 1 && has(user.state) && user.age < 99");
  CHECK_FALSE(program->Disassemble().empty());
  CHECK(CompileFilter("user.age + 1", env.schema()).status().message() ==
        "1:10: expression must be a condition (bool), not int\nuser.age + 1\n         ^");
}

TEST_CASE("values render as text and JSON", "[expr][value]") {
  CHECK(Value::Int(-3).DebugString() == "-3");
  CHECK(Value::Double(2).DebugString() == "2.0");
  CHECK(Value::Double(0.1).DebugString() == "0.1");
  CHECK(Value::String("a\"b").DebugString() == "\"a\\\"b\"");
  CHECK(Value::FromMoney(Usd(1999)).DebugString() == "19.99 USD");
  CHECK(Value::FromMoney(Usd(1999)).JsonString() == "{\"amount\":\"19.99\",\"currency\":\"USD\"}");
  CHECK(Value::Timestamp(absl::FromUnixSeconds(0)).JsonString() == "\"1970-01-01T00:00:00Z\"");
  CHECK(Value::Duration(absl::Milliseconds(1500)).DebugString() == "duration(\"1.5s\")");
  CHECK(Value::Null().JsonString() == "null");
  CHECK(Value::Bool(true).JsonString() == "true");
  CHECK(Value::Error("boom").JsonString() == "{\"error\":\"boom\"}");
  CHECK(TypeName(Type::kStringList) == "list(string)");
  CHECK(Currency::Of("usd").code() == "USD");
}

}  // namespace
}  // namespace herald::expr
