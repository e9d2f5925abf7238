// Runs against a herald::herald built from a subset of the modules
// (test/subset/CMakeLists.txt): what RegisterBuiltins registers must be
// exactly the subset's built-ins, and the subset's modules must work. Written
// for the "core;expr;mail" subset .ci/run builds; with another subset it
// checks what that subset holds.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>

#include "herald/builtins.h"
#include "herald/expr.h"
#include "herald/mail.h"
#include "herald/plugin.h"

namespace herald {
namespace {

bool Built(std::string_view module) {
  const std::string modules = std::string(",") + HERALD_SUBSET_MODULES + ",";
  return modules.find("," + std::string(module) + ",") != std::string::npos;
}

std::set<std::string> Families(const Registry& registry) {
  std::set<std::string> families;
  for (const FactoryBase* factory : registry.All()) families.insert(std::string(factory->family()));
  return families;
}

TEST_CASE("A subset library registers the built-ins of its modules and no others", "[subset]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  const std::set<std::string> families = Families(registry);
  CHECK(families.count("mail") == (Built("mail") ? 1u : 0u));
  CHECK(families.count("selection") == (Built("csf") ? 1u : 0u));
  CHECK(families.count("basket") == (Built("discount") ? 1u : 0u));
  CHECK(families.count("conversion") == (Built("conversion") ? 1u : 0u));
  CHECK(families.count("store") == (Built("store") ? 1u : 0u));
}

TEST_CASE("A subset library loads plugins of its families only, and says which it has", "[subset]") {
  Registry registry;
  auto missing = LoadPlugin("/nonexistent/plugin.so", &registry);
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);  // the loader is core's
  auto selection = LoadPlugin(HERALD_SUBSET_PLUGIN, &registry);
  if (Built("csf")) {
    CHECK(selection.ok());
  } else {
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(std::string(selection.status().message()),
               Catch::Contains("family \"selection\" is not supported by plugin ABI version 2 in this build"));
    if (Built("mail")) CHECK_THAT(std::string(selection.status().message()), Catch::Contains("(supported: mail)"));
  }
}

TEST_CASE("The subset's expression module compiles and evaluates", "[subset]") {
  expr::Schema schema = expr::Schema::WithBuiltins();
  auto age = schema.Declare("user.age", expr::Type::kInt);
  REQUIRE(age.ok());
  auto program = expr::CompileFilter("user.age >= 18", schema);
  REQUIRE(program.ok());
  expr::Activation activation(schema);
  activation.Set(*age, expr::Value::Int(30));
  CHECK(program->Matches(activation));
  activation.Set(*age, expr::Value::Int(12));
  CHECK_FALSE(program->Matches(activation));
}

TEST_CASE("The subset's mail pipeline is built from the registry", "[subset]") {
  if (!Built("mail")) return;
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto pipeline = Pipeline<MailContext>::Create(DefaultMailPipeline(), CreateContext(&registry), "default");
  REQUIRE(pipeline.ok());
}

}  // namespace
}  // namespace herald
