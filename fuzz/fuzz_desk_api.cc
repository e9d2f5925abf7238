// libFuzzer target for the Business Desk's admin API (herald/desk.h): every
// input is one signed-in request (its CSRF token sent) to a route chosen by
// the first byte, with the rest as the path's id and the JSON body, or a raw
// path for the app's files. No input may crash, hang, leak or throw; every
// answer but a success is a JSON ApiError with a code and a message, and
// none is a 500 (the stores here never fail).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "google/protobuf/text_format.h"
#include "herald/builtins.h"
#include "herald/catalog_versions.h"
#include "herald/desk.h"
#include "herald/server.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace {

constexpr char kCatalog[] = R"pb(
name: "fuzz"
user_attributes { name: "state" type: VALUE_TYPE_STRING }
reference_tables { page_groups { name: "Home" } }
customers { id: "c" name: "C" }
campaigns {
  id: "k" name: "K" customer_id: "c" start: "2026-01-01" end: "2027-01-01"
  items { id: "a" name: "A" ad { type: AD_TYPE_PAID quantity: 100 weight: 1 page_groups: "Home"
          display { text: "hi" click_url: "https://example.com/a" } } }
}
)pb";

struct Route {
  const char* method;
  const char* path;  // "%" is replaced by the input's id
};
constexpr Route kRoutes[] = {
    {"PUT", "/api/v1/catalog"},           {"PUT", "/api/v1/customers/%"},
    {"DELETE", "/api/v1/customers/%"},    {"PUT", "/api/v1/campaigns/%"},
    {"PUT", "/api/v1/campaigns/k/items/%"}, {"POST", "/api/v1/campaigns/%:set-goaling"},
    {"PUT", "/api/v1/target-groups/%"},   {"PUT", "/api/v1/reference-tables"},
    {"POST", "/api/v1/expressions:check"}, {"POST", "/api/v1/baskets:price"},
    {"POST", "/api/v1/ads:trace"},        {"GET", "/api/v1/reports/%"},
    {"GET", "/api/v1/catalog/diff?%"},    {"POST", "/api/v1/catalog:rollback"},
    {"PATCH", "/api/v1/users/%"},         {"GET", "/api/v1/audit?%"},
    {"GET", "%"},                         {"POST", "/api/v1/users"},
    {"POST", "/api/v1/lists:preview"},    {"PUT", "/api/v1/lists/%"},
    {"POST", "/api/v1/lists/%:add"},      {"GET", "/api/v1/lists/%"},
    {"GET", "/api/v1/mail-items/%/audience"}, {"POST", "/api/v1/mail-jobs/%:start"},
    {"DELETE", "/api/v1/lists/%"},
};

struct Fixture {
  herald::Registry registry;
  std::unique_ptr<herald::Store> store = herald::NewMemoryStore();
  std::unique_ptr<herald::DecisionService> service;
  std::unique_ptr<herald::Desk> desk;
  std::string cookie, csrf;

  Fixture() {
    const std::string path = "/tmp/herald-fuzz-desk-catalog.textproto";
    std::ofstream(path) << kCatalog;
    if (!herald::RegisterBuiltins(&registry).ok()) std::abort();
    herald::v1::ServerConfig config;
    config.set_catalog(path);
    auto created = herald::DecisionService::Create(config, registry);
    herald::v1::Catalog catalog;
    herald::CatalogSaveOptions by;
    by.author = "fuzz";
    if (!created.ok() || !google::protobuf::TextFormat::ParseFromString(kCatalog, &catalog) ||
        !herald::SaveCatalog(*store->catalogs(), catalog, by).ok() ||
        !herald::CreateDeskUser(*store->accounts(), "ann", "admin", "fuzz-password-1", "fuzz").ok()) {
      std::abort();
    }
    service = std::move(*created);
    desk = std::move(*herald::Desk::Create(*store, *service, {}));
    herald::WebRequest sign_in;
    sign_in.method = "POST";
    sign_in.path = "/api/v1/session";
    sign_in.body = R"({"user":"ann","password":"fuzz-password-1"})";
    sign_in.headers = {{"content-type", "application/json"}};
    herald::WebReply reply = desk->Handle(sign_in);
    for (const auto& [name, value] : reply.headers) {
      if (name == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    }
    csrf = nlohmann::json::parse(reply.body)["csrfToken"];
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture;
  if (size < 1 || size > 8192) return 0;
  const Route& route = kRoutes[data[0] % (sizeof kRoutes / sizeof kRoutes[0])];
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  // The id runs to the first newline; the body is the rest.
  const size_t newline = input.find('\n');
  const std::string id = input.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : input.substr(newline + 1);
  std::string full = route.path;
  full.replace(full.find('%') == std::string::npos ? full.size() : full.find('%'),
               full.find('%') == std::string::npos ? 0 : 1, id);
  std::string path = full, query;
  if (size_t q = full.find('?'); q != std::string::npos) {
    path = full.substr(0, q);
    query = full.substr(q + 1);
  }
  herald::WebRequest request;
  request.method = route.method;
  request.path = path;
  request.query = query;
  request.body = body;
  request.peer = "192.0.2.1";
  request.headers = {{"content-type", "application/json"}, {"cookie", fixture->cookie},
                     {"x-csrf-token", fixture->csrf}, {"host", "127.0.0.1"}};
  herald::WebReply reply = fixture->desk->Handle(request);
  if (reply.status >= 500) {
    std::fprintf(stderr, "%s %s -> %d %s\n", route.method, full.c_str(), reply.status, reply.body.c_str());
    std::abort();
  }
  if (reply.status >= 400) {
    nlohmann::json error = nlohmann::json::parse(reply.body, nullptr, false);
    if (!error.is_object() || !error.contains("code") || !error.contains("message") ||
        error["message"].get<std::string>().empty()) {
      std::fprintf(stderr, "not an ApiError: %d %s\n", reply.status, reply.body.c_str());
      std::abort();
    }
  }
  return 0;
}
