// The discount-usage and conversions reports (herald/report.h): what the
// discounts did in committed orders, and what became of captured responses.
#include "commerce.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/strings.h"
#include "herald/discount.h"

namespace herald::internal {
namespace {

using K = ColumnKind;

// An amount in minor units as the exact decimal of its currency ("12.50"
// for 1250 USD, "1250" JPY, "1.250" BHD): text, so that no digit is lost.
std::string Major(int64_t minor, std::string_view currency) {
  const int digits = CurrencyMinorDigits(currency);
  return FormatMinor(minor, digits < 0 ? 0 : digits);
}

ReportCell Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return {};
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// A discount item of the catalog (or one only the orders know).
struct DiscountInfo {
  std::string id, name, campaign_id, campaign_name;
};

struct DiscountTally {
  int64_t orders = 0, units = 0, amount_minor = 0;
};

struct DiscountUsage {
  std::vector<DiscountInfo> discounts;                    // catalog order, then the unknown ones by id
  absl::flat_hash_map<std::string, size_t> by_id;         // into `discounts`
  std::map<std::pair<std::string, std::string>, DiscountTally> used;  // (discount id, currency)
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> shown_clicked;
  std::map<std::string, int64_t> orders_by_currency;      // every committed order of the range
};

void IndexDiscounts(const ReportOptions& options, std::string_view campaign_filter, DiscountUsage& usage) {
  if (options.catalog == nullptr) return;
  for (const v1::Campaign& c : options.catalog->campaigns()) {
    if (!campaign_filter.empty() && c.id() != campaign_filter) continue;
    for (const v1::CampaignItem& item : c.items()) {
      if (!item.has_discount()) continue;
      usage.by_id[item.id()] = usage.discounts.size();
      usage.discounts.push_back({item.id(), item.name().empty() ? item.id() : item.name(), c.id(),
                                 c.name().empty() ? c.id() : c.name()});
    }
  }
}

absl::Status ReadOrders(Store& store, const ReportOptions& options, std::string_view campaign_filter,
                        DiscountUsage& usage) {
  std::map<std::string, std::string> unknown;  // discount id -> campaign id, from the orders
  absl::Status scanned = store.coupons().ScanOrderDiscounts(
      options.from, options.to, [&](const OrderDiscountRow& row) -> absl::Status {
        auto known = usage.by_id.find(row.use.discount_id);
        if (known == usage.by_id.end()) {
          // Not a discount of the selected campaigns now: reported under its
          // id when its campaign (when the order was placed) is selected.
          if (!campaign_filter.empty() && row.use.campaign_id != campaign_filter) return absl::OkStatus();
          unknown.emplace(row.use.discount_id, row.use.campaign_id);
        }
        DiscountTally& t = usage.used[{row.use.discount_id, row.currency}];
        ++t.orders;
        t.units += row.use.units;
        t.amount_minor += row.use.amount_minor;
        return absl::OkStatus();
      });
  if (!scanned.ok()) return scanned;
  for (const auto& [id, campaign] : unknown) {
    usage.by_id[id] = usage.discounts.size();
    usage.discounts.push_back({id, id, campaign, campaign});
  }
  auto totals = store.coupons().CountOrders(options.from, options.to);
  if (!totals.ok()) return totals.status();
  for (const CouponStore::OrderTotals& t : *totals) usage.orders_by_currency[t.currency] = t.orders;
  return absl::OkStatus();
}

// How often each discount was shown (its requests) and clicked.
absl::Status ReadShownClicked(Store& store, const ReportOptions& options, std::string_view campaign_filter,
                              DiscountUsage& usage) {
  EventQuery query;
  query.from = options.from;
  query.to = options.to;
  query.campaign_id = std::string(campaign_filter);
  return store.events().ScanEvents(query, [&](const v1::Event& e) -> absl::Status {
    if (e.type() != v1::EVENT_TYPE_REQUEST && e.type() != v1::EVENT_TYPE_CLICK) return absl::OkStatus();
    if (!usage.by_id.contains(e.item_id())) return absl::OkStatus();
    auto& [shown, clicked] = usage.shown_clicked[e.item_id()];
    (e.type() == v1::EVENT_TYPE_REQUEST ? shown : clicked) += e.count() == 0 ? 1 : e.count();
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<ReportTable> RunDiscountUsageReport(Store& store, const ReportOptions& options,
                                                   std::string_view campaign_filter, std::string subtitle) {
  DiscountUsage usage;
  IndexDiscounts(options, campaign_filter, usage);
  if (absl::Status s = ReadOrders(store, options, campaign_filter, usage); !s.ok()) return s;
  if (absl::Status s = ReadShownClicked(store, options, campaign_filter, usage); !s.ok()) return s;

  ReportTable table;
  table.subtitle = std::move(subtitle);
  std::string orders;
  for (const auto& [currency, n] : usage.orders_by_currency) {
    CatTo(orders, orders.empty() ? "" : ", ", n, " in ", currency.empty() ? "no currency" : currency);
  }
  CatTo(table.subtitle, "; orders committed: ", orders.empty() ? "none" : orders);
  table.columns = {{"campaign", "Campaign", K::kText},         {"discount", "Discount", K::kText},
                   {"shown", "Shown", K::kInteger},            {"clicks", "Clicks", K::kInteger},
                   {"click_rate", "Click rate %", K::kPercent}, {"orders", "Orders", K::kInteger},
                   {"order_share", "Share of orders %", K::kPercent}, {"units", "Units discounted", K::kInteger},
                   {"amount", "Amount off", K::kText},      {"currency", "Currency", K::kText}};
  for (const DiscountInfo& d : usage.discounts) {
    const auto [shown, clicked] = usage.shown_clicked[d.id];
    auto first = usage.used.lower_bound({d.id, ""});
    if (first == usage.used.end() || first->first.first != d.id) {
      table.rows.push_back({d.campaign_name, d.name, shown, clicked, Percent(clicked, shown), int64_t{0},
                            ReportCell(), int64_t{0}, ReportCell(), ReportCell()});
      continue;
    }
    // One row per currency the discount was given in; shown and clicked
    // belong to the discount, so only its first row has them.
    bool first_row = true;
    for (auto it = first; it != usage.used.end() && it->first.first == d.id; ++it) {
      const std::string& currency = it->first.second;
      const DiscountTally& t = it->second;
      table.rows.push_back({d.campaign_name, d.name, first_row ? ReportCell(shown) : ReportCell(),
                            first_row ? ReportCell(clicked) : ReportCell(),
                            first_row ? Percent(clicked, shown) : ReportCell(), t.orders,
                            Percent(t.orders, usage.orders_by_currency[currency]), t.units,
                            Major(t.amount_minor, currency), currency});
      first_row = false;
    }
  }
  return table;
}

namespace {

// What became of the responses of one action through one channel.
struct ResponseTally {
  int64_t responses = 0, accepted = 0, rejected = 0, clicked = 0, impressions = 0, other = 0;
  std::map<std::string, int64_t> value_minor;  // accepted value per currency
  std::vector<int64_t> done, waiting;          // accepted conversions per destination
};

std::string ActionLabel(const v1::ActionRef& a) { return Cat(a.issue(), " / ", a.group(), " / ", a.name()); }

// Whether the catalog's action sends its accepted responses to the ad
// platforms (as SelectConversions decides); nullopt without a catalog or
// for an action it does not have.
std::optional<bool> ExportsConversions(const ReportOptions& options, const v1::ActionRef& ref) {
  if (options.catalog == nullptr) return std::nullopt;
  for (const v1::ConversionAction& a : options.catalog->actions()) {
    if (a.issue() != ref.issue() || a.group() != ref.group() || a.name() != ref.name()) continue;
    const bool offline = a.has_offline_conversion_enabled() ? a.offline_conversion_enabled() : a.paid_sync_enabled();
    return a.paid_sync_enabled() && offline;
  }
  return std::nullopt;
}

void Count(const v1::InteractionRecord& r, bool exported,
           const std::vector<std::pair<std::string, int64_t>>& watermarks, ResponseTally& t) {
  ++t.responses;
  switch (r.outcome()) {
    case v1::OUTCOME_ACCEPTED: ++t.accepted; break;
    case v1::OUTCOME_REJECTED: ++t.rejected; break;
    case v1::OUTCOME_CLICKED: ++t.clicked; break;
    case v1::OUTCOME_IMPRESSION: ++t.impressions; break;
    default: ++t.other; break;
  }
  if (r.outcome() != v1::OUTCOME_ACCEPTED) return;
  if (r.has_value()) t.value_minor[r.value().currency()] += r.value().minor_units();
  if (!exported) return;
  t.done.resize(watermarks.size());
  t.waiting.resize(watermarks.size());
  for (size_t i = 0; i < watermarks.size(); ++i) {
    (r.sequence() <= watermarks[i].second ? t.done : t.waiting)[i]++;
  }
}

}  // namespace

absl::StatusOr<ReportTable> RunConversionsReport(Store& store, const ReportOptions& options,
                                                 std::string subtitle) {
  auto watermarks = store.watermarks().ListWatermarks();
  if (!watermarks.ok()) return watermarks.status();
  std::map<std::pair<std::string, std::string>, ResponseTally> tallies;  // (action, channel)
  std::map<std::string, std::optional<bool>> exports;                    // action -> ExportsConversions
  constexpr int kPage = 1000;
  for (int64_t after = 0;;) {
    auto page = store.interactions().ReadInteractions(after, kPage);
    if (!page.ok()) return page.status();
    for (const v1::InteractionRecord& r : *page) {
      after = r.sequence();
      const absl::Time t = absl::FromUnixSeconds(r.time().seconds()) + absl::Nanoseconds(r.time().nanos());
      if (t < options.from || t >= options.to) continue;
      const std::string action = ActionLabel(r.action());
      auto known = exports.find(action);
      if (known == exports.end()) known = exports.emplace(action, ExportsConversions(options, r.action())).first;
      Count(r, known->second.value_or(false), *watermarks, tallies[{action, r.channel()}]);
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }

  ReportTable table;
  table.subtitle = Cat(std::move(subtitle), "; responses of every campaign (they belong to actions)");
  table.columns = {{"action", "Action", K::kText},          {"channel", "Channel", K::kText},
                   {"exported", "Sent to ad platforms", K::kText},
                   {"responses", "Responses", K::kInteger}, {"accepted", "Accepted", K::kInteger},
                   {"rejected", "Rejected", K::kInteger},   {"clicked", "Clicked", K::kInteger},
                   {"impressions", "Impressions", K::kInteger}, {"other", "Other outcomes", K::kInteger},
                   {"accept_rate", "Accept rate %", K::kPercent}, {"value", "Accepted value", K::kText},
                   {"currency", "Currency", K::kText}};
  for (const auto& [name, value] : *watermarks) {
    table.columns.push_back({Cat("done:", name), Cat(name, ": done"), K::kInteger});
    table.columns.push_back({Cat("waiting:", name), Cat(name, ": waiting"), K::kInteger});
  }
  for (const auto& [key, t] : tallies) {
    const std::optional<bool> exported = exports[key.first];
    std::vector<ReportCell> row = {key.first, key.second,
                                   exported.has_value() ? ReportCell(std::string(*exported ? "yes" : "no"))
                                                        : ReportCell(std::string("not in the catalog")),
                                   t.responses, t.accepted, t.rejected, t.clicked, t.impressions, t.other,
                                   Percent(t.accepted, t.responses), ReportCell(), ReportCell()};
    auto value = t.value_minor.begin();
    if (value != t.value_minor.end()) {
      row[10] = Major(value->second, value->first);
      row[11] = value->first;
      ++value;
    }
    for (size_t i = 0; i < watermarks->size(); ++i) {
      const bool sent = exported.value_or(false);
      row.push_back(sent ? ReportCell(i < t.done.size() ? t.done[i] : 0) : ReportCell());
      row.push_back(sent ? ReportCell(i < t.waiting.size() ? t.waiting[i] : 0) : ReportCell());
    }
    table.rows.push_back(std::move(row));
    // Accepted values in further currencies: a row each, under the same
    // action and channel, with only the value.
    for (; value != t.value_minor.end(); ++value) {
      std::vector<ReportCell> more(table.columns.size());
      more[0] = key.first;
      more[1] = key.second;
      more[10] = Major(value->second, value->first);
      more[11] = value->first;
      table.rows.push_back(std::move(more));
    }
  }
  return table;
}

}  // namespace herald::internal
