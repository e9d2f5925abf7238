// The campaign reports: one scan of the events, aggregated per report.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/strings.h"
#include "herald/report.h"
#include "commerce.h"
#include "house_fill.h"
#include "herald/spelling.h"
#include "core/string_map.h"

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
    {"house-ad-fill", "House-ad fill",
     "per house ad: expected share of house impressions for the traffic's slot counts next to the actual "
     "share; slots left empty, by reason"},
    {"discount-usage", "Discount Usage",
     "per discount: times shown and clicked, committed orders it applied to, units discounted and amount off"},
    {"conversions", "Conversions",
     "per action and channel: captured responses by outcome, accepted value, and each export destination's "
     "conversions done and waiting"},
};

// The reports that read more of the store than its events.
bool ReadsOrdersOrResponses(std::string_view name) { return name == "discount-usage" || name == "conversions"; }

// Goals and names from the catalog.
struct ItemInfo {
  std::string id, name, campaign_id, campaign_name;
  bool paid = true;
  bool is_ad = true;
  bool known = true;  // in the catalog
  int64_t goal = 0;  // 0 = none
  std::string goal_event = "requests";
  int order = 0;  // catalog order
  std::string start, end;  // the schedule's first and last dates ("2026-06-01"); empty = open
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
      if (item.has_ad()) {
        const v1::Schedule& schedule = item.ad().schedule();
        info.start = (schedule.start().empty() ? c.start() : schedule.start()).substr(0, 10);
        info.end = (schedule.end().empty() ? c.end() : schedule.end()).substr(0, 10);
      }
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
    std::vector<std::string> known;
    for (const v1::Campaign& c : options.catalog->campaigns()) {
      known.push_back(c.id());
      if (!c.name().empty()) known.push_back(c.name());
    }
    return absl::NotFoundError(Cat("campaign \"", options.campaign, "\" is not in catalog \"",
                                   options.catalog->name(), "\"", DidYouMean(options.campaign, known)));
  }
  return index;
}

// Users are interned to dense ids during a scan (kNoUser: neither a user id
// nor a session id).
constexpr uint32_t kNoUser = ~uint32_t{0};

// One counter of events, users and requests.
struct Tally {
  int64_t requests = 0, clicks = 0, events = 0;
  absl::flat_hash_set<uint32_t> users;      // users with a request
  absl::flat_hash_set<uint32_t> any_users;  // users with any event (campaign-event-summary only)
  void Add(v1::EventType type, int64_t n, uint32_t user, bool any) {
    events += n;
    if (type == v1::EVENT_TYPE_REQUEST) {
      requests += n;
      if (user != kNoUser) users.insert(user);
    }
    if (type == v1::EVENT_TYPE_CLICK) clicks += n;
    if (any && user != kNoUser) any_users.insert(user);
  }
  int64_t reach() const { return static_cast<int64_t>(users.size()); }
};

// Strings to dense ids, in order of first sight.
class Interner {
 public:
  uint32_t Id(std::string_view s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(names_.size());
    ids_.emplace(std::string(s), id);
    names_.emplace_back(s);
    return id;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  StringMap<uint32_t> ids_;
  std::vector<std::string> names_;
};

uint64_t PairKey(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

// What a scan aggregates: each report asks only for what it shows.
enum Need : unsigned {
  kNeedItems = 1u << 0,         // by_item, item_campaign
  kNeedCampaigns = 1u << 1,     // by_campaign
  kNeedDayCampaigns = 1u << 2,  // by_day_campaign
  kNeedEvents = 1u << 3,        // by_event (with any_users)
  kNeedPages = 1u << 4,         // by_page
  kNeedDays = 1u << 5,          // by_day, item_day, days
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

// The civil day of an instant, cached over an interval known to lie in one
// day (up to the next local midnight or zone transition): a scan in time
// order formats each day once instead of once per event.
class DayOf {
 public:
  explicit DayOf(absl::TimeZone zone) : zone_(zone) {}
  // The day's index in order of first sight.
  uint32_t operator()(absl::Time t) {
    if (t >= lo_ && t < hi_) return current_;
    const absl::CivilDay day = absl::ToCivilDay(t, zone_);
    lo_ = t;
    hi_ = absl::FromCivil(day + 1, zone_);
    absl::TimeZone::CivilTransition transition;
    if (zone_.NextTransition(t, &transition)) {
      // FromCivil of an ambiguous civil time gives its earlier instant: never late.
      hi_ = std::min(hi_, absl::FromCivil(transition.to, zone_));
    }
    if (hi_ <= lo_) hi_ = lo_ + absl::Nanoseconds(1);
    current_ = names_.Id(absl::FormatTime("%Y-%m-%d", t, zone_));
    return current_;
  }
  const Interner& names() const { return names_; }

 private:
  absl::TimeZone zone_;
  absl::Time lo_ = absl::InfiniteFuture(), hi_ = absl::InfiniteFuture();
  uint32_t current_ = 0;
  Interner names_;
};

// The aggregates of one scan (of part of the range), keyed by ids interned
// during that scan.
struct PartialAggregates {
  explicit PartialAggregates(absl::TimeZone zone) : day_of(zone) {}
  Interner users, items, campaigns, pages, event_names;
  DayOf day_of;
  std::vector<Tally> by_item, by_campaign, by_day;
  std::vector<int64_t> item_campaign;  // item -> first campaign seen, -1 = none yet
  absl::flat_hash_map<uint64_t, Tally> by_day_campaign, by_event, by_page;
  absl::flat_hash_map<uint64_t, std::pair<int64_t, int64_t>> item_day;
};

absl::Status ScanPart(EventStore& store, const EventQuery& query, unsigned needs, PartialAggregates& p) {
  const bool any = (needs & kNeedEvents) != 0;
  std::string session_user;
  auto grow = [](std::vector<Tally>& v, uint32_t i) -> Tally& {
    if (i >= v.size()) v.resize(i + 1);
    return v[i];
  };
  return store.ScanEvents(query, [&](const v1::Event& e) -> absl::Status {
    const int64_t n = e.count() == 0 ? 1 : e.count();
    const v1::EventType type = e.type();
    if (type == v1::EVENT_TYPE_EMPTY_SLOT) return absl::OkStatus();  // no item: the house-ad fill report's
    uint32_t user = kNoUser;
    if (!e.user_id().empty()) {
      user = p.users.Id(e.user_id());
    } else if (!e.session_id().empty()) {
      session_user.assign("session:");
      session_user.append(e.session_id());
      user = p.users.Id(session_user);
    }
    const uint32_t campaign = p.campaigns.Id(e.campaign_id());
    uint32_t item = 0, day = 0;
    if (needs & (kNeedItems | kNeedDays)) item = p.items.Id(e.item_id());
    if (needs & (kNeedDayCampaigns | kNeedDays)) {
      day = p.day_of(absl::FromUnixSeconds(e.time().seconds()) + absl::Nanoseconds(e.time().nanos()));
    }
    if (needs & kNeedItems) {
      grow(p.by_item, item).Add(type, n, user, any);
      if (item >= p.item_campaign.size()) p.item_campaign.resize(item + 1, -1);
      if (p.item_campaign[item] < 0) p.item_campaign[item] = campaign;
    }
    if (needs & kNeedCampaigns) grow(p.by_campaign, campaign).Add(type, n, user, any);
    if (needs & kNeedDayCampaigns) p.by_day_campaign[PairKey(day, campaign)].Add(type, n, user, any);
    if (needs & kNeedEvents) {
      p.by_event[PairKey(campaign, p.event_names.Id(EventName(e)))].Add(type, n, user, any);
    }
    if (needs & kNeedPages) p.by_page[PairKey(p.pages.Id(e.page_group()), campaign)].Add(type, n, user, any);
    if (needs & kNeedDays) {
      grow(p.by_day, day).Add(type, n, user, any);
      auto& id = p.item_day[PairKey(item, day)];
      if (type == v1::EVENT_TYPE_REQUEST) id.first += n;
      if (type == v1::EVENT_TYPE_CLICK) id.second += n;
    }
    return absl::OkStatus();
  });
}

// Adds a part (parts are merged in time order) to `agg`; `users` interns the
// users of every part, so that reach counts a user seen in two parts once.
void MergePart(PartialAggregates& p, Interner& users, Aggregates& agg) {
  std::vector<uint32_t> remap(p.users.size());
  for (uint32_t i = 0; i < remap.size(); ++i) remap[i] = users.Id(p.users.Name(i));
  auto add = [&](Tally& into, const Tally& from) {
    into.requests += from.requests;
    into.clicks += from.clicks;
    into.events += from.events;
    for (uint32_t u : from.users) into.users.insert(remap[u]);
    for (uint32_t u : from.any_users) into.any_users.insert(remap[u]);
  };
  const Interner& days = p.day_of.names();
  auto high = [](uint64_t key) { return static_cast<uint32_t>(key >> 32); };
  auto low = [](uint64_t key) { return static_cast<uint32_t>(key); };
  for (uint32_t i = 0; i < p.by_item.size(); ++i) {
    add(agg.by_item[p.items.Name(i)], p.by_item[i]);
    if (i < p.item_campaign.size() && p.item_campaign[i] >= 0 && !agg.item_campaign.contains(p.items.Name(i))) {
      agg.item_campaign[p.items.Name(i)] = p.campaigns.Name(static_cast<uint32_t>(p.item_campaign[i]));
    }
  }
  for (uint32_t i = 0; i < p.by_campaign.size(); ++i) add(agg.by_campaign[p.campaigns.Name(i)], p.by_campaign[i]);
  for (const auto& [key, t] : p.by_day_campaign) {
    add(agg.by_day_campaign[{days.Name(high(key)), p.campaigns.Name(low(key))}], t);
  }
  for (const auto& [key, t] : p.by_event) {
    add(agg.by_event[{p.campaigns.Name(high(key)), p.event_names.Name(low(key))}], t);
  }
  for (const auto& [key, t] : p.by_page) add(agg.by_page[{p.pages.Name(high(key)), p.campaigns.Name(low(key))}], t);
  for (uint32_t i = 0; i < days.size(); ++i) agg.days.insert(days.Name(i));
  for (uint32_t i = 0; i < p.by_day.size(); ++i) add(agg.by_day[days.Name(i)], p.by_day[i]);
  for (const auto& [key, counts] : p.item_day) {
    auto& into = agg.item_day[{p.items.Name(high(key)), days.Name(low(key))}];
    into.first += counts.first;
    into.second += counts.second;
  }
}

// One scan of the events, computing the aggregates in `needs` (a Need mask).
// Strings are interned during the scan and the keyed maps built at the end.
// A bounded range is scanned in two halves side by side (the store is safe
// for concurrent use) and the halves merged: the same aggregates, sooner.
absl::StatusOr<Aggregates> Aggregate(EventStore& store, const ReportOptions& options,
                                     const CatalogIndex& index, unsigned needs) {
  auto zone = ReportZone(options);
  if (!zone.ok()) return zone.status();
  EventQuery query;
  query.from = options.from;
  query.to = options.to;
  query.campaign_id = index.campaign_filter;
  std::vector<EventQuery> parts = {query};
  if (query.from != absl::InfinitePast() && query.to != absl::InfiniteFuture() &&
      query.to - query.from >= absl::Hours(2) && std::thread::hardware_concurrency() >= 2) {
    const absl::Time mid = query.from + absl::Trunc((query.to - query.from) / 2, absl::Seconds(1));
    parts.push_back(query);
    parts[0].to = mid;
    parts[1].from = mid;
  }
  std::vector<std::unique_ptr<PartialAggregates>> partials;
  for (size_t i = 0; i < parts.size(); ++i) partials.push_back(std::make_unique<PartialAggregates>(*zone));
  std::vector<absl::Status> results(parts.size());
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < parts.size(); ++i) {
    helpers.emplace_back([&, i] { results[i] = ScanPart(store, parts[i], needs, *partials[i]); });
  }
  results[0] = ScanPart(store, parts[0], needs, *partials[0]);
  for (std::thread& t : helpers) t.join();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  Aggregates agg;
  Interner users;
  for (auto& p : partials) MergePart(*p, users, agg);
  return agg;
}

// The aggregates report `name` shows.
unsigned NeedsOf(std::string_view name) {
  if (name == "campaign-item-summary" || name == "reach-frequency-item") return kNeedItems;
  if (name == "reach-frequency-day") return kNeedDayCampaigns;
  if (name == "reach-frequency-campaign") return kNeedCampaigns;
  if (name == "campaign-event-summary") return kNeedEvents;
  return kNeedPages;  // ad-placement
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

namespace {

absl::StatusOr<const ReportInfo*> KnownReport(std::string_view name) {
  const ReportInfo* info = FindReport(name);
  if (info != nullptr) return info;
  std::string known;
  for (const ReportInfo& r : kReports) CatTo(known, known.empty() ? "" : ", ", r.name);
  return absl::NotFoundError(Cat("unknown report \"", name, "\"; the reports are: ", known));
}

}  // namespace

absl::StatusOr<ReportTable> RunReport(std::string_view name, Store& store, const ReportOptions& options) {
  if (!ReadsOrdersOrResponses(name)) return RunReport(name, store.events(), options);
  auto info = KnownReport(name);
  if (!info.ok()) return info.status();
  auto index = IndexCatalog(options);
  if (!index.ok()) return index.status();
  auto zone = ReportZone(options);
  if (!zone.ok()) return zone.status();
  std::string subtitle = Subtitle(options, *index, *zone);
  auto table = name == "conversions"
                   ? internal::RunConversionsReport(store, options, std::move(subtitle))
                   : internal::RunDiscountUsageReport(store, options, index->campaign_filter, std::move(subtitle));
  if (!table.ok()) return table.status();
  table->name = std::string((*info)->name);
  table->title = std::string((*info)->title);
  return table;
}

namespace {

using K = ColumnKind;

void SetColumns(ReportTable& table, std::initializer_list<ReportColumn> columns) {
  table.columns = columns;
}

// The campaign-item-summary report's columns and rows: per ad, its goal,
// delivery and what remains.
void ItemSummaryRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg) {
  SetColumns(table, {{"campaign", "Campaign", K::kText},
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
  for (const ItemInfo& item : ItemsToList(index, agg)) {
    auto it = agg.by_item.find(item.id);
    const Tally empty;
    const Tally& t = it == agg.by_item.end() ? empty : it->second;
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
}

// The reach-frequency-day report's columns and rows: per day and campaign.
void ReachPerDayRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg) {
  SetColumns(table, {{"date", "Date", K::kDate},
                     {"campaign", "Campaign", K::kText},
                     {"requests", "Requests", K::kInteger},
                     {"clicks", "Clicks", K::kInteger},
                     {"reach", "Reach", K::kInteger},
                     {"frequency", "Frequency", K::kDecimal}});
  for (const auto& [key, t] : agg.by_day_campaign) {
    table.rows.push_back({key.first, CampaignName(index, key.second), t.requests, t.clicks,
                          t.reach(), Frequency(t.requests, t.reach())});
  }
}

// The reach-frequency-item report's columns and rows: per campaign item.
void ReachPerItemRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg) {
  SetColumns(table, {{"campaign", "Campaign", K::kText},
                     {"item", "Item", K::kText},
                     {"requests", "Requests", K::kInteger},
                     {"clicks", "Clicks", K::kInteger},
                     {"reach", "Reach", K::kInteger},
                     {"frequency", "Frequency", K::kDecimal}});
  for (const ItemInfo& item : ItemsToList(index, agg)) {
    auto it = agg.by_item.find(item.id);
    const Tally empty;
    const Tally& t = it == agg.by_item.end() ? empty : it->second;
    table.rows.push_back({item.campaign_name, item.name, t.requests, t.clicks, t.reach(),
                          Frequency(t.requests, t.reach())});
  }
}

// The reach-frequency-campaign report's columns and rows: per campaign, in
// catalog order, campaigns without events included.
void ReachPerCampaignRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg,
                          const ReportOptions& options) {
  SetColumns(table, {{"campaign", "Campaign", K::kText},
                     {"requests", "Requests", K::kInteger},
                     {"clicks", "Clicks", K::kInteger},
                     {"reach", "Reach", K::kInteger},
                     {"frequency", "Frequency", K::kDecimal}});
  std::vector<std::string> ids;
  for (const auto& [id, t] : agg.by_campaign) ids.push_back(id);
  if (options.catalog != nullptr) {
    for (const v1::Campaign& c : options.catalog->campaigns()) {
      if ((index.campaign_filter.empty() || c.id() == index.campaign_filter) &&
          !agg.by_campaign.contains(c.id())) {
        ids.push_back(c.id());
      }
    }
  }
  auto order = [&](const std::string& id) {
    auto it = index.campaign_order.find(id);
    return it == index.campaign_order.end() ? 1 << 30 : it->second;
  };
  std::stable_sort(ids.begin(), ids.end(),
                   [&](const auto& a, const auto& b) { return order(a) < order(b); });
  for (const std::string& id : ids) {
    auto it = agg.by_campaign.find(id);
    const Tally empty;
    const Tally& t = it == agg.by_campaign.end() ? empty : it->second;
    table.rows.push_back({CampaignName(index, id), t.requests, t.clicks, t.reach(),
                          Frequency(t.requests, t.reach())});
  }
}

// The campaign-event-summary report's columns and rows: per campaign and event type.
void EventSummaryRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg) {
  SetColumns(table, {{"campaign", "Campaign", K::kText},
                     {"event", "Event", K::kText},
                     {"events", "Events", K::kInteger},
                     {"users", "Users", K::kInteger},
                     {"events_per_user", "Events per user", K::kDecimal}});
  for (const auto& [key, t] : agg.by_event) {
    const auto users = static_cast<int64_t>(t.any_users.size());
    table.rows.push_back({CampaignName(index, key.first), key.second, t.events, users,
                          Frequency(t.events, users)});
  }
}

// The ad-placement report's columns and rows: per page group and campaign.
void PlacementRows(ReportTable& table, const CatalogIndex& index, const Aggregates& agg) {
  SetColumns(table, {{"page_group", "Page group", K::kText},
                     {"campaign", "Campaign", K::kText},
                     {"requests", "Requests", K::kInteger},
                     {"clicks", "Clicks", K::kInteger},
                     {"click_rate", "Click rate %", K::kPercent},
                     {"reach", "Reach", K::kInteger}});
  for (const auto& [key, t] : agg.by_page) {
    table.rows.push_back({key.first.empty() ? "(none)" : key.first,
                          CampaignName(index, key.second), t.requests, t.clicks,
                          Rate(t.clicks, t.requests), t.reach()});
  }
}

}  // namespace

absl::StatusOr<ReportTable> RunReport(std::string_view name, EventStore& events,
                                      const ReportOptions& options) {
  auto known = KnownReport(name);
  if (!known.ok()) return known.status();
  const ReportInfo* info = *known;
  if (ReadsOrdersOrResponses(name)) {
    return absl::FailedPreconditionError(
        Cat("report \"", name, "\" reads committed orders and interaction history: run it on a Store"));
  }
  auto index = IndexCatalog(options);
  if (!index.ok()) return index.status();
  auto zone = ReportZone(options);
  if (!zone.ok()) return zone.status();
  if (name == "house-ad-fill") {
    auto table = internal::RunHouseAdFillReport(events, options, Subtitle(options, *index, *zone));
    if (!table.ok()) return table.status();
    table->name = std::string(info->name);
    table->title = std::string(info->title);
    return table;
  }
  auto agg = Aggregate(events, options, *index, NeedsOf(name));
  if (!agg.ok()) return agg.status();

  ReportTable table;
  table.name = std::string(info->name);
  table.title = std::string(info->title);
  table.subtitle = Subtitle(options, *index, *zone);
  if (name == "campaign-item-summary") {
    ItemSummaryRows(table, *index, *agg);
  } else if (name == "reach-frequency-day") {
    ReachPerDayRows(table, *index, *agg);
  } else if (name == "reach-frequency-item") {
    ReachPerItemRows(table, *index, *agg);
  } else if (name == "reach-frequency-campaign") {
    ReachPerCampaignRows(table, *index, *agg, options);
  } else if (name == "campaign-event-summary") {
    EventSummaryRows(table, *index, *agg);
  } else {  // ad-placement
    PlacementRows(table, *index, *agg);
  }
  return table;
}

namespace {

// Days since 1970-01-01 of a "YYYY-MM-DD" date; nullopt when it is not one.
std::optional<int64_t> CivilDayNumber(std::string_view date) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(absl::string_view(date.data(), date.size()), &day)) return std::nullopt;
  return day - absl::CivilDay(1970, 1, 1);
}

// The goal spread evenly over the schedule's days, at the end of each of `days`.
std::vector<std::pair<std::string, int64_t>> ExpectedPace(const ItemInfo& item, const std::set<std::string>& days) {
  std::vector<std::pair<std::string, int64_t>> out;
  const std::optional<int64_t> first = CivilDayNumber(item.start), last = CivilDayNumber(item.end);
  if (item.goal <= 0 || !first || !last || *last < *first) return out;
  const double span = static_cast<double>(*last - *first + 1);
  for (const std::string& day : days) {
    const std::optional<int64_t> n = CivilDayNumber(day);
    if (!n) continue;
    const double elapsed = std::clamp(static_cast<double>(*n - *first + 1), 0.0, span);
    out.emplace_back(day, static_cast<int64_t>(std::llround(static_cast<double>(item.goal) * elapsed / span)));
  }
  return out;
}

}  // namespace

absl::StatusOr<ReportCharts> BuildReportCharts(EventStore& events, const ReportOptions& options) {
  auto index = IndexCatalog(options);
  if (!index.ok()) return index.status();
  auto agg = Aggregate(events, options, *index, kNeedItems | kNeedDays);
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
    series.expected = ExpectedPace(item, agg->days);
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
