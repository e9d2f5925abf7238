// Pacing proven by simulation: Need of Delivery, house-ad weights, exposure
// limits and click goals over simulated days of traffic (issue 4, item 5).
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "csf/catalog_builder.h"
#include "herald/builtins.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald {
namespace {

using testing::CatalogBuilder;
using testing::Utc;

struct Sim {
  Registry registry;
  std::unique_ptr<Store> store = NewMemoryStore();
  std::unique_ptr<ContentSelector> selector;
  explicit Sim(std::shared_ptr<const CompiledCatalog> catalog, uint64_t seed = 42) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    SelectorConfig config;
    config.registry = &registry;
    config.store = store.get();
    config.options.seed = seed;
    auto s = NewContentSelector(std::move(catalog), config);
    REQUIRE(s.ok());
    selector = std::move(*s);
  }
};

TEST_CASE("A paid ad with a goal of 10000 over 7 days paces through 1000000 page views", "[pacing]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-07");  // 7 days, inclusive end
  CatalogBuilder::PaidAd(c, "paid", 10000);
  CatalogBuilder::HouseAd(c, "house", 1);
  Sim sim(b.Compile());
  const int64_t views = 1'000'000;
  const absl::Time start = Utc(2026, 6, 1);
  const absl::Duration span = absl::Hours(24 * 7);
  SelectionRequest req;
  req.page_groups = {"Home"};
  int64_t day = 0;
  double worst_gap = 0;
  for (int64_t i = 0; i < views; ++i) {
    req.time = start + span * (static_cast<double>(i) / views);
    int64_t d = (req.time - start) / absl::Hours(24);
    if (d != day) {  // a day boundary: compare with the schedule
      day = d;
      double expected = 10000.0 * day / 7;
      double gap = std::abs(sim.selector->Delivered("paid").first - expected);
      worst_gap = std::max(worst_gap, gap);
      INFO("day " << day << ": delivered " << sim.selector->Delivered("paid").first
                  << ", expected " << expected);
      CHECK(gap <= 0.05 * 10000);
    }
    req.user_id = std::to_string(i % 50000);
    auto r = sim.selector->Select(req);
    REQUIRE(r.ok());
  }
  int64_t delivered = sim.selector->Delivered("paid").first;
  INFO("delivered " << delivered << ", worst gap at a day boundary " << worst_gap);
  CHECK(delivered >= 9900);
  CHECK(delivered <= 10100);
  CHECK(worst_gap <= 100);  // in fact within 1% at every boundary
  REQUIRE(sim.selector->Flush().ok());
}

TEST_CASE("Days-of-week and hour windows: the ad serves only inside them - and still meets its goal", "[pacing]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-14");  // two weeks, Monday to Sunday
  auto* ad = CatalogBuilder::PaidAd(c, "office-hours", 3000);
  for (auto d : {v1::MONDAY, v1::TUESDAY, v1::WEDNESDAY, v1::THURSDAY, v1::FRIDAY}) {
    ad->mutable_schedule()->add_days(d);
  }
  auto* h = ad->mutable_schedule()->add_hours();
  h->set_from("09:00");
  h->set_to("17:00");
  ad->mutable_schedule()->set_time_zone("America/New_York");
  CatalogBuilder::HouseAd(c, "house", 1);
  Sim sim(b.Compile());
  absl::TimeZone ny;
  REQUIRE(absl::LoadTimeZone("America/New_York", &ny));
  const int64_t views = 300'000;
  const absl::Time start = Utc(2026, 6, 1);
  const absl::Time end = Utc(2026, 6, 15);
  SelectionRequest req;
  req.page_groups = {"Home"};
  int64_t outside = 0, served = 0;
  for (int64_t i = 0; i < views; ++i) {
    req.time = start + (end - start) * (static_cast<double>(i) / views);
    auto r = sim.selector->Select(req);
    REQUIRE(r.ok());
    if (!r->winners.empty() && r->winners[0].item_id == "office-hours") {
      ++served;
      absl::CivilSecond local = absl::ToCivilSecond(req.time, ny);
      absl::Weekday wd = absl::GetWeekday(absl::CivilDay(local));
      bool weekday = wd != absl::Weekday::saturday && wd != absl::Weekday::sunday;
      bool hours = local.hour() >= 9 && local.hour() < 17;
      // The campaign's dates are UTC; the window is New York time.
      if (!weekday || !hours) ++outside;
    }
  }
  CHECK(outside == 0);
  INFO("served " << served);
  CHECK(served >= 2970);
  CHECK(served <= 3030);
}

TEST_CASE("House ads weighted 1:2:3:4 get 10/20/30/40% of house impressions", "[pacing]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-30");
  CatalogBuilder::HouseAd(c, "blue", 1);
  CatalogBuilder::HouseAd(c, "green", 2);
  CatalogBuilder::HouseAd(c, "red", 3);
  CatalogBuilder::HouseAd(c, "yellow", 4);
  Sim sim(b.Compile(), 20261123);
  std::map<std::string, int> count;
  SelectionRequest req;
  req.page_groups = {"Home"};
  req.time = Utc(2026, 6, 10);
  req.record = false;
  const int n = 100'000;
  for (int i = 0; i < n; ++i) count[std::string(sim.selector->Select(req)->winners.at(0).item_id)]++;
  CHECK(std::abs(count["blue"] * 100.0 / n - 10) <= 1);
  CHECK(std::abs(count["green"] * 100.0 / n - 20) <= 1);
  CHECK(std::abs(count["red"] * 100.0 / n - 30) <= 1);
  CHECK(std::abs(count["yellow"] * 100.0 / n - 40) <= 1);
  // The same seed gives the same draws.
  Sim again(b.Compile(), 20261123);
  std::map<std::string, int> count2;
  for (int i = 0; i < 1000; ++i) count2[std::string(again.selector->Select(req)->winners.at(0).item_id)]++;
  Sim third(b.Compile(), 20261123);
  std::map<std::string, int> count3;
  for (int i = 0; i < 1000; ++i) count3[std::string(third.selector->Select(req)->winners.at(0).item_id)]++;
  CHECK(count2 == count3);
}

TEST_CASE("No user ever sees an ad more often than its exposure limit", "[pacing]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-07");
  CatalogBuilder::PaidAd(c, "limited", 40000)->set_exposure_limit(3);
  CatalogBuilder::PaidAd(c, "other", 40000)->set_exposure_limit(5);
  CatalogBuilder::HouseAd(c, "house", 1);
  Sim sim(b.Compile());
  std::map<std::pair<std::string, std::string>, int> seen;
  std::mt19937 rng(7);
  SelectionRequest req;
  req.page_groups = {"Home"};
  for (int i = 0; i < 100'000; ++i) {
    req.time = Utc(2026, 6, 1) + absl::Seconds(i * 6);
    req.user_id = "u" + std::to_string(rng() % 2000);
    req.session_id = req.user_id;  // one long session per user
    auto r = sim.selector->Select(req);
    REQUIRE(r.ok());
    for (const auto& w : r->winners) seen[{req.user_id, std::string(w.item_id)}]++;
  }
  int worst_limited = 0, worst_other = 0;
  for (const auto& [key, n] : seen) {
    if (key.second == "limited") worst_limited = std::max(worst_limited, n);
    if (key.second == "other") worst_other = std::max(worst_other, n);
  }
  CHECK(worst_limited == 3);
  CHECK(worst_other == 5);
}

TEST_CASE("A paid ad goaled by clicks paces on clicks", "[pacing]") {
  CatalogBuilder b;
  auto* c = b.Campaign("c", "2026-06-01", "2026-06-07");
  c->set_goal_event(v1::GOAL_EVENT_CLICKS);
  CatalogBuilder::PaidAd(c, "clicky", 500);
  CatalogBuilder::HouseAd(c, "house", 1);
  Sim sim(b.Compile());
  std::mt19937 rng(99);
  std::bernoulli_distribution click(0.02);
  const int64_t views = 400'000;
  const absl::Time start = Utc(2026, 6, 1);
  const absl::Duration span = absl::Hours(24 * 7);
  SelectionRequest req;
  req.page_groups = {"Home"};
  int64_t day = 0, requests = 0;
  for (int64_t i = 0; i < views; ++i) {
    req.time = start + span * (static_cast<double>(i) / views);
    int64_t d = (req.time - start) / absl::Hours(24);
    if (d != day) {
      day = d;
      double expected = 500.0 * day / 7;
      INFO("day " << day << ": clicks " << sim.selector->Delivered("clicky").second);
      CHECK(std::abs(sim.selector->Delivered("clicky").second - expected) <= 0.05 * 500);
    }
    auto r = sim.selector->Select(req);
    REQUIRE(r.ok());
    if (r->winners.at(0).item_id == "clicky") {
      ++requests;
      if (click(rng)) REQUIRE(sim.selector->RecordClick("clicky", "", "Home", req.time).ok());
    }
  }
  // Counts in transit to the store may be seen twice for an instant (never
  // zero times); after a flush they are exact.
  REQUIRE(sim.selector->Flush().ok());
  auto [served, clicks] = sim.selector->Delivered("clicky");
  CHECK(served == requests);
  CHECK(clicks >= 495);
  CHECK(clicks <= 505);
  // About 50 requests per click at a 2% click rate.
  CHECK(served > 20000);
}

}  // namespace
}  // namespace herald
