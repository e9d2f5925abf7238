// `herald expr 'EXPR' [--var path=value ...] [--decl path=type ...] [--json]
//               [--tz ZONE] [--now RFC3339] [--currency CODE]`
//
// Compiles and evaluates one expression without a catalog: the schema is the
// standard built-ins (product.*, basket.*, now) plus every --var and --decl
// path. A --var value's type is the built-in's type when the path is a
// built-in (product.price=19.99 is money), else inferred: an integer, a
// number with a point or exponent (double), true/false, an RFC 3339 time
// (timestamp), [a,b,c] (a string list), anything else a string. --decl
// declares a path without a value (so has() can be false). `now` is the
// current time unless --now or --var now=... says otherwise.
//
// Prints the value (or, with --json, {"value":...,"type":...}); on a compile
// or evaluation error prints the message with its position and a caret to
// stderr (or {"error":{...}} with --json) and exits 1. A malformed --var or
// --decl exits 2.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "commands.h"
#include "herald/expr.h"
#include "json_output.h"
#include "nlohmann/json.hpp"

namespace herald::cli {
namespace {

struct ExprOptions {
  std::string expression;
  std::vector<std::string> vars;
  std::vector<std::string> decls;
  bool json = false;
  std::string time_zone = "UTC";
  std::string now;
  std::string currency = "USD";
};

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string JsonQuote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool ParseTypeName(std::string_view name, expr::Type* type) {
  static const std::pair<std::string_view, expr::Type> kNames[] = {
      {"string", expr::Type::kString},       {"int", expr::Type::kInt},
      {"double", expr::Type::kDouble},       {"bool", expr::Type::kBool},
      {"money", expr::Type::kMoney},         {"timestamp", expr::Type::kTimestamp},
      {"duration", expr::Type::kDuration},   {"string_list", expr::Type::kStringList},
      {"list(string)", expr::Type::kStringList}};
  for (const auto& [n, t] : kNames) {
    if (n == name) {
      *type = t;
      return true;
    }
  }
  return false;
}

// Storage for the strings and lists that --var values borrow.
struct VarStorage {
  std::vector<std::unique_ptr<std::string>> strings;
  std::vector<std::unique_ptr<std::vector<std::string_view>>> lists;

  std::string_view Keep(std::string_view s) {
    strings.push_back(std::make_unique<std::string>(s));
    return *strings.back();
  }
};

bool ParseTimestamp(std::string_view text, absl::Time* out) {
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, std::string(text), out, &err);
}

expr::Type InferType(std::string_view text) {
  int64_t i;
  double d;
  absl::Time t;
  if (absl::SimpleAtoi(View(text), &i)) return expr::Type::kInt;
  if (text.find_first_of(".eE") != std::string_view::npos &&
      text.find_first_not_of("0123456789+-.eE") == std::string_view::npos &&
      absl::SimpleAtod(View(text), &d)) {
    return expr::Type::kDouble;
  }
  if (text == "true" || text == "false") return expr::Type::kBool;
  if (ParseTimestamp(text, &t)) return expr::Type::kTimestamp;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') return expr::Type::kStringList;
  return expr::Type::kString;
}

// Parses `text` as a value of `type`; an error message on failure.
std::string ParseValue(std::string_view path, std::string_view text, expr::Type type,
                       const ExprOptions& options, VarStorage* storage, expr::Value* out) {
  auto bad = [&](std::string_view what) {
    return std::string("--var ") + std::string(path) + ": \"" + std::string(text) +
           "\" is not " + std::string(what);
  };
  switch (type) {
    case expr::Type::kString:
      *out = expr::Value::String(storage->Keep(text));
      return "";
    case expr::Type::kInt: {
      int64_t i;
      if (!absl::SimpleAtoi(View(text), &i)) return bad("an int");
      *out = expr::Value::Int(i);
      return "";
    }
    case expr::Type::kDouble: {
      double d;
      if (!absl::SimpleAtod(View(text), &d)) return bad("a number");
      *out = expr::Value::Double(d);
      return "";
    }
    case expr::Type::kBool:
      if (text != "true" && text != "false") return bad("true or false");
      *out = expr::Value::Bool(text == "true");
      return "";
    case expr::Type::kMoney: {
      // "19.99" or "19.99 EUR"; the currency defaults to --currency.
      std::string_view amount = text;
      std::string_view currency = options.currency;
      if (size_t space = text.rfind(' '); space != std::string_view::npos) {
        amount = text.substr(0, space);
        currency = text.substr(space + 1);
      }
      absl::StatusOr<expr::Money> m = expr::ParseDecimal(amount);
      if (!m.ok()) return bad("an amount such as 19.99 or \"19.99 EUR\"");
      m->currency = expr::Currency::Of(currency);
      *out = expr::Value::FromMoney(*m);
      return "";
    }
    case expr::Type::kTimestamp: {
      absl::Time t;
      if (!ParseTimestamp(text, &t)) return bad("an RFC 3339 time such as 2026-06-01T17:00:00Z");
      *out = expr::Value::Timestamp(t);
      return "";
    }
    case expr::Type::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(std::string(text), &d)) return bad("a duration such as 1h30m");
      *out = expr::Value::Duration(d);
      return "";
    }
    case expr::Type::kStringList: {
      std::string_view body = text;
      if (body.size() >= 2 && body.front() == '[' && body.back() == ']') {
        body = body.substr(1, body.size() - 2);
      }
      auto list = std::make_unique<std::vector<std::string_view>>();
      while (!body.empty()) {
        size_t comma = body.find(',');
        std::string_view item = body.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        list->push_back(storage->Keep(item));
        if (comma == std::string_view::npos) break;
        body.remove_prefix(comma + 1);
      }
      storage->lists.push_back(std::move(list));
      *out = expr::Value::StringList(*storage->lists.back());
      return "";
    }
    default:
      return bad("a supported value");
  }
}

// With --json, the error document every herald command prints
// (json_output.h), plus the expression's line and column when the message
// starts with them and the whole message with its excerpt as "detail".
void PrintError(const ExprOptions& options, std::string_view message) {
  if (options.json) {
    int line = 0;
    int column = 0;
    std::sscanf(std::string(message).c_str(), "%d:%d:", &line, &column);
    nlohmann::json error = {{"command", "expr"},
                            {"code", "INVALID_ARGUMENT"},
                            {"message", std::string(message.substr(0, message.find('\n')))},
                            {"detail", std::string(message)}};
    if (line > 0) {
      error["line"] = line;
      error["column"] = column;
    }
    PrintJson({{"error", std::move(error)}});
  } else {
    std::cerr << "error: " << message << "\n";
  }
}

int RunExpr(const ExprOptions& options) {
  expr::Schema schema = expr::Schema::WithBuiltins();
  VarStorage storage;
  std::vector<std::pair<expr::Slot, expr::Value>> values;

  for (const std::string& decl : options.decls) {
    size_t eq = decl.find('=');
    expr::Type type;
    if (eq == std::string::npos || !ParseTypeName(std::string_view(decl).substr(eq + 1), &type)) {
      std::cerr << "error: --decl " << decl
                << ": expected path=type with type one of string, int, double, bool, money, "
                   "timestamp, duration, string_list\n";
      return 2;
    }
    absl::StatusOr<expr::Slot> slot = schema.Declare(decl.substr(0, eq), type);
    if (!slot.ok()) {
      std::cerr << "error: --decl " << decl << ": " << slot.status().message() << "\n";
      return 2;
    }
  }
  bool now_given = false;
  for (const std::string& var : options.vars) {
    size_t eq = var.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "error: --var " << var << ": expected path=value\n";
      return 2;
    }
    std::string path = var.substr(0, eq);
    std::string_view text = std::string_view(var).substr(eq + 1);
    expr::Slot slot = schema.Find(path);
    expr::Type type = slot.valid() ? schema.variable(slot).type : InferType(text);
    if (!slot.valid()) {
      absl::StatusOr<expr::Slot> declared = schema.Declare(path, type);
      if (!declared.ok()) {
        std::cerr << "error: --var " << var << ": " << declared.status().message() << "\n";
        return 2;
      }
      slot = *declared;
    }
    expr::Value value;
    if (std::string error = ParseValue(path, text, type, options, &storage, &value);
        !error.empty()) {
      std::cerr << "error: " << error << "\n";
      return 2;
    }
    if (path == "now") now_given = true;
    values.emplace_back(slot, value);
  }
  expr::Activation activation(schema);
  absl::Time now = absl::Now();
  if (!options.now.empty() && !ParseTimestamp(options.now, &now)) {
    std::cerr << "error: --now " << options.now
              << ": expected an RFC 3339 time such as 2026-06-01T17:00:00Z\n";
    return 2;
  }
  if (!now_given) activation.Set(schema.Find("now"), expr::Value::Timestamp(now));
  for (const auto& [slot, value] : values) activation.Set(slot, value);

  expr::CompileOptions compile_options;
  compile_options.default_time_zone = options.time_zone;
  absl::StatusOr<expr::Program> program =
      expr::Compile(options.expression, schema, compile_options);
  if (!program.ok()) {
    PrintError(options, std::string(program.status().message()));
    return 1;
  }
  expr::Value result = program->Evaluate(activation);
  if (result.is_error()) {
    PrintError(options, program->DescribeError(result, /*with_excerpt=*/true));
    return 1;
  }
  if (options.json) {
    std::cout << "{\"value\":" << result.JsonString() << ",\"type\":"
              << JsonQuote(expr::TypeName(result.type())) << "}\n";
  } else {
    std::cout << result.DebugString() << "\n";
  }
  return 0;
}

}  // namespace

void AddExprCommand(CLI::App& app, CommandEnv& env) {
  auto options = std::make_shared<ExprOptions>();
  CLI::App* cmd = app.add_subcommand(
      "expr", "Compile and evaluate an expression (see docs/expressions.md)");
  cmd->add_option("EXPR", options->expression, "The expression, e.g. 'user.age >= 21'")
      ->required();
  cmd->add_option("--var", options->vars,
                  "A variable and its value, path=value (repeatable): user.age=30, "
                  "user.state=WA, product.price=19.99, user.tags=[a,b]")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--decl", options->decls,
                  "Declare a variable without a value, path=type (repeatable): "
                  "user.registered=bool")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag("--json", options->json, "Print the value or the error as JSON");
  cmd->add_option("--tz", options->time_zone,
                  "Time zone of getHours() and friends called without one")
      ->capture_default_str();
  cmd->add_option("--now", options->now, "The value of `now`, RFC 3339 (default: the clock)");
  cmd->add_option("--currency", options->currency, "Currency of money --var values")
      ->capture_default_str();
  cmd->callback([options, &env] { env.exit_code = RunExpr(*options); });
}

}  // namespace herald::cli
