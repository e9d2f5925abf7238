// The house-ad fill report: each house ad's actual share of house impressions
// next to the share its weight gives under the selector's draw (weighted, without
// replacement, once per slot left to house ads), and the slots left empty by
// reason. See herald/report.h.
#include "house_fill.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "core/strings.h"
#include "herald/model/events.pb.h"

namespace herald {

namespace {

// Ordered draws: the exact sum over every sequence of `slots` distinct items,
// each weighing the product of its draw probabilities. Cost about n^slots.
void SumOrderedDraws(std::span<const double> w, int slots, double probability, double remaining,
                     std::vector<bool>& drawn, std::vector<double>& out) {
  for (size_t i = 0; i < w.size(); ++i) {
    if (drawn[i] || w[i] <= 0) continue;
    const double p = probability * w[i] / remaining;
    out[i] += p;
    if (slots > 1) {
      drawn[i] = true;
      SumOrderedDraws(w, slots - 1, p, remaining - w[i], drawn, out);
      drawn[i] = false;
    }
  }
}

}  // namespace

std::vector<double> HouseAdInclusion(std::span<const double> weights, int slots) {
  const size_t n = weights.size();
  std::vector<double> out(n, 0.0);
  size_t positive = 0;
  double total = 0;
  for (double w : weights) {
    if (w > 0) {
      ++positive;
      total += w;
    }
  }
  if (slots <= 0 || positive == 0) return out;
  if (static_cast<size_t>(slots) >= positive) {  // every ad is drawn
    for (size_t i = 0; i < n; ++i) out[i] = weights[i] > 0 ? 1.0 : 0.0;
    return out;
  }
  // Exact when the enumeration stays small (the slot counts of real pages).
  const double cost = std::pow(static_cast<double>(positive), slots);
  if (cost <= 2e6) {
    std::vector<bool> drawn(n, false);
    SumOrderedDraws(weights, slots, 1.0, total, drawn, out);
    return out;
  }
  // Monte Carlo with a fixed seed: the same figures every run.
  constexpr int kTrials = 200'000;
  std::mt19937_64 rng(42);
  std::vector<double> w(n);
  for (int t = 0; t < kTrials; ++t) {
    for (size_t i = 0; i < n; ++i) w[i] = weights[i] > 0 ? weights[i] : 0;
    double remaining = total;
    for (int k = 0; k < slots; ++k) {
      double r = std::uniform_real_distribution<double>(0.0, remaining)(rng);
      size_t pick = n;
      for (size_t i = 0; i < n; ++i) {
        if (w[i] <= 0) continue;
        pick = i;
        if (r < w[i]) break;
        r -= w[i];
      }
      out[pick] += 1;
      remaining -= w[pick];
      w[pick] = 0;  // drawn: not again on this page
    }
  }
  for (double& x : out) x /= kTrials;
  return out;
}

namespace internal {

namespace {

// What an EVENT_TYPE_EMPTY_SLOT's reason means, in the report's words.
std::string ExplainEmptySlot(std::string_view reason) {
  if (reason == "no_house_ad") return "no eligible house ad of that size (page group, size, schedule, targeting, exposure limits)";
  if (reason == "industry_conflict") return "industry conflict: the eligible house ads share an industry (or a competing customer) with a winner";
  if (reason == "page_history") return "page history: the house ads left are already on the page, or their industry is";
  if (reason == "all_shown") return "fewer eligible house ads than slots: each one already fills another slot";
  return Cat("\"", reason, "\"");
}

// "<tag>:<slots>:<size>" (the selection's custom_name of house-ad request
// events and empty-slot events; docs in events.proto).
bool ParseDrawTag(std::string_view tag, std::string_view* head, int* slots, std::string_view* size) {
  const size_t a = tag.find(':');
  if (a == std::string_view::npos) return false;
  const size_t b = tag.find(':', a + 1);
  if (b == std::string_view::npos) return false;
  int k = 0;
  for (char c : tag.substr(a + 1, b - a - 1)) {
    if (c < '0' || c > '9' || k > 10000) return false;
    k = k * 10 + (c - '0');
  }
  if (k <= 0) return false;
  *head = tag.substr(0, a);
  *slots = k;
  *size = tag.substr(b + 1);
  return true;
}

struct HouseAd {
  std::string id, name;
  double weight = 1;
  std::vector<std::string> page_groups;  // empty = every page
  std::string size;                      // empty = any
  bool active = true;
  bool Fits(const std::string& page_group, const std::string& want_size) const {
    if (!active) return false;
    if (!size.empty() && !want_size.empty() && size != want_size) return false;
    return page_groups.empty() || page_group.empty() ||
           std::find(page_groups.begin(), page_groups.end(), page_group) != page_groups.end();
  }
};

// The catalog's house ads, with their index by item id.
struct HouseAds {
  std::vector<HouseAd> ads;
  std::map<std::string, size_t, std::less<>> by_id;
};

HouseAds CatalogHouseAds(const v1::Catalog& catalog) {
  HouseAds out;
  for (const v1::Campaign& c : catalog.campaigns()) {
    for (const v1::CampaignItem& item : c.items()) {
      if (!item.has_ad() || item.ad().type() != v1::AD_TYPE_HOUSE) continue;
      HouseAd ad;
      ad.id = item.id();
      ad.name = item.name().empty() ? item.id() : item.name();
      ad.weight = item.ad().weight() > 0 ? item.ad().weight() : 1;
      ad.page_groups.assign(item.ad().page_groups().begin(), item.ad().page_groups().end());
      ad.size = item.ad().size();
      ad.active = !item.has_active() || item.active();
      out.by_id.emplace(ad.id, out.ads.size());
      out.ads.push_back(std::move(ad));
    }
  }
  return out;
}

// What the events say of the slots left to house ads.
struct HouseTraffic {
  // (page group, size, house slots) -> slots of that kind in the traffic.
  std::map<std::tuple<std::string, std::string, int>, int64_t> draws;
  std::vector<int64_t> shown;            // per house ad
  std::map<std::string, int64_t> empty;  // reason -> slots
  int64_t untagged = 0;                  // house impressions without a draw tag (older events)
};

absl::StatusOr<HouseTraffic> ScanHouseTraffic(EventStore& events, const ReportOptions& options,
                                              const HouseAds& house) {
  HouseTraffic t;
  t.shown.assign(house.ads.size(), 0);
  EventQuery query;
  query.from = options.from;
  query.to = options.to;
  absl::Status scanned = events.ScanEvents(query, [&](const v1::Event& e) -> absl::Status {
    const int64_t n = e.count() == 0 ? 1 : e.count();
    std::string_view head, size;
    int slots = 0;
    if (e.type() == v1::EVENT_TYPE_EMPTY_SLOT) {
      if (ParseDrawTag(e.custom_name(), &head, &slots, &size)) {
        t.empty[std::string(head)] += n;
        t.draws[{e.page_group(), std::string(size), slots}] += n;
      } else {
        t.empty[e.custom_name()] += n;
      }
      return absl::OkStatus();
    }
    if (e.type() != v1::EVENT_TYPE_REQUEST) return absl::OkStatus();
    auto it = house.by_id.find(e.item_id());
    if (it == house.by_id.end()) return absl::OkStatus();
    t.shown[it->second] += n;
    if (ParseDrawTag(e.custom_name(), &head, &slots, &size) && head == "house") {
      t.draws[{e.page_group(), std::string(size), slots}] += n;
    } else {
      t.untagged += n;
    }
    return absl::OkStatus();
  });
  if (!scanned.ok()) return scanned;
  return t;
}

// Expected impressions per house ad: each (page group, size, k) kind of
// request draws k house ads by weight, without replacement, among the house
// ads that fit. Also counts the requests, in all and by k.
struct Expectation {
  std::vector<double> impressions;
  int64_t requests = 0;
  std::map<int, int64_t> requests_by_slots;
};

Expectation ExpectedImpressions(const HouseAds& house, const HouseTraffic& traffic) {
  Expectation out;
  out.impressions.assign(house.ads.size(), 0.0);
  for (const auto& [key, slot_count] : traffic.draws) {
    const auto& [page_group, size, k] = key;
    const int64_t kind_requests = slot_count / k;
    out.requests += kind_requests;
    out.requests_by_slots[k] += kind_requests;
    std::vector<size_t> pool;
    std::vector<double> weights;
    for (size_t i = 0; i < house.ads.size(); ++i) {
      if (house.ads[i].Fits(page_group, size)) {
        pool.push_back(i);
        weights.push_back(house.ads[i].weight);
      }
    }
    std::vector<double> inclusion = HouseAdInclusion(weights, k);
    for (size_t j = 0; j < pool.size(); ++j) {
      out.impressions[pool[j]] += static_cast<double>(kind_requests) * inclusion[j];
    }
  }
  return out;
}

ReportCell Percent(double part, double whole) {
  if (!(whole > 0)) return std::monostate{};
  return 100.0 * part / whole;
}

}  // namespace

absl::StatusOr<ReportTable> RunHouseAdFillReport(EventStore& events, const ReportOptions& options,
                                                 std::string subtitle) {
  if (options.catalog == nullptr) {
    return absl::InvalidArgumentError("report house-ad-fill: needs the catalog (the house ads' weights)");
  }
  const HouseAds house = CatalogHouseAds(*options.catalog);
  absl::StatusOr<HouseTraffic> traffic = ScanHouseTraffic(events, options, house);
  if (!traffic.ok()) return traffic.status();
  const Expectation expected = ExpectedImpressions(house, *traffic);
  const std::vector<HouseAd>& ads = house.ads;
  double expected_total = 0, weight_total = 0;
  int64_t shown_total = 0, empty_total = 0;
  for (size_t i = 0; i < ads.size(); ++i) {
    expected_total += expected.impressions[i];
    weight_total += ads[i].weight;
    shown_total += traffic->shown[i];
  }
  for (const auto& [reason, slots] : traffic->empty) empty_total += slots;
  const double slots_total = static_cast<double>(shown_total + empty_total);

  using K = ColumnKind;
  ReportTable table;
  table.columns = {{"item", "House ad / empty slot", K::kText},
                   {"weight", "Weight", K::kDecimal},
                   {"weight_share", "Weight share %", K::kPercent},
                   {"expected_share", "Expected share %", K::kPercent},
                   {"shown", "Shown", K::kInteger},
                   {"house_share", "Actual share %", K::kPercent},
                   {"slot_share", "Share of house slots %", K::kPercent}};
  for (size_t i = 0; i < ads.size(); ++i) {
    const double shown = static_cast<double>(traffic->shown[i]);
    table.rows.push_back({ads[i].name, ads[i].weight, Percent(ads[i].weight, weight_total),
                          Percent(expected.impressions[i], expected_total), traffic->shown[i],
                          Percent(shown, static_cast<double>(shown_total)), Percent(shown, slots_total)});
  }
  for (const auto& [reason, slots] : traffic->empty) {
    table.rows.push_back({Cat("(empty) ", ExplainEmptySlot(reason)), std::monostate{}, std::monostate{},
                          std::monostate{}, slots, std::monostate{},
                          Percent(static_cast<double>(slots), slots_total)});
  }
  std::string mix;
  for (const auto& [k, count] : expected.requests_by_slots) CatTo(mix, mix.empty() ? "" : ", ", count, " with ", k);
  CatTo(subtitle, "; ", shown_total + empty_total, " slots left to house ads on ", expected.requests, " requests",
        mix.empty() ? "" : Cat(" (", mix, ")"), ": ", shown_total, " filled, ", empty_total,
        " empty. Expected share: weighted draws without replacement, k per request, among the house ads "
        "of that page group and size (several slots flatten the shares). Actual shares also move toward "
        "equal under the history penalty of the default pipelines: a house ad the user saw in the last "
        "10 requests is drawn with its weight multiplied by 0.5 (last request) to 0.9, and the most "
        "weighted ads are the ones most often seen");
  if (traffic->untagged > 0) {
    CatTo(subtitle, "; ", traffic->untagged, " impressions recorded without their draw (older events)");
  }
  table.subtitle = std::move(subtitle);
  return table;
}

}  // namespace internal
}  // namespace herald
