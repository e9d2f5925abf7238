// Catalog versions in a store, the goaling switch as the spec walks through
// it, and `herald catalog` through the built binary.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>

#include "herald/catalog.h"
#include "herald_process.h"
#include "herald/catalog_versions.h"
#include "herald/registry.h"
#include "herald/builtins.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

// The spec's walkthrough (Campaign Goaling): two ads of one customer, at ad
// level, Ad 1 at 1,000 requests and Ad 2 at 500.
constexpr const char* kCatalog = R"pb(
name: "Goaling"
customers { id: "cust" name: "Customer" }
campaigns {
  id: "spring" name: "Spring" customer_id: "cust"
  start: "2026-01-01" end: "2027-01-01"
  goaling: GOALING_LEVEL_AD
  items { id: "ad-1" name: "Ad 1" ad { type: AD_TYPE_PAID quantity: 1000 weight: 1 } }
  items { id: "ad-2" name: "Ad 2" ad { type: AD_TYPE_PAID quantity: 500 weight: 1 } }
}
)pb";

// The catalog as written, without defaults (as the store keeps it).
v1::Catalog Parse(const std::string& text) {
  v1::Catalog c;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &c));
  return c;
}

CatalogSaveOptions By(const std::string& author, int64_t based_on = -1) {
  CatalogSaveOptions o;
  o.author = author;
  o.based_on = based_on;
  return o;
}

TEST_CASE("goaling switch: the spec's walkthrough, 1,000 and 500 become 1,500 at 1,000:500, then 3:1 is 1,125 and 375",
          "[desk][goaling]") {
  v1::Catalog catalog = Parse(kCatalog);
  v1::Campaign& c = *catalog.mutable_campaigns(0);
  CHECK(PaidAdGoals(c) == std::vector<int64_t>{1000, 500});
  auto done = SetGoalingLevel(&c, v1::GOALING_LEVEL_CAMPAIGN);
  REQUIRE(done.ok());
  CHECK(c.goaling() == v1::GOALING_LEVEL_CAMPAIGN);
  CHECK(c.quantity_ordered() == 1500);
  CHECK(c.items(0).ad().weight() == 1000);
  CHECK(c.items(1).ad().weight() == 500);
  CHECK(PaidAdGoals(c) == std::vector<int64_t>{1000, 500});
  CHECK(done->back().find("quantity ordered 1500") != std::string::npos);
  CHECK(ValidateCatalog(catalog).empty());
  c.mutable_items(0)->mutable_ad()->set_weight(3);
  c.mutable_items(1)->mutable_ad()->set_weight(1);
  CHECK(PaidAdGoals(c) == std::vector<int64_t>{1125, 375});
  // And back: the computed quantities become each ad's own.
  REQUIRE(SetGoalingLevel(&c, v1::GOALING_LEVEL_AD).ok());
  CHECK(c.goaling() == v1::GOALING_LEVEL_AD);
  CHECK(c.items(0).ad().quantity() == 1125);
  CHECK(c.items(1).ad().quantity() == 375);
  CHECK(c.quantity_ordered() == 0);
  CHECK(ValidateCatalog(catalog).empty());
  // The same level again changes nothing; an unspecified one is refused.
  v1::Campaign before = c;
  auto same = SetGoalingLevel(&c, v1::GOALING_LEVEL_AD);
  REQUIRE(same.ok());
  CHECK(same->front() == "campaign \"spring\" is already goaled at ad level; nothing changed");
  CHECK(c.SerializeAsString() == before.SerializeAsString());
  CHECK(SetGoalingLevel(&c, v1::GOALING_LEVEL_UNSPECIFIED).status().code() == absl::StatusCode::kInvalidArgument);
  // A paid ad without quantity cannot become a weight.
  c.mutable_items(1)->mutable_ad()->set_quantity(0);
  CHECK(SetGoalingLevel(&c, v1::GOALING_LEVEL_CAMPAIGN).status().message() ==
        "campaign \"spring\" / ad \"Ad 2\": a paid ad needs a quantity > 0 to become a weight");
}

TEST_CASE("goaling skew: an ad added to a converted campaign without new weights warns", "[desk][goaling]") {
  v1::Catalog before = Parse(kCatalog);
  REQUIRE(SetGoalingLevel(before.mutable_campaigns(0), v1::GOALING_LEVEL_CAMPAIGN).ok());
  v1::Catalog after = before;
  v1::CampaignItem* third = after.mutable_campaigns(0)->add_items();
  third->set_id("ad-3");
  third->set_name("Ad 3");
  third->mutable_ad()->set_type(v1::AD_TYPE_PAID);
  third->mutable_ad()->set_weight(1);
  std::vector<CatalogIssue> warnings = GoalingSkewWarnings(before, after);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].path == "campaign \"spring\"");
  CHECK(warnings[0].message.starts_with("warning: ad \"ad-3\" (weight 1) added to a campaign converted"));
  // Reassigning the weights, as the spec says to, silences it.
  after.mutable_campaigns(0)->mutable_items(0)->mutable_ad()->set_weight(2);
  after.mutable_campaigns(0)->mutable_items(1)->mutable_ad()->set_weight(1);
  CHECK(GoalingSkewWarnings(before, after).empty());
  // A campaign set up at campaign level (weights not its quantities) does not warn.
  v1::Catalog designed = Parse(kCatalog);
  REQUIRE(SetGoalingLevel(designed.mutable_campaigns(0), v1::GOALING_LEVEL_CAMPAIGN).ok());
  designed.mutable_campaigns(0)->mutable_items(0)->mutable_ad()->set_weight(3);
  designed.mutable_campaigns(0)->mutable_items(1)->mutable_ad()->set_weight(1);
  v1::Catalog grown = designed;
  *grown.mutable_campaigns(0)->add_items() = *third;
  CHECK(GoalingSkewWarnings(designed, grown).empty());
}

TEST_CASE("DescribeCatalogChanges names what was added, removed and changed, by id", "[desk][versions]") {
  v1::Catalog a = Parse(kCatalog);
  v1::Catalog b = a;
  CHECK(DescribeCatalogChanges(a, b).empty());
  b.mutable_campaigns(0)->mutable_items(0)->mutable_ad()->set_weight(3);
  b.mutable_campaigns(0)->set_quantity_ordered(7);
  b.mutable_campaigns(0)->mutable_items()->DeleteSubrange(1, 1);
  b.add_customers()->set_id("acme");
  b.set_name("Renamed");
  CHECK(DescribeCatalogChanges(a, b) == std::vector<std::string>{
                                           "added customer \"acme\"",
                                           "removed campaign \"spring\" / item \"ad-2\"",
                                           "campaign \"spring\" / item \"ad-1\": changed ad.weight",
                                           "campaign \"spring\": changed quantity_ordered",
                                           "catalog: changed name",
                                       });
}

void SaveAndLoad(Store& store) {
  CatalogStore& catalogs = *store.catalogs();
  v1::Catalog first = Parse(kCatalog);
  auto saved = SaveCatalog(catalogs, first, By("ann"));
  REQUIRE(saved.ok());
  CHECK(saved->version == 1);
  CHECK(saved->changes.front().starts_with("first version: catalog \"Goaling\": 1 customers, 1 campaigns, 2 ads"));
  // The same catalog again: nothing saved.
  auto again = SaveCatalog(catalogs, first, By("ann"));
  REQUIRE(again.ok());
  CHECK(again->unchanged);
  CHECK(again->version == 1);

  // Invalid: refused with validate's messages and object paths, nothing saved.
  v1::Catalog broken = first;
  broken.mutable_campaigns(0)->mutable_items(1)->mutable_ad()->set_quantity(-5);
  std::vector<CatalogIssue> issues;
  auto refused = SaveCatalog(catalogs, broken, By("ann"), &issues);
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE_FALSE(issues.empty());
  std::vector<CatalogIssue> expected = ValidateCatalog(broken, "catalog");
  REQUIRE(issues.size() == expected.size());
  CHECK(issues[0].ToString() == expected[0].ToString());
  CHECK(issues[0].path == "campaign \"Spring\" / ad \"Ad 2\"");
  CHECK(*catalogs.CurrentCatalogVersion() == 1);

  // An edit based on version 1 lands; a second edit still based on 1 is refused.
  v1::Catalog edit = first;
  REQUIRE(SetGoalingLevel(edit.mutable_campaigns(0), v1::GOALING_LEVEL_CAMPAIGN).ok());
  auto second = SaveCatalog(catalogs, edit, By("bob", 1));
  REQUIRE(second.ok());
  CHECK(second->version == 2);
  v1::Catalog late = first;
  late.set_name("Late");
  auto stale = SaveCatalog(catalogs, late, By("carol", 1));
  CHECK(stale.status().code() == absl::StatusCode::kAborted);

  // The stored catalog comes back with defaults, valid, and with its goals.
  int64_t loaded = 0;
  auto current = LoadStoredCatalog(catalogs, 0, &loaded);
  REQUIRE(current.ok());
  CHECK(loaded == 2);
  CHECK(current->time_zone() == "UTC");  // a default, applied on load
  CHECK(PaidAdGoals(current->campaigns(0)) == std::vector<int64_t>{1000, 500});
  auto raw = catalogs.LoadCatalogVersion(2);
  REQUIRE(raw.ok());
  CHECK(raw->catalog().time_zone().empty());  // stored as written
  CHECK(raw->author() == "bob");
  CHECK(raw->summary().find("campaign \"spring\": changed goaling, quantity_ordered") != std::string::npos);

  // Rollback saves version 1's catalog as version 3.
  auto back = RollbackCatalog(catalogs, 1, By("ann"));
  REQUIRE(back.ok());
  CHECK(back->version == 3);
  auto three = catalogs.LoadCatalogVersion(3);
  REQUIRE(three.ok());
  CHECK(three->rollback_of() == 1);
  CHECK(three->summary().starts_with("rollback to version 1\n"));
  CHECK(three->catalog().SerializeAsString() == first.SerializeAsString());
  CHECK(RollbackCatalog(catalogs, 9, By("ann")).status().code() == absl::StatusCode::kNotFound);
  CHECK(SaveCatalog(catalogs, edit, By("")).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("catalog versions: save, refuse, conflict, load and roll back (memory store)", "[desk][versions]") {
  auto store = NewMemoryStore();
  SaveAndLoad(*store);
}

TEST_CASE("catalog versions: the same on SQLite, and another connection sees them", "[desk][versions]") {
  char dir[] = "/tmp/herald-desk-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string("sqlite:") + dir + "/store.db";
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto store = OpenStore(path, registry);
  REQUIRE(store.ok());
  SaveAndLoad(**store);
  auto other = OpenStore(path, registry);
  REQUIRE(other.ok());
  CHECK(*(*other)->catalogs()->CurrentCatalogVersion() == 3);
  auto list = (*other)->catalogs()->ListCatalogVersions();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK((*list)[1].author() == "bob");
  std::remove((std::string(dir) + "/store.db").c_str());
}

// --- herald catalog, through the built binary -------------------------------

using Run = testing::HeraldRun;

Run Herald(const std::string& shell_args) { return testing::RunHeraldShell(shell_args); }

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST_CASE("herald catalog: push, set-goaling, edit weights, history, diff, rollback, pull", "[desk][cli]") {
  char dir[] = "/tmp/herald-desk-cli-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string d = dir;
  const std::string store = " --store sqlite:" + d + "/store.db";
  Write(d + "/goaling.textproto", kCatalog);

  Run push = Herald("catalog push " + d + "/goaling.textproto" + store);
  INFO(push.err);
  REQUIRE(push.exit_code == 0);
  CHECK(push.out.starts_with("saved version 1\n"));

  // A catalog `herald validate` refuses is refused with the same lines.
  std::string broken = kCatalog;
  broken.replace(broken.find("quantity: 500"), 13, "quantity: -500");
  Write(d + "/broken.textproto", broken);
  Run validate = Herald("validate " + d + "/broken.textproto");
  Run refused = Herald("catalog push " + d + "/broken.textproto" + store);
  CHECK(validate.exit_code != 0);
  CHECK(refused.exit_code != 0);
  CHECK(validate.err.find("broken.textproto:9: campaign \"Spring\" / ad \"Ad 2\": quantity must be >= 0") !=
        std::string::npos);
  CHECK(refused.err.find("broken.textproto:9: campaign \"Spring\" / ad \"Ad 2\": quantity must be >= 0") !=
        std::string::npos);

  Run to_campaign = Herald("catalog set-goaling spring campaign" + store);
  INFO(to_campaign.err);
  REQUIRE(to_campaign.exit_code == 0);
  CHECK(to_campaign.out.find("quantity 1000 became weight 1000") != std::string::npos);
  CHECK(to_campaign.out.find("quantity ordered 1500") != std::string::npos);
  CHECK(to_campaign.out.find("saved version 2") != std::string::npos);

  // The marketer sets the weights to 3 and 1: pull, edit, push.
  Run pulled = Herald("catalog pull" + store);
  REQUIRE(pulled.exit_code == 0);
  std::string text = pulled.out;
  REQUIRE(text.find("weight: 1000") != std::string::npos);
  text.replace(text.find("weight: 1000"), 12, "weight: 3");
  text.replace(text.find("weight: 500"), 11, "weight: 1");
  Write(d + "/weights.textproto", text);
  Run weights = Herald("catalog push " + d + "/weights.textproto --note 'Ad 1 at 3 to 1'" + store);
  INFO(weights.err);
  REQUIRE(weights.exit_code == 0);
  CHECK(weights.out.find("campaign \"spring\" / item \"ad-1\": changed ad.weight") != std::string::npos);

  Run to_ad = Herald("catalog set-goaling spring ad" + store);
  REQUIRE(to_ad.exit_code == 0);
  CHECK(to_ad.out.find("weight 3 became quantity 1125") != std::string::npos);
  CHECK(to_ad.out.find("weight 1 became quantity 375") != std::string::npos);

  Run history = Herald("catalog history --json" + store);
  REQUIRE(history.exit_code == 0);
  auto list = nlohmann::json::parse(history.out);
  REQUIRE(list.size() == 4);
  CHECK(list[2]["summary"].get<std::string>().starts_with("Ad 1 at 3 to 1\n"));

  Run diff = Herald("catalog diff 1 4" + store);
  REQUIRE(diff.exit_code == 0);
  CHECK(diff.out.find("campaign \"spring\" / item \"ad-1\": changed ad.weight, ad.quantity") != std::string::npos);

  Run rollback = Herald("catalog rollback 1" + store);
  REQUIRE(rollback.exit_code == 0);
  CHECK(rollback.out.starts_with("saved version 5\n"));
  Run json = Herald("catalog pull --version 5 --format json" + store);
  REQUIRE(json.exit_code == 0);
  auto catalog = nlohmann::json::parse(json.out);
  CHECK(catalog["campaigns"][0]["items"][0]["ad"]["quantity"] == "1000");

  Run missing = Herald("catalog pull --version 42" + store);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("catalog: no version 42 (versions 1 to 5 exist)") != std::string::npos);
  Run no_campaign = Herald("catalog set-goaling autumn ad" + store);
  CHECK(no_campaign.exit_code == 1);
  CHECK(no_campaign.err.find("catalog version 5 has no campaign \"autumn\"") != std::string::npos);
}

TEST_CASE("commands that take --catalog FILE run on the store's current catalog when given only --store",
          "[desk][cli]") {
  char dir[] = "/tmp/herald-desk-store-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string d = dir;
  const std::string examples = std::string(HERALD_SOURCE_DIR) + "/examples/storefront";
  const std::string store = " --store " + d + "/store.db";

  // Before any push: a clear error naming both ways to give a catalog.
  Run none = Herald("select --page-group Home --store " + d + "/empty.db");
  CHECK(none.exit_code == 1);
  Run empty_push = Herald("catalog history" + store);
  CHECK(empty_push.out.find("no catalog version yet") != std::string::npos);
  Run no_catalog = Herald("select --page-group Home" + store);
  CHECK(no_catalog.exit_code == 1);
  CHECK(no_catalog.err.find("holds no catalog version: give --catalog FILE, or push one with herald catalog push") !=
        std::string::npos);
  Run neither = Herald("select --page-group Home");
  CHECK(neither.exit_code == 2);

  REQUIRE(Herald("catalog push " + examples + "/catalog.textproto" + store).exit_code == 0);
  // At a fixed time the paid ads' scores are fixed and distinct, so the
  // paid winner is too (house ads fill by weighted chance).
  const std::string request = "select --page-group Home --count 2 --user u1 --at 2026-12-07T18:00:00Z";
  Run from_file = Herald(request + " --catalog " + examples + "/catalog.textproto");
  Run from_store = Herald(request + store);
  REQUIRE(from_store.exit_code == 0);
  CHECK(from_store.out.substr(0, from_store.out.find('\n')) == from_file.out.substr(0, from_file.out.find('\n')));
  CHECK(from_store.out.starts_with("1. blue-paint"));

  Run priced = Herald("price --basket " + examples + "/basket.json --at 2026-06-02T15:00:00Z" + store);
  Run priced_file = Herald("price --basket " + examples + "/basket.json --at 2026-06-02T15:00:00Z --catalog " +
                           examples + "/catalog.textproto");
  REQUIRE(priced.exit_code == 0);
  CHECK(priced.out == priced_file.out);

  Run simulated = Herald("simulate --page-views 2000 --days 1 --no-mail --out " + d + "/sim" + store);
  INFO(simulated.err);
  CHECK(simulated.exit_code == 0);
  CHECK(simulated.out.find("Contoso Outdoor") != std::string::npos);

  // The report names campaigns from the store's catalog.
  Run report = Herald("report campaign-event-summary" + store);
  REQUIRE(report.exit_code == 0);
  CHECK(report.out.find("Spring ") != std::string::npos);  // the name comes from the store's catalog
  Run unknown = Herald("report delivery --campaign autumn" + store);
  CHECK(unknown.exit_code != 0);
}

}  // namespace
}  // namespace herald
