#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "csf/catalog_builder.h"
#include "google/protobuf/empty.pb.h"
#include "herald/builtins.h"
#include "herald/catalog.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald {
namespace {

using testing::CatalogBuilder;
using testing::Utc;

struct Fixture {
  Registry registry;
  std::unique_ptr<Store> store = NewMemoryStore();
  Fixture() { REQUIRE(RegisterBuiltins(&registry).ok()); }

  std::unique_ptr<ContentSelector> Selector(std::shared_ptr<const CompiledCatalog> catalog,
                                            uint64_t seed = 1,
                                            const v1::PipelineDefinition* ads = nullptr) {
    SelectorConfig config;
    config.registry = &registry;
    config.store = store.get();
    config.options.seed = seed;
    config.advertising = ads;
    auto s = NewContentSelector(std::move(catalog), config);
    REQUIRE(s.ok());
    return std::move(*s);
  }
};

SelectionRequest Request(absl::Time at, std::string page = "Home", int count = 1) {
  SelectionRequest r;
  r.page_groups = {std::move(page)};
  r.count = count;
  r.time = at;
  return r;
}

std::vector<std::string> Ids(const SelectionResult& r) {
  std::vector<std::string> out;
  for (const auto& w : r.winners) out.emplace_back(w.item_id);
  return out;
}

TEST_CASE("Paid ads are paced: each serves until it is 0.25% of its goal ahead", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-10");
  CatalogBuilder::PaidAd(c, "small", 1000);
  CatalogBuilder::PaidAd(c, "big", 1000)->set_industry("paint");
  Fixture f;
  auto selector = f.Selector(b.Compile());
  // One day of ten has passed: 100 of each goal are expected by now. With the
  // default gain of 20 and house threshold 0.95, an ad serves while
  // delivered <= expected + 2.5, so each serves 103 times, then nothing
  // (there is no house ad).
  auto at = Utc(2026, 6, 2);
  SelectionRequest warm = Request(at);
  for (int i = 0; i < 400; ++i) {
    SelectionRequest r = warm;
    r.page_groups = {"Home"};
    auto result = selector->Select(r);
    REQUIRE(result.ok());
  }
  auto [small, _s] = selector->Delivered("small");
  auto [big, _b] = selector->Delivered("big");
  CHECK(small == 103);
  CHECK(big == 103);
  auto traced = Request(at);
  traced.trace = true;
  auto r = selector->Select(traced);
  REQUIRE(r.ok());
  std::string text = r->trace.ToText();
  CHECK_THAT(text, Catch::Contains("need of delivery"));
  CHECK_THAT(text, Catch::Contains("winner"));
}

TEST_CASE("House ads serve when every paid ad is ahead - and when none is eligible", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-11");
  CatalogBuilder::PaidAd(c, "paid", 100);
  CatalogBuilder::HouseAd(c, "house", 1);
  Fixture f;
  auto selector = f.Selector(b.Compile());
  // One day of ten has passed: 10 requests expected; serve until ahead.
  auto at = Utc(2026, 6, 2);
  int paid = 0, house = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = selector->Select(Request(at));
    REQUIRE(r.ok());
    REQUIRE(r->winners.size() == 1);
    (r->winners[0].kind == "paid" ? paid : house)++;
  }
  CHECK(paid >= 10);
  CHECK(paid <= 11);  // at most 0.25% of the goal ahead of schedule, rounded up
  CHECK(house == 100 - paid);
  // A page group with no paid ad: the house ad... is not placed there either.
  auto sports = selector->Select(Request(at, "Sports"));
  REQUIRE(sports.ok());
  CHECK(sports->winners.empty());
}

TEST_CASE("Filtering: size - schedule - inactive items - page history and industries", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "banner", 1000)->set_size("Banner");
  CatalogBuilder::PaidAd(c, "rect", 1000)->set_size("Medium Rectangle");
  auto* later = CatalogBuilder::PaidAd(c, "later", 1000);
  later->mutable_schedule()->set_start("2026-06-20");
  auto* off = c->add_items();
  *off = c->items(0);
  off->set_id("inactive");
  off->set_active(false);
  CatalogBuilder::PaidAd(c, "paint1", 1000)->set_industry("paint");
  CatalogBuilder::PaidAd(c, "paint2", 1000)->set_industry("paint");
  Fixture f;
  auto selector = f.Selector(b.Compile());
  auto req = Request(Utc(2026, 6, 10), "Home", 10);
  req.size = "Banner";
  req.record = false;
  auto r = selector->Select(req);
  REQUIRE(r.ok());
  std::vector<std::string> ids = Ids(*r);
  std::sort(ids.begin(), ids.end());
  // Size "Banner": items without a size serve any size; one paint ad only.
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] == "banner");
  CHECK((ids[1] == "paint1" || ids[1] == "paint2"));

  // Page history: what is already on the page, and its industry, never comes again.
  req.page_history = {"banner", "paint2"};
  req.trace = true;
  auto again = selector->Select(req);
  REQUIRE(again.ok());
  CHECK(again->winners.empty());
  CHECK_THAT(again->trace.ToText(), Catch::Contains("paint1 filtered (its industry is already on the page)"));
  CHECK_THAT(again->trace.ToText(), Catch::Contains("later filtered (schedule has not started)"));
  CHECK_THAT(again->trace.ToText(), Catch::Contains("rect filtered (size does not match)"));
}

TEST_CASE("Unknown page groups and sizes are errors that name them", "[csf]") {
  CatalogBuilder b;
  CatalogBuilder::PaidAd(b.Campaign("c", "2026-06-01", "2026-06-30"), "a", 10);
  Fixture f;
  auto selector = f.Selector(b.Compile());
  auto r = selector->Select(Request(Utc(2026, 6, 2), "Sprots"));
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("unknown page group \"Sprots\""));
  auto req = Request(Utc(2026, 6, 2));
  req.size = "Huge";
  CHECK_THAT(std::string(selector->Select(req).status().message()),
             Catch::Contains("unknown content size \"Huge\""));
  req.size.clear();
  req.count = 0;
  CHECK_THAT(std::string(selector->Select(req).status().message()), Catch::Contains("count must be within 1..20"));
}

TEST_CASE("Competing customers never share a page - by default, and against the page history", "[csf]") {
  CatalogBuilder b;
  b.Customer("a")->add_competitors("b");
  b.Customer("b");
  CatalogBuilder::PaidAd(b.Campaign("ca", "2026-06-01", "2026-06-30", "a"), "a-ad", 1000);
  CatalogBuilder::PaidAd(b.Campaign("cb", "2026-06-01", "2026-06-30", "b"), "b-ad", 1000);
  CatalogBuilder::HouseAd(b.Campaign("ch", "2026-06-01", "2026-06-30", "b"), "b-house", 1);
  // A pipeline may still turn the exclusion off, explicitly.
  v1::PipelineDefinition allow = DefaultAdvertisingPipeline();
  allow.mutable_stages(4)->mutable_components(0)->set_json_config(R"({"excludeCompetitors": false})");
  Fixture f;
  auto catalog = b.Compile();
  auto by_default = f.Selector(catalog);  // the built-in pipeline, as `herald select` runs it
  auto permissive = f.Selector(catalog, 1, &allow);
  auto req = Request(Utc(2026, 6, 5), "Home", 3);
  req.record = false;
  auto two = by_default->Select(req);
  REQUIRE(two.ok());
  CHECK(Ids(*two).size() == 1);  // a-ad or b-ad, never both; b's house ad competes with a too
  CHECK(permissive->Select(req)->winners.size() == 3);
  // Against the page history: a's ad is already on the page, so nothing of b comes.
  req.page_history = {"a-ad"};
  req.count = 2;
  req.trace = true;
  auto after_a = by_default->Select(req);
  REQUIRE(after_a.ok());
  CHECK(after_a->winners.empty());
  CHECK_THAT(after_a->trace.ToText(), Catch::Contains("a competing customer is already on the page"));
  CHECK(permissive->Select(req)->winners.size() == 2);
}

TEST_CASE("Target groups: require - exclude - target boost and sponsor", "[csf]") {
  CatalogBuilder b;
  auto* tg = b.TargetGroup("adults");
  auto* e = tg->add_entries();
  e->set_action(v1::TARGET_ACTION_REQUIRE);
  e->set_expression("user.age >= 21");
  auto* wa = b.TargetGroup("wa");
  auto* boost = wa->add_entries();
  boost->set_action(v1::TARGET_ACTION_TARGET);
  boost->set_expression("user.state == 'WA'");
  boost->set_boost(3);
  auto* no_wa = b.TargetGroup("not-wa");
  auto* ex = no_wa->add_entries();
  ex->set_action(v1::TARGET_ACTION_EXCLUDE);
  ex->set_expression("user.state == 'WA'");
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "beer", 1000)->set_target_group("adults");
  CatalogBuilder::PaidAd(c, "rain", 1000)->set_target_group("wa");
  CatalogBuilder::PaidAd(c, "sun", 1000)->set_target_group("not-wa");
  Fixture f;
  auto selector = f.Selector(b.Compile());
  auto run = [&](std::optional<int> age, std::string state) {
    v1::Profile p;
    if (age) (*p.mutable_values())["age"].set_int_value(*age);
    (*p.mutable_values())["state"].set_string_value(state);
    auto req = Request(Utc(2026, 6, 5), "Home", 3);
    req.user = &p;
    req.record = false;
    req.trace = true;
    auto r = selector->Select(req);
    REQUIRE(r.ok());
    return *r;
  };
  auto wa_adult = run(30, "WA");
  CHECK(Ids(wa_adult) == std::vector<std::string>{"rain", "beer"});  // boosted first; sun excluded
  auto or_minor = run(15, "OR");
  CHECK(Ids(or_minor) == std::vector<std::string>{"rain", "sun"});
  // An absent attribute is an error value: the REQUIRE does not match, and the trace says why.
  auto unknown = run(std::nullopt, "OR");
  CHECK_THAT(unknown.trace.ToText(), Catch::Contains("`user.age >= 21` did not match"));
  CHECK(Ids(unknown) == std::vector<std::string>{"rain", "sun"});
}

TEST_CASE("Sponsor entries sponsor their own group's ads - no flag needed", "[csf]") {
  CatalogBuilder b;
  auto* golf = b.TargetGroup("golfers");
  auto* sponsor = golf->add_entries();
  sponsor->set_action(v1::TARGET_ACTION_SPONSOR);
  sponsor->set_expression("user.state == 'WA'");
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "clubs", 1000)->set_target_group("golfers");  // no `sponsored` flag
  CatalogBuilder::PaidAd(c, "paint", 1000);
  CatalogBuilder::PaidAd(c, "coffee", 1000)->set_sponsored(true);  // eligible under any sponsorship
  CatalogBuilder::PaidAd(c, "tees", 1000)->set_target_group("golfers");
  c->mutable_items(3)->mutable_ad()->set_sponsored(false);  // opts out of its group's sponsorship
  CatalogBuilder::HouseAd(c, "filler", 1);
  Fixture f;
  auto selector = f.Selector(b.Compile());
  auto run = [&](std::string state) {
    v1::Profile p;
    (*p.mutable_values())["state"].set_string_value(state);
    auto req = Request(Utc(2026, 6, 5), "Home", 4);
    req.user = &p;
    req.record = false;
    auto r = selector->Select(req);
    REQUIRE(r.ok());
    auto ids = Ids(*r);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  // The sponsor matched: the group's ad is sponsored, and only sponsored items stay.
  CHECK(run("WA") == std::vector<std::string>{"clubs", "coffee"});
  // No match: nothing is sponsored, everything competes as usual.
  CHECK(run("OR") == std::vector<std::string>{"clubs", "coffee", "paint", "tees"});
}

TEST_CASE("herald validate's warnings: a SPONSOR entry that can never make anything eligible", "[csf]") {
  CatalogBuilder b;
  for (const char* id : {"unused", "opted-out", "used"}) {
    auto* e = b.TargetGroup(id)->add_entries();
    e->set_action(v1::TARGET_ACTION_SPONSOR);
    e->set_expression("user.state == 'WA'");
  }
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "a", 1000)->set_target_group("used");
  auto* out = CatalogBuilder::PaidAd(c, "b", 1000);
  out->set_target_group("opted-out");
  out->set_sponsored(false);
  auto warnings = CatalogWarnings(b.proto(), "cat.textproto");
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].ToString() ==
        "cat.textproto: target group \"unused\" / entry #1: warning: this SPONSOR entry can never make "
        "anything eligible: no ad or discount uses the target group (an ad is sponsored by a SPONSOR "
        "entry of its own target group)");
  CHECK_THAT(warnings[1].ToString(), Catch::Contains("target group \"opted-out\" / entry #1") &&
                                         Catch::Contains("every ad of the target group sets `sponsored: false`"));
}

TEST_CASE("Exposure limits hold per session - history penalty rotates ads", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "limited", 100000)->set_exposure_limit(2);
  CatalogBuilder::HouseAd(c, "filler", 1);
  Fixture f;
  auto selector = f.Selector(b.Compile());
  auto req = Request(Utc(2026, 6, 29));  // far behind: the paid ad always wants to serve
  req.user_id = "u1";
  req.session_id = "s1";
  std::map<std::string, int> seen;
  for (int i = 0; i < 10; ++i) seen[Ids(*selector->Select(req))[0]]++;
  CHECK(seen["limited"] == 2);
  CHECK(seen["filler"] == 8);
  req.session_id = "s2";  // a new session: the limit starts again
  CHECK(Ids(*selector->Select(req))[0] == "limited");
}

TEST_CASE("Clicks are recorded and count toward click goals", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  c->set_goal_event(v1::GOAL_EVENT_CLICKS);
  CatalogBuilder::PaidAd(c, "clicky", 50);
  Fixture f;
  auto selector = f.Selector(b.Compile());
  REQUIRE(selector->RecordClick("clicky", "u1", "Home", Utc(2026, 6, 3)).ok());
  REQUIRE(selector->RecordClick("clicky", "u2", "Home", Utc(2026, 6, 3)).ok());
  CHECK(selector->Delivered("clicky") == std::pair<int64_t, int64_t>{0, 2});
  CHECK(selector->RecordClick("nope", "u1", "Home", Utc(2026, 6, 3)).code() == absl::StatusCode::kNotFound);
  REQUIRE(selector->Flush().ok());
  auto totals = f.store->counters().LoadCounterTotals();
  REQUIRE(totals.ok());
  bool found = false;
  for (const auto& t : *totals) {
    if (t.item_id == "clicky") {
      found = true;
      CHECK(t.clicks == 2);
    }
  }
  CHECK(found);
}

TEST_CASE("Many threads select while the catalog is swapped", "[csf]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  for (int i = 0; i < 20; ++i) CatalogBuilder::PaidAd(c, "ad" + std::to_string(i), 100000);
  CatalogBuilder::HouseAd(c, "house", 1);
  auto first = b.Compile();
  CatalogBuilder::PaidAd(b.proto().mutable_campaigns(0), "new-ad", 100000);
  auto second = b.Compile();
  Fixture f;
  auto selector = f.Selector(first);
  std::atomic<int> served{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto req = Request(Utc(2026, 6, 15));
        req.user_id = "u" + std::to_string((t * 7919 + i) % 300);
        auto r = selector->Select(req);
        if (r.ok() && r->winners.size() == 1) ++served; else ++failed;
      }
    });
  }
  for (int k = 0; k < 20; ++k) {
    REQUIRE(selector->SetCatalog(k % 2 ? second : first).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& th : threads) th.join();
  CHECK(failed == 0);
  CHECK(served == 8000);
  int64_t total = 0;
  for (int i = 0; i < 20; ++i) total += selector->Delivered("ad" + std::to_string(i)).first;
  total += selector->Delivered("new-ad").first + selector->Delivered("house").first;
  CHECK(total == 8000);  // no delivery lost across swaps
}

TEST_CASE("Discount ads are selected by priority and formatted", "[csf]") {
  auto catalog = CompiledCatalog::Load(std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto");
  REQUIRE(catalog.ok());
  Fixture f;
  auto selector = f.Selector(*catalog);
  SelectionRequest req;
  req.discounts = true;
  req.page_groups = {"Kitchen"};
  req.count = 3;
  req.time = Utc(2026, 11, 23, 20);
  req.record = false;
  v1::Profile p;
  (*p.mutable_values())["registered"].set_bool_value(true);
  req.user = &p;
  auto r = selector->Select(req);
  REQUIRE(r.ok());
  REQUIRE(r->winners.size() == 3);
  CHECK(r->winners[0].item_id == "juice-bogo");   // priority 10
  CHECK(r->winners[1].item_id == "phones-10");    // priority 10 too, later in the catalog
  CHECK(r->winners[0].kind == "discount");
  CHECK_THAT(std::string(r->winners[0].html), Catch::Contains("Buy one case of juice"));
}

TEST_CASE("FormatTemplate escapes fields and can route clicks through a redirect", "[csf]") {
  CatalogBuilder b;
  auto* ad = CatalogBuilder::PaidAd(b.Campaign("c", "2026-06-01", "2026-06-30"), "x", 100);
  ad->mutable_display()->set_template_("<a href=\"{{click_url}}\">{{title}} {{ name }}</a>");
  (*ad->mutable_display()->mutable_fields())["title"] = "Tom & Jerry <3";
  v1::PipelineDefinition def = DefaultAdvertisingPipeline();
  def.mutable_stages(6)->mutable_components(0)->set_json_config(R"({"clickRedirect": "/click/{{id}}"})");
  Fixture f;
  auto selector = f.Selector(b.Compile(), 1, &def);
  auto req = Request(Utc(2026, 6, 20));
  auto r = selector->Select(req);
  REQUIRE(r.ok());
  REQUIRE(r->winners.size() == 1);
  CHECK(r->winners[0].html == "<a href=\"/click/x\">Tom &amp; Jerry &lt;3 x</a>");
  CHECK(r->winners[0].click_url == "/click/x");
}

TEST_CASE("A selection pipeline missing a stage the next one reads is refused when the selector is built",
          "[csf][pipeline][contract]") {
  CatalogBuilder b;
  CatalogBuilder::PaidAd(b.Campaign("c", "2026-06-01", "2026-06-30"), "x", 100);
  auto catalog = b.Compile();
  Fixture f;
  v1::PipelineDefinition ads = DefaultAdvertisingPipeline();
  v1::PipelineDefinition discounts = DefaultDiscountPipeline();
  SelectorConfig config;
  config.registry = &f.registry;
  config.store = f.store.get();
  config.advertising = &ads;
  config.discounts = &discounts;
  auto build = [&] { return NewContentSelector(catalog, config).status(); };
  // Without LoadHistory no exposure limit would ever hold.
  v1::Stage& load = *ads.mutable_stages(0);
  REQUIRE(load.components(1).name() == "LoadHistory");
  load.mutable_components(1)->set_disabled(true);
  absl::Status s = build();
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("advertising pipeline: stage \"filter\" component \"ExposureLimit\": reads \"history\", "
                             "which no earlier component writes"));
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("stage \"score\" component \"HistoryPenalty\": reads \"history\""));
  // A writer after its reader in the same stage is named.
  load.mutable_components(1)->set_disabled(false);
  load.mutable_components()->SwapElements(0, 1);
  s = build();
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("stage \"load_context\" component \"LoadHistory\": reads \"request_state\", which no "
                             "earlier component writes (\"LoadContext\" writes it, but runs after)"));
  load.mutable_components()->SwapElements(0, 1);
  // The discount pipeline is checked too: without FilterContent nothing has candidates to score.
  REQUIRE(discounts.stages(1).components(0).name() == "FilterContent");
  discounts.mutable_stages(1)->mutable_components(0)->set_disabled(true);
  s = build();
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("discount pipeline: stage \"initial_score\" component \"DiscountPriority\": reads "
                             "\"candidates\", which no earlier component writes"));
  discounts.mutable_stages(1)->mutable_components(0)->set_disabled(false);
  // The built-in pipelines build, as given and by default.
  CHECK(build().ok());
  config.advertising = config.discounts = nullptr;
  CHECK(build().ok());
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

// An all-day schedule's deliverable time is computed in closed form; the
// table the windowed schedules use must give exactly the same seconds, also
// across daylight-saving changes (local days of 23 and 25 hours).
TEST_CASE("All-day deliverable time in closed form equals the day table across DST", "[csf]") {
  CatalogBuilder b;
  b.proto().set_time_zone("America/New_York");
  auto* c = b.Campaign("c", "2026-03-01", "2026-11-30");
  for (const auto& [id, start, end] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"spring", "2026-03-06T10:30", "2026-03-12T17:45"},
           {"fall", "2026-10-30T00:00", "2026-11-03T00:00"},
           {"one-day", "2026-03-08T01:15", "2026-03-08T23:10"},
           {"campaign", "", ""}}) {
    v1::Ad* ad = CatalogBuilder::PaidAd(c, id, 1000);
    if (!start.empty()) ad->mutable_schedule()->set_start(start);
    if (!end.empty()) ad->mutable_schedule()->set_end(end);
  }
  auto catalog = b.Compile();
  const absl::TimeZone zone = catalog->zones()[0];
  int compared = 0;
  for (const CompiledItem& item : catalog->items()) {
    const CompiledSchedule& fast = item.schedule;
    REQUIRE(fast.AllDay());
    REQUIRE(fast.days == static_cast<int32_t>(fast.cumulative_seconds.size()));
    CompiledSchedule table = fast;
    table.all_day = false;  // the same days and no windows, through the table
    for (absl::Time t = fast.start - absl::Hours(30); t <= fast.end + absl::Hours(30); t += absl::Seconds(2777)) {
      LocalTime local = LocalTime::Of(t, zone);
      INFO(item.id << " at " << absl::FormatTime(t, zone));
      REQUIRE(fast.DeliverableSecondsUntil(t, local) == table.DeliverableSecondsUntil(t, local));
      ++compared;
    }
    CHECK(fast.DeliverableSecondsUntil(fast.end, LocalTime::Of(fast.end, zone)) == fast.total_seconds);
  }
  CHECK(compared > 1000);
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

// Each thread's scratch keeps the snapshot it last used: a new snapshot must
// reach the very next request of the same thread, and the old one must not
// come back.
// A catalog whose targeting reads every kind of attribute: an int, a string,
// a string list (user) and a string (context). `reversed` declares the user
// attributes in the opposite order, so that their slots differ.
std::shared_ptr<const CompiledCatalog> ProfileCatalog(bool reversed) {
  CatalogBuilder b;
  v1::Catalog& catalog = b.proto();
  catalog.clear_user_attributes();
  std::vector<std::pair<std::string, v1::ValueType>> user = {
      {"age", v1::VALUE_TYPE_INT}, {"state", v1::VALUE_TYPE_STRING}, {"interests", v1::VALUE_TYPE_STRING_LIST}};
  if (reversed) std::reverse(user.begin(), user.end());
  for (const auto& [name, type] : user) {
    auto* a = catalog.add_user_attributes();
    a->set_name(name);
    a->set_type(type);
  }
  auto* device = catalog.add_context_attributes();
  device->set_name("device");
  device->set_type(v1::VALUE_TYPE_STRING);
  auto group = [&](const std::string& id, v1::TargetAction action, const std::string& expression) {
    auto* e = b.TargetGroup(id)->add_entries();
    e->set_action(action);
    e->set_expression(expression);
    if (action == v1::TARGET_ACTION_TARGET) e->set_boost(3);
  };
  group("adults", v1::TARGET_ACTION_REQUIRE, "user.age >= 21");
  group("painters", v1::TARGET_ACTION_TARGET, "'paint' in user.interests");
  group("mobile-wa", v1::TARGET_ACTION_EXCLUDE, "context.device == 'mobile' && user.state == 'WA'");
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::PaidAd(c, "beer", 1000)->set_target_group("adults");
  CatalogBuilder::PaidAd(c, "paint", 1000)->set_target_group("painters");
  CatalogBuilder::PaidAd(c, "rain", 1000)->set_target_group("mobile-wa");
  CatalogBuilder::PaidAd(c, "plain", 1000);
  return b.Compile();
}

TEST_CASE("A prepared profile selects and traces exactly what its plain profile does - also when stale",
          "[csf][profile]") {
  auto catalog = ProfileCatalog(false);
  Fixture f;
  auto selector = f.Selector(catalog);
  std::vector<v1::Profile> users;
  for (int age : {-1, 15, 30}) {  // -1: no age
    for (const char* state : {"", "WA", "OR"}) {
      for (int interests = 0; interests < 3; ++interests) {
        v1::Profile p;
        auto& v = *p.mutable_values();
        if (age >= 0) v["age"].set_int_value(age);
        if (*state != '\0') v["state"].set_string_value(state);
        if (interests > 0) v["interests"].mutable_list_value()->add_values("garden");
        if (interests > 1) v["interests"].mutable_list_value()->add_values("paint");
        v["undeclared"].set_string_value("read by nothing");
        users.push_back(std::move(p));
      }
    }
  }
  std::vector<v1::Profile> contexts(2);
  (*contexts[0].mutable_values())["device"].set_string_value("mobile");
  auto select = [&](const v1::Profile* user, const v1::Profile* context, const PreparedProfile* prepared_user,
                    const PreparedProfile* prepared_context) {
    auto req = Request(Utc(2026, 6, 5), "Home", 3);
    req.user = user;
    req.context = context;
    req.prepared_user = prepared_user;
    req.prepared_context = prepared_context;
    req.record = false;
    req.trace = true;
    auto r = selector->Select(req);
    REQUIRE(r.ok());
    // The trace without the components' timings ("... LoadContext: 763ns").
    std::string trace;
    const std::vector<std::string> lines = absl::StrSplit(r->trace.ToText(), '\n');
    for (const std::string& line : lines) {
      const size_t colon = line.rfind(": ");
      const std::string last = colon == std::string::npos ? "" : line.substr(colon + 2);
      const bool timing = !last.empty() && std::isdigit(static_cast<unsigned char>(last[0])) &&
                          last.find_first_not_of("0123456789.nums") == std::string::npos;
      if (!timing) absl::StrAppend(&trace, line, "\n");
    }
    return std::make_pair(Ids(*r), trace);
  };
  auto compare_all = [&](const CompiledCatalog& built_for) {
    int distinct = 0;
    std::vector<std::string> first;
    for (const v1::Profile& user : users) {
      for (const v1::Profile& context : contexts) {
        const auto pu = PreparedProfile::Build(built_for, PreparedProfile::Role::kUser, user);
        const auto pc = PreparedProfile::Build(built_for, PreparedProfile::Role::kContext, context);
        auto plain = select(&user, &context, nullptr, nullptr);
        auto prepared = select(nullptr, nullptr, pu.get(), pc.get());
        CHECK(prepared.first == plain.first);
        CHECK(prepared.second == plain.second);
        if (first.empty()) first = plain.first;
        distinct += plain.first != first;
      }
    }
    return distinct;
  };
  // The profiles make different winners, so equal results mean something.
  CHECK(compare_all(*catalog) > 5);
  // Built for another snapshot whose user slots are in another order: the
  // selector reads the prepared profile's own copy, with the same results.
  auto reordered = ProfileCatalog(true);
  REQUIRE(selector->SetCatalog(reordered).ok());
  REQUIRE(reordered->generation() != catalog->generation());
  CHECK(compare_all(*catalog) > 5);
  CHECK(compare_all(*reordered) > 5);

  // A prepared empty profile reads as an empty profile.
  v1::Profile none;
  const auto empty_user = PreparedProfile::Build(*reordered, PreparedProfile::Role::kUser, none);
  const auto empty_context = PreparedProfile::Build(*reordered, PreparedProfile::Role::kContext, none);
  CHECK(select(&none, &none, nullptr, nullptr) == select(nullptr, nullptr, empty_user.get(), empty_context.get()));
  // It keeps its own copy: the source may go away.
  std::unique_ptr<const PreparedProfile> kept;
  {
    v1::Profile adult;
    (*adult.mutable_values())["age"].set_int_value(40);
    kept = PreparedProfile::Build(*reordered, PreparedProfile::Role::kUser, adult);
  }
  CHECK(kept->catalog_generation() == reordered->generation());
  CHECK(kept->role() == PreparedProfile::Role::kUser);
  CHECK(kept->profile().values().at("age").int_value() == 40);
  auto adult_winners = select(nullptr, nullptr, kept.get(), nullptr).first;
  CHECK(std::find(adult_winners.begin(), adult_winners.end(), "beer") != adult_winners.end());
}

TEST_CASE("The next request after SetCatalog sees the new snapshot on the same thread", "[csf]") {
  auto only = [](const std::string& id) {
    CatalogBuilder b;
    CatalogBuilder::PaidAd(b.Campaign("c", "2026-06-01", "2026-06-30"), id, 100000);
    return b.Compile();
  };
  auto a = only("ad-a");
  auto b = only("ad-b");
  Fixture f;
  auto selector = f.Selector(a);
  auto kept = selector->Select(Request(Utc(2026, 6, 15, 12)));
  REQUIRE(kept.ok());
  REQUIRE(kept->winners.size() == 1);
  const std::string html = std::string(kept->winners[0].html);
  for (int round = 0; round < 3; ++round) {
    auto r = selector->Select(Request(Utc(2026, 6, 15, 12)));
    REQUIRE(r.ok());
    CHECK(Ids(*r) == std::vector<std::string>{"ad-a"});
    REQUIRE(selector->SetCatalog(b).ok());
    r = selector->Select(Request(Utc(2026, 6, 15, 12)));
    REQUIRE(r.ok());
    CHECK(Ids(*r) == std::vector<std::string>{"ad-b"});
    REQUIRE(selector->SetCatalog(a).ok());
  }
  // The requests are counted (per thread, summed on demand).
  CHECK(selector->ExhaustiveReruns().second == 7);
  // A result outlives the snapshots and scratches it came from.
  SelectedItem copy = kept->winners[0];
  kept = absl::StatusOr<SelectionResult>(SelectionResult{});
  selector.reset();
  CHECK(copy.item_id == "ad-a");
  CHECK(copy.html == html);
  CHECK(html.find("ad-a.png") != std::string::npos);
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

// Multiplies one ad's score by 10 and says so (MaxScoreMultiplier), so that
// pruning cannot prove winners while that ad is left out.
class BoostOne final : public SelectionComponent {
 public:
  explicit BoostOne(std::string id) : id_(std::move(id)) {}
  absl::Status Run(SelectionContext& ctx) const override {
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      if (ctx.item(i).id == id_) ctx.MultiplyScore(i, 10, "boosted");
    }
    return absl::OkStatus();
  }
  double MaxScoreMultiplier(const SelectionContext&) const override { return 10; }

 private:
  std::string id_;
};

TEST_CASE("A run pruning cannot settle ends and reruns wider, whatever SelectWinners' error policy",
          "[csf][pruning]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  for (int k = 0; k < 40; ++k) CatalogBuilder::PaidAd(c, "ad-" + std::to_string(k), 1000);
  Fixture f;
  REQUIRE(f.registry
              .Register(MakeFactory<SelectionComponent, google::protobuf::Empty>(
                  "BoostOne", "boosts ad-39",
                  [](const google::protobuf::Empty&, const CreateContext&)
                      -> absl::StatusOr<std::unique_ptr<SelectionComponent>> {
                    return std::make_unique<BoostOne>("ad-39");
                  }))
              .ok());
  for (v1::ErrorPolicy policy : {v1::ERROR_POLICY_FAIL, v1::ERROR_POLICY_CONTINUE}) {
    INFO("SelectWinners on_error " << v1::ErrorPolicy_Name(policy));
    v1::PipelineDefinition ads = DefaultAdvertisingPipeline();
    for (auto& stage : *ads.mutable_stages()) {
      if (stage.name() == "score") stage.add_components()->set_name("BoostOne");
      for (auto& component : *stage.mutable_components()) {
        if (component.name() == "SelectWinners") component.set_on_error(policy);
      }
    }
    auto selector = f.Selector(b.Compile(), 1, &ads);
    auto req = Request(Utc(2026, 6, 5, 12));
    req.record = false;
    req.trace = true;
    auto r = selector->Select(req);
    REQUIRE(r.ok());
    // 16 paid candidates at first (SelectorOptions::prune_limit), all with
    // the same Need of Delivery: ad-39 is left out, and a left-out ad could
    // score 10 times more. The run ends at SelectWinners, without recording
    // or formatting anything, and reruns until ad-39 is in.
    CHECK(Ids(*r) == std::vector<std::string>{"ad-39"});
    CHECK(selector->ExhaustiveReruns().first >= 1);
    std::string trace = r->trace.ToText();
    CHECK_THAT(trace, Catch::Contains("widen"));
    CHECK_THAT(trace, Catch::Contains("rerun"));
    CHECK_THAT(trace, !Catch::Contains("error"));
  }
}

}  // namespace
}  // namespace herald
