// Parsing and type checking: error positions, caret excerpts, suggestions,
// type errors and limits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "expr/expr_test_util.h"
#include "expr/parser.h"
#include "herald/expr.h"

namespace herald::expr {
namespace {

using testing::Env;

TEST_CASE("unknown names carry line:column - a caret and a suggestion", "[expr][errors]") {
  Env env;
  CHECK(env.CompileError("user.agee > 21") ==
        "1:6: unknown field user.agee; did you mean user.age?\n"
        "user.agee > 21\n"
        "     ^");
  CHECK(env.CompileErrorLine("usr.age > 21") == "1:1: unknown variable usr; did you mean user?");
  CHECK(env.CompileErrorLine("context.pagegroup == 'x'") ==
        "1:9: unknown field context.pagegroup; did you mean context.page_group?");
  CHECK(env.CompileErrorLine("user.zzzzzzzz > 1") == "1:6: unknown field user.zzzzzzzz");
  CHECK(env.CompileErrorLine("user > 1") ==
        "1:1: user is not a value; name one of its attributes, such as user.age");
  CHECK(env.CompileErrorLine("user.age.years > 1") ==
        "1:10: user.age is a int and has no field years");
  CHECK(env.CompileErrorLine("user.name.startWith('A')") ==
        "1:11: unknown method startWith; did you mean startsWith?");
  CHECK(env.CompileErrorLine("sise(user.name)") ==
        "1:1: unknown function sise; did you mean size?");
  CHECK(env.CompileErrorLine("startsWith(user.name, 'A')") ==
        "1:1: startsWith() is a method: call it as x.startsWith(...)");
  CHECK(env.CompileErrorLine("user.age.startsWith('A')") ==
        "1:10: int has no method startsWith()");
  CHECK(env.CompileErrorLine("user.name.size(1)") == "1:11: size() takes 0 arguments, not 1");
}

TEST_CASE("errors on later lines point at the right line and column", "[expr][errors]") {
  Env env;
  CHECK(env.CompileError("user.age > 21 &&\n  user.stat == 'WA'") ==
        "2:8: unknown field user.stat; did you mean user.state?\n"
        "  user.stat == 'WA'\n"
        "       ^");
  // Columns count code points, not bytes.
  CHECK(env.CompileErrorLine("'é' == user.nam") ==
        "1:13: unknown field user.nam; did you mean user.name?");
}

TEST_CASE("type errors name both types", "[expr][errors][types]") {
  Env env;
  CHECK(env.CompileErrorLine("user.state > 21") == "1:12: cannot compare string with int");
  CHECK(env.CompileErrorLine("user.age == 'x'") == "1:10: cannot compare int with string");
  CHECK(env.CompileErrorLine("user.age && true") == "1:1: operand of && must be a bool, not int");
  CHECK(env.CompileErrorLine("!user.age") == "1:1: no operator ! for int");
  CHECK(env.CompileErrorLine("-user.name") == "1:1: no operator - for string");
  CHECK(env.CompileErrorLine("user.name - 'a'") == "1:11: no operator - for string and string");
  CHECK(env.CompileErrorLine("user.age ? 1 : 2") ==
        "1:1: condition of ?: must be a bool, not int");
  CHECK(env.CompileErrorLine("now + 1") == "1:5: no operator + for timestamp and int");
  CHECK(env.CompileErrorLine("{1.5: 'x'}") ==
        "1:2: a map key must be a bool, int, uint or string, not double");
  CHECK(env.CompileErrorLine("user.interests.all(i, i.size())") ==
        "1:23: the condition of all() must be a bool, not int");
  CHECK(env.CompileErrorLine("user.age.exists(i, true)") ==
        "1:10: exists() needs a list or a map, not int");
  CHECK(env.CompileErrorLine("user.interests.exists(1, true)") ==
        "1:23: exists() needs a variable name as its first argument, such as exists(x, ...)");
  CHECK(env.CompileErrorLine("user.interests.exists(i, i > 1)") ==
        "1:28: cannot compare string with int");
  CHECK(env.CompileErrorLine("user.interests['a']") ==
        "1:16: list index must be an int, not string");
}

TEST_CASE("syntax errors", "[expr][errors][syntax]") {
  Env env;
  CHECK(env.CompileErrorLine("") == "1:1: expected an expression, found the end");
  CHECK(env.CompileErrorLine("user.age >") == "1:11: expected an expression, found the end");
  CHECK(env.CompileErrorLine("(1 + 2") ==
        "1:7: expected ')' to close '(', found end of expression");
  CHECK(env.CompileErrorLine("1 2") ==
        "1:3: unexpected integer 2; expected an operator or the end");
  CHECK(env.CompileErrorLine("user.age >= 21 & true") == "1:16: unexpected '&'; did you mean '&&'?");
  CHECK(env.CompileErrorLine("f(1,") == "1:5: expected an expression, found the end");
  CHECK(env.CompileErrorLine("[1, 2") == "1:6: expected ',' or ']' in the list, found end of expression");
  CHECK(env.CompileErrorLine("a.") ==
        "1:3: expected a field or method name after '.', found end of expression");
  CHECK(env.CompileErrorLine("#") == "1:1: unexpected character '#'");
  CHECK(env.CompileErrorLine(std::string("1 + \xff")) == "1:5: invalid UTF-8");
  CHECK(env.CompileErrorLine(std::string("1 +\x01 2")) == "1:4: unexpected control character 0x01");
  CHECK(env.CompileErrorLine("user.true") == "1:6: keyword 'true' cannot be a field name");
}

TEST_CASE("limits: depth - size and node count are errors - not crashes", "[expr][limits]") {
  Env env;
  std::string deep(65, '(');
  deep += "1";
  deep += std::string(65, ')');
  auto program = env.Compile(deep);
  REQUIRE_FALSE(program.ok());
  CHECK(program.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(program.status().message()).rfind("1:65: expression nests deeper than 64 levels", 0) == 0);

  std::string ok_depth(60, '(');
  ok_depth += "1";
  ok_depth += std::string(60, ')');
  CHECK(env.Compile(ok_depth).ok());

  // Deep nesting of every recursive construct is bounded too.
  for (std::string open : {"-", "!", "[", "f(", "user.name.size(", "true ? 1 : "}) {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += open;
    CHECK_FALSE(env.Compile(s).ok());
  }
  std::string chain = "1";
  for (int i = 0; i < 100; ++i) chain += " + 1";
  CHECK(env.Compile(chain).status().code() == absl::StatusCode::kResourceExhausted);

  // Long && / || chains are flat, so they only meet the node limit.
  std::string ors = "user.age == 0";
  for (int i = 1; i < 300; ++i) ors += " || user.age == " + std::to_string(i);
  auto wide = env.Compile(ors);
  REQUIRE(wide.ok());
  CHECK(wide->Evaluate(env.activation()).bool_value());

  CompileOptions small;
  small.max_source_bytes = 10;
  auto long_source = env.Compile("user.age > 1000000", small);
  CHECK(long_source.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(long_source.status().message()).rfind("1:11: expression is longer than 10 bytes", 0) == 0);

  CompileOptions few;
  few.max_nodes = 5;
  CHECK(env.Compile("1 + 2 + 3 + 4", few).status().code() ==
        absl::StatusCode::kResourceExhausted);
}

TEST_CASE("targeting tests fuse into one instruction per comparison", "[expr][compile]") {
  Env env;
  auto program = env.Compile(
      "user.registered == true && user.age >= 18 && user.age < 65 && "
      "'golf' in user.interests && context.page_group in ['sports', 'news']");
  REQUIRE(program.ok());
  std::string listing = program->Disassemble();
  INFO(listing);
  CHECK(std::count(listing.begin(), listing.end(), '\n') == 6);  // 5 tests + return
  // Fused tests keep CEL's commutative error absorption.
  env.Unset("user.age");
  CHECK(program->Evaluate(env.activation()).DebugString() == "error(user.age is not set)");
  env.Set("user.registered", Value::Bool(false));
  CHECK(program->Evaluate(env.activation()).DebugString() == "false");
}

TEST_CASE("the parser builds a flat tree with positions", "[expr][parser]") {
  internal::ParseLimits limits;
  auto ast = internal::Parse("a && b && c || !d", limits);
  REQUIRE(ast.ok());
  const internal::Node& root = ast->node(ast->root);
  CHECK(root.kind == internal::NodeKind::kOr);
  REQUIRE(root.children.size() == 2);
  CHECK(ast->node(root.children[0]).kind == internal::NodeKind::kAnd);
  CHECK(ast->node(root.children[0]).children.size() == 3);
  auto neg = internal::Parse("-19.99", limits);
  REQUIRE(neg.ok());
  CHECK(neg->node(neg->root).kind == internal::NodeKind::kDouble);
  CHECK(neg->node(neg->root).text == "-19.99");
}

TEST_CASE("equality guards: the conjuncts that compare a field with string constants", "[expr][guards]") {
  auto guards = [](std::string_view source) { return FindEqualityGuards(source); };
  EqualityGuards one = guards("product.category == 'paint'");
  CHECK(one.conjuncts == 1);
  REQUIRE(one.guards.size() == 1);
  CHECK(one.guards[0].path == "product.category");
  CHECK(one.guards[0].values == std::vector<std::string>{"paint"});

  EqualityGuards two = guards("user.age > 3 && 'x\\'y' == product.id && product.brand in ['b', 'a']");
  CHECK(two.conjuncts == 3);
  REQUIRE(two.guards.size() == 2);
  CHECK(two.guards[0].path == "product.id");
  CHECK(two.guards[0].values == std::vector<std::string>{"x'y"});  // decoded
  CHECK(two.guards[1].path == "product.brand");
  CHECK(two.guards[1].values == std::vector<std::string>{"b", "a"});  // as written

  // Not guards: another comparison, a non-string constant, a list with a
  // variable, a nested field, a disjunction.
  for (const char* source : {"product.price == 3", "product.brand in ['a', user.state]", "product.a.b == 'x'",
                             "product.id != 'x'", "product.id == 'a' || product.id == 'b'", "size(product.id) == 'x'"}) {
    INFO(source);
    EqualityGuards none = guards(source);
    CHECK(none.conjuncts == 1);
    CHECK(none.guards.empty());
  }
  CHECK(guards("product.id == ").conjuncts == 0);  // does not parse
  CHECK(guards("product.id == ").guards.empty());
}

}  // namespace
}  // namespace herald::expr
