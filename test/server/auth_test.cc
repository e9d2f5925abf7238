// herald serve's API keys, per-key rate limit and connection limit over real
// HTTP on 127.0.0.1, and `herald serve keys` / the non-loopback warning of
// the program itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "herald/builtins.h"
#include "herald/server.h"
#include "http_client.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using json = nlohmann::json;
using test::HttpCall;
using test::HttpResponse;

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";
const std::string kHerald = std::string(HERALD_BINARY_DIR) + "/bin/herald";

std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Server {
  explicit Server(v1::ServerConfig config) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    config.set_catalog(kCatalog);
    config.set_listen("127.0.0.1:0");
    config.set_threads(1);
    config.set_access_log("off");
    auto created = DecisionService::Create(config, registry);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto started = HttpServer::Start(service.get(), config);
    INFO(started.status().message());
    REQUIRE(started.ok());
    http = std::move(*started);
    base = "http://127.0.0.1:" + std::to_string(http->port());
  }
  HttpResponse Select(const std::string& key) const {
    std::vector<std::string> headers;
    if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
    return HttpCall("POST", base + "/v1/ads:select", R"({"pageGroups":["Home"],"count":1})", "application/json",
                    headers);
  }
  HttpResponse Get(const std::string& path, const std::string& key = "") const {
    std::vector<std::string> headers;
    if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
    return HttpCall("GET", base + path, "", "", headers);
  }
  Registry registry;
  std::unique_ptr<DecisionService> service;
  std::unique_ptr<HttpServer> http;
  std::string base;
};

void RequireError(const HttpResponse& r, long status, const std::string& code) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == status);
  json body = json::parse(r.body);
  REQUIRE(body["code"] == code);
  REQUIRE(!body["message"].get<std::string>().empty());
}

TEST_CASE("API keys: 401 without a valid key, 403 for the wrong scope, public routes stay open") {
  auto dir = TempDir("herald-keys");
  const std::string file = (dir / "keys").string();
  auto decisions = CreateApiKey(file, "decisions", "shop");
  auto reports = CreateApiKey(file, "reports", "bi team");
  auto admin = CreateApiKey(file, "admin", "ops");
  REQUIRE(decisions.ok());
  REQUIRE(reports.ok());
  REQUIRE(admin.ok());
  REQUIRE(std::regex_match(*decisions, std::regex("hk_[0-9a-f]{8}_[0-9a-f]{64}")));
  // Only hashes are stored.
  const std::string stored = ReadFile(file);
  for (const std::string* key : {&*decisions, &*reports, &*admin}) {
    REQUIRE(stored.find(key->substr(12)) == std::string::npos);
  }
  REQUIRE((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);

  v1::ServerConfig config;
  config.set_api_keys_file(file);
  Server server(config);
  REQUIRE(server.http->RequiresKeys());
  HttpResponse none = server.Select("");
  RequireError(none, 401, "unauthenticated");
  CHECK(none.header("www-authenticate") == "Bearer");
  RequireError(server.Select("hk_00000000_" + std::string(64, '0')), 401, "unauthenticated");
  // The right id with a wrong secret: the hash decides.
  std::string altered = *decisions;
  altered.back() = altered.back() == '0' ? '1' : '0';
  RequireError(server.Select(altered), 401, "unauthenticated");
  RequireError(server.Select(*reports), 403, "permission_denied");
  CHECK(server.Select(*decisions).status == 200);
  CHECK(server.Select(*admin).status == 200);
  RequireError(server.Get("/v1/reports/campaign-event-summary", *decisions), 403, "permission_denied");
  CHECK(server.Get("/v1/reports/campaign-event-summary", *reports).status == 200);
  // /metrics needs admin unless public_metrics.
  RequireError(server.Get("/metrics"), 401, "unauthenticated");
  RequireError(server.Get("/metrics", *reports), 403, "permission_denied");
  CHECK(server.Get("/metrics", *admin).status == 200);
  for (const char* open : {"/healthz", "/readyz", "/v1/openapi.json"}) {
    INFO(open);
    CHECK(server.Get(open).status == 200);
  }
  // A click link is public: its signature is its authorization.
  std::string token = server.service->SignClick("northwind-primer", "u1", "Home", absl::Now());
  CHECK(server.Get("/v1/clicks/" + token).status == 302);

  // Revoked and reloaded: refused from then on.
  auto listed = ListApiKeys(file);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 3);
  REQUIRE(RevokeApiKey(file, (*listed)[0].id).ok());
  REQUIRE(server.http->ReloadKeys().ok());
  RequireError(server.Select(*decisions), 401, "unauthenticated");
  CHECK(!RevokeApiKey(file, "ffffffff").ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("API keys: none configured on loopback means open, require_api_keys closes it") {
  v1::ServerConfig open;
  Server open_server(open);
  CHECK(!open_server.http->RequiresKeys());
  CHECK(open_server.Select("").status == 200);
  v1::ServerConfig closed;
  closed.set_require_api_keys(true);
  closed.set_public_metrics(true);
  Server closed_server(closed);
  RequireError(closed_server.Select(""), 401, "unauthenticated");
  CHECK(closed_server.Get("/metrics").status == 200);
}

TEST_CASE("rate limit: a key over its requests per second gets 429 with Retry-After, counted in metrics") {
  auto dir = TempDir("herald-rate");
  const std::string file = (dir / "keys").string();
  auto fast = CreateApiKey(file, "decisions", "fast");
  auto other = CreateApiKey(file, "admin", "other");
  REQUIRE(fast.ok());
  REQUIRE(other.ok());
  v1::ServerConfig config;
  config.set_api_keys_file(file);
  config.mutable_limits()->set_requests_per_second_per_key(0.5);  // one token every 2 s
  config.mutable_limits()->set_burst_per_key(3);
  Server server(config);
  for (int i = 0; i < 3; ++i) REQUIRE(server.Select(*fast).status == 200);
  HttpResponse limited = server.Select(*fast);
  RequireError(limited, 429, "resource_exhausted");
  CHECK(std::stoi(limited.header("retry-after")) >= 1);
  CHECK(std::stoi(limited.header("retry-after")) <= 2);
  // Per key: another key still has its own bucket.
  CHECK(server.Select(*other).status == 200);
  HttpResponse metrics = server.Get("/metrics", *other);
  CHECK(metrics.body.find("herald_http_rate_limited_requests_total 1\n") != std::string::npos);
  std::filesystem::remove_all(dir);
}

// A keep-alive connection sending one GET /healthz: the raw answer.
struct RawConnection {
  explicit RawConnection(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawConnection() { Close(); }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  std::string Get(const std::string& path) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
    std::string answer;
    char buffer[4096];
    for (;;) {
      size_t head = answer.find("\r\n\r\n");
      if (head != std::string::npos) {
        std::smatch length;
        std::string headers = answer.substr(0, head);
        if (std::regex_search(headers, length, std::regex("Content-Length: (\\d+)", std::regex::icase)) &&
            answer.size() >= head + 4 + std::stoul(length[1])) {
          return answer;
        }
      }
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return answer;
      answer.append(buffer, n);
    }
  }
  int fd = -1;
};

TEST_CASE("connection limit: beyond max_connections a connection is answered 503 and closed, and counted") {
  v1::ServerConfig config;
  config.mutable_limits()->set_max_connections(2);
  Server server(config);
  RawConnection first(server.http->port()), second(server.http->port());
  REQUIRE(first.Get("/healthz").rfind("HTTP/1.1 200", 0) == 0);
  REQUIRE(second.Get("/healthz").rfind("HTTP/1.1 200", 0) == 0);
  {
    RawConnection third(server.http->port());
    std::string refused = third.Get("/healthz");
    INFO(refused);
    REQUIRE(refused.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(refused.find("\"code\":\"unavailable\"") != std::string::npos);
    CHECK(refused.find("max_connections") != std::string::npos);
    char byte;
    CHECK(recv(third.fd, &byte, 1, 0) == 0);  // closed by the server
  }
  // The kept connections keep working; once one closes, a new one is admitted.
  REQUIRE(first.Get("/healthz").rfind("HTTP/1.1 200", 0) == 0);
  second.Close();
  std::string admitted;
  for (int attempt = 0; attempt < 50; ++attempt) {
    RawConnection again(server.http->port());
    admitted = again.Get("/metrics");
    if (admitted.rfind("HTTP/1.1 200", 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(admitted);
  REQUIRE(admitted.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(admitted.find("herald_http_connections_refused_total 1\n") != std::string::npos);
}

int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("herald serve keys: create prints the key once, list shows no secret, revoke removes it") {
  auto dir = TempDir("herald-keys-cli");
  const std::string file = (dir / "keys").string();
  REQUIRE(Shell(kHerald + " serve keys create --scope decisions --name 'shop front' --keys-file " + file + " >" +
                (dir / "key.txt").string() + " 2>" + (dir / "err.txt").string()) == 0);
  std::string key = ReadFile(dir / "key.txt");
  REQUIRE(std::regex_match(key, std::regex("hk_[0-9a-f]{8}_[0-9a-f]{64}\n")));
  REQUIRE(Shell(kHerald + " serve keys list --keys-file " + file + " >" + (dir / "list.txt").string()) == 0);
  std::string list = ReadFile(dir / "list.txt");
  CHECK(list.find("shop front") != std::string::npos);
  CHECK(list.find(key.substr(12, 64)) == std::string::npos);
  CHECK(list.find(key.substr(3, 8)) != std::string::npos);
  CHECK(Shell(kHerald + " serve keys create --scope root --name x --keys-file " + file + " 2>/dev/null") == 2);
  REQUIRE(Shell(kHerald + " serve keys revoke " + key.substr(3, 8) + " --keys-file " + file + " 2>/dev/null") == 0);
  auto listed = ListApiKeys(file);
  REQUIRE(listed.ok());
  CHECK(listed->empty());
  CHECK(Shell(kHerald + " serve keys revoke " + key.substr(3, 8) + " --keys-file " + file + " 2>/dev/null") == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("herald serve warns loudly when it listens beyond loopback without API keys") {
  auto dir = TempDir("herald-warn");
  auto run = [&](const std::string& listen, const std::string& extra) {
    std::string log = (dir / "log.txt").string();
    Shell("timeout -s TERM 2 " + kHerald + " serve --catalog " + kCatalog + " --listen " + listen +
          " --access-log off " + extra + " 2>" + log);
    return ReadFile(log);
  };
  std::string exposed = run("0.0.0.0:0", "");
  INFO(exposed);
  CHECK(exposed.find("\"listening\"") != std::string::npos);
  CHECK(exposed.find("WITHOUT API KEYS") != std::string::npos);
  CHECK(run("127.0.0.1:0", "").find("WITHOUT API KEYS") == std::string::npos);
  REQUIRE(CreateApiKey((dir / "keys").string(), "admin", "ops").ok());
  std::ofstream((dir / "c.textproto").string()) << "api_keys_file: \"keys\"\n";
  std::string keyed = run("0.0.0.0:0", "--config " + (dir / "c.textproto").string());
  CHECK(keyed.find("\"listening\"") != std::string::npos);
  CHECK(keyed.find("WITHOUT API KEYS") == std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald
