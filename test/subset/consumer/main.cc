// Against an installed subset: prints the pipeline families its built-ins
// register, one line ("families: mail"), then builds the default mail
// pipeline from them and compiles and runs an expression, the subset
// "core;expr;mail" being DirectMailer alone. Exit 1 naming what failed.
#include <iostream>
#include <set>
#include <string>

#include "herald/builtins.h"
#include "herald/expr.h"
#include "herald/mail.h"

int main() {
  herald::Registry registry;
  if (auto s = herald::RegisterBuiltins(&registry); !s.ok()) {
    std::cerr << "RegisterBuiltins: " << s.message() << "\n";
    return 1;
  }
  std::set<std::string> families;
  for (const herald::FactoryBase* factory : registry.All()) families.insert(std::string(factory->family()));
  std::cout << "families:";
  for (const std::string& family : families) std::cout << " " << family;
  std::cout << "\n";
  auto pipeline = herald::Pipeline<herald::MailContext>::Create(herald::DefaultMailPipeline(),
                                                                herald::CreateContext(&registry), "default");
  if (!pipeline.ok()) {
    std::cerr << "the mail pipeline: " << pipeline.status().message() << "\n";
    return 1;
  }
  herald::expr::Schema schema = herald::expr::Schema::WithBuiltins();
  auto age = schema.Declare("user.age", herald::expr::Type::kInt);
  auto program = age.ok() ? herald::expr::CompileFilter("user.age >= 18", schema) : age.status();
  if (!program.ok()) {
    std::cerr << "the expression: " << program.status().message() << "\n";
    return 1;
  }
  herald::expr::Activation activation(schema);
  activation.Set(*age, herald::expr::Value::Int(30));
  std::cout << "user.age >= 18 for 30: " << (program->Matches(activation) ? "true" : "false") << "\n";
  return 0;
}
