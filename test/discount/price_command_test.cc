// `herald price`: output and exit codes (tools/herald/price_command.cc).
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "commands.h"
#include "herald/discount.h"
#include "nlohmann/json.hpp"

namespace herald::cli {
namespace {

struct Run {
  int exit_code = 0;
  std::string out, err;
};

Run RunPrice(std::vector<std::string> args) {
  CLI::App app("herald");
  Registry registry;
  CommandEnv env;
  env.registry = &registry;
  AddPriceCommand(app, env);
  args.insert(args.begin(), "price");
  std::reverse(args.begin(), args.end());
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  Run run;
  try {
    app.parse(args);
    run.exit_code = env.exit_code;
  } catch (const CLI::ParseError&) {
    run.exit_code = 2;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::string WriteBasket(const std::string& name, const std::string& json) {
  std::string path = std::string(HERALD_BINARY_DIR) + "/" + name;
  std::ofstream(path) << json;
  return path;
}

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

TEST_CASE("herald price prints the priced basket and its explanation", "[discount][cli]") {
  std::string basket = WriteBasket("price_basket.json", R"({
    "currency": "USD",
    "items": [
      {"id": "phone", "product_id": "p1", "category": "telephone", "unit_price_minor": 10000, "quantity": 1},
      {"id": "paint", "product_id": "p2", "category": "paint", "unit_price_minor": 2999, "quantity": 2,
       "properties": {"manufacturer": {"string_value": "Fabrikam"}}}
    ]})");
  Run r = RunPrice({"--catalog", kCatalog, "--basket", basket, "--profile", "premier=true", "--clicked",
                    "fabrikam-10", "--at", "2026-06-01T12:00:00-07:00"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("line phone: 100.00 USD - 10.00 USD = 90.00 USD"));
  CHECK_THAT(r.out, Catch::Contains("fabrikam-10 (priority 40) -3.00 USD"));
  CHECK_THAT(r.out, Catch::Contains("explanation:"));
  CHECK_THAT(r.out, Catch::Contains("happy-hour skipped (not eligible"));

  r = RunPrice({"--catalog", kCatalog, "--basket", basket, "--at", "2026-06-01T12:00:00Z", "--json",
                "--coupon", "WELCOME5"});
  CHECK(r.exit_code == 0);
  auto json = nlohmann::json::parse(r.out);
  CHECK(json["currency"] == "USD");
  CHECK(json["lines"].size() == 2);
  CHECK(json["order_adjustments"][0]["discount_id"] == "welcome-coupon");
}

TEST_CASE("herald price refuses bad input", "[discount][cli]") {
  std::string bad = WriteBasket("price_bad.json", R"({"currency": "XYZ", "items": []})");
  Run r = RunPrice({"--catalog", kCatalog, "--basket", bad});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("currency \"XYZ\" is not an ISO 4217 code"));
  std::string junk = WriteBasket("price_junk.json", "{\"items\": 3}");
  r = RunPrice({"--catalog", kCatalog, "--basket", junk});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("not a herald.v1.Basket"));
  r = RunPrice({"--catalog", kCatalog, "--basket", bad, "--at", "yesterday"});
  CHECK(r.exit_code == 2);
  r = RunPrice({"--catalog", kCatalog});
  CHECK(r.exit_code == 2);
}

}  // namespace
}  // namespace herald::cli
