// herald serve over real HTTP on 127.0.0.1: decisions with signed click
// links, clicks, baskets, orders, responses, reports, health, bad input, and
// the `herald serve` program's SIGTERM drain.
#include "herald_process.h"
#include "herald/server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "herald/builtins.h"
#include "herald/catalog.h"
#include "herald/report.h"
#include "herald/store.h"
#include "http_client.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using json = nlohmann::json;
using test::HttpCall;
using test::HttpResponse;

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

// A service and its HTTP server on an ephemeral port of 127.0.0.1.
struct TestServer {
  explicit TestServer(v1::ServerConfig config = {}) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    if (config.catalog().empty()) config.set_catalog(kCatalog);
    config.set_listen("127.0.0.1:0");
    if (config.threads() == 0) config.set_threads(2);
    auto created = DecisionService::Create(config, registry);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto started = HttpServer::Start(service.get(), config);
    REQUIRE(started.ok());
    http = std::move(*started);
    base = "http://127.0.0.1:" + std::to_string(http->port());
  }
  HttpResponse Post(const std::string& path, const std::string& body,
                    const std::string& content_type = "application/json") const {
    return HttpCall("POST", base + path, body, content_type);
  }
  HttpResponse Get(const std::string& path) const { return HttpCall("GET", base + path); }
  // Events of one type in the store (after a flush), from the event summary report.
  int64_t EventCount(const std::string& type) const {
    REQUIRE(service->Flush().ok());
    auto table = service->Report({"campaign-event-summary", "", "", ""});
    REQUIRE(table.ok());
    json rows = json::parse(RenderJson(*table))["rows"];
    int64_t total = 0;
    for (const json& row : rows) {
      if (row.value("event", "") == type && row["events"].is_number()) total += row["events"].get<int64_t>();
    }
    return total;
  }

  Registry registry;
  std::unique_ptr<DecisionService> service;
  std::unique_ptr<HttpServer> http;
  std::string base;
};

json Parse(const HttpResponse& r) {
  INFO(r.body);
  REQUIRE(r.header("content-type").rfind("application/json", 0) == 0);
  return json::parse(r.body);
}

// Every error answer: the status, a JSON body with code, message and field.
void RequireError(const HttpResponse& r, long status, const std::string& field) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == status);
  json body = Parse(r);
  REQUIRE(body["code"].is_string());
  REQUIRE(!body["message"].get<std::string>().empty());
  REQUIRE(body["field"] == field);
}

const char* kSelectHome = R"({"pageGroups":["Home"],"count":3,"userId":"u1","profile":{"age":34,"state":"WA"}})";

TEST_CASE("serve: ads are selected over HTTP and link to signed clicks that redirect to the advertiser") {
  TestServer server;
  HttpResponse r = server.Post("/v1/ads:select", kSelectHome);
  REQUIRE(r.status == 200);
  json winners = Parse(r)["winners"];
  REQUIRE(winners.size() == 3);
  // Where each ad leads, from the catalog.
  auto catalog = LoadCatalog(kCatalog);
  REQUIRE(catalog.ok());
  std::map<std::string, std::string> target;
  for (const auto& campaign : catalog->campaigns()) {
    for (const auto& item : campaign.items()) {
      if (item.has_ad()) target[item.id()] = item.ad().display().click_url();
    }
  }
  for (const json& w : winners) {
    std::string link = w["clickUrl"];
    REQUIRE(link.rfind("/v1/clicks/", 0) == 0);
    const std::string advertiser = target.at(w["itemId"]);
    if (advertiser.empty()) continue;
    std::string html = w["html"];
    if (html.find("href") != std::string::npos) {
      // The display links to the signed click instead of the advertiser.
      REQUIRE(html.find(link) != std::string::npos);
      REQUIRE(html.find(advertiser) == std::string::npos);
    }
  }
  REQUIRE(server.EventCount("click") == 0);

  const json& first = winners[0];
  HttpResponse click = server.Get(first["clickUrl"]);
  REQUIRE(click.status == 302);
  const std::string advertiser = target.at(first["itemId"]);
  REQUIRE(click.header("location") == (advertiser.empty() ? "/" : advertiser));
  REQUIRE(server.EventCount("click") == 1);
  REQUIRE(server.EventCount("request") == 3);

  // With trace: every candidate's fate comes back with the winners.
  json traced = Parse(server.Post("/v1/ads:select", R"({"pageGroups":["Home"],"count":3,"trace":true,"dryRun":true})"));
  REQUIRE(traced["winners"].size() == 3);
  REQUIRE(!traced["trace"].empty());
  REQUIRE(server.EventCount("request") == 3);  // a dry run records nothing
}

TEST_CASE("serve: click links cannot be forged, altered, replayed after expiry, and survive key rotation") {
  setenv("HERALD_TEST_CLICK_K1", "0123456789abcdef-first-key", 1);
  setenv("HERALD_TEST_CLICK_K2", "fedcba9876543210-second-key", 1);
  v1::ServerConfig old_keys;
  auto* k1 = old_keys.add_click_keys();
  k1->set_id("k1");
  k1->set_secret_env("HERALD_TEST_CLICK_K1");
  v1::ServerConfig rotated = old_keys;
  rotated.clear_click_keys();
  auto* k2 = rotated.add_click_keys();
  k2->set_id("k2");
  k2->set_secret_env("HERALD_TEST_CLICK_K2");
  *rotated.add_click_keys() = *k1;

  TestServer before(old_keys);
  TestServer after(rotated);
  const absl::Time now = absl::Now();
  std::string token = before.service->SignClick("northwind-primer", "u1", "Home", now);
  REQUIRE(token.rfind("k1.", 0) == 0);
  // Signed with a key the rotated server still lists: accepted there.
  REQUIRE(after.Get("/v1/clicks/" + token).status == 302);
  // The rotated server signs with its first key.
  REQUIRE(after.service->SignClick("northwind-primer", "u1", "Home", now).rfind("k2.", 0) == 0);

  // Another item's claim under this signature, a flipped signature byte, an
  // unknown key, garbage, an expired link: 404, and no click recorded.
  std::string other = before.service->SignClick("coho-latte", "u1", "Home", now);
  std::string swapped = token.substr(0, token.find('.') + 1) +
                        other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1) +
                        token.substr(token.rfind('.'));
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  // The same MAC bytes spelled with the last character's two unused bits set:
  // decoding accepts it, so only a textual comparison refuses it.
  std::string respelled = token;
  {
    const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    respelled.back() = kAlphabet[kAlphabet.find(token.back()) ^ 1];
  }
  std::string expired = before.service->SignClick("northwind-primer", "u1", "Home", now - absl::Hours(24 * 8));
  for (const std::string& bad : {swapped, flipped, respelled, "k9" + token.substr(2), std::string("nonsense"), expired}) {
    INFO(bad);
    RequireError(before.Get("/v1/clicks/" + bad), 404, "");
  }
  REQUIRE(before.EventCount("click") == 0);
  REQUIRE(before.Get("/v1/clicks/" + token).status == 302);
  REQUIRE(before.EventCount("click") == 1);
}

TEST_CASE("serve: bad input is refused with a JSON error naming the field, before anything is recorded") {
  v1::ServerConfig config;
  config.mutable_limits()->set_max_body_bytes(64 * 1024);
  TestServer server(config);
  RequireError(server.Post("/v1/ads:select", R"({"pageGroups":["Home"],"profile":{"age":"abc"}})"), 400,
               "profile.age");
  REQUIRE(Parse(server.Post("/v1/ads:select", R"({"profile":{"age":"abc"}})"))["message"] ==
          "profile.age: expected int, got \"abc\"");
  RequireError(server.Post("/v1/ads:select", R"({"profile":{"agee":3}})"), 400, "profile.agee");
  RequireError(server.Post("/v1/ads:select", R"({"context":{"device":7}})"), 400, "context.device");
  RequireError(server.Post("/v1/ads:select", R"({"count":"abc"})"), 400, "count");
  RequireError(server.Post("/v1/ads:select", R"({"count":1000})"), 400, "count");
  RequireError(server.Post("/v1/ads:select", R"({"cont":3})"), 400, "cont");
  RequireError(server.Post("/v1/ads:select", R"({"time":"2026-13-01T00:00:00Z"})"), 400, "time");
  RequireError(server.Post("/v1/ads:select", R"({"pageGroups":["Home")"), 400, "body");
  RequireError(server.Post("/v1/ads:select", "[1,2]"), 400, "body");
  RequireError(server.Post("/v1/ads:select", ""), 400, "body");
  RequireError(server.Post("/v1/ads:select", "{\"pageGroups\":[\"Ho\xff\xfeme\"]}"), 400, "body");
  RequireError(server.Post("/v1/ads:select", "{\"userId\":\"" + std::string(300, 'x') + "\"}"), 400, "user_id");
  RequireError(server.Post("/v1/ads:select", "{}", "text/plain"), 415, "Content-Type");
  RequireError(server.Post("/v1/ads:select", "{}", ""), 415, "Content-Type");
  CHECK(Parse(server.Post("/v1/ads:select", "{}", "text/plain"))["code"] == "unsupported_media_type");
  HttpResponse wrong_method = server.Get("/v1/ads:select");
  RequireError(wrong_method, 405, "");
  REQUIRE(wrong_method.header("allow") == "POST");
  RequireError(HttpCall("DELETE", server.base + "/v1/reports/campaign-item-summary"), 405, "");
  RequireError(server.Get("/v1/nothing"), 404, "");
  RequireError(server.Get("/v1/reports/no-such-report"), 404, "");
  RequireError(server.Get("/v1/reports/campaign-item-summary?from=yesterday"), 400, "from");
  RequireError(server.Get("/v1/reports/campaign-item-summary?format=xml"), 400, "format");
  RequireError(server.Post("/v1/baskets:price", R"({"basket":{"items":[{"unitPriceMinor":"1x"}]}})"), 400,
               "basket.items[0].unit_price_minor");
  RequireError(server.Post("/v1/orders:commit", R"({"basket":{"currency":"USD"}})"), 400, "basket.order_id");
  RequireError(server.Post("/v1/responses", R"({"subject":{"customerId":"c1"}})"), 400, "action.issue");
  // A body over the limit is refused in JSON naming the limit; one past the
  // hard limit (4x, at least 1 MiB more) is not even read: libevent refuses it.
  HttpResponse huge = server.Post("/v1/ads:select", "{\"userId\":\"" + std::string(200 * 1024, 'x') + "\"}");
  RequireError(huge, 413, "");
  REQUIRE(huge.body.find("limits.max_body_bytes") != std::string::npos);
  HttpResponse enormous = server.Post("/v1/ads:select", std::string(8 << 20, ' '));
  REQUIRE(enormous.status == 413);
  // None of it reached the store; the server still answers.
  REQUIRE(server.EventCount("request") == 0);
  REQUIRE(server.Post("/v1/ads:select", kSelectHome).status == 200);
  REQUIRE(server.EventCount("request") == 3);
}

TEST_CASE("serve: baskets are priced, orders commit their coupons once, responses are captured") {
  TestServer server;
  const std::string basket =
      // 08:00 in the catalog's zone: outside the 5-9 pm happy hour, whatever the clock says.
      R"({"currency":"USD","customerId":"c7","couponCodes":["WELCOME5"],"time":"2026-06-02T15:00:00Z",)"
      R"("items":[{"productId":"tent","category":"Outdoor","unitPriceMinor":"4500","quantity":"1"}])";
  json priced = Parse(server.Post("/v1/baskets:price", R"({"basket":)" + basket + "}}"));
  REQUIRE(priced["totalMinor"] == "4000");
  json committed = Parse(server.Post("/v1/orders:commit", R"({"basket":)" + basket + R"(,"orderId":"o1"}})"));
  REQUIRE(committed["priced"]["totalMinor"] == "4000");
  // The same customer's second order: the code's per-customer limit is used up.
  RequireError(server.Post("/v1/orders:commit", R"({"basket":)" + basket + R"(,"orderId":"o2"}})"), 409,
               "basket.coupon_codes");

  json captured = Parse(server.Post(
      "/v1/responses",
      R"({"subject":{"customerId":"c7","email":"c7@example.com"},"action":{"issue":"Sales","group":"Gear","name":"WinterJacket"},"outcome":"OUTCOME_ACCEPTED","channel":"Web"})"));
  REQUIRE(captured["interactionId"].get<std::string>().size() == 32);
  REQUIRE(std::stoll(captured["sequence"].get<std::string>()) > 0);
  RequireError(server.Post("/v1/responses",
                           R"({"subject":{"customerId":"c7"},"action":{"issue":"Sales","group":"Gear","name":"Nope"},"outcome":"OUTCOME_ACCEPTED"})"),
               404, "");
  // Consent (docs/conversions.md): kept with the response; a bad value names its field.
  json consented = Parse(server.Post(
      "/v1/responses",
      R"({"subject":{"customerId":"c7"},"action":{"issue":"Sales","group":"Gear","name":"WinterJacket"},"outcome":"OUTCOME_ACCEPTED",)"
      R"("consent":{"adUserData":"CONSENT_STATUS_GRANTED","dataProcessingOptions":["LDU"],"dataProcessingOptionsCountry":1,"dataProcessingOptionsState":1000}})"));
  REQUIRE(consented["consent"]["adUserData"] == "CONSENT_STATUS_GRANTED");
  REQUIRE(consented["consent"]["dataProcessingOptionsState"] == 1000);
  RequireError(server.Post("/v1/responses",
                           R"({"subject":{"customerId":"c7"},"action":{"issue":"Sales","group":"Gear","name":"WinterJacket"},"outcome":"OUTCOME_ACCEPTED",)"
                           R"("consent":{"dataProcessingOptions":["LDU"],"dataProcessingOptionsCountry":1,"dataProcessingOptionsState":7}})"),
               400, "consent.data_processing_options_state");
}

TEST_CASE("serve: reports as JSON and CSV, health and readiness, the OpenAPI document") {
  TestServer server;
  REQUIRE(server.Post("/v1/ads:select", kSelectHome).status == 200);
  REQUIRE(server.service->Flush().ok());
  json report = Parse(server.Get("/v1/reports/campaign-item-summary"));
  REQUIRE(report["rows"].size() > 0);
  HttpResponse csv = server.Get("/v1/reports/campaign-item-summary?format=csv");
  REQUIRE(csv.status == 200);
  REQUIRE(csv.header("content-type").rfind("text/csv", 0) == 0);
  REQUIRE(csv.body.rfind("campaign,item,", 0) == 0);
  REQUIRE(Parse(server.Get("/healthz"))["status"] == "ok");
  REQUIRE(Parse(server.Get("/readyz"))["status"] == "ready");
  json openapi = Parse(server.Get("/v1/openapi.json"));
  REQUIRE(openapi["openapi"].get<std::string>().rfind("3.1", 0) == 0);
}

TEST_CASE("serve: reloading the catalog while requests run fails none of them") {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("herald-serve-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::path catalog = dir / "catalog.textproto";
  std::filesystem::copy_file(kCatalog, catalog, std::filesystem::copy_options::overwrite_existing);
  v1::ServerConfig config;
  config.set_catalog(catalog.string());
  TestServer server(config);

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      while (!stop) {
        HttpResponse r = server.Post("/v1/ads:select", kSelectHome);
        (r.status == 200 ? answered : failed)++;
      }
    });
  }
  // Rename an ad, reload a few times; a broken file is refused and the old catalog stays.
  std::ifstream in(catalog);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = std::regex_replace(text, std::regex("name: \"Primer\""), "name: \"Primer v2\"");
  std::ofstream(catalog) << text;
  for (int i = 0; i < 5; ++i) REQUIRE(server.service->ReloadCatalog().ok());
  std::ofstream(dir / "broken") << "campaigns { id: ";
  std::filesystem::copy_file(dir / "broken", catalog, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(!server.service->ReloadCatalog().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& c : clients) c.join();
  REQUIRE(failed == 0);
  REQUIRE(answered > 0);
  json winners = Parse(server.Post("/v1/ads:select", kSelectHome))["winners"];
  bool renamed = false;
  for (const json& w : winners) renamed |= w["name"] == "Primer v2";
  REQUIRE(renamed);
  std::filesystem::remove_all(dir);
}

// The real program: every decision acknowledged before SIGTERM is in the
// store after the drain.
TEST_CASE("serve: herald serve drains on SIGTERM and loses no acknowledged event") {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("herald-serve-term-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string store = (dir / "events.db").string();
  const int port = testing::FreeLoopbackPort();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string herald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
  pid_t pid = fork();
  if (pid == 0) {
    execl(herald.c_str(), "herald", "serve", "--catalog", kCatalog.c_str(), "--store", store.c_str(), "--listen",
          listen.c_str(), nullptr);
    _exit(127);
  }
  const std::string base = "http://" + listen;
  for (int i = 0; i < 100 && HttpCall("GET", base + "/readyz").status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int acknowledged = 0;
  for (int i = 0; i < 40; ++i) {
    HttpResponse r = HttpCall("POST", base + "/v1/ads:select", kSelectHome);
    if (r.status == 200) acknowledged += static_cast<int>(json::parse(r.body)["winners"].size());
  }
  REQUIRE(acknowledged > 0);
  kill(pid, SIGTERM);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto opened = OpenStore(store, registry);
  REQUIRE(opened.ok());
  auto table = RunReport("campaign-event-summary", (*opened)->events(), {});
  REQUIRE(table.ok());
  int64_t requests = 0;
  const json rows = json::parse(RenderJson(*table))["rows"];
  for (const json& row : rows) {
    if (row.value("event", "") == "request" && row["events"].is_number()) requests += row["events"].get<int64_t>();
  }
  INFO(store);
  REQUIRE(requests == acknowledged);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The e-mail address's bytes in a SQLite store after one capture through the
// server, with `mode` in the server config (UNSPECIFIED: the default).
bool CapturedAddressInFile(v1::PersonalDataMode mode) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("herald-serve-pd-" + std::to_string(::getpid()) + "-" + std::to_string(static_cast<int>(mode)));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    v1::ServerConfig config;
    config.set_store("sqlite:" + dir + "/herald.db");
    config.mutable_personal_data()->set_mode(mode);
    TestServer server(config);
    json captured = Parse(server.Post(
        "/v1/responses",
        R"({"subject":{"customerId":"c7","email":"Zelda.Quist@Example.com"},"action":{"issue":"Sales","group":"Gear","name":"WinterJacket"},"outcome":"OUTCOME_ACCEPTED","channel":"Web"})"));
    REQUIRE(captured["interactionId"].get<std::string>().size() == 32);
    REQUIRE(server.service->Flush().ok());
  }
  const std::string bytes = FileBytes(dir + "/herald.db") + FileBytes(dir + "/herald.db-wal");
  std::filesystem::remove_all(dir);
  return bytes.find("Zelda.Quist@Example.com") != std::string::npos;
}

TEST_CASE("serve: the server config's personal_data decides how captured identifiers are kept") {
  unsetenv("HERALD_PERSONAL_DATA_MODE");
  unsetenv("HERALD_PERSONAL_DATA_KEYS");
  unsetenv("HERALD_PERSONAL_DATA_KEYS_FILE");
  // No key ring, nothing configured: hashes only.
  CHECK_FALSE(CapturedAddressInFile(v1::PERSONAL_DATA_MODE_UNSPECIFIED));
  // Configured PLAINTEXT: the raw address is kept (and the operator warned).
  CHECK(CapturedAddressInFile(v1::PERSONAL_DATA_MODE_PLAINTEXT));
  // Configured ENCRYPT without a key ring: the server does not start, naming what to set.
  v1::ServerConfig config;
  config.set_catalog(kCatalog);
  config.set_store("sqlite:" + (std::filesystem::temp_directory_path() /
                                ("herald-serve-pd-enc-" + std::to_string(::getpid()) + ".db")).string());
  config.mutable_personal_data()->set_mode(v1::PERSONAL_DATA_MODE_ENCRYPT);
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto created = DecisionService::Create(config, registry);
  REQUIRE_FALSE(created.ok());
  CHECK_THAT(std::string(created.status().message()), Catch::Contains("HERALD_PERSONAL_DATA_KEYS"));
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST_CASE("ToApiError: WithHttpStatus sets the HTTP answer; a malformed payload is ignored", "[server]") {
  absl::Status typed = WithHttpStatus(WithField(absl::InvalidArgumentError("Content-Type: expected JSON"), "Content-Type"),
                                      415, "unsupported_media_type");
  CHECK(typed.code() == absl::StatusCode::kInvalidArgument);  // what gRPC callers see
  ApiErrorReply reply = ToApiError(typed);
  CHECK(reply.http_status == 415);
  CHECK(reply.error.code() == "unsupported_media_type");
  CHECK(reply.error.field() == "Content-Type");
  absl::Status odd = absl::InvalidArgumentError("count: too big");
  odd.SetPayload(absl::string_view(kHttpStatusPayload.data(), kHttpStatusPayload.size()), absl::Cord("200 fine"));
  reply = ToApiError(odd);
  CHECK(reply.http_status == 400);
  CHECK(reply.error.code() == "invalid_argument");
  CHECK(reply.error.field() == "count");
  CHECK(WithHttpStatus(absl::OkStatus(), 415, "x").ok());
}

}  // namespace
}  // namespace herald
