// Evaluation allocates nothing: this executable replaces the global operator
// new and counts calls while programs are evaluated (after one warm-up
// evaluation, which may size the activation's scratch space and warm RE2's
// DFA cache).
#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "alloc_counter.h"
#include "expr/expr_test_util.h"
#include "herald/expr.h"

using herald::testing::g_allocations;
using herald::testing::g_counting;

namespace herald::expr {
namespace {

TEST_CASE("Evaluate allocates nothing", "[expr][alloc]") {
  testing::Env env;
  const char* kExpressions[] = {
      "user.age >= 21 && user.state == 'WA' && context.page_group in ['sports', 'news']",
      "user.registered == true && user.age >= 18 && 'golf' in user.interests && "
      "product.price > 20.00",
      "has(user.gender) && user.gender == 'f' || user.age < 18",  // absent: error values
      "user.gender == 'f' && false",
      "now.getHours('America/Los_Angeles') >= 17 && now.getHours('America/Los_Angeles') < 21",
      "now.getDayOfWeek('Europe/Paris') in [0, 6]",
      "now - timestamp('2026-06-01T17:00:00Z') < duration('2h')",
      "product.price * product.quantity + 0.99 > basket.subtotal",
      "user.name.lowerAscii().contains('ada') && (user.state + '-' + context.page_group).size() > 3",
      "user.name.matches('^Ada [A-Z][a-z]+$')",
      "user.age > 18 ? user.score * 2.0 : 1.0",
      "9223372036854775807 + user.age",
      "'WA' in [user.state, context.page_group]",
  };
  for (const char* source : kExpressions) {
    INFO(source);
    auto program = Compile(source, env.schema());
    REQUIRE(program.ok());
    Value warm = program->Evaluate(env.activation());
    (void)warm;
    g_allocations = 0;
    g_counting = true;
    int64_t hits = 0;
    for (int i = 0; i < 1000; ++i) {
      Value v = program->Evaluate(env.activation());
      hits += v.type() == Type::kBool && v.bool_value();
      Value why;
      hits += program->Matches(env.activation(), &why);
    }
    g_counting = false;
    CHECK(g_allocations.load() == 0);
    (void)hits;
  }
}

TEST_CASE("Macros over lists of up to 16 elements allocate nothing once warm",
          "[expr][alloc][macros]") {
  Schema schema = testing::TestSchema();
  Slot scores = *schema.DeclareMap("user.scores", Type::kString, Type::kInt);
  Slot basket = *schema.DeclareList("basket.categories", Type::kString);
  Activation activation(schema);
  std::vector<std::string_view> interests = {"golf", "golfing", "books", "travel", "tennis",
                                             "chess", "wine", "cooking", "hiking", "opera",
                                             "jazz", "sailing", "cycling", "poker", "art",
                                             "film"};
  REQUIRE(interests.size() == 16);
  std::vector<std::string_view> categories(16, "juice");
  std::vector<Value> score_entries = {Value::String("loyalty"), Value::Int(4),
                                      Value::String("churn"), Value::Int(1)};
  activation.Set(schema.Find("user.interests"), Value::StringList(interests));
  activation.Set(basket, Value::StringList(categories));
  activation.Set(scores, Value::Map(score_entries));
  activation.Set(schema.Find("user.age"), Value::Int(30));
  const char* kExpressions[] = {
      "user.interests.exists(i, i.startsWith('golf'))",
      "user.interests.all(s, s != 'churned')",
      "user.interests.exists_one(s, s == 'chess')",
      "size(basket.categories.filter(c, c == 'juice')) >= 2",
      "user.interests.map(i, i.size()).exists(n, n > 6)",
      "user.interests.map(i, i.upperAscii())[15] == 'FILM'",
      "user.scores['loyalty'] >= 3 && has(user.scores.churn) && 'loyalty' in user.scores",
      "user.scores.exists(k, user.scores[k] > 3)",
      "[user.age, user.age + 1] + [1, 2, 3] == [30, 31, 1, 2, 3]",
      "{'a': user.age}.a == 30",
      "user.interests.all(i, user.interests.exists(j, j == i))",
      "user.interests.transformList(k, v, k).all(k, k < 16)",
      "string(user.age) + 'y' == '30y'",
  };
  for (const char* source : kExpressions) {
    INFO(source);
    auto program = Compile(source, schema);
    REQUIRE(program.ok());
    Value warm = program->Evaluate(activation);
    CHECK(warm.DebugString() == "true");
    g_allocations = 0;
    g_counting = true;
    int64_t hits = 0;
    for (int i = 0; i < 1000; ++i) {
      hits += program->Matches(activation);
    }
    g_counting = false;
    CHECK(g_allocations.load() == 0);
    CHECK(hits == 1000);
  }
}

}  // namespace
}  // namespace herald::expr
