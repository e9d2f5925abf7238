// /readyz follows the store: a server on its own PostgreSQL (started by the
// test with scripts/pg_test_server.sh on 127.0.0.1) is ready, and stops
// being ready when that PostgreSQL stops, while /healthz stays 200.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "herald/builtins.h"
#include "herald/server.h"
#include "http_client.h"
#include "nlohmann/json.hpp"
#include "pg_test.h"
#ifdef HERALD_HAVE_POSTGRES
#include "herald/store_postgres.h"
#endif

namespace herald {
namespace {

using test::HttpCall;
using test::HttpResponse;

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";
const std::string kPgScript = std::string(HERALD_SOURCE_DIR) + "/scripts/pg_test_server.sh";

TEST_CASE("readyz: 200 while the store answers, 503 naming the store once PostgreSQL stops") {
  // Only where PostgreSQL tests run; the server stopped is the test's own,
  // not the shared HERALD_TEST_PG one.
  if (testing::PostgresOrSkip("the /readyz store-down test") == nullptr) return;
#ifndef HERALD_HAVE_POSTGRES
  FAIL("HERALD_TEST_PG is set but this build has no PostgreSQL store");
#else
  const auto dir = std::filesystem::temp_directory_path() / ("herald-readyz-pg-" + std::to_string(getpid()));
  const auto exports = std::filesystem::temp_directory_path() / ("herald-readyz-env-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  REQUIRE(std::system(("bash " + kPgScript + " start " + dir.string() + " >" + exports.string()).c_str()) == 0);
  std::stringstream text;
  text << std::ifstream(exports).rdbuf();
  std::smatch url;
  const std::string exported = text.str();
  REQUIRE(std::regex_search(exported, url, std::regex("HERALD_TEST_PG='([^']+)'")));

  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  REQUIRE(RegisterPostgresStore(&registry).ok());
  v1::ServerConfig config;
  config.set_catalog(kCatalog);
  config.set_store(url[1]);
  config.set_listen("127.0.0.1:0");
  config.set_threads(1);
  config.set_access_log("off");
  auto service = DecisionService::Create(config, registry);
  INFO(service.status().message());
  REQUIRE(service.ok());
  auto http = HttpServer::Start(service->get(), config);
  REQUIRE(http.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*http)->port());
  HttpResponse ready = HttpCall("GET", base + "/readyz");
  INFO(ready.body);
  REQUIRE(ready.status == 200);

  REQUIRE(std::system(("bash " + kPgScript + " stop " + dir.string() + " 2>/dev/null").c_str()) == 0);
  HttpResponse down = HttpCall("GET", base + "/readyz");
  INFO(down.body);
  CHECK(down.status == 503);
  nlohmann::json body = nlohmann::json::parse(down.body);
  CHECK(body["code"] == "unavailable");
  CHECK(body["message"].get<std::string>().find("store") != std::string::npos);
  CHECK(HttpCall("GET", base + "/healthz").status == 200);
  (*http)->Shutdown();
  http->reset();
  service->reset();  // its final flush fails (the store is gone) and says so on stderr
  std::filesystem::remove(exports);
#endif
}

}  // namespace
}  // namespace herald
