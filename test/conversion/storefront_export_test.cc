// Issue #8's "done when": the example storefront's conversions, exported
// with the export jobs a site would write, are accepted by the local Meta
// and Google stand-ins. The simulation (herald/simulation.h) drives the
// storefront on examples/storefront/catalog.textproto into an SQLite store;
// the jobs point the meta and google_ads destinations at the stand-ins'
// base URLs on 127.0.0.1.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <map>
#include <set>
#include <string>

#include "google/protobuf/text_format.h"
#include "herald/catalog.h"
#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/simulation.h"
#include "herald/store.h"
#include "standin_servers.h"

namespace herald {
namespace {

using testing::GoogleStandIn;
using testing::IsLowerHex64;
using testing::MetaStandIn;

constexpr char kMetaToken[] = "EAAGstorefrontMETAtoken0123456789";
constexpr char kGoogleDev[] = "devSTOREFRONTtoken-4242";
constexpr char kGoogleAccess[] = "ya29.storefrontACCESS-abcdef";
const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

std::string TempDir() {
  char tmpl[] = "/tmp/herald-storefront-export-XXXXXX";
  char* made = mkdtemp(tmpl);
  return made == nullptr ? std::string("/tmp") : std::string(made);
}

bool Enabled(const v1::ConversionAction& a) {
  return a.has_offline_conversion_enabled() ? a.offline_conversion_enabled() : a.paid_sync_enabled();
}

std::string ActionKey(const v1::ActionRef& a) { return a.issue() + "/" + a.group() + "/" + a.name(); }

// The export jobs of the storefront, as in an exports.textproto, with the
// destinations' base URLs set to the stand-ins.
v1::ExportJobs Jobs(const std::string& meta_url, const std::string& google_url) {
  v1::ExportJobs jobs;
  auto* meta = jobs.add_jobs();
  meta->set_destination("meta-offline");
  meta->set_destination_type("meta");
  meta->set_destination_json_config(R"({"baseUrl": ")" + meta_url + R"(", "datasetId": "1234567",
      "accessTokenEnv": "HERALD_STOREFRONT_META_TOKEN", "adAccountId": "99", "timeoutMs": 5000})");
  auto* google = jobs.add_jobs();
  google->set_destination("google-ads");
  google->set_destination_type("google_ads");
  google->set_destination_json_config(R"({"baseUrl": ")" + google_url + R"(", "customerId": "1234567890",
      "developerTokenEnv": "HERALD_STOREFRONT_GOOGLE_DEV", "accessTokenEnv": "HERALD_STOREFRONT_GOOGLE_ACCESS",
      "timeZone": "America/Los_Angeles", "timeoutMs": 5000, "audienceJobPollMs": 5,
      "conversionActions": {"Sales/Gear/WinterJacket": "customers/1234567890/conversionActions/556"}})");
  return jobs;
}

TEST_CASE("The example storefront's conversions are accepted by the Meta and Google stand-ins",
          "[conversion][storefront][meta][google]") {
  setenv("HERALD_STOREFRONT_META_TOKEN", kMetaToken, 1);
  setenv("HERALD_STOREFRONT_GOOGLE_DEV", kGoogleDev, 1);
  setenv("HERALD_STOREFRONT_GOOGLE_ACCESS", kGoogleAccess, 1);
  // A personal-data key: the simulated store keeps the raw identifiers sealed
  // (without one it keeps only hashes), so this test can hash them itself and
  // compare with what the stand-ins received.
  setenv("HERALD_PERSONAL_DATA_KEYS", "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
  const std::string dir = TempDir();
  const absl::Time now = absl::Now();

  // 1. The storefront: a few thousand page views over two days that ended two days ago.
  SimulationOptions sim;
  sim.catalog_path = kCatalog;
  sim.out_dir = dir;
  sim.page_views = 4000;
  sim.users = 600;
  sim.days = 2;
  sim.start = absl::FormatTime("%Y-%m-%d", now - absl::Hours(24 * 5), absl::UTCTimeZone());
  sim.checkout_rate = 0.1;
  sim.seed = 11;
  sim.send_mail = false;
  sim.export_conversions = false;
  auto simulated = RunSimulation(sim);
  REQUIRE(simulated.ok());
  REQUIRE(simulated->accepted > 0);

  Registry registry;
  RegisterConversionComponents(&registry);
  auto catalog = LoadCatalog(kCatalog);
  REQUIRE(catalog.ok());
  std::vector<v1::ConversionAction> actions(catalog->actions().begin(), catalog->actions().end());
  std::set<std::string> enabled;
  for (const auto& a : actions) {
    if (Enabled(a)) enabled.insert(a.issue() + "/" + a.group() + "/" + a.name());
  }
  auto store = OpenStore(dir + "/herald.db", registry);
  REQUIRE(store.ok());

  // What the store says the conversions are: Accepted interactions of enabled actions.
  auto all = (*store)->interactions().ReadInteractions(0, 10'000'000);
  REQUIRE(all.ok());
  std::map<std::string, const v1::InteractionRecord*> conversions;  // interaction id -> record
  std::map<std::string, std::string> by_order;                      // order id (or interaction id) -> interaction id
  std::map<std::string, std::set<std::string>> meta_members, google_members;  // audience -> hashes
  // Consent (the storefront captures a mix): who each platform may get by
  // the destinations' default policies, and who joins the audiences.
  std::map<std::string, int64_t> sendable, audience_members;  // destination type -> count
  IdentifierHasher h;
  for (const auto& r : *all) {
    if (r.outcome() != v1::OUTCOME_ACCEPTED || enabled.count(ActionKey(r.action())) == 0) continue;
    conversions[r.interaction_id()] = &r;
    by_order[r.order_id().empty() ? r.interaction_id() : r.order_id()] = r.interaction_id();
    std::string audience = r.action().issue() + "-" + r.action().group() + "-" + r.action().name() + "-C";
    const v1::Consent& c = r.consent();
    const bool to_meta = c.ad_user_data() != v1::CONSENT_STATUS_DENIED;
    const bool to_google = c.ad_user_data() == v1::CONSENT_STATUS_GRANTED;
    const bool meta_audience = to_meta && c.ad_personalization() != v1::CONSENT_STATUS_DENIED &&
                               c.data_processing_options_size() == 0;
    const bool google_audience = to_google && c.ad_personalization() == v1::CONSENT_STATUS_GRANTED;
    sendable["meta"] += to_meta;
    sendable["google_ads"] += to_google;
    audience_members["meta"] += meta_audience;
    audience_members["google_ads"] += google_audience;
    if (meta_audience) {
      meta_members[audience].insert(h.Hash(NormalizeEmail(r.subject().email())));
      meta_members[audience].insert(h.Hash(NormalizePhone(r.subject().phone(), PhoneFormat::kDigits, r.subject().country())));
    }
    if (google_audience) {
      google_members[audience].insert(h.Hash(NormalizeEmail(r.subject().email(), true)));
      google_members[audience].insert(h.Hash(NormalizePhone(r.subject().phone(), PhoneFormat::kE164, r.subject().country())));
    }
  }
  const int64_t n = static_cast<int64_t>(conversions.size());
  INFO(sendable["meta"] << " for Meta, " << sendable["google_ads"] << " for Google");
  REQUIRE(sendable["google_ads"] < sendable["meta"]);  // a mix: some refused, some were never asked
  REQUIRE(sendable["meta"] < n);
  INFO(n << " conversions in " << all->size() << " interactions");
  REQUIRE(n >= 50);
  REQUIRE(meta_members.size() == 2);  // both exported actions converted: the card offer and the order

  // 2. The stand-ins and the destinations the jobs describe.
  MetaStandIn meta_server("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(now));
  GoogleStandIn google_server("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(now));
  meta_server.Start();
  google_server.Start();
  v1::ExportJobs jobs = Jobs(meta_server.url(), google_server.url());

  for (const v1::ExportJobConfig& job : jobs.jobs()) {
    INFO("job " << job.destination());
    {
      auto destination = CreateDestination(job, CreateContext{&registry, dir, store->get()});
      REQUIRE(destination.ok());
      CHECK((*destination)->Describe().find("http://127.0.0.1:") != std::string::npos);
      ExporterOptions o;
      o.registry = &registry;
      o.store = store->get();
      o.destination = destination->get();
      o.destination_name = job.destination();
      o.actions = actions;
      o.page_size = 200;  // several pages, each moving the watermark
      auto exporter = ConversionExporter::Create(std::move(o));
      REQUIRE(exporter.ok());
      auto report = (*exporter)->RunOnce();
      REQUIRE(report.ok());
      INFO(report->ToText());
      CHECK(report->state == "completed");
      const int64_t sent = sendable[job.destination_type()];
      CHECK(report->conversions == n);
      CHECK(report->delivered == sent);
      CHECK(report->no_consent == n - sent);
      CHECK(report->duplicates == 0);
      CHECK(report->invalid == 0);
      CHECK(report->failed == 0);
      CHECK(report->transient == 0);
      CHECK(report->audience_members == audience_members[job.destination_type()]);
      CHECK(report->audience_no_consent == sent - audience_members[job.destination_type()]);
      auto watermark = (*store)->watermarks().GetWatermark(job.destination());
      REQUIRE(watermark.ok());
      CHECK(*watermark == all->back().sequence());

      if (job.destination_type() == "meta") {
        CHECK(meta_server.violations().empty());
        CHECK(static_cast<int64_t>(meta_server.received().size()) == sent);
        for (const auto& [key, times] : meta_server.received()) CHECK(times == 1);
        // Every kept event is one of the store's conversions, its identifiers hashed from the record.
        for (const auto& e : meta_server.events()) {
          auto it = conversions.find(e["event_id"].get<std::string>());
          REQUIRE(it != conversions.end());
          const v1::InteractionRecord& r = *it->second;
          const auto& u = e["user_data"];
          CHECK(u["em"] == h.Hash(NormalizeEmail(r.subject().email())));
          CHECK(u["ph"] == h.Hash(NormalizePhone(r.subject().phone(), PhoneFormat::kDigits, r.subject().country())));
          CHECK(u["external_id"] == h.Hash(r.subject().external_id()));
          for (auto f = u.begin(); f != u.end(); ++f) CHECK(IsLowerHex64(f.value().get<std::string>()));
          CHECK(e["event_time"] == r.time().seconds());
          if (r.has_value()) CHECK(e["custom_data"]["value"] == Approx(r.value().minor_units() / 100.0));
          CHECK(r.consent().ad_user_data() != v1::CONSENT_STATUS_DENIED);
          CHECK(e.contains("data_processing_options") == r.has_consent());
          if (r.has_consent()) {
            CHECK(e["data_processing_options"].size() == static_cast<size_t>(r.consent().data_processing_options_size()));
          }
        }
        for (const auto& [audience, members] : meta_members) CHECK(meta_server.members(audience) == members);
      } else {
        CHECK(google_server.violations().empty());
        CHECK(static_cast<int64_t>(google_server.received().size()) == sent);
        for (const auto& c : google_server.conversions()) {
          auto it = by_order.find(c["orderId"].get<std::string>());
          REQUIRE(it != by_order.end());
          const v1::InteractionRecord& r = *conversions[it->second];
          CHECK(c["userIdentifiers"][0]["hashedEmail"] == h.Hash(NormalizeEmail(r.subject().email(), true)));
          CHECK(c["userIdentifiers"][1]["hashedPhoneNumber"] == h.Hash(NormalizePhone(r.subject().phone(), PhoneFormat::kE164, r.subject().country())));
          if (!r.subject().gclid().empty()) CHECK(c["gclid"] == r.subject().gclid());
          CHECK(c["consent"] == nlohmann::json({{"adUserData", "GRANTED"}}));
          CHECK(c["conversionAction"] == (r.action().name() == "WinterJacket"
                                              ? "customers/1234567890/conversionActions/556"
                                              : "customers/1234567890/conversionActions/555"));
        }
        for (const auto& [audience, members] : google_members) CHECK(google_server.members(audience) == members);
        for (const auto& [name, state] : google_server.jobs()) CHECK(state.status == "SUCCESS");
      }

      // 3. The watermark: a second export has nothing new to send.
      int meta_requests = meta_server.requests(), google_requests = google_server.requests();
      auto again = (*exporter)->RunOnce();
      REQUIRE(again.ok());
      CHECK(again->state == "completed");
      CHECK(again->interactions_read == 0);
      CHECK(again->conversions == 0);
      CHECK(meta_server.requests() == meta_requests);
      CHECK(google_server.requests() == google_requests);
    }
  }
  (void)std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace herald
