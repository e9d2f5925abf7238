// The house-ad fill report (lib/report/house_fill.cc) and what the selection
// records for it (SelectWinners' empty-slot reasons, RecordEvent's draw tags):
// HouseAdInclusion against a brute-force enumeration and a long simulation,
// and the report against real selections into a store.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/report.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald {
namespace {

// Every complete ordering of the ads, each with its probability under
// weighted draws without replacement; an ad is shown when it is among the
// first `slots`. Independent of HouseAdInclusion's partial sums.
std::vector<double> BruteForceInclusion(const std::vector<double>& w, int slots) {
  std::vector<size_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> out(w.size(), 0.0);
  do {
    double p = 1, remaining = std::accumulate(w.begin(), w.end(), 0.0);
    for (size_t i : order) {
      p *= w[i] / remaining;
      remaining -= w[i];
    }
    for (int k = 0; k < slots && k < static_cast<int>(order.size()); ++k) out[order[k]] += p;
  } while (std::next_permutation(order.begin(), order.end()));
  return out;
}

// Draws `slots` ads per page, `pages` times (std::discrete_distribution,
// redrawing ads already on the page).
std::vector<double> SimulatedInclusion(const std::vector<double>& w, int slots, int pages, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(w.size(), 0.0);
  std::discrete_distribution<size_t> pick(w.begin(), w.end());
  std::vector<bool> on_page(w.size());
  for (int page = 0; page < pages; ++page) {
    std::fill(on_page.begin(), on_page.end(), false);
    for (int k = 0; k < slots;) {
      size_t i = pick(rng);
      if (on_page[i]) continue;
      on_page[i] = true;
      out[i] += 1;
      ++k;
    }
  }
  for (double& x : out) x /= pages;
  return out;
}

TEST_CASE("HouseAdInclusion equals the brute-force enumeration of every draw order", "[report][house]") {
  const std::vector<std::vector<double>> cases = {{1, 2, 3, 4}, {5, 1, 1, 0.5, 2.5, 7}, {1, 1}, {3}, {0.1, 10, 2}};
  for (const auto& w : cases) {
    for (int slots = 1; slots <= static_cast<int>(w.size()) + 1; ++slots) {
      INFO("ads " << w.size() << ", slots " << slots);
      std::vector<double> exact = HouseAdInclusion(w, slots);
      std::vector<double> brute = BruteForceInclusion(w, slots);
      REQUIRE(exact.size() == w.size());
      for (size_t i = 0; i < w.size(); ++i) CHECK(exact[i] == Approx(brute[i]).epsilon(1e-12));
      CHECK(std::accumulate(exact.begin(), exact.end(), 0.0) ==
            Approx(std::min<double>(slots, static_cast<double>(w.size()))));
    }
  }
  // The issue's case, 1:2:3:4 on pages with two house slots, by hand: an ad is
  // drawn first (w / 10) or second after ad j was drawn first (w_j / 10 times
  // w / (10 - w_j)); its share of house impressions is that over two slots.
  std::vector<double> two = HouseAdInclusion(std::vector<double>{1, 2, 3, 4}, 2);
  CHECK(two[0] / 2 == Approx((0.1 + 0.2 * 1 / 8 + 0.3 * 1 / 7 + 0.4 * 1 / 6) / 2).epsilon(1e-12));  // 11.7 %
  CHECK(two[3] / 2 == Approx((0.4 + 0.1 * 4 / 9 + 0.2 * 4 / 8 + 0.3 * 4 / 7) / 2).epsilon(1e-12));  // 35.8 %
  // An ad without weight is never drawn.
  CHECK(HouseAdInclusion(std::vector<double>{0, 1, 1}, 2)[0] == 0);
}

TEST_CASE("HouseAdInclusion agrees with a long simulation, also where it falls back to Monte Carlo",
          "[report][house]") {
  const std::vector<double> small = {1, 2, 3, 4};
  std::vector<double> simulated = SimulatedInclusion(small, 2, 400'000, 7);
  std::vector<double> exact = HouseAdInclusion(small, 2);
  for (size_t i = 0; i < small.size(); ++i) CHECK(std::abs(simulated[i] - exact[i]) < 0.005);
  // 40 ads and 5 slots: 40^5 orderings, beyond the exact enumeration.
  std::vector<double> many;
  for (int i = 0; i < 40; ++i) many.push_back(1 + (i % 7));
  std::vector<double> estimate = HouseAdInclusion(many, 5);
  CHECK(estimate == HouseAdInclusion(many, 5));  // fixed seed: the same figures every run
  std::vector<double> long_run = SimulatedInclusion(many, 5, 400'000, 11);
  for (size_t i = 0; i < many.size(); ++i) CHECK(std::abs(estimate[i] - long_run[i]) < 0.01);
  CHECK(std::accumulate(estimate.begin(), estimate.end(), 0.0) == Approx(5));
}

// Four Banner house ads on Home (1:2:3:4); on Sports one house ad of the
// industry of a paid ad that always wins there.
constexpr char kCatalog[] = R"pb(
name: "House"
time_zone: "UTC"
reference_tables {
  industries { code: "coffee" }
  page_groups { name: "Home" }
  page_groups { name: "Sports" }
}
customers { id: "coho" name: "Coho" industry: "coffee" }
customers { id: "house" name: "House" }
campaigns {
  id: "coho" name: "Coho" customer_id: "coho" start: "2026-01-01" end: "2026-12-31"
  items { id: "latte" name: "Latte" ad { type: AD_TYPE_PAID quantity: 1000000 size: "Banner" page_groups: "Sports"
          industry: "coffee" display { text: "Latte" } } }
}
campaigns {
  id: "house" name: "House" customer_id: "house" start: "2026-01-01" end: "2026-12-31"
  items { id: "tents" name: "Tents" ad { type: AD_TYPE_HOUSE weight: 1 size: "Banner" page_groups: "Home" display { text: "t" } } }
  items { id: "boots" name: "Boots" ad { type: AD_TYPE_HOUSE weight: 2 size: "Banner" page_groups: "Home" display { text: "b" } } }
  items { id: "jackets" name: "Jackets" ad { type: AD_TYPE_HOUSE weight: 3 size: "Banner" page_groups: "Home" display { text: "j" } } }
  items { id: "stoves" name: "Stoves" ad { type: AD_TYPE_HOUSE weight: 4 size: "Banner" page_groups: "Home" display { text: "s" } } }
  items { id: "mugs" name: "Mugs" ad { type: AD_TYPE_HOUSE weight: 1 size: "Banner" page_groups: "Sports"
          industry: "coffee" display { text: "m" } } }
}
)pb";

using Row = std::vector<ReportCell>;

const Row* FindRow(const ReportTable& t, std::string_view first) {
  for (const Row& row : t.rows) {
    if (const auto* s = std::get_if<std::string>(&row[0]); s != nullptr && s->rfind(first, 0) == 0) return &row;
  }
  return nullptr;
}

double Column(const ReportTable& t, const Row& row, std::string_view key) {
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (t.columns[i].key != key) continue;
    if (const auto* d = std::get_if<double>(&row[i])) return *d;
    if (const auto* n = std::get_if<int64_t>(&row[i])) return static_cast<double>(*n);
    FAIL("no number in column " << key);
  }
  FAIL("no column " << key);
  return 0;
}

TEST_CASE("The house-ad fill report sets expected shares for the traffic's slot counts next to the actual ones, "
          "and counts empty slots by reason",
          "[report][house]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto catalog = ParseCatalog(kCatalog, "catalog");
  REQUIRE(catalog.ok());
  auto compiled = CompiledCatalog::Compile(*catalog);
  REQUIRE(compiled.ok());
  std::unique_ptr<Store> store = NewMemoryStore();
  SelectorConfig config;
  config.registry = &registry;
  config.store = store.get();
  config.options.seed = 5;
  auto selector = NewContentSelector(*compiled, config);
  REQUIRE(selector.ok());

  const absl::Time at = absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone());
  auto select = [&](const std::string& page_group, const std::string& size, int count,
                    std::vector<std::string> page_history = {}) {
    SelectionRequest request;
    request.page_groups = {page_group};
    request.size = size;
    request.count = count;
    request.page_history = std::move(page_history);
    request.time = at;
    auto result = (*selector)->Select(request);
    REQUIRE(result.ok());
    return result->winners.size();
  };
  // Home pages with two and three house slots (anonymous: no history penalty).
  for (int i = 0; i < 12'000; ++i) REQUIRE(select("Home", "Banner", 2) == 2);
  for (int i = 0; i < 6'000; ++i) REQUIRE(select("Home", "Banner", 3) == 3);
  // Empty slots, one cause each.
  for (int i = 0; i < 7; ++i) CHECK(select("Home", "Banner", 5) == 4);                        // all_shown: 7
  for (int i = 0; i < 5; ++i) CHECK(select("Home", "Leaderboard", 2) == 0);                   // no_house_ad: 10
  for (int i = 0; i < 3; ++i) CHECK(select("Home", "Banner", 1, {"tents", "boots", "jackets", "stoves"}) == 0);  // page_history: 3
  for (int i = 0; i < 2; ++i) CHECK(select("Sports", "Banner", 2) == 1);                      // industry_conflict: 2
  REQUIRE((*selector)->Flush().ok());

  ReportOptions options;
  options.catalog = &*catalog;
  auto table = RunReport("house-ad-fill", store->events(), options);
  REQUIRE(table.ok());
  INFO(RenderTable(*table));
  // Expected: of the four Home ads, 12,000 pages draw 2, 6,000 draw 3, 7
  // draw 5 (all four) and 3 draw 1 (those the page history then empties);
  // Mugs is expected twice on Sports, where the industry conflict empties it.
  const std::vector<double> w = {1, 2, 3, 4};
  std::vector<double> two = HouseAdInclusion(w, 2), three = HouseAdInclusion(w, 3);
  const char* names[] = {"Tents", "Boots", "Jackets", "Stoves"};
  const double expected_total = 12'000 * 2 + 6'000 * 3 + 7 * 4 + 3 * 1 + 2;
  CHECK(Column(*table, *FindRow(*table, "Mugs"), "expected_share") == Approx(100 * 2 / expected_total));
  CHECK(Column(*table, *FindRow(*table, "Mugs"), "shown") == 0);
  for (size_t i = 0; i < 4; ++i) {
    INFO(names[i]);
    const Row* row = FindRow(*table, names[i]);
    REQUIRE(row != nullptr);
    const double expected = 100 * (12'000 * two[i] + 6'000 * three[i] + 7 * 1.0 + 3 * w[i] / 10) / expected_total;
    CHECK(Column(*table, *row, "expected_share") == Approx(expected).epsilon(1e-9));
    // The draw matches its expectation within sampling noise (and is far from the weight share).
    CHECK(std::abs(Column(*table, *row, "house_share") - expected) < 1.0);
    CHECK(Column(*table, *row, "weight_share") == Approx(100 * w[i] / 11));  // Mugs weighs 1 too
  }
  CHECK(std::abs(Column(*table, *FindRow(*table, "Stoves"), "house_share") - 40) > 5);  // flattened

  auto empty = [&](std::string_view text) {
    const Row* row = FindRow(*table, std::string("(empty) ") + std::string(text));
    REQUIRE(row != nullptr);
    return Column(*table, *row, "shown");
  };
  CHECK(empty("fewer eligible house ads than slots") == 7);
  CHECK(empty("no eligible house ad of that size") == 10);
  CHECK(empty("page history") == 3);
  CHECK(empty("industry conflict") == 2);
  CHECK_THAT(table->subtitle, Catch::Contains("on 18017 requests"));
  CHECK_THAT(table->subtitle, Catch::Contains("history penalty"));  // why actual shares differ

  // The other reports ignore the empty-slot events (they belong to no item).
  auto summary = RunReport("campaign-event-summary", store->events(), options);
  REQUIRE(summary.ok());
  for (const Row& row : summary->rows) {
    for (const ReportCell& cell : row) {
      if (const auto* s = std::get_if<std::string>(&cell)) CHECK(*s != "unspecified");
    }
  }
}

}  // namespace
}  // namespace herald
