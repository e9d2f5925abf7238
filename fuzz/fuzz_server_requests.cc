// libFuzzer target for herald serve's JSON request handling: every input is a
// body for /v1/ads:select, /v1/baskets:price, /v1/responses and
// /v1/orders:commit, parsed in the proto3 JSON mapping, typed against a
// catalog's declared attributes and answered by the real service (decisions
// as dry runs). No input may crash, hang, leak or throw; a refused request
// must be a 4xx whose body is a JSON ApiError with a message (never a 500,
// never an empty body).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "herald/builtins.h"
#include "herald/server.h"
#include "server/http_api.h"

namespace {

constexpr char kCatalog[] = R"pb(
name: "fuzz"
user_attributes { name: "age" type: VALUE_TYPE_INT }
user_attributes { name: "state" type: VALUE_TYPE_STRING }
user_attributes { name: "premier" type: VALUE_TYPE_BOOL }
user_attributes { name: "interests" type: VALUE_TYPE_STRING_LIST }
user_attributes { name: "spend" type: VALUE_TYPE_MONEY }
user_attributes { name: "since" type: VALUE_TYPE_TIMESTAMP }
context_attributes { name: "score" type: VALUE_TYPE_DOUBLE }
reference_tables { page_groups { name: "Home" } }
customers { id: "c" name: "C" }
campaigns {
  id: "k" name: "K" customer_id: "c"
  items { id: "a" name: "A" ad { type: AD_TYPE_HOUSE weight: 1 page_groups: "Home"
          display { text: "hi" click_url: "https://example.com/a" } } }
}
)pb";

struct Fixture {
  herald::Registry registry;
  std::unique_ptr<herald::DecisionService> service;
  Fixture() {
    std::string path = "/tmp/herald-fuzz-server-catalog.textproto";
    std::ofstream(path) << kCatalog;
    if (!herald::RegisterBuiltins(&registry).ok()) std::abort();
    herald::v1::ServerConfig config;
    config.set_catalog(path);
    auto created = herald::DecisionService::Create(config, registry);
    if (!created.ok()) {
      std::fprintf(stderr, "fuzz_server_requests: %s\n", std::string(created.status().message()).c_str());
      std::abort();
    }
    service = std::move(*created);
  }
};

void CheckReply(const herald::server_internal::HttpReply& reply) {
  if (reply.status == 200) return;
  herald::v1::ApiError error;
  if (reply.status >= 500 || reply.body.empty() ||
      !google::protobuf::util::JsonStringToMessage(reply.body, &error).ok() || error.message().empty()) {
    std::fprintf(stderr, "bad error answer %d: %s\n", reply.status, reply.body.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  using herald::server_internal::HandleApiRequest;
  using herald::server_internal::HttpRequest;
  // Decisions: parsed, then answered as a dry run so nothing accumulates.
  herald::v1::SelectAdsRequest select;
  if (herald::server_internal::ParseJsonBody(body, &select).ok()) {
    select.set_dry_run(true);
    auto answer = fixture->service->SelectAds(select);
    if (!answer.ok()) CheckReply(herald::server_internal::ErrorReply(answer.status()));
  } else {
    CheckReply(HandleApiRequest(*fixture->service, HttpRequest{"POST", "/v1/ads:select", "", "application/json", "", body}));
  }
  CheckReply(HandleApiRequest(*fixture->service, HttpRequest{"POST", "/v1/baskets:price", "", "application/json", "", body}));
  // Commits and responses write only when the input is valid; keep the
  // store small by sending them only the refused ones.
  herald::v1::InteractionRecord record;
  if (!herald::server_internal::ParseJsonBody(body, &record).ok()) {
    CheckReply(HandleApiRequest(*fixture->service, HttpRequest{"POST", "/v1/responses", "", "application/json", "", body}));
  }
  herald::v1::CommitOrderRequest commit;
  if (!herald::server_internal::ParseJsonBody(body, &commit).ok()) {
    CheckReply(HandleApiRequest(*fixture->service, HttpRequest{"POST", "/v1/orders:commit", "", "application/json", "", body}));
  }
  return 0;
}
