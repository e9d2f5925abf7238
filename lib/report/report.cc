// The campaign reports: one scan of the events, aggregated per report.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/strings.h"
#include "herald/report.h"
#include "herald/string_map.h"

namespace herald {
namespace {

constexpr ReportInfo kReports[] = {
    {"campaign-item-summary", "Campaign Item Summary",
     "per ad: goal, requests, clicks, click rate, delivered and remaining to goal"},
    {"reach-frequency-day", "Ad Reach and Frequency per Day",
     "per day and campaign: distinct users reached and requests per user"},
    {"reach-frequency-item", "Ad Reach and Frequency per Campaign Item",
     "per campaign item, over the whole range"},
    {"reach-frequency-campaign", "Ad Reach and Frequency per Campaign",
     "per campaign, over the whole range"},
    {"campaign-event-summary", "Campaign Event Summary",
     "per campaign and event type: events and distinct users"},
    {"ad-placement", "Ad Placement", "per page group and campaign: requests, clicks, reach"},
};

// Goals and names from the catalog.
struct ItemInfo {
  std::string id, name, campaign_id, campaign_name;
  bool paid = true;
  bool is_ad = true;
  bool known = true;  // in the catalog
  int64_t goal = 0;  // 0 = none
  std::string goal_event = "requests";
  int order = 0;  // catalog order
};

struct CatalogIndex {
  StringMap<ItemInfo> items;
  StringMap<std::string> campaign_names;
  StringMap<int> campaign_order;
  std::string campaign_filter;  // resolved campaign id, or empty
};

absl::StatusOr<CatalogIndex> IndexCatalog(const ReportOptions& options) {
  CatalogIndex index;
  if (options.catalog == nullptr) {
    index.campaign_filter = options.campaign;
    return index;
  }
  int order = 0;
  bool found = options.campaign.empty();
  for (const v1::Campaign& c : options.catalog->campaigns()) {
    if (!options.campaign.empty() && (c.id() == options.campaign || c.name() == options.campaign)) {
      index.campaign_filter = c.id();
      found = true;
    }
    index.campaign_names[c.id()] = c.name().empty() ? c.id() : c.name();
    index.campaign_order[c.id()] = static_cast<int>(index.campaign_order.size());
    // Paid ads and their goals.
    std::vector<const v1::CampaignItem*> paid;
    std::vector<double> weights;
    for (const v1::CampaignItem& item : c.items()) {
      if (item.has_ad() && item.ad().type() != v1::AD_TYPE_HOUSE) {
        paid.push_back(&item);
        weights.push_back(item.ad().weight() > 0 ? item.ad().weight() : 1.0);
      }
    }
    std::vector<int64_t> split;
    if (c.goaling() == v1::GOALING_LEVEL_CAMPAIGN) split = SplitByWeight(c.quantity_ordered(), weights);
    for (const v1::CampaignItem& item : c.items()) {
      ItemInfo info;
      info.id = item.id();
      info.name = item.name().empty() ? item.id() : item.name();
      info.campaign_id = c.id();
      info.campaign_name = index.campaign_names[c.id()];
      info.is_ad = item.has_ad();
      info.paid = item.has_ad() && item.ad().type() != v1::AD_TYPE_HOUSE;
      info.goal_event = c.goal_event() == v1::GOAL_EVENT_CLICKS ? "clicks" : "requests";
      info.order = order++;
      if (info.paid) {
        if (c.goaling() == v1::GOALING_LEVEL_CAMPAIGN) {
          auto it = std::find(paid.begin(), paid.end(), &item);
          info.goal = split[static_cast<size_t>(it - paid.begin())];
        } else {
          info.goal = item.ad().quantity();
        }
      }
      index.items[item.id()] = std::move(info);
    }
  }
  if (!found) {
    return absl::NotFoundError(Cat("campaign \"", options.campaign, "\" is not in catalog \"",
                                   options.catalog->name(), "\""));
  }
  return index;
}

// One counter of events, users and requests.
struct Tally {
  int64_t requests = 0, clicks = 0, events = 0;
  absl::flat_hash_set<std::string> users;  // users with a request
  absl::flat_hash_set<std::string> any_users;  // users with any event
  void Add(const v1::Event& e, int64_t n, const std::string& user) {
    events += n;
    if (e.type() == v1::EVENT_TYPE_REQUEST) {
      requests += n;
      if (!user.empty()) users.insert(user);
    }
    if (e.type() == v1::EVENT_TYPE_CLICK) clicks += n;
    if (!user.empty()) any_users.insert(user);
  }
  int64_t reach() const { return static_cast<int64_t>(users.size()); }
};

struct Aggregates {
  std::map<std::string, Tally> by_item;                                   // item id
  std::map<std::string, Tally> by_campaign;                               // campaign id
  std::map<std::pair<std::string, std::string>, Tally> by_day_campaign;   // (day, campaign id)
  std::map<std::pair<std::string, std::string>, Tally> by_event;          // (campaign id, event name)
  std::map<std::pair<std::string, std::string>, Tally> by_page;           // (page group, campaign id)
  std::map<std::string, Tally> by_day;                                    // day
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> item_day;  // (item, day) -> (requests, clicks)
  StringMap<std::string> item_campaign;  // item id -> campaign id seen in events
  std::set<std::string> days;
};

std::string EventName(const v1::Event& e) {
  switch (e.type()) {
    case v1::EVENT_TYPE_REQUEST: return "request";
    case v1::EVENT_TYPE_CLICK: return "click";
    case v1::EVENT_TYPE_SOLD: return "sold";
    case v1::EVENT_TYPE_CUSTOM: return e.custom_name().empty() ? "custom" : e.custom_name();
    default: return "unspecified";
  }
}

absl::StatusOr<absl::TimeZone> ReportZone(const ReportOptions& options) {
  std::string name = options.time_zone;
  if (name.empty() && options.catalog != nullptr) name = options.catalog->time_zone();
  if (name.empty() || name == "UTC") return absl::UTCTimeZone();
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(Cat("report: unknown time zone \"", name, "\""));
  }
  return zone;
}

absl::StatusOr<Aggregates> Aggregate(EventStore& store, const ReportOptions& options,
                                     const CatalogIndex& index) {
  auto zone = ReportZone(options);
  if (!zone.ok()) return zone.status();
  EventQuery query;
  query.from = options.from;
  query.to = options.to;
  query.campaign_id = index.campaign_filter;
  Aggregates agg;
  std::string user, day;
  absl::Status s = store.ScanEvents(query, [&](const v1::Event& e) -> absl::Status {
    const int64_t n = e.count() == 0 ? 1 : e.count();
    user = !e.user_id().empty() ? e.user_id()
                                : (!e.session_id().empty() ? "session:" + e.session_id() : "");
    const absl::Time t = absl::FromUnixSeconds(e.time().seconds()) + absl::Nanoseconds(e.time().nanos());
    day = absl::FormatTime("%Y-%m-%d", t, *zone);
    agg.days.insert(day);
    agg.by_item[e.item_id()].Add(e, n, user);
    agg.by_campaign[e.campaign_id()].Add(e, n, user);
    agg.by_day_campaign[{day, e.campaign_id()}].Add(e, n, user);
    agg.by_event[{e.campaign_id(), EventName(e)}].Add(e, n, user);
    agg.by_page[{e.page_group(), e.campaign_id()}].Add(e, n, user);
    agg.by_day[day].Add(e, n, user);
    auto& id = agg.item_day[{e.item_id(), day}];
    if (e.type() == v1::EVENT_TYPE_REQUEST) id.first += n;
    if (e.type() == v1::EVENT_TYPE_CLICK) id.second += n;
    if (!agg.item_campaign.contains(e.item_id())) agg.item_campaign[e.item_id()] = e.campaign_id();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return agg;
}

std::string CampaignName(const CatalogIndex& index, const std::string& id) {
  auto it = index.campaign_names.find(id);
  if (it != index.campaign_names.end()) return it->second;
  return id.empty() ? "(none)" : id;
}

ReportCell Rate(int64_t part, int64_t whole) {
  if (whole == 0) return std::monostate{};
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

ReportCell Frequency(int64_t events, int64_t reach) {
  if (reach == 0) return std::monostate{};
  return static_cast<double>(events) / static_cast<double>(reach);
}

// Items to list: the catalog's ads of the selected campaigns (in catalog
// order), then items only seen in events (by id).
std::vector<ItemInfo> ItemsToList(const CatalogIndex& index, const Aggregates& agg) {
  std::vector<ItemInfo> out;
  for (const auto& [id, info] : index.items) {
    if (!info.is_ad) {
      if (!agg.by_item.contains(id)) continue;
    }
    if (!index.campaign_filter.empty() && info.campaign_id != index.campaign_filter) continue;
    out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const ItemInfo& a, const ItemInfo& b) { return a.order < b.order; });
  for (const auto& [id, tally] : agg.by_item) {
    if (index.items.contains(id)) continue;
    ItemInfo info;
    info.id = id;
    info.name = id.empty() ? "(none)" : id;
    auto c = agg.item_campaign.find(id);
    info.campaign_id = c == agg.item_campaign.end() ? "" : c->second;
    info.campaign_name = CampaignName(index, info.campaign_id);
    info.paid = false;
    info.known = false;
    out.push_back(std::move(info));
  }
  return out;
}

std::string Subtitle(const ReportOptions& options, const CatalogIndex& index,
                     absl::TimeZone zone) {
  std::string out;
  auto date = [&](absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M", t, zone); };
  if (options.from == absl::InfinitePast() && options.to == absl::InfiniteFuture()) {
    out = "all events";
  } else {
    out = Cat(options.from == absl::InfinitePast() ? "the beginning" : date(options.from), " to ",
              options.to == absl::InfiniteFuture() ? "now" : date(options.to), " (",
              zone.name(), ")");
  }
  if (!index.campaign_filter.empty()) {
    CatTo(out, ", campaign \"", CampaignName(index, index.campaign_filter), "\"");
  }
  return out;
}

const ReportInfo* FindReport(std::string_view name) {
  for (const ReportInfo& r : kReports) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace

std::span<const ReportInfo> ReportNames() { return kReports; }

std::vector<int64_t> SplitByWeight(int64_t quantity, std::span<const double> weights) {
  std::vector<int64_t> out(weights.size(), 0);
  double total = 0;
  for (double w : weights) total += w > 0 ? w : 0;
  if (total <= 0 || quantity <= 0) return out;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(quantity) * (weights[i] > 0 ? weights[i] : 0) / total;
    out[i] = static_cast<int64_t>(std::floor(exact + 1e-9));
    assigned += out[i];
    remainders.emplace_back(exact - static_cast<double>(out[i]), i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < quantity && k < remainders.size(); ++k, ++assigned) {
    out[remainders[k].second]++;
  }
  return out;
}

absl::StatusOr<ReportTable> RunReport(std::string_view name, EventStore& events,
                                      const ReportOptions& options) {
  const ReportInfo* info = FindReport(name);
  if (info == nullptr) {
    std::string known;
    for (const ReportInfo& r : kReports) CatTo(known, known.empty() ? "" : ", ", r.name);
    return absl::NotFoundError(Cat("unknown report \"", name, "\"; the reports are: ", known));
  }
  auto index = IndexCatalog(options);
  if (!index.ok()) return index.status();
  auto zone = ReportZone(options);
  if (!zone.ok()) return zone.status();
  auto agg = Aggregate(events, options, *index);
  if (!agg.ok()) return agg.status();

  ReportTable table;
  table.name = std::string(info->name);
  table.title = std::string(info->title);
  table.subtitle = Subtitle(options, *index, *zone);
  using K = ColumnKind;
  auto add_columns = [&](std::initializer_list<ReportColumn> columns) { table.columns = columns; };

  if (name == "campaign-item-summary") {
    add_columns({{"campaign", "Campaign", K::kText},
                 {"item", "Item", K::kText},
                 {"type", "Type", K::kText},
                 {"goal_event", "Goal event", K::kText},
                 {"goal", "Goal", K::kInteger},
                 {"requests", "Requests", K::kInteger},
                 {"clicks", "Clicks", K::kInteger},
                 {"click_rate", "Click rate %", K::kPercent},
                 {"delivered", "Delivered", K::kInteger},
                 {"remaining", "Remaining", K::kInteger},
                 {"delivered_pct", "Delivered %", K::kPercent}});
    for (const ItemInfo& item : ItemsToList(*index, *agg)) {
      auto it = agg->by_item.find(item.id);
      const Tally empty;
      const Tally& t = it == agg->by_item.end() ? empty : it->second;
      const int64_t delivered = item.goal_event == "clicks" ? t.clicks : t.requests;
      std::vector<ReportCell> row = {item.campaign_name,
                                     item.name,
                                     !item.known ? ReportCell()
                                                 : ReportCell(std::string(
                                                       !item.is_ad ? "other" : (item.paid ? "paid" : "house"))),
                                     item.paid ? ReportCell(item.goal_event) : ReportCell(),
                                     item.goal > 0 ? ReportCell(item.goal) : ReportCell(),
                                     t.requests,
                                     t.clicks,
                                     Rate(t.clicks, t.requests),
                                     delivered,
                                     item.goal > 0 ? ReportCell(std::max<int64_t>(item.goal - delivered, 0))
                                                   : ReportCell(),
                                     item.goal > 0 ? Rate(delivered, item.goal) : ReportCell()};
      table.rows.push_back(std::move(row));
    }
  } else if (name == "reach-frequency-day") {
    add_columns({{"date", "Date", K::kDate},
                 {"campaign", "Campaign", K::kText},
                 {"requests", "Requests", K::kInteger},
                 {"clicks", "Clicks", K::kInteger},
                 {"reach", "Reach", K::kInteger},
                 {"frequency", "Frequency", K::kDecimal}});
    for (const auto& [key, t] : agg->by_day_campaign) {
      table.rows.push_back({key.first, CampaignName(*index, key.second), t.requests, t.clicks,
                            t.reach(), Frequency(t.requests, t.reach())});
    }
  } else if (name == "reach-frequency-item") {
    add_columns({{"campaign", "Campaign", K::kText},
                 {"item", "Item", K::kText},
                 {"requests", "Requests", K::kInteger},
                 {"clicks", "Clicks", K::kInteger},
                 {"reach", "Reach", K::kInteger},
                 {"frequency", "Frequency", K::kDecimal}});
    for (const ItemInfo& item : ItemsToList(*index, *agg)) {
      auto it = agg->by_item.find(item.id);
      const Tally empty;
      const Tally& t = it == agg->by_item.end() ? empty : it->second;
      table.rows.push_back({item.campaign_name, item.name, t.requests, t.clicks, t.reach(),
                            Frequency(t.requests, t.reach())});
    }
  } else if (name == "reach-frequency-campaign") {
    add_columns({{"campaign", "Campaign", K::kText},
                 {"requests", "Requests", K::kInteger},
                 {"clicks", "Clicks", K::kInteger},
                 {"reach", "Reach", K::kInteger},
                 {"frequency", "Frequency", K::kDecimal}});
    std::vector<std::string> ids;
    for (const auto& [id, t] : agg->by_campaign) ids.push_back(id);
    if (options.catalog != nullptr) {
      for (const v1::Campaign& c : options.catalog->campaigns()) {
        if ((index->campaign_filter.empty() || c.id() == index->campaign_filter) &&
            !agg->by_campaign.contains(c.id())) {
          ids.push_back(c.id());
        }
      }
    }
    auto order = [&](const std::string& id) {
      auto it = index->campaign_order.find(id);
      return it == index->campaign_order.end() ? 1 << 30 : it->second;
    };
    std::stable_sort(ids.begin(), ids.end(),
                     [&](const auto& a, const auto& b) { return order(a) < order(b); });
    for (const std::string& id : ids) {
      auto it = agg->by_campaign.find(id);
      const Tally empty;
      const Tally& t = it == agg->by_campaign.end() ? empty : it->second;
      table.rows.push_back({CampaignName(*index, id), t.requests, t.clicks, t.reach(),
                            Frequency(t.requests, t.reach())});
    }
  } else if (name == "campaign-event-summary") {
    add_columns({{"campaign", "Campaign", K::kText},
                 {"event", "Event", K::kText},
                 {"events", "Events", K::kInteger},
                 {"users", "Users", K::kInteger},
                 {"events_per_user", "Events per user", K::kDecimal}});
    for (const auto& [key, t] : agg->by_event) {
      const auto users = static_cast<int64_t>(t.any_users.size());
      table.rows.push_back({CampaignName(*index, key.first), key.second, t.events, users,
                            Frequency(t.events, users)});
    }
  } else {  // ad-placement
    add_columns({{"page_group", "Page group", K::kText},
                 {"campaign", "Campaign", K::kText},
                 {"requests", "Requests", K::kInteger},
                 {"clicks", "Clicks", K::kInteger},
                 {"click_rate", "Click rate %", K::kPercent},
                 {"reach", "Reach", K::kInteger}});
    for (const auto& [key, t] : agg->by_page) {
      table.rows.push_back({key.first.empty() ? "(none)" : key.first,
                            CampaignName(*index, key.second), t.requests, t.clicks,
                            Rate(t.clicks, t.requests), t.reach()});
    }
  }
  return table;
}

absl::StatusOr<ReportCharts> BuildReportCharts(EventStore& events, const ReportOptions& options) {
  auto index = IndexCatalog(options);
  if (!index.ok()) return index.status();
  auto agg = Aggregate(events, options, *index);
  if (!agg.ok()) return agg.status();
  ReportCharts charts;
  for (const ItemInfo& item : ItemsToList(*index, *agg)) {
    if (!item.is_ad && !agg->by_item.contains(item.id)) continue;
    DeliverySeries series;
    series.campaign = item.campaign_name;
    series.item = item.name;
    series.goal_event = item.goal_event;
    series.goal = item.goal;
    int64_t so_far = 0;
    for (const std::string& day : agg->days) {
      auto it = agg->item_day.find({item.id, day});
      if (it != agg->item_day.end()) {
        so_far += item.goal_event == "clicks" ? it->second.second : it->second.first;
      }
      series.cumulative.emplace_back(day, so_far);
    }
    charts.delivery.push_back(std::move(series));
  }
  for (const auto& [day, t] : agg->by_day) {
    ReachDay r;
    r.day = day;
    r.requests = t.requests;
    r.reach = t.reach();
    r.frequency = t.reach() == 0 ? 0 : static_cast<double>(t.requests) / static_cast<double>(t.reach());
    charts.reach.push_back(r);
  }
  return charts;
}

}  // namespace herald
