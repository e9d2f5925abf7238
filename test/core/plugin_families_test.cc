// The C plugin ABI's basket, mail, conversion and destination families
// (herald/plugin_abi.h, version 2), through the four plugins of
// examples/replacements/plugins built in the tree. The driver in
// examples/replacements proves each against its built-in end to end
// against the installed package; these tests run the adapters in the normal
// and sanitizer builds and check what the driver does not: contracts,
// refusals, the secret service and errors crossing the boundary.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/conversion.h"
#include "herald/discount.h"
#include "herald/mail.h"
#include "herald/plugin.h"
#include "herald/selection.h"

namespace herald {
namespace {

std::string Plugin(const std::string& name) {
  return std::string(HERALD_TEST_PLUGIN_DIR) + "/test_replacement_" + name + ".so";
}

// Built-ins plus the four replacement plugins.
void LoadAll(Registry& registry) {
  REQUIRE(RegisterBuiltins(&registry).ok());
  const std::pair<const char*, const char*> plugins[] = {{"exposure_limit", "selection/PluginExposureLimit"},
                                                         {"member_order_discount", "basket/PluginMemberOrderDiscount"},
                                                         {"skip_domains", "mail/PluginSkipDomains"},
                                                         {"webhook", "destination/plugin_webhook"}};
  for (const auto& [file, component] : plugins) {
    auto info = LoadPlugin(Plugin(file), &registry);
    REQUIRE(info.ok());
    CHECK(info->components == std::vector<std::string>{component});
  }
}

template <typename Product>
absl::StatusOr<std::unique_ptr<Product>> Make(const Registry& registry, std::string_view family,
                                              const std::string& name, const std::string& json,
                                              const std::string& base_dir = "") {
  auto factory = registry.Find(family, name);
  if (!factory.ok()) return factory.status();
  auto config = (*factory)->CreateEmptyConfig();
  if (!google::protobuf::util::JsonStringToMessage(json, config.get()).ok()) {
    return absl::InvalidArgumentError("not JSON: " + json);
  }
  auto made = (*factory)->Create(*config, CreateContext(&registry, base_dir));
  if (!made.ok()) return made.status();
  return std::unique_ptr<Product>(static_cast<Product*>(made->release()));
}

const std::string kReplacements = std::string(HERALD_SOURCE_DIR) + "/examples/replacements";

v1::Basket PremierBasket(const char* premier_json) {
  v1::Basket basket;
  REQUIRE(google::protobuf::util::JsonStringToMessage(
              std::string(R"({"currency":"USD","shippingMinor":"500","time":"2026-03-10T00:00:00Z",)") +
                  R"("user":{"values":{"premier":)" + premier_json + R"(}},"items":[)" +
                  R"({"id":"tent","productId":"tent","category":"tents","unitPriceMinor":"20000","quantity":"1"},)" +
                  R"({"id":"socks","productId":"socks","category":"socks","unitPriceMinor":"1500","quantity":"2"}]})",
              &basket)
              .ok());
  return basket;
}

absl::StatusOr<std::unique_ptr<BasketPricer>> PricerWith(const Registry& registry, v1::PipelineDefinition& def) {
  auto catalog = CompiledCatalog::Load(kReplacements + "/catalog.textproto");
  if (!catalog.ok()) return catalog.status();
  PricerConfig config;
  config.registry = &registry;
  config.pipeline = &def;
  return NewBasketPricer(*catalog, config);
}

TEST_CASE("Plugin ABI: a basket plugin gives an order discount spread like the built-ins'", "[plugin][families]") {
  Registry registry;
  LoadAll(registry);
  auto def = LoadPipelineDefinition(kReplacements + "/pipelines/basket.textproto");
  REQUIRE(def.ok());
  for (auto& stage : *def->mutable_stages()) {
    for (auto& c : *stage.mutable_components()) {
      if (c.name() == "MemberOrderDiscount") c.set_name("PluginMemberOrderDiscount");
    }
  }
  auto pricer = PricerWith(registry, *def);
  REQUIRE(pricer.ok());
  auto priced = (*pricer)->Price(PremierBasket("{\"boolValue\":true}"));
  REQUIRE(priced.ok());
  // 210.00 after the tent's 10%; 5% of it is 10.50, spread 9.00 / 1.50.
  CHECK(priced->order_discount_minor() == 1050);
  CHECK(priced->total_minor() == 20450);
  REQUIRE(priced->order_adjustments_size() == 1);
  CHECK(priced->order_adjustments(0).shares(0).amount_minor() == 900);
  CHECK(priced->order_adjustments(0).shares(1).amount_minor() == 150);
  CHECK_THAT(FormatPricedBasket(*priced), Catch::Contains("5% off the discounted subtotal 210.00 USD"));

  SECTION("an error of the plugin's reaches the caller with its code, naming the component") {
    auto wrong = (*pricer)->Price(PremierBasket("{\"stringValue\":\"yes\"}"));
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(wrong.status().message()),
               Catch::Contains("plugin component PluginMemberOrderDiscount: PluginMemberOrderDiscount "
                               "\"premier-5\": user.premier must be a bool"));
  }
  SECTION("its declared contract is checked when the pipeline is built") {
    // In the conditions stage it would run before ApplyDiscounts writes unit_awards.
    v1::PipelineDefinition early = *def;
    auto* moved = early.mutable_stages(1)->add_components();
    moved->set_name("PluginMemberOrderDiscount");
    moved->set_json_config(R"({"percent": 5, "userAttribute": "premier", "discountId": "early"})");
    auto refused = PricerWith(registry, early);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(std::string(refused.status().message()),
               Catch::Contains("PluginMemberOrderDiscount") && Catch::Contains("reads \"unit_awards\""));
  }
  SECTION("a bad config is refused when created, naming the field") {
    auto bad = Make<BasketComponent>(registry, "basket", "PluginMemberOrderDiscount",
                                     R"({"percent": 101, "userAttribute": "premier", "discountId": "x"})");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains("percent must be in (0, 100]"));
    auto unknown = Make<BasketComponent>(registry, "basket", "PluginMemberOrderDiscount", R"({"precent": 5})");
    REQUIRE_FALSE(unknown.ok());
    CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("unknown field \"precent\""));
  }
}

TEST_CASE("Plugin ABI: a mail plugin skips recipients through MailItem::Skip", "[plugin][families]") {
  Registry registry;
  LoadAll(registry);
  auto skip = Make<MailComponent>(registry, "mail", "PluginSkipDomains",
                                  R"({"domains": ["Northwind.example"], "reason": "competitor_domain"})");
  REQUIRE(skip.ok());
  CHECK((*skip)->Contract().declared);
  MailContext ctx;
  for (const char* address : {"ann@contoso.example", "bob@NORTHWIND.example", "cy@mail.northwind.example",
                              "dee@northwind.example"}) {
    MailItem item;
    item.address = address;
    ctx.items.push_back(item);
  }
  ctx.items[3].Fail("5xx", "already failed");  // not live: left alone
  REQUIRE((*skip)->Run(ctx).ok());
  CHECK(ctx.items[0].state == MailItemState::kLive);
  CHECK(ctx.items[1].state == MailItemState::kSkipped);
  CHECK(ctx.items[1].reason == "competitor_domain");
  CHECK(ctx.items[1].detail == "domain northwind.example is suppressed");
  CHECK(ctx.items[2].state == MailItemState::kLive);  // a subdomain is not the domain
  CHECK(ctx.items[3].state == MailItemState::kFailed);
  CHECK(ctx.items[3].reason == "5xx");

  MailContext test_send;
  test_send.test_send = true;
  test_send.items.resize(1);
  test_send.items[0].address = "bob@northwind.example";
  REQUIRE((*skip)->Run(test_send).ok());
  CHECK(test_send.items[0].state == MailItemState::kLive);  // test sends pass, as with OptOutFilter
}

TEST_CASE("Plugin ABI: a selection plugin declares its contract and its score bound", "[plugin][families]") {
  Registry registry;
  LoadAll(registry);
  auto limit = Make<SelectionComponent>(registry, "selection", "PluginExposureLimit", "{}");
  REQUIRE(limit.ok());
  const ComponentContract contract = (*limit)->Contract();
  CHECK(contract.declared);
  CHECK(contract.reads == std::vector<std::string>{"candidates", "history"});
  CHECK((*limit)->MaxScoreMultiplier(SelectionContext{}) == 1);
}

// A loopback port nothing listens on: bound, then closed.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t size = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A private scratch folder for the token files.
std::string ScratchDir() {
  std::string dir = std::string(HERALD_BINARY_DIR) + "/plugin_families_test";
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

void WriteToken(const std::string& path, mode_t mode) {
  std::ofstream(path) << "s3cret-token-for-tests\n";
  ::chmod(path.c_str(), mode);
}

TEST_CASE("Plugin ABI: a destination plugin reads its secret through the host and hashes identities",
          "[plugin][families]") {
  Registry registry;
  LoadAll(registry);
  const std::string dir = ScratchDir();
  WriteToken(dir + "/open.token", 0644);
  WriteToken(dir + "/private.token", 0600);
  // Nothing listens on the port, so a send fails at once.
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  const std::string config = R"({"url": ")" + url + R"(", "maxBatchEvents": 7, "bearerTokenFile": ")";

  auto open = Make<Destination>(registry, "destination", "plugin_webhook", config + "open.token\"}", dir);
  REQUIRE_FALSE(open.ok());
  CHECK_THAT(std::string(open.status().message()),
             Catch::Contains("open.token is accessible by group or others") && !Catch::Contains("s3cret"));

  auto made = Make<Destination>(registry, "destination", "plugin_webhook", config + "private.token\"}", dir);
  REQUIRE(made.ok());
  Destination& webhook = **made;
  CHECK(webhook.limits().max_batch_events == 7);
  CHECK(webhook.Describe() == "webhook POST " + url + " (at most 7 events a request) (plugin plugin_webhook)");

  v1::InteractionRecord record;
  record.set_interaction_id("i-1");
  record.mutable_subject()->set_email(" Ann.Lee@Example.COM ");
  record.mutable_action()->set_issue("Sales");
  record.mutable_time()->set_seconds(1767225600);
  ConversionEvent event;
  event.record = &record;
  event.event_id = "i-1";
  IdentifierHasher hasher;
  webhook.Prepare(event, hasher);
  const std::string em = hasher.Hash(NormalizeEmail(record.subject().email()));
  CHECK(event.identity.em == em);  // the built-ins' normalization and hash
  CHECK_THAT(event.payload, Catch::Contains("\"em\":\"" + em + "\"") && !Catch::Contains("ann.lee"));
  webhook.Validate(event, absl::Now());
  CHECK(event.state == EventState::kLive);

  v1::InteractionRecord anonymous = record;
  anonymous.clear_subject();
  ConversionEvent nobody;
  nobody.record = &anonymous;
  webhook.Prepare(nobody, hasher);
  webhook.Validate(nobody, absl::Now());
  CHECK(nobody.state == EventState::kInvalid);
  CHECK(nobody.reason == "missing_identifier");

  ConversionEvent* batch[] = {&event};
  const BatchResult result = webhook.SendBatch(batch);
  CHECK(result.outcome == BatchOutcome::kRetryable);  // no answer: never a failure
  CHECK(result.http_status == 0);
  CHECK_THAT(result.message, Catch::StartsWith("webhook: ") && !Catch::Contains("s3cret"));
  CHECK(event.state == EventState::kLive);
  CHECK(webhook.AddAudienceMembers("a", {}).code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("Plugin ABI: a token that \"[redacted]\" holds is still redacted, and the redaction ends",
          "[plugin][families]") {
  Registry registry;
  LoadAll(registry);
  const std::string dir = ScratchDir();
  std::ofstream(dir + "/short.token") << "e\n";
  ::chmod((dir + "/short.token").c_str(), 0600);
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  auto made = Make<Destination>(registry, "destination", "plugin_webhook",
                                R"({"url": ")" + url + R"(", "bearerTokenFile": "short.token"})", dir);
  REQUIRE(made.ok());
  v1::InteractionRecord record;
  record.mutable_subject()->set_email("ann@example.com");
  ConversionEvent event;
  event.record = &record;
  IdentifierHasher hasher;
  (*made)->Prepare(event, hasher);
  ConversionEvent* batch[] = {&event};
  const BatchResult result = (*made)->SendBatch(batch);  // "webhook: ... Couldn't connect to server"
  INFO(result.message);
  CHECK(result.outcome == BatchOutcome::kRetryable);
  CHECK_THAT(result.message, Catch::Contains("[redacted]"));
  std::string without = result.message;
  for (size_t at = without.find("[redacted]"); at != std::string::npos; at = without.find("[redacted]")) {
    without.erase(at, 10);
  }
  CHECK(without.find('e') == std::string::npos);
}

TEST_CASE("Plugin ABI: a conversion plugin runs on a page: identities, states, trace", "[plugin][families]") {
  Registry registry;
  auto loaded = LoadPlugin(std::string(HERALD_TEST_PLUGIN_DIR) + "/test_plugin_conversion_marker.so", &registry);
  REQUIRE(loaded.ok());
  auto marker = Make<ConversionComponent>(registry, "conversion", "ConversionMarker", "{}");
  REQUIRE(marker.ok());
  CHECK((*marker)->Contract().declared);
  std::vector<v1::InteractionRecord> records(3);
  records[0].mutable_subject()->set_email("Bob.Smith@gmail.com");
  records[1].mutable_subject()->set_phone("+1 650 555 0100");  // no email
  records[2].mutable_subject()->set_email("carl@example.net");
  ExportContext ctx;
  Trace trace;
  ctx.trace = &trace;
  ctx.now = absl::Now();
  for (const v1::InteractionRecord& r : records) {
    ConversionEvent e;
    e.record = &r;
    ctx.events.push_back(e);
  }
  ctx.events[2].Set(EventState::kSkipped, "not_accepted");  // not live: left alone
  REQUIRE((*marker)->Run(ctx).ok());
  IdentifierHasher hasher;
  CHECK(ctx.events[0].state == EventState::kLive);
  CHECK(ctx.events[0].identity.em == hasher.Hash("bobsmith@gmail.com"));  // Google's gmail rule
  CHECK(ctx.events[1].state == EventState::kInvalid);
  CHECK(ctx.events[1].reason == "no_email");
  CHECK_FALSE(ctx.events[1].identity.ph.empty());
  CHECK(ctx.events[2].state == EventState::kSkipped);
  CHECK(ctx.events[2].identity.em.empty());
  CHECK_THAT(trace.ToText(), Catch::Contains("no email"));
}

TEST_CASE("Plugin ABI: a destination without its operations is refused at load", "[plugin][families]") {
  Registry registry;
  auto refused = LoadPlugin(std::string(HERALD_TEST_PLUGIN_DIR) + "/test_plugin_destination_without_ops.so", &registry);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()),
             Catch::Contains("component \"Hollow\": a destination needs its operations"));
  CHECK(registry.All().empty());
}

TEST_CASE("Plugin ABI: a destination plugin's add_audience_members gets every member, and its refusal is an error",
          "[plugin][families]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto info = LoadPlugin(std::string(HERALD_TEST_PLUGIN_DIR) + "/test_plugin_audience_keeper.so", &registry);
  REQUIRE(info.ok());
  char tmpl[] = "/tmp/herald-audience-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto made = Make<Destination>(registry, "destination", "audience_keeper", "{}", dir);
  REQUIRE(made.ok());
  const std::string em(64, 'a'), ph(64, 'b');
  std::vector<AudienceMember> members = {
      {em, ph, v1::CONSENT_STATUS_GRANTED, v1::CONSENT_STATUS_DENIED},
      {em, "", v1::CONSENT_STATUS_UNSPECIFIED, v1::CONSENT_STATUS_GRANTED},
  };
  REQUIRE((*made)->AddAudienceMembers("Sales-Gear-Jacket-C", members).ok());
  std::ifstream in(dir + "/audience.txt");
  std::string line1, line2, rest;
  REQUIRE(std::getline(in, line1));
  REQUIRE(std::getline(in, line2));
  CHECK_FALSE(std::getline(in, rest));
  CHECK(line1 == "Sales-Gear-Jacket-C " + em + " " + ph + " " + std::to_string(v1::CONSENT_STATUS_GRANTED) + " " +
                     std::to_string(v1::CONSENT_STATUS_DENIED));
  CHECK(line2 == "Sales-Gear-Jacket-C " + em + "  0 " + std::to_string(v1::CONSENT_STATUS_GRANTED));
  // A refusal crosses back as an error naming the plugin's component and saying why.
  absl::Status refused = (*made)->AddAudienceMembers("refused", members);
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.message()),
             Catch::Contains("audience_keeper") && Catch::Contains("the platform refused audience \"refused\""));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald
