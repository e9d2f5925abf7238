// herald serve's operations surface over real HTTP on 127.0.0.1: the access
// log (one JSON line per request, request ids, nothing secret or personal in
// it) and the metrics page's counts.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <atomic>

#include "herald/builtins.h"
#include "herald/server.h"
#include "http_client.h"
#include "nlohmann/json.hpp"
#include "server/access_log.h"
#include "server/metrics.h"

namespace herald {
namespace {

using json = nlohmann::json;
using test::HttpCall;
using test::HttpResponse;

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Server {
  explicit Server(v1::ServerConfig config) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    config.set_catalog(kCatalog);
    config.set_listen("127.0.0.1:0");
    config.set_threads(2);
    auto created = DecisionService::Create(config, registry);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto started = HttpServer::Start(service.get(), config);
    INFO(started.status().message());
    REQUIRE(started.ok());
    http = std::move(*started);
    base = "http://127.0.0.1:" + std::to_string(http->port());
  }
  Registry registry;
  std::unique_ptr<DecisionService> service;
  std::unique_ptr<HttpServer> http;
  std::string base;
};

std::vector<json> ReadLog(const std::filesystem::path& path, std::string* text) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  *text = all.str();
  std::vector<json> lines;
  std::istringstream lines_in(*text);
  for (std::string line; std::getline(lines_in, line);) {
    INFO(line);
    lines.push_back(json::parse(line));  // every line is one JSON object
  }
  return lines;
}

TEST_CASE("access log: one JSON line per request with its id, route template and status, and no secrets") {
  auto dir = TempDir("herald-access-log");
  v1::ServerConfig config;
  config.set_access_log((dir / "access.jsonl").string());
  Server server(config);
  const std::string select = server.base + "/v1/ads:select";
  const std::string user = "USER-SECRET-7731";
  const std::string profile_value = "PROFILE-SECRET-5521";
  const std::string bearer = "Authorization: Bearer KEY-SECRET-9f8e7d6c5b4a";

  // A decision with a well-formed request id: echoed back.
  HttpResponse decided = HttpCall("POST", select,
                                  R"({"pageGroups":["Home"],"count":3,"userId":")" + user +
                                      R"(","profile":{"state":")" + profile_value + R"("}})",
                                  "application/json", {"X-Request-Id: req-abc.123", bearer});
  REQUIRE(decided.status == 200);
  REQUIRE(decided.header("x-request-id") == "req-abc.123");
  json winners = json::parse(decided.body)["winners"];
  REQUIRE(!winners.empty());
  const std::string click_path = winners[0]["clickUrl"].get<std::string>();
  const std::string token = click_path.substr(click_path.rfind('/') + 1);

  // A malformed id (spaces, a secret, too long) is replaced by a generated one.
  HttpResponse bad_id = HttpCall("POST", select, R"({"count":1000,"userId":")" + user + R"("})",
                                 "application/json", {"X-Request-Id: bad id " + profile_value});
  REQUIRE(bad_id.status == 400);
  const std::string generated = bad_id.header("x-request-id");
  REQUIRE(std::regex_match(generated, std::regex("[0-9a-f]{32}")));
  // A value of the wrong type echoes the value in the error message, not in the log.
  HttpResponse wrong_type =
      HttpCall("POST", select, R"({"profile":{"age":")" + profile_value + R"("}})", "application/json", {bearer});
  REQUIRE(wrong_type.status == 400);
  REQUIRE(wrong_type.body.find(profile_value) != std::string::npos);
  HttpResponse clicked = HttpCall("GET", server.base + click_path);
  REQUIRE(clicked.status == 302);
  HttpResponse report = HttpCall("GET", server.base + "/v1/reports/campaign-event-summary?campaign=" + user);
  HttpResponse unknown = HttpCall("GET", server.base + "/no/such/" + user);
  REQUIRE(unknown.status == 404);
  server.http->Shutdown();

  std::string text;
  std::vector<json> lines = ReadLog(dir / "access.jsonl", &text);
  REQUIRE(lines.size() == 6);
  for (const std::string& secret : {user, profile_value, std::string("KEY-SECRET"), token}) {
    INFO(secret << " in\n" << text);
    REQUIRE(text.find(secret) == std::string::npos);
  }
  CHECK(lines[0]["request_id"] == "req-abc.123");
  CHECK(lines[0]["method"] == "POST");
  CHECK(lines[0]["route"] == "/v1/ads:select");
  CHECK(lines[0]["status"] == 200);
  CHECK(lines[0]["response_bytes"].get<int64_t>() == static_cast<int64_t>(decided.body.size()));
  CHECK(lines[0]["duration_seconds"].get<double>() > 0);
  CHECK(lines[0]["time"].get<std::string>().size() == 24);  // 2026-12-04T21:03:04.123Z
  CHECK(lines[1]["request_id"] == generated);
  CHECK(lines[1]["status"] == 400);
  CHECK(lines[1]["error_code"] == "invalid_argument");
  CHECK(lines[3]["route"] == "/v1/clicks/{token}");
  CHECK(lines[3]["status"] == 302);
  CHECK(lines[4]["route"] == "/v1/reports/{name}");
  CHECK(lines[4]["status"] == report.status);
  CHECK(lines[5]["route"] == "unmatched");
  CHECK(lines[5]["error_code"] == "not_found");
  std::filesystem::remove_all(dir);
}

TEST_CASE("access log: an unwritable file fails the start naming it") {
  v1::ServerConfig config;
  config.set_access_log("/nonexistent-dir/access.jsonl");
  config.set_catalog(kCatalog);
  config.set_listen("127.0.0.1:0");
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto service = DecisionService::Create(config, registry);
  REQUIRE(service.ok());
  auto started = HttpServer::Start(service->get(), config);
  REQUIRE(!started.ok());
  REQUIRE(std::string(started.status().message()).find("/nonexistent-dir/access.jsonl") != std::string::npos);
}

TEST_CASE("request ids: well-formed ones kept, others replaced by 32 hex digits, never repeated") {
  using server_internal::RequestIdFrom;
  CHECK(RequestIdFrom("abc-DEF_0.9:x") == "abc-DEF_0.9:x");
  CHECK(RequestIdFrom(std::string(64, 'a')) == std::string(64, 'a'));
  for (std::string bad : {std::string(""), std::string(65, 'a'), std::string("a b"), std::string("a\"b"),
                          std::string("a\nb"), std::string("caf\xc3\xa9")}) {
    std::string id = RequestIdFrom(bad);
    CHECK(std::regex_match(id, std::regex("[0-9a-f]{32}")));
  }
  CHECK(RequestIdFrom("") != RequestIdFrom(""));
}

TEST_CASE("metrics: decisions, slots and requests count the traffic") {
  v1::ServerConfig config;
  config.set_access_log("off");
  Server server(config);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(HttpCall("POST", server.base + "/v1/ads:select",
                     R"({"pageGroups":["Home"],"count":2,"userId":"u)" + std::to_string(i) + R"("})")
                .status == 200);
  }
  REQUIRE(HttpCall("POST", server.base + "/v1/ads:select", R"({"count":1000})").status == 400);
  HttpResponse page = HttpCall("GET", server.base + "/metrics");
  REQUIRE(page.status == 200);
  REQUIRE(page.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string& m = page.body;
  INFO(m);
  CHECK(m.find("herald_decisions_total{outcome=\"filled\"} 4\n") != std::string::npos);
  CHECK(m.find("herald_decisions_total{outcome=\"rejected\"} 1\n") != std::string::npos);
  CHECK(m.find("herald_http_requests_total{route=\"/v1/ads:select\",status_class=\"2xx\"} 4\n") !=
        std::string::npos);
  CHECK(m.find("herald_http_requests_total{route=\"/v1/ads:select\",status_class=\"4xx\"} 1\n") !=
        std::string::npos);
  CHECK(m.find("herald_http_request_duration_seconds_count{route=\"/v1/ads:select\"} 5\n") != std::string::npos);
  // 4 decisions of 2 slots: paid + house + empty slots add up to 8.
  std::smatch paid, house, empty;
  REQUIRE(std::regex_search(m, paid, std::regex("herald_slots_total\\{kind=\"paid\"\\} (\\d+)")));
  REQUIRE(std::regex_search(m, house, std::regex("herald_slots_total\\{kind=\"house\"\\} (\\d+)")));
  REQUIRE(std::regex_search(m, empty, std::regex("herald_slots_total\\{kind=\"empty\"\\} (\\d+)")));
  CHECK(std::stoi(paid[1]) + std::stoi(house[1]) + std::stoi(empty[1]) == 8);
  CHECK(std::stoi(paid[1]) > 0);
  // Every paid ad of the catalog has its delivery and expectation.
  CHECK(m.find("herald_paid_ad_goal{item_id=\"blue-paint\",campaign_id=\"spring-paint\",unit=\"requests\"} 32000") !=
        std::string::npos);
  CHECK(m.find("herald_paid_ad_expected{item_id=\"coho-latte\"") != std::string::npos);
  HttpResponse post = HttpCall("POST", server.base + "/metrics", "{}");
  CHECK(post.status == 405);
}

TEST_CASE("metrics: label values are escaped") {
  using server_internal::EscapeLabelValue;
  CHECK(EscapeLabelValue(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(EscapeLabelValue("a\nb") == "a\\nb");
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST_CASE("reload under load: no request fails while the catalog switches back and forth, every reload counted") {
  auto dir = TempDir("herald-reload");
  const auto catalog = dir / "catalog.textproto";
  std::stringstream original;
  original << std::ifstream(kCatalog).rdbuf();
  // B: the same catalog with the Spring campaign renamed, so both compile.
  std::string renamed = original.str();
  renamed.replace(renamed.find("name: \"Spring\""), 14, "name: \"Spring B\"");
  std::ofstream(catalog) << original.str();
  v1::ServerConfig config;
  config.set_access_log("off");
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  config.set_catalog(catalog.string());
  config.set_listen("127.0.0.1:0");
  config.set_threads(2);
  auto service = DecisionService::Create(config, registry);
  REQUIRE(service.ok());
  auto http = HttpServer::Start(service->get(), config);
  REQUIRE(http.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*http)->port());
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  auto client = [&](int id) {
    const std::string basket =
        R"({"basket":{"currency":"USD","items":[{"productId":"tent","category":"Outdoor","unitPriceMinor":"4500","quantity":"1"}]}})";
    for (int i = 0; !done.load(); ++i) {
      HttpResponse r = i % 2 == 0 ? HttpCall("POST", base + "/v1/ads:select",
                                             R"({"pageGroups":["Home"],"count":3,"userId":"u)" +
                                                 std::to_string(id) + R"(","profile":{"age":34,"state":"WA"}})")
                                  : HttpCall("POST", base + "/v1/baskets:price", basket);
      (r.status == 200 ? answered : failed).fetch_add(1);
    }
  };
  std::thread a(client, 1), b(client, 2);
  int reloads = 0;
  for (; reloads < 30; ++reloads) {
    std::ofstream(catalog) << (reloads % 2 == 0 ? renamed : original.str());
    REQUIRE((*service)->ReloadCatalog().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  // A catalog that does not load changes nothing and is counted as failed.
  std::ofstream(catalog) << "campaigns { this is not a catalog";
  CHECK(!(*service)->ReloadCatalog().ok());
  done = true;
  a.join();
  b.join();
  CHECK(failed.load() == 0);
  CHECK(answered.load() > 10);
  HttpResponse metrics = HttpCall("GET", base + "/metrics");
  CHECK(metrics.body.find("herald_catalog_reloads_total{result=\"ok\"} 30\n") != std::string::npos);
  CHECK(metrics.body.find("herald_catalog_reloads_total{result=\"failed\"} 1\n") != std::string::npos);
  (*http)->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald
