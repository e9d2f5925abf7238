// The conversion export end to end against stand-in Meta and Google servers
// on loopback with fault injection, the file destination, audiences,
// credentials, leases, the schedule, and every component's and destination's
// config (valid, empty, invalid).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "google/protobuf/empty.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "pg_test.h"
#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/pipeline.h"
#include "herald/store.h"
#include "standin_servers.h"

#ifdef HERALD_HAVE_POSTGRES
#include "herald/store_postgres.h"
#endif

namespace herald {
namespace {

using testing::Fault;
using testing::GoogleStandIn;
using testing::MetaStandIn;

constexpr char kMetaToken[] = "EAAGmetaSECRETtoken0123456789";
constexpr char kGoogleDev[] = "devTOKENsecret-4242";
constexpr char kGoogleAccess[] = "ya29.accessSECRET-abcdef";

std::string TempDir() {
  char tmpl[] = "/tmp/herald-conv-XXXXXX";
  char* made = mkdtemp(tmpl);
  return made == nullptr ? std::string("/tmp") : std::string(made);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<v1::ConversionAction> Actions() {
  std::vector<v1::ConversionAction> a(3);
  a[0].set_issue("Sales");
  a[0].set_group("Cards");
  a[0].set_name("PlatinumCreditCard");
  a[0].set_paid_sync_enabled(true);
  a[0].set_offline_conversion_enabled(true);
  a[0].set_google_conversion_action("customers/1234567890/conversionActions/555");
  a[0].set_google_conversion_name("Platinum card");
  a[1].set_issue("Sales");
  a[1].set_group("Gear");
  a[1].set_name("WinterJacket");
  a[1].set_paid_sync_enabled(true);  // offline_conversion_enabled unset: defaults to paid sync
  a[2].set_issue("Service");
  a[2].set_group("Support");
  a[2].set_name("CallBack");
  a[2].set_paid_sync_enabled(true);
  a[2].set_offline_conversion_enabled(false);
  return a;
}

struct Fixture {
  Registry registry;
  std::unique_ptr<Store> store = NewMemoryStore();
  std::vector<v1::ConversionAction> actions = Actions();
  absl::Time now = absl::Now();
  std::vector<absl::Duration> waits;
  std::string dir = TempDir();
  // The consent Capture records: granted for both of Google's questions (a
  // storefront that asked), so every destination's default lets them pass.
  bool with_consent = true;
  v1::Consent consent = Granted();

  static v1::Consent Granted() {
    v1::Consent c;
    c.set_ad_user_data(v1::CONSENT_STATUS_GRANTED);
    c.set_ad_personalization(v1::CONSENT_STATUS_GRANTED);
    return c;
  }

  Fixture() {
    RegisterConversionComponents(&registry);
    setenv("HERALD_TEST_META_TOKEN", kMetaToken, 1);
    setenv("HERALD_TEST_GOOGLE_DEV", kGoogleDev, 1);
    setenv("HERALD_TEST_GOOGLE_ACCESS", kGoogleAccess, 1);
  }
  ~Fixture() { (void)system(("rm -rf " + dir).c_str()); }

  // Captures a response; returns its interaction id.
  std::string Capture(int i, const std::string& action = "PlatinumCreditCard", v1::Outcome outcome = v1::OUTCOME_ACCEPTED,
                      absl::Duration age = absl::Hours(1), bool identifiers = true) {
    v1::InteractionRecord r;
    auto* s = r.mutable_subject();
    s->set_customer_id("cust-" + std::to_string(i));
    if (identifiers) {
      s->set_email(i % 2 == 0 ? "Person." + std::to_string(i) + "+shop@Gmail.com" : "person" + std::to_string(i) + "@example.org");
      s->set_phone("+1 (650) 555-" + std::to_string(1000 + i % 9000));
      s->set_first_name("Ann");
      s->set_last_name("O'Neil");
      s->set_city("San Francisco");
      s->set_state("CA");
      s->set_zip("94103-1234");
      s->set_country("US");
      s->set_date_of_birth("1980-05-0" + std::to_string(1 + i % 9));
      s->set_external_id("ext-" + std::to_string(i));
      s->set_gclid("gclid-" + std::to_string(i));
    }
    r.mutable_action()->set_issue(action == "CallBack" ? "Service" : "Sales");
    r.mutable_action()->set_group(action == "CallBack" ? "Support" : action == "WinterJacket" ? "Gear" : "Cards");
    r.mutable_action()->set_name(action);
    r.set_outcome(outcome);
    r.set_channel("Web");
    r.mutable_time()->set_seconds(absl::ToUnixSeconds(now - age));
    r.mutable_value()->set_minor_units(1000 + i);
    r.mutable_value()->set_currency("USD");
    r.set_order_id("order-" + std::to_string(i));
    if (with_consent) *r.mutable_consent() = consent;
    auto captured = CaptureResponse(*store, r);
    REQUIRE(captured.ok());
    return captured->interaction_id();
  }

  std::unique_ptr<Destination> Meta(const MetaStandIn& server, const std::string& extra = "") {
    v1::MetaDestinationConfig c;
    REQUIRE(google::protobuf::TextFormat::ParseFromString(extra, &c));
    c.set_base_url(server.url());
    c.set_api_version("v21.0");
    c.set_dataset_id("1234567");
    c.set_access_token_env("HERALD_TEST_META_TOKEN");
    if (c.timeout_ms() == 0) c.set_timeout_ms(300);
    auto d = registry.Create<Destination>("meta", c, CreateContext{&registry, dir});
    REQUIRE(d.ok());
    return std::move(*d);
  }

  std::unique_ptr<Destination> Google(const GoogleStandIn& server, const std::string& extra = "") {
    v1::GoogleAdsDestinationConfig c;
    REQUIRE(google::protobuf::TextFormat::ParseFromString(extra, &c));
    c.set_base_url(server.url());
    c.set_api_version("v17");
    c.set_customer_id("1234567890");
    c.set_developer_token_env("HERALD_TEST_GOOGLE_DEV");
    c.set_access_token_env("HERALD_TEST_GOOGLE_ACCESS");
    if (c.timeout_ms() == 0) c.set_timeout_ms(300);
    if (c.audience_job_poll_ms() == 0) c.set_audience_job_poll_ms(5);
    auto d = registry.Create<Destination>("google_ads", c, CreateContext{&registry, dir});
    REQUIRE(d.ok());
    return std::move(*d);
  }

  // Options exporting to `d` as `name` from this fixture's store, on its
  // clock, recording waits; tests change what they need before Create.
  ExporterOptions Options(Destination* d, const std::string& name) {
    ExporterOptions o;
    o.registry = &registry;
    o.store = store.get();
    o.destination = d;
    o.destination_name = name;
    o.actions = actions;
    o.page_size = 1000;
    o.clock = [this] { return now; };
    o.sleep = [this](absl::Duration w) { waits.push_back(w); };
    return o;
  }

  std::unique_ptr<ConversionExporter> Exporter(Destination* d, const std::string& name, Store* s = nullptr,
                                               bool trace = false) {
    ExporterOptions o = Options(d, name);
    if (s != nullptr) o.store = s;
    o.trace = trace;
    auto e = ConversionExporter::Create(std::move(o));
    REQUIRE(e.ok());
    return std::move(*e);
  }

  int64_t Watermark(const std::string& name) {
    auto w = store->watermarks().GetWatermark(name);
    REQUIRE(w.ok());
    return *w;
  }
  int64_t LastSequence() {
    auto all = store->interactions().ReadInteractions(0, 1000000);
    REQUIRE(all.ok());
    return all->empty() ? 0 : all->back().sequence();
  }
};

// A store that cannot count its interactions (a third party's, say): the
// export runs all the same, its progress without a total.
class UncountedInteractions : public InteractionStore {
 public:
  explicit UncountedInteractions(InteractionStore* inner) : inner_(inner) {}
  absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& r) override {
    return inner_->AppendInteraction(r);
  }
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after, int limit) override {
    return inner_->ReadInteractions(after, limit);
  }

 private:
  InteractionStore* inner_;
};

TEST_CASE("Export progress gives done of the pending total - a store that cannot count gives no total",
          "[conversion][progress]") {
  Fixture f;
  MetaStandIn meta("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  meta.Start();
  auto d = f.Meta(meta);
  for (int i = 0; i < 25; ++i) f.Capture(i);
  std::vector<std::pair<int64_t, int64_t>> calls;
  ExporterOptions o = f.Options(d.get(), "meta");
  o.page_size = 10;
  o.progress = [&calls](int64_t read, int64_t total) { calls.emplace_back(read, total); };
  auto e = ConversionExporter::Create(o);
  REQUIRE(e.ok());
  auto report = (*e)->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  for (auto [read, total] : calls) UNSCOPED_INFO(read << " of " << total);
  REQUIRE(calls.size() == 3);  // pages of 10, 10 and 5
  CHECK(calls[0] == std::pair<int64_t, int64_t>{10, 25});
  CHECK(calls[1] == std::pair<int64_t, int64_t>{20, 25});
  CHECK(calls[2] == std::pair<int64_t, int64_t>{25, 25});
  // The next run starts at the watermark: only what came since.
  for (int i = 25; i < 28; ++i) f.Capture(i);
  calls.clear();
  REQUIRE((*e)->RunOnce().ok());
  REQUIRE(calls.size() == 1);
  CHECK(calls[0] == std::pair<int64_t, int64_t>{3, 3});

  // Without CountInteractions: the same export, totals of 0 ("unknown").
  UncountedInteractions uncounted(&f.store->interactions());
  CHECK(uncounted.CountInteractions(0).status().code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("Meta: every conversion is delivered once per event id through 429 - 500 - timeouts and resets",
          "[conversion][meta][faults]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  std::set<std::string> expected;
  for (int i = 0; i < 2300; ++i) expected.insert(f.Capture(i, i % 3 == 0 ? "WinterJacket" : "PlatinumCreditCard"));
  for (int i = 0; i < 40; ++i) f.Capture(10000 + i, "PlatinumCreditCard", v1::OUTCOME_REJECTED);
  for (int i = 0; i < 30; ++i) f.Capture(20000 + i, "CallBack");                  // not enabled
  for (int i = 0; i < 7; ++i) f.Capture(30000 + i, "PlatinumCreditCard", v1::OUTCOME_ACCEPTED, absl::Hours(24 * 70));
  for (int i = 0; i < 5; ++i) f.Capture(40000 + i, "PlatinumCreditCard", v1::OUTCOME_ACCEPTED, absl::Hours(1), false);
  server.Inject({Fault::k429, Fault::k500, Fault::kTimeoutAfterProcessing, Fault::kResetAfterProcessing,
                 Fault::kThrottleCode});
  auto meta = f.Meta(server);
  auto exporter = f.Exporter(meta.get(), "meta");
  auto report = exporter->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->conversions == 2300 + 7 + 5);
  CHECK(report->delivered == 2300);
  CHECK(report->invalid == 12);
  CHECK(report->invalid_by_reason["too_old"] == 7);
  CHECK(report->invalid_by_reason["missing_identifier"] == 5);
  CHECK(report->retries >= 5);
  CHECK(server.violations().empty());
  for (size_t n : server.batch_sizes()) CHECK(n <= 1000);
  // The platform kept each event once (event_name + event_id), and nothing else.
  std::set<std::string> got;
  for (const auto& [key, count] : server.received()) got.insert(key.substr(key.find('/') + 1));
  CHECK(got == expected);
  CHECK(server.events().size() == expected.size());
  // Retry-After: 2 was honoured.
  bool waited = false;
  for (absl::Duration w : f.waits) waited = waited || w >= absl::Seconds(2);
  CHECK(waited);
  CHECK(f.Watermark("meta") == f.LastSequence());
  // A second run has nothing to send.
  int before = server.requests();
  auto again = exporter->RunOnce();
  REQUIRE(again.ok());
  CHECK(again->conversions == 0);
  CHECK(server.requests() == before);
  // Payload details: hashed identifiers, Unix times, custom data.
  auto kept = server.events();
  REQUIRE_FALSE(kept.empty());
  const auto& e = kept.front();
  CHECK(e["action_source"] == "physical_store");
  CHECK(e["event_name"] == "Purchase");
  CHECK(e["custom_data"]["currency"] == "USD");
  IdentifierHasher h;
  CHECK(e["user_data"]["ct"] == h.Hash("sanfrancisco"));
  CHECK(e["user_data"]["zp"] == h.Hash("94103"));
  CHECK(e["user_data"]["ln"] == h.Hash("oneil"));
  CHECK(e["event_time"].is_number_integer());
}

TEST_CASE("Meta: one invalid event never sinks its batch", "[conversion][meta]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(f.Capture(i));
  server.Poison(ids[137]);
  auto meta = f.Meta(server);
  auto report = f.Exporter(meta.get(), "meta")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered == 199);
  CHECK(report->failed == 1);
  CHECK(report->splits > 0);
  REQUIRE(report->rejects.size() == 1);
  CHECK(report->rejects[0].find(ids[137]) == 0);
  CHECK(report->rejects[0].find("has an invalid value") != std::string::npos);  // the platform's message
  CHECK(server.received().size() == 199);
  CHECK(f.Watermark("meta") == f.LastSequence());
}

TEST_CASE("Meta: transient failures past the retries hold the watermark - the next run loses nothing",
          "[conversion][meta][faults]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  std::set<std::string> expected;
  for (int i = 0; i < 1500; ++i) expected.insert(f.Capture(i));
  // The first page (1000) goes through; the second fails 6 times: past the 5 retries.
  server.Inject({Fault::kNone, Fault::k500, Fault::k500, Fault::k500, Fault::k500, Fault::k500, Fault::k500});
  auto meta = f.Meta(server);
  auto exporter = f.Exporter(meta.get(), "meta");
  auto first = exporter->RunOnce();
  REQUIRE(first.ok());
  CHECK(first->state == "pending");
  CHECK(first->delivered == 1000);
  CHECK(first->transient == 500);
  CHECK(f.Watermark("meta") == 1000);
  auto second = exporter->RunOnce();
  REQUIRE(second.ok());
  CHECK(second->state == "completed");
  CHECK(second->delivered == 500);
  std::set<std::string> got;
  for (const auto& [key, count] : server.received()) got.insert(key.substr(key.find('/') + 1));
  CHECK(got == expected);
  CHECK(f.Watermark("meta") == f.LastSequence());
}

TEST_CASE("Google: partial failures are recorded per event - duplicates count as delivered", "[conversion][google][faults]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  std::set<std::string> expected_orders;
  for (int i = 0; i < 450; ++i) {
    f.Capture(i);
    expected_orders.insert("order-" + std::to_string(i));
  }
  // Permanent per-row failures: gclids the platform cannot parse.
  for (int i = 0; i < 3; ++i) {
    v1::InteractionRecord r;
    r.mutable_subject()->set_gclid("bad-" + std::to_string(i));
    r.mutable_action()->set_issue("Sales");
    r.mutable_action()->set_group("Cards");
    r.mutable_action()->set_name("PlatinumCreditCard");
    r.set_outcome(v1::OUTCOME_ACCEPTED);
    r.mutable_time()->set_seconds(absl::ToUnixSeconds(f.now - absl::Hours(2)));
    r.set_order_id("bad-order-" + std::to_string(i));
    *r.mutable_consent() = Fixture::Granted();
    REQUIRE(CaptureResponse(*f.store, r).ok());
  }
  f.Capture(999, "WinterJacket");  // no google_conversion_action: invalid for Google
  server.TransientOnce("gclid-5");
  server.TransientOnce("gclid-250");
  server.Inject({Fault::kResetAfterProcessing, Fault::k429, Fault::kTimeoutAfterProcessing, Fault::k500});
  auto google = f.Google(server, "batch_size: 100 time_zone: \"America/New_York\"");
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered + report->duplicates == 450);
  CHECK(report->duplicates > 0);  // the reset and the timeout happened after the platform kept the batch
  CHECK(report->failed == 3);
  CHECK(report->failed_by_reason["UNPARSEABLE_GCLID"] == 3);
  CHECK(report->invalid_by_reason["missing_conversion_action"] == 1);
  CHECK(server.violations().empty());
  for (size_t n : server.batch_sizes()) CHECK(n <= 100);
  std::set<std::string> got;
  for (const auto& [order, count] : server.received()) {
    got.insert(order);
    CHECK(count == 1);
  }
  CHECK(got == expected_orders);
  CHECK(f.Watermark("google") == f.LastSequence());
  // The gmail rule and E.164 before hashing; the time zone's offset in conversionDateTime.
  IdentifierHasher h;
  bool found = false;
  for (const auto& c : server.conversions()) {
    if (c["orderId"] != "order-4") continue;
    found = true;
    // Google removes the dots of a gmail local part, nothing else (docs/conversions.md).
    CHECK(c["userIdentifiers"][0]["hashedEmail"] == h.Hash("person4+shop@gmail.com"));
    CHECK(c["userIdentifiers"][1]["hashedPhoneNumber"] == h.Hash("+16505551004"));
    std::string t = c["conversionDateTime"];
    CHECK((t.substr(19) == "-05:00" || t.substr(19) == "-04:00"));
    CHECK(c["conversionValue"] == 10.04);
  }
  CHECK(found);
}

TEST_CASE("Conversion audiences are synchronized to Meta with new members added", "[conversion][meta][audience]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  for (int i = 0; i < 10; ++i) f.Capture(i, i < 6 ? "PlatinumCreditCard" : "WinterJacket");
  auto meta = f.Meta(server, "ad_account_id: \"99\"");
  auto exporter = f.Exporter(meta.get(), "meta");
  auto report = exporter->RunOnce();
  REQUIRE(report.ok());
  CHECK(report->audience_members == 10);
  IdentifierHasher h;
  auto cards = server.members("Sales-Cards-PlatinumCreditCard-C");
  CHECK(cards.size() == 12);  // 6 emails + 6 phones
  CHECK(cards.count(h.Hash(NormalizeEmail("person1@example.org"))) == 1);
  CHECK(server.members("Sales-Gear-WinterJacket-C").size() == 8);
  f.Capture(50, "PlatinumCreditCard");
  REQUIRE(exporter->RunOnce().ok());
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").size() == 14);
  CHECK(server.violations().empty());
}

TEST_CASE("Conversion audiences are synchronized to Google Customer Match user lists", "[conversion][google][audience]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  for (int i = 0; i < 6; ++i) f.Capture(i);
  auto google = f.Google(server);
  auto exporter = f.Exporter(google.get(), "google");
  auto report = exporter->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->delivered == 6);
  CHECK(report->audience_members == 6);
  IdentifierHasher h;
  auto members = server.members("Sales-Cards-PlatinumCreditCard-C");
  CHECK(members.size() == 12);
  CHECK(members.count(h.Hash("person0+shop@gmail.com")) == 1);  // the gmail rule: dots only
  f.Capture(7);
  REQUIRE(exporter->RunOnce().ok());
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").size() == 14);
  CHECK(server.user_lists() == 1);  // found by name the second time, not created again
  CHECK(server.violations().empty());
}

TEST_CASE("Google Customer Match jobs are polled until SUCCESS before their members count", "[conversion][google][audience]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.running_polls = 3;
  server.Start();
  for (int i = 0; i < 6; ++i) f.Capture(i);
  auto google = f.Google(server);
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->audience_members == 6);
  auto jobs = server.jobs();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs.begin()->second.status == "SUCCESS");
  CHECK(jobs.begin()->second.polls == 4);  // RUNNING three times, then SUCCESS: no poll after that
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").size() == 12);
  CHECK(f.Watermark("google") == f.LastSequence());
  CHECK(server.violations().empty());
}

TEST_CASE("A FAILED Customer Match job is reported with its reason and retried next run", "[conversion][google][audience]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  for (int i = 0; i < 6; ++i) f.Capture(i);
  server.FailNextJob("INSUFFICIENT_MATCHED_TRANSACTIONS");
  auto google = f.Google(server);
  auto exporter = f.Exporter(google.get(), "google");
  auto failed = exporter->RunOnce();
  REQUIRE_FALSE(failed.ok());
  std::string message(failed.status().message());
  CHECK(message.find("FAILED") != std::string::npos);
  CHECK(message.find("INSUFFICIENT_MATCHED_TRANSACTIONS") != std::string::npos);
  CHECK(message.find("Sales-Cards-PlatinumCreditCard-C") != std::string::npos);
  CHECK(message.find(kGoogleAccess) == std::string::npos);
  CHECK(message.find(kGoogleDev) == std::string::npos);
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").empty());
  CHECK(server.received().size() == 6);  // the conversions themselves went through
  CHECK(f.Watermark("google") == 0);     // ... but the page is not finished

  auto retried = exporter->RunOnce();
  REQUIRE(retried.ok());
  INFO(retried->ToText());
  CHECK(retried->state == "completed");
  CHECK(retried->duplicates == 6);  // the platform deduplicated the resent conversions by order id
  CHECK(retried->audience_members == 6);
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").size() == 12);
  auto jobs = server.jobs();
  REQUIRE(jobs.size() == 2);
  CHECK(jobs.begin()->second.status == "FAILED");
  CHECK(std::next(jobs.begin())->second.status == "SUCCESS");
  CHECK(f.Watermark("google") == f.LastSequence());
  CHECK(server.violations().empty());
}

TEST_CASE("A Customer Match job still running at the timeout holds the watermark", "[conversion][google][audience]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.running_polls = 1000000;
  server.Start();
  for (int i = 0; i < 3; ++i) f.Capture(i);
  auto google = f.Google(server, "audience_job_poll_ms: 20 audience_job_timeout_seconds: 1");
  absl::Time begin = absl::Now();
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  absl::Duration took = absl::Now() - begin;
  REQUIRE_FALSE(report.ok());
  CHECK(std::string(report.status().message()).find("still RUNNING") != std::string::npos);
  CHECK(took >= absl::Seconds(1));
  CHECK(took < absl::Seconds(5));
  auto jobs = server.jobs();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs.begin()->second.polls >= 3);  // backoff: 20, 40, 80 ... ms, the last one cut at the deadline
  CHECK(jobs.begin()->second.polls <= 8);
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").empty());
  CHECK(f.Watermark("google") == 0);
}

TEST_CASE("Google conversion_actions name an account's conversion action per catalog action", "[conversion][google]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  f.Capture(1, "WinterJacket");        // no google_conversion_action in the catalog
  f.Capture(2, "PlatinumCreditCard");  // the catalog's, overridden
  auto google = f.Google(server, R"pb(
    conversion_actions { key: "Sales/Gear/WinterJacket" value: "customers/1234567890/conversionActions/556" }
    conversion_actions { key: "Sales/Cards/PlatinumCreditCard" value: "customers/1234567890/conversionActions/557" }
  )pb");
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->delivered == 2);
  std::map<std::string, std::string> action_of;
  for (const auto& c : server.conversions()) action_of[c["orderId"]] = c["conversionAction"];
  CHECK(action_of["order-1"] == "customers/1234567890/conversionActions/556");
  CHECK(action_of["order-2"] == "customers/1234567890/conversionActions/557");

  for (const char* bad : {R"pb(conversion_actions { key: "WinterJacket" value: "customers/1/conversionActions/2" })pb",
                          R"pb(conversion_actions { key: "Sales/Gear/WinterJacket" value: "conversionActions/2" })pb",
                          "audience_job_poll_ms: -1", "audience_job_timeout_seconds: -5"}) {
    INFO(bad);
    v1::GoogleAdsDestinationConfig c;
    REQUIRE(google::protobuf::TextFormat::ParseFromString(bad, &c));
    c.set_customer_id("1234567890");
    c.set_developer_token_env("HERALD_TEST_GOOGLE_DEV");
    c.set_access_token_env("HERALD_TEST_GOOGLE_ACCESS");
    CHECK(f.registry.Create<Destination>("google_ads", c, CreateContext{&f.registry, f.dir}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("The file destination writes JSON lines - Google's CSV template and member lists", "[conversion][file]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.Capture(i);
  f.Capture(7, "PlatinumCreditCard", v1::OUTCOME_ACCEPTED, absl::Hours(1), false);  // no gclid: not for CSV
  v1::FileDestinationConfig jc;
  jc.set_path("out/conversions.jsonl");
  REQUIRE(system(("mkdir -p " + f.dir + "/out").c_str()) == 0);
  auto jsonl = f.registry.Create<Destination>("file", jc, CreateContext{&f.registry, f.dir});
  REQUIRE(jsonl.ok());
  auto r1 = f.Exporter(jsonl->get(), "file-jsonl")->RunOnce();
  REQUIRE(r1.ok());
  CHECK(r1->delivered == 6);
  std::string text = ReadFile(f.dir + "/out/conversions.jsonl");
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    ++n;
    if (j.contains("user_data") && j["user_data"].contains("em")) {
      CHECK(testing::IsLowerHex64(j["user_data"]["em"].get<std::string>()));
    }
  }
  CHECK(n == 6);
  std::string members = ReadFile(f.dir + "/out/Sales-Cards-PlatinumCreditCard-C.members");
  CHECK(std::count(members.begin(), members.end(), '\n') == 10);

  v1::FileDestinationConfig cc;
  cc.set_path(f.dir + "/google.csv");
  cc.set_format(v1::FILE_FORMAT_GOOGLE_CSV);
  cc.set_time_zone("America/New_York");
  auto csv = f.registry.Create<Destination>("file", cc, CreateContext{&f.registry, f.dir});
  REQUIRE(csv.ok());
  auto r2 = f.Exporter(csv->get(), "file-csv")->RunOnce();
  REQUIRE(r2.ok());
  CHECK(r2->delivered == 5);
  CHECK(r2->invalid_by_reason["missing_click_id"] == 1);
  std::string sheet = ReadFile(f.dir + "/google.csv");
  CHECK(sheet.rfind("Parameters:TimeZone=America/New_York\n"
                    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\n"
                    "gclid-0,Platinum card,",
                    0) == 0);
  CHECK(sheet.find(",10.00,USD\n") != std::string::npos);
}

TEST_CASE("Credentials never appear in reports - traces or errors", "[conversion][credentials]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.echo_token_in_errors = true;
  server.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(f.Capture(i));
  server.Poison(ids[2]);
  auto meta = f.Meta(server);
  auto report = f.Exporter(meta.get(), "meta", nullptr, /*trace=*/true)->RunOnce();
  REQUIRE(report.ok());
  CHECK(report->failed == 1);
  std::string all = report->ToText() + report->ToJson() + report->trace + meta->Describe();
  CHECK(all.find(kMetaToken) == std::string::npos);
  CHECK(all.find("[redacted]") != std::string::npos);
  // The header carried it.
  CHECK(server.auth_headers().back() == std::string("Bearer ") + kMetaToken);

  // A wrong token: the run fails with the platform's message, not the token.
  setenv("HERALD_TEST_META_TOKEN", "wrong-token-value-1234", 1);
  auto wrong = f.Meta(server);
  f.Capture(10);
  auto failed = f.Exporter(wrong.get(), "meta2")->RunOnce();
  REQUIRE_FALSE(failed.ok());
  std::string message(failed.status().message());
  CHECK(message.find("Invalid OAuth access token") != std::string::npos);
  CHECK(message.find("wrong-token-value-1234") == std::string::npos);
  CHECK(f.Watermark("meta2") == 0);

  // Missing credentials: the error names the variable, never a value.
  v1::GoogleAdsDestinationConfig g;
  g.set_customer_id("1234567890");
  g.set_developer_token_env("HERALD_TEST_UNSET_VARIABLE");
  g.set_access_token_env("HERALD_TEST_GOOGLE_ACCESS");
  auto missing = f.registry.Create<Destination>("google_ads", g, CreateContext{&f.registry, f.dir});
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.status().message()).find("HERALD_TEST_UNSET_VARIABLE") != std::string::npos);
  CHECK(std::string(missing.status().message()).find(kGoogleAccess) == std::string::npos);

  // From a file.
  std::ofstream(f.dir + "/token") << kMetaToken << "\n";
  REQUIRE(chmod((f.dir + "/token").c_str(), 0600) == 0);  // a secret's file is its owner's alone
  auto file_token = ReadCredential("meta", "", "token", f.dir);
  REQUIRE(file_token.ok());
  CHECK(*file_token == kMetaToken);
}

// A component that hashes identifiers itself reads the run's hasher.
class HasherProbe final : public ConversionComponent {
 public:
  explicit HasherProbe(std::vector<IdentifierHasher*>* seen) : seen_(seen) {}
  absl::Status Run(ExportContext& ctx) const override {
    seen_->push_back(RunHasher(ctx));
    return absl::OkStatus();
  }

 private:
  std::vector<IdentifierHasher*>* seen_;
};

TEST_CASE("RunHasher: a component gets the run's hasher, the same on every page, and none outside a run",
          "[conversion][pipeline]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.Capture(i);
  std::vector<IdentifierHasher*> seen;
  REQUIRE(f.registry
              .Register(MakeFactory<ConversionComponent, google::protobuf::Empty>(
                  "HasherProbe", "records RunHasher(ctx) per page",
                  [&seen](const google::protobuf::Empty&,
                          const CreateContext&) -> absl::StatusOr<std::unique_ptr<ConversionComponent>> {
                    return std::unique_ptr<ConversionComponent>(std::make_unique<HasherProbe>(&seen));
                  }))
              .ok());
  v1::PipelineDefinition def = DefaultConversionPipeline();  // with the probe after PrepareEvents
  def.set_name("conversion-probe");
  REQUIRE(def.stages(1).components(0).name() == "PrepareEvents");
  def.mutable_stages(1)->add_components()->set_name("HasherProbe");
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/probe.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  ExporterOptions o = f.Options(file->get(), "file-probe");
  o.pipeline = &def;
  o.page_size = 1;  // three pages
  auto exporter = ConversionExporter::Create(std::move(o));
  REQUIRE(exporter.ok());
  auto report = (*exporter)->RunOnce();
  REQUIRE(report.ok());
  CHECK(report->delivered == 3);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] != nullptr);
  CHECK(seen[1] == seen[0]);
  CHECK(seen[2] == seen[0]);
  ExportContext outside;
  CHECK(RunHasher(outside) == nullptr);
}

TEST_CASE("One exporter per destination: the lease makes others wait - also across stores", "[conversion][lease]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.Capture(i);
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/out.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  REQUIRE(*f.store->watermarks().TryLease("conversion-export/file", "server-b", absl::Minutes(5)));
  auto exporter = f.Exporter(file->get(), "file");
  auto busy = exporter->RunOnce();
  REQUIRE(busy.ok());
  CHECK(busy->state == "busy");
  CHECK(busy->conversions == 0);
  REQUIRE(f.store->watermarks().ReleaseLease("conversion-export/file", "server-b").ok());
  auto ran = exporter->RunOnce();
  REQUIRE(ran.ok());
  CHECK(ran->state == "completed");
  CHECK(ran->delivered == 3);

  // Two stores on one SQLite file (two servers sharing a database).
  std::string db = f.dir + "/shared.db";
  auto a = OpenStore(db, f.registry);
  auto b = OpenStore(db, f.registry);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(*(*b)->watermarks().TryLease("conversion-export/file-sql", "server-b", absl::Minutes(5)));
  auto on_a = f.Exporter(file->get(), "file-sql", a->get());
  auto r = on_a->RunOnce();
  REQUIRE(r.ok());
  CHECK(r->state == "busy");

#ifdef HERALD_HAVE_POSTGRES
  const char* pg = testing::PostgresOrSkip("the PostgreSQL lease check");
  if (pg != nullptr) {
    REQUIRE(RegisterPostgresStore(&f.registry).ok());
    auto p1 = OpenStore(pg, f.registry);
    auto p2 = OpenStore(pg, f.registry);
    REQUIRE(p1.ok());
    REQUIRE(p2.ok());
    std::string name = "file-pg-" + std::to_string(getpid());
    REQUIRE(*(*p2)->watermarks().TryLease("conversion-export/" + name, "server-b", absl::Minutes(5)));
    auto r3 = f.Exporter(file->get(), name, p1->get())->RunOnce();
    REQUIRE(r3.ok());
    CHECK(r3->state == "busy");
    REQUIRE((*p2)->watermarks().ReleaseLease("conversion-export/" + name, "server-b").ok());
  }
#endif
}

TEST_CASE("The schedule is off until started - then runs every interval", "[conversion][schedule]") {
  Fixture f;
  f.Capture(1);
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/scheduled.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  auto exporter = f.Exporter(file->get(), "sched");
  ExportSchedule schedule(exporter.get(), absl::Milliseconds(50));
  absl::SleepFor(absl::Milliseconds(120));
  CHECK(schedule.runs() == 0);
  CHECK(f.Watermark("sched") == 0);
  std::atomic<int> ok_runs{0};
  schedule.OnReport([&](const absl::StatusOr<ExportReport>& r) { ok_runs += r.ok() ? 1 : 0; });
  schedule.Start();
  // Three runs, however slow the machine (the first run also builds the
  // phone fast path's tables, which takes long under sanitizers).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (schedule.runs() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  schedule.Stop();
  CHECK(schedule.runs() >= 3);
  CHECK(ok_runs.load() == schedule.runs());
  CHECK(f.Watermark("sched") == 1);
}

TEST_CASE("Only Accepted outcomes (and configured custom ones) of enabled actions are conversions", "[conversion][select]") {
  Fixture f;
  f.Capture(1, "PlatinumCreditCard", v1::OUTCOME_CLICKED);
  f.Capture(2, "PlatinumCreditCard", v1::OUTCOME_IMPRESSION);
  f.Capture(3, "CallBack");
  f.Capture(4, "WinterJacket");
  v1::InteractionRecord custom;
  custom.mutable_subject()->set_email("x@example.org");
  custom.mutable_action()->set_issue("Sales");
  custom.mutable_action()->set_group("Cards");
  custom.mutable_action()->set_name("PlatinumCreditCard");
  custom.set_outcome(v1::OUTCOME_CUSTOM);
  custom.set_custom_outcome("Activated");
  custom.mutable_time()->set_seconds(absl::ToUnixSeconds(f.now));
  REQUIRE(CaptureResponse(*f.store, custom).ok());
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/sel.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  auto report = f.Exporter(file->get(), "sel")->RunOnce();
  REQUIRE(report.ok());
  CHECK(report->conversions == 1);  // only WinterJacket (paid sync on, offline defaulted on)
  CHECK(f.Watermark("sel") == f.LastSequence());

  // A pipeline counting "Activated" as a conversion too.
  auto def = ParsePipelineDefinition(R"pb(
    name: "custom" family: "conversion"
    stages { name: "select" components { name: "SelectConversions" json_config: "{\"customOutcomes\":[\"Activated\"]}" } }
    stages { name: "prepare" components { name: "PrepareEvents" } }
    stages { name: "validate" components { name: "ValidateEvents" } }
    stages { name: "send" components { name: "SendEvents" } }
    stages { name: "acknowledge" components { name: "AcknowledgeEvents" json_config: "{\"skipAudiences\":true}" } }
  )pb", "custom");
  REQUIRE(def.ok());
  ExporterOptions o = f.Options(file->get(), "sel2");
  o.pipeline = &*def;
  auto exporter = ConversionExporter::Create(std::move(o));
  REQUIRE(exporter.ok());
  auto r2 = (*exporter)->RunOnce();
  REQUIRE(r2.ok());
  CHECK(r2->conversions == 2);
}

TEST_CASE("pipelines/conversion.textproto equals the built-in pipeline", "[conversion][pipeline]") {
  auto def = LoadPipelineDefinition(std::string(HERALD_SOURCE_DIR) + "/pipelines/conversion.textproto");
  REQUIRE(def.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*def, DefaultConversionPipeline()));
  Registry registry;
  RegisterConversionComponents(&registry);
  RegisterConversionComponents(&registry);  // idempotent
  CHECK(Pipeline<ExportContext>::Create(*def, CreateContext{&registry}).ok());
}

TEST_CASE("A conversion pipeline missing a stage the next one reads is refused when the exporter is created",
          "[conversion][pipeline][contract]") {
  Fixture f;
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/out.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  v1::PipelineDefinition def = DefaultConversionPipeline();
  def.set_name("no-prepare");
  auto create = [&] {
    ExporterOptions o = f.Options(file->get(), "file");
    o.pipeline = &def;
    return ConversionExporter::Create(std::move(o)).status();
  };
  // Without PrepareEvents nothing is serialized, nor is anyone's consent checked.
  REQUIRE(def.stages(1).components(0).name() == "PrepareEvents");
  def.mutable_stages(1)->mutable_components(0)->set_disabled(true);
  absl::Status s = create();
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("no-prepare: stage \"validate\" component \"ValidateEvents\": reads \"prepared\", "
                             "which no earlier component writes"));
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("stage \"send\" component \"SendEvents\": reads \"prepared\", which no earlier "
                             "component writes"));
  // Without SendEvents there are no outcomes to acknowledge.
  def.mutable_stages(1)->mutable_components(0)->set_disabled(false);
  REQUIRE(def.stages(3).components(0).name() == "SendEvents");
  def.mutable_stages(3)->mutable_components(0)->set_disabled(true);
  s = create();
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("stage \"acknowledge\" component \"AcknowledgeEvents\": reads \"outcomes\", "
                             "which no earlier component writes"));
  // The built-in pipeline builds.
  def.mutable_stages(3)->mutable_components(0)->set_disabled(false);
  CHECK(create().ok());
}

// ---------------------------------------------------------------- configs

template <typename Product>
absl::Status Make(Registry& registry, const std::string& name, const std::string& text, const std::string& dir) {
  auto factory = registry.Find(ExtensionTraits<Product>::kFamily, name);
  if (!factory.ok()) return factory.status();
  auto config = (*factory)->CreateEmptyConfig();
  if (!google::protobuf::TextFormat::ParseFromString(text, config.get())) {
    return absl::InvalidArgumentError("test: unparseable config");
  }
  return registry.Create<Product>(name, *config, CreateContext{&registry, dir}).status();
}

TEST_CASE("Every conversion component accepts a valid and an empty config and refuses an invalid one",
          "[conversion][config]") {
  Registry registry;
  RegisterConversionComponents(&registry);
  struct Case {
    const char* name;
    const char* valid;
    const char* invalid;
  };
  const Case cases[] = {
      {"SelectConversions", "custom_outcomes: \"Activated\"", "custom_outcomes: \"\""},
      {"PrepareEvents", "", nullptr},
      {"ValidateEvents", "max_future_seconds: 60 max_age_days: 30", "max_age_days: -1"},
      {"SendEvents", "retries: 3 backoff_ms: 10 batch_size: 50", "retries: -2"},
      {"AcknowledgeEvents", "rejects_path: \"/tmp/rejects.jsonl\"", nullptr},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(Make<ConversionComponent>(registry, c.name, c.valid, "").ok());
    CHECK(Make<ConversionComponent>(registry, c.name, "", "").ok());
    if (c.invalid != nullptr) CHECK(Make<ConversionComponent>(registry, c.name, c.invalid, "").code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Every destination accepts a valid config and refuses an empty or invalid one", "[conversion][config]") {
  Fixture f;
  struct Case {
    const char* name;
    const char* valid;
    const char* invalid;
  };
  const Case cases[] = {
      {"meta", "dataset_id: \"123\" access_token_env: \"HERALD_TEST_META_TOKEN\"",
       "dataset_id: \"123\" access_token_env: \"HERALD_TEST_META_TOKEN\" batch_size: 5000"},
      {"google_ads",
       "customer_id: \"1234567890\" developer_token_env: \"HERALD_TEST_GOOGLE_DEV\" access_token_env: \"HERALD_TEST_GOOGLE_ACCESS\"",
       "customer_id: \"123-456-7890\" developer_token_env: \"HERALD_TEST_GOOGLE_DEV\" access_token_env: \"HERALD_TEST_GOOGLE_ACCESS\""},
      {"file", "path: \"x.jsonl\" format: FILE_FORMAT_GOOGLE_CSV", "path: \"x.csv\" time_zone: \"Mars/Olympus\""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(Make<Destination>(f.registry, c.name, c.valid, f.dir).ok());
    CHECK_FALSE(Make<Destination>(f.registry, c.name, "", f.dir).ok());
    CHECK(Make<Destination>(f.registry, c.name, c.invalid, f.dir).code() == absl::StatusCode::kInvalidArgument);
  }
  v1::ExportJobConfig job;
  job.set_destination("files");
  job.set_destination_type("file");
  job.set_destination_json_config("{\"path\": \"a.jsonl\"}");
  CHECK(CreateDestination(job, CreateContext{&f.registry, f.dir}).ok());
  job.set_destination_json_config("{\"nope\": 1}");
  CHECK_FALSE(CreateDestination(job, CreateContext{&f.registry, f.dir}).ok());
  job.set_destination_type("carrier_pigeon");
  CHECK(CreateDestination(job, CreateContext{&f.registry, f.dir}).status().code() == absl::StatusCode::kNotFound);
}


// ---------------------------------------------------------------- issue #16: nothing lost, nothing sent twice

namespace fault_injection {

const std::vector<Fault> kUnreadable = {Fault::k302,     Fault::k408,
                                        Fault::k413,     Fault::kHtml200,
                                        Fault::kCut200,  Fault::kResetBeforeProcessing,
                                        Fault::kHang,    Fault::kResetAfterProcessing,
                                        Fault::kTimeoutAfterProcessing};

// The expected keys all kept by the platform once, and each acknowledged by
// exactly one clean answer; nothing sent after its acknowledgement.
void CheckNoneLostNoneTwice(const testing::StandInServer& server, const std::map<std::string, int>& kept,
                            const std::set<std::string>& expected) {
  std::set<std::string> got;
  for (const auto& [key, n] : kept) got.insert(key);
  int lost = 0, twice = 0;
  auto acked = server.acknowledged();
  for (const std::string& k : expected) {
    if (got.count(k) == 0) ++lost;
    if (acked[k] > 1) ++twice;
  }
  INFO("lost " << lost << ", acknowledged twice " << twice << ", sent after acknowledgement "
               << server.sent_after_acknowledged());
  CHECK(lost == 0);
  CHECK(twice == 0);
  CHECK(server.sent_after_acknowledged() == 0);
  CHECK(got == expected);
}

std::set<std::string> MetaKeys(const std::set<std::string>& ids) {
  std::set<std::string> out;
  for (const std::string& id : ids) out.insert("Purchase/" + id);
  return out;
}

}  // namespace fault_injection

TEST_CASE("Meta: isolated unreadable answers lose nothing and fail nothing", "[conversion][meta][faults][issue16]") {
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  std::set<std::string> ids;
  for (int i = 0; i < 600; ++i) ids.insert(f.Capture(i));
  std::vector<Fault> faults;
  for (Fault kind : fault_injection::kUnreadable) {
    faults.push_back(kind);
    faults.push_back(Fault::kNone);
  }
  server.Inject(faults);
  auto meta = f.Meta(server, "batch_size: 50");
  auto report = f.Exporter(meta.get(), "meta")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered == 600);
  CHECK(report->failed == 0);
  CHECK(report->retries + report->splits >= 9);  // 413 splits the batch
  CHECK(f.Watermark("meta") == f.LastSequence());
  fault_injection::CheckNoneLostNoneTwice(server, server.received(), fault_injection::MetaKeys(ids));
}

TEST_CASE("Meta: a fault lasting a whole run delivers nothing, fails nothing and holds the watermark",
          "[conversion][meta][faults][issue16]") {
  for (Fault kind : fault_injection::kUnreadable) {
    DYNAMIC_SECTION("fault " << testing::FaultName(kind)) {
      Fixture f;
      MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
      server.Start();
      std::set<std::string> ids;
      for (int i = 0; i < 40; ++i) ids.insert(f.Capture(i));
      auto meta = f.Meta(server, "batch_size: 10");
      auto exporter = f.Exporter(meta.get(), "meta");
      server.SetBurst(kind);
      auto first = exporter->RunOnce();
      REQUIRE(first.ok());
      INFO(first->ToText());
      CHECK(first->state == "pending");
      CHECK(first->delivered == 0);
      CHECK(first->failed == 0);
      CHECK(first->transient == 40);
      CHECK(first->DeliveredNothingForFaults());
      CHECK(f.Watermark("meta") == 0);
      server.SetBurst(Fault::kNone);
      auto second = exporter->RunOnce();
      REQUIRE(second.ok());
      INFO(second->ToText());
      CHECK(second->state == "completed");
      CHECK(second->delivered == 40);
      CHECK_FALSE(second->DeliveredNothingForFaults());
      CHECK(f.Watermark("meta") == f.LastSequence());
      fault_injection::CheckNoneLostNoneTwice(server, server.received(), fault_injection::MetaKeys(ids));
    }
  }
}

TEST_CASE("Google: isolated unreadable answers and unlocated row errors lose nothing",
          "[conversion][google][faults][issue16]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  std::set<std::string> orders;
  for (int i = 0; i < 600; ++i) {
    f.Capture(i);
    orders.insert("order-" + std::to_string(i));
  }
  std::vector<Fault> faults;
  for (Fault kind : fault_injection::kUnreadable) {
    faults.push_back(kind);
    faults.push_back(Fault::kNone);
  }
  faults.push_back(Fault::kUnlocatedRowError);
  faults.push_back(Fault::kUnlocatedRowError);
  server.Inject(faults);
  auto google = f.Google(server, "batch_size: 50");
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered + report->duplicates == 600);
  CHECK(report->failed == 0);
  CHECK(server.violations().empty());
  CHECK(f.Watermark("google") == f.LastSequence());
  fault_injection::CheckNoneLostNoneTwice(server, server.received(), orders);
}

TEST_CASE("Google: a row error without a location is never counted delivered", "[conversion][google][faults][issue16]") {
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  for (int i = 0; i < 5; ++i) f.Capture(i);
  // Every answer refuses the batch's first conversion without saying which.
  server.SetBurst(Fault::kUnlocatedRowError);
  auto google = f.Google(server, "batch_size: 5");
  auto exporter = f.Exporter(google.get(), "google");
  auto first = exporter->RunOnce();
  REQUIRE(first.ok());
  INFO(first->ToText());
  CHECK(first->state == "pending");
  CHECK(first->delivered == 4);  // Google filled in their results
  CHECK(first->transient == 1);
  CHECK(f.Watermark("google") == 0);  // the first holds the watermark
  CHECK(server.received().count("order-0") == 0);
  server.SetBurst(Fault::kNone);
  auto second = exporter->RunOnce();
  REQUIRE(second.ok());
  INFO(second->ToText());
  CHECK(second->state == "completed");
  CHECK(server.received().count("order-0") == 1);
  CHECK(f.Watermark("google") == f.LastSequence());
}

TEST_CASE("Google: a fault lasting a whole run delivers nothing, fails nothing and holds the watermark",
          "[conversion][google][faults][issue16]") {
  for (Fault kind : fault_injection::kUnreadable) {
    DYNAMIC_SECTION("fault " << testing::FaultName(kind)) {
      Fixture f;
      GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
      server.Start();
      std::set<std::string> orders;
      for (int i = 0; i < 40; ++i) {
        f.Capture(i);
        orders.insert("order-" + std::to_string(i));
      }
      auto google = f.Google(server, "batch_size: 10");
      auto exporter = f.Exporter(google.get(), "google");
      server.SetBurst(kind);
      auto first = exporter->RunOnce();
      REQUIRE(first.ok());
      INFO(first->ToText());
      CHECK(first->state == "pending");
      CHECK(first->delivered + first->duplicates == 0);
      CHECK(first->failed == 0);
      CHECK(first->DeliveredNothingForFaults());
      CHECK(f.Watermark("google") == 0);
      server.SetBurst(Fault::kNone);
      auto second = exporter->RunOnce();
      REQUIRE(second.ok());
      INFO(second->ToText());
      CHECK(second->state == "completed");
      CHECK(second->delivered + second->duplicates == 40);
      CHECK(second->failed == 0);
      fault_injection::CheckNoneLostNoneTwice(server, server.received(), orders);
    }
  }
}

TEST_CASE("The lease of an exporter whose process died is taken over at once", "[conversion][lease][issue16]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.Capture(i);
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/out.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string dead = std::string(host) + ":" + std::to_string(child) + "/0a0b0c0d";
  const std::string alive = std::string(host) + ":" + std::to_string(getppid()) + "/01010101";
  std::string db = f.dir + "/leases.db";
  auto sqlite = OpenStore(db, f.registry);
  REQUIRE(sqlite.ok());
  for (Store* store : {f.store.get(), sqlite->get()}) {
    if (store != f.store.get()) {  // the same three conversions in the SQLite store
      auto records = f.store->interactions().ReadInteractions(0, 10);
      REQUIRE(records.ok());
      for (v1::InteractionRecord r : *records) {
        r.clear_sequence();
        REQUIRE(CaptureResponse(*store, r).ok());
      }
    }
    // A live process's lease makes the exporter wait.
    REQUIRE(*store->watermarks().TryLease("conversion-export/file", alive, absl::Minutes(5)));
    auto busy = f.Exporter(file->get(), "file", store)->RunOnce();
    REQUIRE(busy.ok());
    CHECK(busy->state == "busy");
    REQUIRE(store->watermarks().ReleaseLease("conversion-export/file", alive).ok());
    // A dead one's is taken over without waiting for its five minutes.
    REQUIRE(*store->watermarks().TryLease("conversion-export/file", dead, absl::Minutes(5)));
    auto ran = f.Exporter(file->get(), "file", store)->RunOnce();
    REQUIRE(ran.ok());
    INFO(ran->ToText());
    CHECK(ran->state == "completed");
    CHECK(ran->lease_taken_over_from == dead);
    CHECK(ran->delivered == 3);
    CHECK(ran->ToText().find("lease taken over from " + dead) != std::string::npos);
  }
}

// ---------------------------------------------------------------- issue #16: credentials that last

constexpr char kClientId[] = "1234-herald.apps.googleusercontent.com";
constexpr char kClientSecret[] = "GOCSPX-clientSECRET-777";
constexpr char kRefreshToken[] = "1//0refreshSECRET-token-xyz";

std::string OAuthConfig(const testing::OAuthStandIn& oauth, const std::string& extra = "") {
  return "oauth_client_id: \"" + std::string(kClientId) +
         "\" oauth_client_secret_env: \"HERALD_TEST_OAUTH_SECRET\" oauth_refresh_token_env: "
         "\"HERALD_TEST_OAUTH_REFRESH\" oauth_token_url: \"" +
         oauth.token_url() + "\" " + extra;
}

std::unique_ptr<Destination> GoogleOAuth(Fixture& f, const GoogleStandIn& server, const std::string& text) {
  v1::GoogleAdsDestinationConfig c;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &c));
  c.set_base_url(server.url());
  c.set_api_version("v17");
  c.set_customer_id("1234567890");
  c.set_login_customer_id("9876543210");
  c.set_developer_token_env("HERALD_TEST_GOOGLE_DEV");
  c.set_timeout_ms(2000);
  auto d = f.registry.Create<Destination>("google_ads", c, CreateContext{&f.registry, f.dir});
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  return std::move(*d);
}

TEST_CASE("Google OAuth: tokens that expire every two seconds are refreshed during a long export",
          "[conversion][google][oauth][issue16]") {
  Fixture f;
  setenv("HERALD_TEST_OAUTH_SECRET", kClientSecret, 1);
  setenv("HERALD_TEST_OAUTH_REFRESH", kRefreshToken, 1);
  testing::OAuthStandIn oauth(kClientId, kClientSecret, kRefreshToken);
  oauth.lifetime_seconds = 2;
  oauth.Start();
  GoogleStandIn server("v17", "1234567890", kGoogleDev, "unused", absl::ToUnixSeconds(f.now));
  server.access_check = [&](const std::string& t) { return oauth.Valid(t); };
  server.expected_login_customer_id = "9876543210";
  server.upload_delay = std::chrono::milliseconds(100);
  server.Start();
  for (int i = 0; i < 1000; ++i) f.Capture(i);
  auto google = GoogleOAuth(f, server, OAuthConfig(oauth, "batch_size: 20"));
  auto report = f.Exporter(google.get(), "google")->RunOnce();  // 50 uploads of 100 ms: about 5 s
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered == 1000);
  CHECK(oauth.grants() >= 4);              // refreshed before each token's two seconds ran out
  CHECK(oauth.expired_seen() == 0);        // never sent an expired token
  CHECK(server.unauthenticated() == 0);
  CHECK(server.violations().empty());      // developer-token and login-customer-id on every call
  CHECK(server.received().size() == 1000);
  for (const std::string& secret : oauth.issued()) CHECK(report->ToJson().find(secret) == std::string::npos);
}

TEST_CASE("Google OAuth: a token refused with 401 is refreshed once and the batch sent again",
          "[conversion][google][oauth][issue16]") {
  Fixture f;
  setenv("HERALD_TEST_OAUTH_SECRET", kClientSecret, 1);
  setenv("HERALD_TEST_OAUTH_REFRESH", kRefreshToken, 1);
  testing::OAuthStandIn oauth(kClientId, kClientSecret, kRefreshToken);
  oauth.revoke_after_uses = 3;  // revoked early, long before its hour
  oauth.Start();
  GoogleStandIn server("v17", "1234567890", kGoogleDev, "unused", absl::ToUnixSeconds(f.now));
  server.access_check = [&](const std::string& t) { return oauth.Valid(t); };
  server.Start();
  for (int i = 0; i < 200; ++i) f.Capture(i);
  auto google = GoogleOAuth(f, server, OAuthConfig(oauth, "batch_size: 10"));
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->delivered == 200);
  CHECK(report->failed == 0);
  CHECK(server.unauthenticated() >= 5);
  CHECK(oauth.grants() == server.unauthenticated() + 1);  // one refresh per 401, plus the first
  CHECK(server.received().size() == 200);
}

TEST_CASE("Google OAuth: a refused refresh token stops the run, names the endpoint, never a secret",
          "[conversion][google][oauth][credentials][issue16]") {
  Fixture f;
  setenv("HERALD_TEST_OAUTH_SECRET", kClientSecret, 1);
  setenv("HERALD_TEST_OAUTH_REFRESH", "1//0wrongSECRET-refresh", 1);
  testing::OAuthStandIn oauth(kClientId, kClientSecret, kRefreshToken);
  oauth.Start();
  GoogleStandIn server("v17", "1234567890", kGoogleDev, "unused", absl::ToUnixSeconds(f.now));
  server.access_check = [&](const std::string& t) { return oauth.Valid(t); };
  server.Start();
  for (int i = 0; i < 5; ++i) f.Capture(i);
  auto google = GoogleOAuth(f, server, OAuthConfig(oauth));
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE_FALSE(report.ok());
  std::string message(report.status().message());
  INFO(message);
  CHECK_THAT(message, Catch::Contains("invalid_grant"));
  CHECK_THAT(message, Catch::Contains(oauth.token_url()));
  for (const char* secret : {kClientSecret, "1//0wrongSECRET-refresh", kGoogleDev}) {
    CHECK(message.find(secret) == std::string::npos);
  }
  CHECK(server.requests() == 0);
  CHECK(f.Watermark("google") == 0);
}

TEST_CASE("Credential files must be readable by their owner only", "[conversion][credentials][issue16]") {
  Fixture f;
  const std::string path = f.dir + "/refresh_token";
  std::ofstream(path) << kRefreshToken << "\n";
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  auto open = ReadCredential("google_ads OAuth refresh token", "", "refresh_token", f.dir);
  REQUIRE_FALSE(open.ok());
  CHECK(open.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(open.status().message()), Catch::Contains(path));
  CHECK_THAT(std::string(open.status().message()), Catch::Contains("0644"));
  CHECK(std::string(open.status().message()).find(kRefreshToken) == std::string::npos);
  REQUIRE(chmod(path.c_str(), 0600) == 0);
  auto closed = ReadCredential("google_ads OAuth refresh token", "", "refresh_token", f.dir);
  REQUIRE(closed.ok());
  CHECK(*closed == kRefreshToken);
  REQUIRE(chmod(path.c_str(), 0400) == 0);
  CHECK(ReadCredential("x", "", path).ok());
  // A destination whose secret file is open to others is refused at creation.
  REQUIRE(chmod(path.c_str(), 0640) == 0);
  testing::OAuthStandIn oauth(kClientId, kClientSecret, kRefreshToken);
  v1::GoogleAdsDestinationConfig c;
  c.set_customer_id("1234567890");
  c.set_developer_token_env("HERALD_TEST_GOOGLE_DEV");
  c.set_oauth_client_id(kClientId);
  c.set_oauth_client_secret_env("HERALD_TEST_OAUTH_SECRET");
  c.set_oauth_refresh_token_file("refresh_token");
  setenv("HERALD_TEST_OAUTH_SECRET", kClientSecret, 1);
  auto d = f.registry.Create<Destination>("google_ads", c, CreateContext{&f.registry, f.dir});
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == absl::StatusCode::kPermissionDenied);
  // Both ways, or neither: refused.
  c.set_access_token_env("HERALD_TEST_GOOGLE_ACCESS");
  CHECK_FALSE(f.registry.Create<Destination>("google_ads", c, CreateContext{&f.registry, f.dir}).ok());
}


// ---------------------------------------------------------------- issue #16 item 4: consent

namespace consent_tests {

v1::Consent Consent(v1::ConsentStatus user, v1::ConsentStatus personalization, bool ldu = false, int country = 0,
                    int state = 0) {
  v1::Consent c;
  c.set_ad_user_data(user);
  c.set_ad_personalization(personalization);
  if (ldu) c.add_data_processing_options("LDU");
  c.set_data_processing_options_country(country);
  c.set_data_processing_options_state(state);
  return c;
}

constexpr auto kGranted = v1::CONSENT_STATUS_GRANTED;
constexpr auto kDenied = v1::CONSENT_STATUS_DENIED;
constexpr auto kUnspecified = v1::CONSENT_STATUS_UNSPECIFIED;

}  // namespace consent_tests

TEST_CASE("Consent: Google gets adUserData - people without a grant are not sent - counted - never retried",
          "[conversion][google][consent]") {
  using namespace consent_tests;
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  f.consent = Consent(kGranted, kGranted);
  for (int i = 0; i < 4; ++i) f.Capture(i);                         // sent, join the audience
  f.consent = Consent(kGranted, kDenied);
  for (int i = 4; i < 6; ++i) f.Capture(i);                         // sent, kept out of the audience
  f.consent = Consent(kDenied, kGranted);
  for (int i = 6; i < 9; ++i) f.Capture(i);                         // not sent: denied
  f.with_consent = false;
  for (int i = 9; i < 14; ++i) f.Capture(i);                        // not sent: nothing recorded
  f.with_consent = true;
  f.consent = Consent(kUnspecified, kGranted);
  f.Capture(14);                                                    // not sent: not granted
  auto google = f.Google(server);
  auto exporter = f.Exporter(google.get(), "google", nullptr, true);
  auto report = exporter->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->conversions == 15);
  CHECK(report->delivered == 6);
  CHECK(report->no_consent == 9);
  CHECK(report->no_consent_by_reason == std::map<std::string, int64_t>{{"ad_user_data_denied", 3},
                                                                       {"ad_user_data_not_granted", 6}});
  CHECK(report->invalid == 0);
  CHECK(report->failed == 0);
  CHECK(report->transient == 0);
  CHECK(report->trace.find("no_consent") != std::string::npos);
  // The platform got exactly the granted people, each with its consent as the API spells it.
  auto sent = server.conversions();
  REQUIRE(sent.size() == 6);
  std::set<std::string> orders;
  for (const auto& c : sent) {
    orders.insert(c["orderId"].get<std::string>());
    CHECK(c["consent"] == nlohmann::json({{"adUserData", "GRANTED"}}));  // no adPersonalization on click conversions
  }
  CHECK(orders == std::set<std::string>{"order-0", "order-1", "order-2", "order-3", "order-4", "order-5"});
  // Customer Match: only ad_personalization GRANTED joins, with both consents per member.
  CHECK(report->audience_members == 4);
  CHECK(report->audience_no_consent == 2);
  auto ops = server.operations();
  REQUIRE(ops.size() == 4);
  for (const auto& op : ops) {
    CHECK(op["consent"] == nlohmann::json({{"adUserData", "GRANTED"}, {"adPersonalization", "GRANTED"}}));
  }
  CHECK(server.violations().empty());
  // Finished: the watermark moved past them and the next run sends nothing.
  CHECK(f.Watermark("google") == f.LastSequence());
  int before = server.requests();
  auto again = exporter->RunOnce();
  REQUIRE(again.ok());
  CHECK(again->conversions == 0);
  CHECK(again->no_consent == 0);
  CHECK(server.requests() == before);
  // Text and JSON reports show the count.
  CHECK(report->ToText().find("no consent       9") != std::string::npos);
  auto json = nlohmann::json::parse(report->ToJson());
  CHECK(json["no_consent"] == 9);
  CHECK(json["no_consent_by_reason"]["ad_user_data_denied"] == 3);
  CHECK(json["audience_no_consent"] == 2);
}

TEST_CASE("Consent: Meta gets data_processing_options - explicit refusals are not sent - LDU stays out of audiences",
          "[conversion][meta][consent]") {
  using namespace consent_tests;
  Fixture f;
  MetaStandIn server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(f.now));
  server.Start();
  std::map<std::string, v1::Consent> given;
  auto capture = [&](int i, const v1::Consent* c) {
    f.with_consent = c != nullptr;
    if (c != nullptr) f.consent = *c;
    std::string id = f.Capture(i);
    if (c != nullptr) given[id] = *c;
    return id;
  };
  const v1::Consent granted = Consent(kGranted, kGranted);
  const v1::Consent ldu_ca = Consent(kUnspecified, kUnspecified, true, 1, 1000);
  const v1::Consent ldu_geo = Consent(kGranted, kGranted, true, 0, 0);
  const v1::Consent denied = Consent(kDenied, kUnspecified);
  const std::string a = capture(0, &granted), b = capture(1, &ldu_ca), c = capture(2, &ldu_geo);
  const std::string none = capture(3, nullptr);
  capture(4, &denied);
  capture(5, &denied);
  auto meta = f.Meta(server, "ad_account_id: \"99\"");
  auto report = f.Exporter(meta.get(), "meta")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->delivered == 4);  // Meta's default: anyone who did not refuse
  CHECK(report->no_consent == 2);
  CHECK(report->no_consent_by_reason == std::map<std::string, int64_t>{{"ad_user_data_denied", 2}});
  CHECK(server.violations().empty());
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& e : server.events()) by_id[e["event_id"].get<std::string>()] = e;
  REQUIRE(by_id.size() == 4);
  // Exactly as Meta's server event parameters spell them.
  CHECK(by_id[a]["data_processing_options"] == nlohmann::json::array());
  CHECK_FALSE(by_id[a].contains("data_processing_options_country"));
  CHECK(by_id[b]["data_processing_options"] == nlohmann::json::array({"LDU"}));
  CHECK(by_id[b]["data_processing_options_country"] == 1);
  CHECK(by_id[b]["data_processing_options_state"] == 1000);
  CHECK(by_id[c]["data_processing_options"] == nlohmann::json::array({"LDU"}));
  CHECK(by_id[c]["data_processing_options_country"] == 0);
  CHECK(by_id[c]["data_processing_options_state"] == 0);
  CHECK_FALSE(by_id[none].contains("data_processing_options"));  // nothing recorded: nothing said
  // Audiences: the two LDU people are delivered but not added.
  CHECK(report->audience_members == 2);
  CHECK(report->audience_no_consent == 2);
  CHECK(server.members("Sales-Cards-PlatinumCreditCard-C").size() == 4);  // 2 people: email + phone
  CHECK(f.Watermark("meta") == f.LastSequence());
}

TEST_CASE("Consent: a destination's consent_policy replaces its default - the file's follows its format",
          "[conversion][consent][config]") {
  using namespace consent_tests;
  Fixture f;
  GoogleStandIn server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(f.now));
  server.Start();
  f.consent = Consent(kDenied, kDenied);
  f.Capture(0);
  f.with_consent = false;
  f.Capture(1);
  f.with_consent = true;
  f.consent = Consent(kGranted, kGranted);
  f.Capture(2);
  // Consent established elsewhere: a policy of NONE sends everyone, with what was captured.
  auto google = f.Google(server, "consent_policy { ad_user_data: CONSENT_REQUIREMENT_NONE "
                                 "audience_ad_personalization: CONSENT_REQUIREMENT_NOT_DENIED }");
  auto report = f.Exporter(google.get(), "google")->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->delivered == 3);
  CHECK(report->no_consent == 0);
  std::map<std::string, nlohmann::json> by_order;
  for (const auto& c : server.conversions()) by_order[c["orderId"].get<std::string>()] = c;
  CHECK(by_order["order-0"]["consent"] == nlohmann::json({{"adUserData", "DENIED"}}));
  CHECK_FALSE(by_order["order-1"].contains("consent"));
  CHECK(by_order["order-2"]["consent"] == nlohmann::json({{"adUserData", "GRANTED"}}));
  CHECK(report->audience_members == 2);  // unspecified and granted personalization; denied stays out
  CHECK(server.violations().empty());

  // The file destination: Google's CSV template takes Google's default, JSON lines Meta's.
  auto run_file = [&](const std::string& name, v1::FileFormat format) {
    v1::FileDestinationConfig c;
    c.set_path(f.dir + "/" + name);
    c.set_format(format);
    auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
    REQUIRE(file.ok());
    auto r = f.Exporter(file->get(), name)->RunOnce();
    REQUIRE(r.ok());
    return *r;
  };
  ExportReport csv = run_file("out.csv", v1::FILE_FORMAT_GOOGLE_CSV);
  CHECK(csv.delivered == 1);
  CHECK(csv.no_consent == 2);
  ExportReport jsonl = run_file("out.jsonl", v1::FILE_FORMAT_JSONL);
  CHECK(jsonl.delivered == 2);
  CHECK(jsonl.no_consent == 1);

  // A policy with an unknown requirement is refused, naming the field.
  v1::ExportJobConfig job;
  job.set_destination("files");
  job.set_destination_type("file");
  job.set_destination_json_config(R"({"path": "a.jsonl", "consentPolicy": {"adUserData": 9}})");
  auto bad = CreateDestination(job, CreateContext{&f.registry, f.dir});
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).find("consent_policy.ad_user_data") != std::string::npos);
  // Spelled as flags are: "granted".
  job.set_destination_json_config(R"({"path": "a.jsonl", "consentPolicy": {"adUserData": "granted"}})");
  CHECK(CreateDestination(job, CreateContext{&f.registry, f.dir}).ok());
}

TEST_CASE("Consent: people without it are written to the rejects file as no_consent", "[conversion][consent]") {
  using namespace consent_tests;
  Fixture f;
  f.consent = Consent(kDenied, kDenied);
  const std::string id = f.Capture(0);
  f.consent = Consent(kGranted, kGranted);
  f.Capture(1);
  v1::PipelineDefinition def = DefaultConversionPipeline();
  v1::AcknowledgeEventsConfig ack;
  ack.set_rejects_path(f.dir + "/rejects.jsonl");
  def.mutable_stages(4)->mutable_components(0)->mutable_config()->PackFrom(ack);
  v1::FileDestinationConfig c;
  c.set_path(f.dir + "/out.jsonl");
  auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, f.dir});
  REQUIRE(file.ok());
  ExporterOptions o = f.Options(file->get(), "file");
  o.pipeline = &def;
  auto exporter = ConversionExporter::Create(std::move(o));
  REQUIRE(exporter.ok());
  auto report = (*exporter)->RunOnce();
  REQUIRE(report.ok());
  CHECK(report->no_consent == 1);
  CHECK(report->rejects.empty());  // no error to fix
  auto line = nlohmann::json::parse(ReadFile(f.dir + "/rejects.jsonl"), nullptr, false);
  REQUIRE(line.is_object());
  CHECK(line["event_id"] == id);
  CHECK(line["state"] == "no_consent");
  CHECK(line["reason"] == "ad_user_data_denied");
}

TEST_CASE("Consent: CaptureResponse refuses bad consent naming the field", "[conversion][consent][capture]") {
  using namespace consent_tests;
  v1::InteractionRecord r;
  r.mutable_subject()->set_email("ann@example.org");
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name("PlatinumCreditCard");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  auto refusal = [&](const v1::Consent& c) {
    *r.mutable_consent() = c;
    absl::Status s = ValidateInteraction(r);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  v1::Consent c = Consent(kGranted, kGranted);
  *r.mutable_consent() = c;
  CHECK(ValidateInteraction(r).ok());
  c.add_data_processing_options("ldu");
  CHECK_THAT(refusal(c), Catch::StartsWith("CaptureResponse: consent.data_processing_options: \"ldu\""));
  CHECK_THAT(refusal(Consent(kGranted, kGranted, true, 2, 0)),
             Catch::StartsWith("CaptureResponse: consent.data_processing_options_country:"));
  CHECK_THAT(refusal(Consent(kGranted, kGranted, true, 1, 5)),
             Catch::StartsWith("CaptureResponse: consent.data_processing_options_state:"));
  CHECK_THAT(refusal(Consent(kGranted, kGranted, false, 1, 0)),
             Catch::Contains("consent.data_processing_options_country: is only meaningful with"));
  CHECK_THAT(refusal(Consent(kGranted, kGranted, true, 0, 1000)),
             Catch::Contains("consent.data_processing_options_state: needs data_processing_options_country 1"));
  CHECK_THAT(refusal(Consent(static_cast<v1::ConsentStatus>(7), kGranted)),
             Catch::StartsWith("CaptureResponse: consent.ad_user_data:"));
  CHECK_THAT(refusal(Consent(kGranted, static_cast<v1::ConsentStatus>(-1))),
             Catch::StartsWith("CaptureResponse: consent.ad_personalization:"));
  CHECK(ValidateInteraction([&] { *r.mutable_consent() = Consent(kDenied, kUnspecified, true, 1, 1000); return r; }()).ok());
}

}  // namespace
}  // namespace herald
