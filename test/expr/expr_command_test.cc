// `herald expr`: the command's output and exit codes (tools/herald/expr_command.cc).
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "commands.h"
#include "nlohmann/json.hpp"

namespace herald::cli {
namespace {

struct Run {
  int exit_code = 0;
  std::string out;
  std::string err;
};

Run RunExpr(std::vector<std::string> args) {
  CLI::App app("herald");
  CommandEnv env;
  AddExprCommand(app, env);
  args.insert(args.begin(), "expr");
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  Run run;
  try {
    app.parse(args);
    run.exit_code = env.exit_code;
  } catch (const CLI::ParseError& e) {
    run.exit_code = 2;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

TEST_CASE("herald expr prints the value", "[expr][cli]") {
  Run r = RunExpr({"user.age >= 21 && user.state == 'WA'", "--var", "user.age=30", "--var",
                   "user.state=WA"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "true\n");
  r = RunExpr({"product.price * 2", "--var", "product.price=19.99"});
  CHECK(r.out == "39.98 USD\n");
  r = RunExpr({"product.price > 20.00", "--var", "product.price=19.99 EUR"});
  CHECK(r.out == "false\n");
  r = RunExpr({"user.score * 2.0", "--var", "user.score=1.25"});
  CHECK(r.out == "2.5\n");
  r = RunExpr({"'golf' in user.tags", "--var", "user.tags=[golf, books]"});
  CHECK(r.out == "true\n");
  r = RunExpr({"now.getHours('America/Los_Angeles')", "--now", "2026-06-02T00:00:00Z"});
  CHECK(r.out == "17\n");
  r = RunExpr({"user.since < now", "--var", "user.since=2020-01-01T00:00:00Z"});
  CHECK(r.out == "true\n");
  r = RunExpr({"now.getHours()", "--now", "2026-06-02T00:00:00Z", "--tz", "Asia/Tokyo"});
  CHECK(r.out == "9\n");
  r = RunExpr({"has(user.registered)", "--decl", "user.registered=bool"});
  CHECK(r.out == "false\n");
  r = RunExpr({"1 + 2", "--json"});
  CHECK(r.out == "{\"value\":3,\"type\":\"int\"}\n");
}

TEST_CASE("herald expr reports errors with position and exit code 1", "[expr][cli]") {
  Run r = RunExpr({"user.agee > 21", "--var", "user.age=30"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "error: 1:6: unknown field user.agee; did you mean user.age?\n"
        "user.agee > 21\n"
        "     ^\n");
  r = RunExpr({"user.age > 21", "--decl", "user.age=int"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "error: 1:1: user.age is not set\nuser.age > 21\n^\n");
  r = RunExpr({"1 / 0", "--json"});
  CHECK(r.exit_code == 1);
  // The error document of every herald command, with the position.
  nlohmann::json error = nlohmann::json::parse(r.out)["error"];
  CHECK(error["command"] == "expr");
  CHECK(error["message"] == "1:3: division by zero");
  CHECK(error["line"] == 1);
  CHECK(error["column"] == 3);
  CHECK(error["detail"] == "1:3: division by zero\n1 / 0\n  ^");
}

TEST_CASE("herald expr rejects malformed variables with exit code 2", "[expr][cli]") {
  CHECK(RunExpr({"1", "--var", "user.age"}).exit_code == 2);
  CHECK(RunExpr({"1", "--var", "product.price=cheap"}).exit_code == 2);
  CHECK(RunExpr({"1", "--decl", "user.x=float"}).exit_code == 2);
  CHECK(RunExpr({"1", "--now", "yesterday"}).exit_code == 2);
  CHECK(RunExpr({}).exit_code == 2);  // EXPR is required
}

}  // namespace
}  // namespace herald::cli
