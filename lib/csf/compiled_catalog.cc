#include <atomic>
#include "core/strings.h"
#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/catalog_schemas.h"
#include "core/input_check.h"
#include "core/time_util.h"
#include "csf/target_groups.h"
#include "herald/campaign_cache.h"
#include "herald/selection.h"
#include "herald/catalog.h"

namespace herald {

std::string_view EmptySlotReasonName(EmptySlotReason reason) {
  switch (reason) {
    case EmptySlotReason::kNone: return "none";
    case EmptySlotReason::kNoHouseAd: return "no_house_ad";
    case EmptySlotReason::kIndustryConflict: return "industry_conflict";
    case EmptySlotReason::kPageHistory: return "page_history";
    case EmptySlotReason::kAllShown: return "all_shown";
  }
  return "none";
}

std::string_view ItemKindName(ItemKind kind) {
  switch (kind) {
    case ItemKind::kPaidAd: return "paid";
    case ItemKind::kHouseAd: return "house";
    case ItemKind::kDiscount: return "discount";
  }
  return "?";
}

int WeekdayIndex(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday: return 0;
    case absl::Weekday::tuesday: return 1;
    case absl::Weekday::wednesday: return 2;
    case absl::Weekday::thursday: return 3;
    case absl::Weekday::friday: return 4;
    case absl::Weekday::saturday: return 5;
    case absl::Weekday::sunday: return 6;
  }
  return 0;
}

namespace {

constexpr int kSecondsPerDay = 86400;
const absl::CivilDay kEpochDay(1970, 1, 1);

// Seconds of [lo, hi) (seconds of a local day) inside the schedule's windows.
double OpenSecondsInDay(const CompiledSchedule& s, int lo, int hi) {
  if (hi <= lo) return 0;
  if (s.minutes.empty()) return hi - lo;
  double open = 0;
  auto add = [&](int a, int b) {
    int x = std::max(a, lo), y = std::min(b, hi);
    if (y > x) open += y - x;
  };
  for (auto [from, to] : s.minutes) {
    if (from < to) {
      add(from * 60, to * 60);
    } else {  // wraps past midnight: [from, 24:00) and [00:00, to)
      add(from * 60, kSecondsPerDay);
      add(0, to * 60);
    }
  }
  return open;
}

int SecondOfDay(absl::CivilSecond cs) { return cs.hour() * 3600 + cs.minute() * 60 + cs.second(); }

// Fills the cumulative deliverable time of a finite schedule.
void PrepareSchedule(CompiledSchedule* s, absl::TimeZone zone) {
  s->all_day = s->days_mask == 0x7f && s->minutes.empty();
  s->cumulative_seconds.clear();
  s->total_seconds = 0;
  s->days = 0;
  if (s->start == absl::InfinitePast() || s->end == absl::InfiniteFuture()) return;
  absl::CivilSecond first = absl::ToCivilSecond(s->start, zone);
  absl::CivilSecond last = absl::ToCivilSecond(s->end, zone);
  absl::CivilDay first_day(first);
  s->first_day = first_day - kEpochDay;
  s->start_second = SecondOfDay(first);
  absl::CivilDay last_day(last);
  s->end_second = SecondOfDay(last);
  if (s->end_second == 0 && last_day > first_day) {  // ends at midnight: the day before is last
    last_day -= 1;
    s->end_second = kSecondsPerDay;
  }
  double total = 0;
  for (absl::CivilDay day = first_day; day <= last_day; ++day) {
    s->cumulative_seconds.push_back(total);
    if (!(s->days_mask & (1u << WeekdayIndex(day)))) continue;
    int lo = day == first_day ? s->start_second : 0;
    int hi = day == last_day ? s->end_second : kSecondsPerDay;
    total += OpenSecondsInDay(*s, lo, hi);
  }
  s->total_seconds = total;
  s->days = static_cast<int32_t>(s->cumulative_seconds.size());
}

}  // namespace

bool CompiledSchedule::OpenAt(int weekday, int minute_of_day) const {
  if (!(days_mask & (1u << weekday))) return false;
  if (minutes.empty()) return true;
  for (auto [from, to] : minutes) {
    if (from < to ? (minute_of_day >= from && minute_of_day < to)
                  : (minute_of_day >= from || minute_of_day < to)) {
      return true;
    }
  }
  return false;
}

double CompiledSchedule::DeliverableSecondsUntil(absl::Time t, const LocalTime& local) const {
  if (days == 0 || t <= start) return 0;
  if (t >= end) return total_seconds;
  int64_t d = local.day - first_day;
  if (d < 0) return 0;
  if (d >= days) return total_seconds;
  if (all_day) {
    // PrepareSchedule's table in closed form (the same sums, exactly):
    // day 0 counts from start_second, every later day 86,400 seconds.
    double seconds = d == 0 ? std::max(0, local.second - start_second)
                            : static_cast<double>(d * kSecondsPerDay - start_second + local.second);
    return std::min(seconds, total_seconds);
  }
  double seconds = cumulative_seconds[d];
  if (days_mask & (1u << local.weekday)) {
    int lo = d == 0 ? start_second : 0;
    seconds += OpenSecondsInDay(*this, lo, local.second);
  }
  return std::min(seconds, total_seconds);
}

LocalTime LocalTime::Of(absl::Time t, absl::TimeZone zone) {
  absl::CivilSecond cs = absl::ToCivilSecond(t, zone);
  absl::CivilDay day(cs);
  return LocalTime{day - kEpochDay, WeekdayIndex(day), SecondOfDay(cs)};
}

// Ids by name, built once by Build: the hash maps stay out of the public header.
struct CompiledCatalog::NameIndex {
  StringMap<uint32_t> item_by_id;
  StringMap<int32_t> page_groups, sizes, industries, customers;

  static int32_t Lookup(const StringMap<int32_t>& map, std::string_view key) {
    auto it = map.find(key);
    return it == map.end() ? -1 : it->second;
  }
};

CompiledCatalog::CompiledCatalog() : names_(std::make_unique<NameIndex>()) {}
CompiledCatalog::~CompiledCatalog() = default;

int32_t CompiledCatalog::PageGroupId(std::string_view name) const {
  return NameIndex::Lookup(names_->page_groups, name);
}
int32_t CompiledCatalog::SizeId(std::string_view name) const { return NameIndex::Lookup(names_->sizes, name); }
int32_t CompiledCatalog::IndustryId(std::string_view code) const {
  return NameIndex::Lookup(names_->industries, code);
}

const CompiledItem* CompiledCatalog::FindItem(std::string_view id) const {
  auto it = names_->item_by_id.find(id);
  return it == names_->item_by_id.end() ? nullptr : &items_[it->second];
}

std::span<const uint32_t> CompiledCatalog::AdsOnPageGroup(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(ads_by_page_group_.size())) return {};
  return ads_by_page_group_[id];
}

std::span<const uint32_t> CompiledCatalog::DiscountsOnPageGroup(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(discounts_by_page_group_.size())) return {};
  return discounts_by_page_group_[id];
}

absl::StatusOr<std::shared_ptr<const CompiledCatalog>> CompiledCatalog::Compile(
    v1::Catalog catalog, const CompileOptions& options) {
  static std::atomic<uint64_t> generations{0};
  std::shared_ptr<CompiledCatalog> compiled(new CompiledCatalog());
  compiled->generation_ = ++generations;
  compiled->catalog_ = std::move(catalog);
  if (absl::Status s = compiled->Build(options); !s.ok()) return s;
  return std::shared_ptr<const CompiledCatalog>(std::move(compiled));
}

absl::StatusOr<std::shared_ptr<const CompiledCatalog>> CompiledCatalog::Load(
    const std::string& path, const CompileOptions& options) {
  auto catalog = LoadCatalog(path);
  if (!catalog.ok()) return catalog.status();
  return Compile(std::move(*catalog), options);
}

namespace {

// CompiledCatalog::Lookup for the build steps below, which are not members.
int32_t InternedId(const StringMap<int32_t>& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? -1 : it->second;
}

// competitors[customer]: the interned customers it competes with, sorted and unique.
std::vector<std::vector<int32_t>> MutualCompetitors(const v1::Catalog& catalog,
                                                    const StringMap<int32_t>& customers) {
  std::vector<std::vector<int32_t>> competitors(customers.size());
  for (const auto& customer : catalog.customers()) {
    int32_t self = customers.at(customer.id());
    for (const auto& other : customer.competitors()) {
      int32_t them = InternedId(customers, other);
      if (them < 0) continue;
      competitors[self].push_back(them);
      competitors[them].push_back(self);  // competition is mutual
    }
  }
  for (auto& list : competitors) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return competitors;
}

// What every item of one campaign inherits from it.
struct CampaignDefaults {
  const v1::Campaign* proto = nullptr;
  int32_t index = -1;  // into catalog().campaigns()
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  bool campaign_level = false;  // paid ads take their share of split_goal
  bool clicks = false;          // goaled by clicks
  std::vector<int64_t> split_goal;
};

// A campaign-level goal is split by weight: refuses weights and quantities that could overflow.
absl::Status CheckCampaignLevelGoal(const v1::Campaign& campaign) {
  double total_weight = 0;
  for (const auto& item : campaign.items()) {
    if (item.has_ad() && item.ad().type() != v1::AD_TYPE_HOUSE) total_weight += item.ad().weight();
  }
  // Validation bounds both (kMaxWeight, kMaxGoal); a catalog built in
  // code that skipped it must still not turn an overflow into a goal.
  if (!std::isfinite(total_weight) || campaign.quantity_ordered() > kMaxGoal) {
    return absl::InvalidArgumentError(
        Cat("campaign \"", campaign.id(),
            "\": weights and quantity_ordered must be validated (weight <= ",
            static_cast<int64_t>(kMaxWeight), ", quantity_ordered <= ", kMaxGoal, ")"));
  }
  return absl::OkStatus();
}

// Campaign `ci`'s dates (in the catalog's zone) and goals, which its items inherit.
absl::StatusOr<CampaignDefaults> ReadCampaignDefaults(const v1::Catalog& catalog, int ci,
                                                      absl::TimeZone catalog_zone) {
  const v1::Campaign& campaign = catalog.campaigns(ci);
  CampaignDefaults d;
  d.proto = &campaign;
  d.index = ci;
  if (!campaign.start().empty()) {
    auto t = ParseCatalogTime(campaign.start(), catalog_zone);
    if (!t.ok()) return t.status();
    d.start = *t;
  }
  if (!campaign.end().empty()) {
    auto t = ParseCatalogTime(campaign.end(), catalog_zone, true);
    if (!t.ok()) return t.status();
    d.end = *t;
  }
  d.campaign_level = campaign.goaling() == v1::GOALING_LEVEL_CAMPAIGN;
  d.clicks = campaign.goal_event() == v1::GOAL_EVENT_CLICKS;
  // Campaign-level goaling: quantity_ordered split over the paid ads by
  // weight, largest remainder first so the parts add up exactly.
  if (d.campaign_level) {
    if (absl::Status s = CheckCampaignLevelGoal(campaign); !s.ok()) return s;
  }
  d.split_goal = PaidAdGoals(campaign);
  return d;
}

// The snapshot's tables an item is compiled against; item zones are added to `zones`.
struct ItemTables {
  const v1::Catalog& catalog;
  const StringMap<int32_t>& customers;
  const StringMap<int32_t>& industries;
  const StringMap<int32_t>& sizes;
  const StringMap<int32_t>& page_groups;
  const TargetingSchema& targeting;
  const std::vector<CompiledTargetGroup>& target_groups;
  const StringMap<int32_t>& target_ids;
  std::vector<absl::TimeZone>& zones;  // zones[0] is the catalog's
  StringMap<int32_t>& zone_ids;
};

// Where and when an ad or a discount runs: the fields both kinds share.
struct ItemPlacement {
  const v1::Schedule* schedule = nullptr;
  const google::protobuf::RepeatedPtrField<std::string>* page_groups = nullptr;
  std::string size, target_group;
};

// How errors name an item: its campaign's name and its own.
std::string ItemWhere(const v1::Campaign& campaign, const v1::CampaignItem& item) {
  return Cat("campaign \"", campaign.name(), "\" / item \"", item.name(), "\"");
}

// An ad's own fields: kind, weight, limits, industry (else its customer's) and a paid ad's goal.
ItemPlacement CompileAdFields(const ItemTables& t, const CampaignDefaults& campaign, int ii,
                              const v1::Ad& ad, CompiledItem& c) {
  c.kind = ad.type() == v1::AD_TYPE_HOUSE ? ItemKind::kHouseAd : ItemKind::kPaidAd;
  c.weight = ad.weight();
  c.exposure_limit = ad.exposure_limit();
  c.sponsored = ad.has_sponsored() && ad.sponsored();
  c.sponsor_opt_out = ad.has_sponsored() && !ad.sponsored();
  c.max_per_day = ad.max_per_day();
  c.max_per_week = ad.max_per_week();
  c.frequency_capped = c.max_per_day > 0 || c.max_per_week > 0;
  std::string industry = ad.industry();
  if (industry.empty() && c.customer >= 0) {
    industry = t.catalog.customers(c.customer).industry();
  }
  c.industry = industry.empty() ? -1 : InternedId(t.industries, industry);
  if (c.kind == ItemKind::kPaidAd) {
    c.goal = campaign.campaign_level ? campaign.split_goal[ii] : ad.quantity();
    c.goal_clicks = campaign.clicks;
  }
  return ItemPlacement{&ad.schedule(), &ad.page_groups(), ad.size(), ad.target_group()};
}

// A discount's own fields, its eligibility compiled over the targeting schema.
absl::StatusOr<ItemPlacement> CompileDiscountFields(const ItemTables& t,
                                                    const v1::Campaign& campaign,
                                                    const v1::CampaignItem& item, CompiledItem& c) {
  const v1::Discount& d = item.discount();
  c.kind = ItemKind::kDiscount;
  c.priority = d.priority();
  if (!d.eligibility().empty()) {
    expr::CompileOptions eo;
    eo.default_time_zone = t.catalog.time_zone();
    auto program = expr::CompileFilter(d.eligibility(), t.targeting.schema, eo);
    if (!program.ok()) {
      return absl::InvalidArgumentError(
          Cat(ItemWhere(campaign, item), ": eligibility: ", program.status().message()));
    }
    c.eligibility = std::move(*program);
    c.has_eligibility = true;
  }
  c.exposure_limit = d.exposure_limit();
  return ItemPlacement{&d.schedule(), &d.page_groups(), d.size(), d.target_group()};
}

// The item's schedule: its own dates, else the campaign's; its own zone, else the catalog's.
absl::Status CompileItemSchedule(ItemTables& t, const CampaignDefaults& campaign,
                                 const v1::CampaignItem& item, const v1::Schedule& schedule,
                                 CompiledSchedule& s) {
  auto where = [&] { return ItemWhere(*campaign.proto, item); };
  absl::TimeZone item_zone = t.zones[0];
  if (!schedule.time_zone().empty() && schedule.time_zone() != t.catalog.time_zone()) {
    auto z = LoadZone(schedule.time_zone());
    if (!z.ok()) return absl::InvalidArgumentError(Cat(where(), ": ", z.status().message()));
    auto [it, added] = t.zone_ids.try_emplace(schedule.time_zone(), t.zones.size());
    if (added) t.zones.push_back(*z);
    s.zone = it->second;
    item_zone = *z;
  }
  s.start = campaign.start;
  s.end = campaign.end;
  if (!schedule.start().empty()) {
    auto time = ParseCatalogTime(schedule.start(), item_zone);
    if (!time.ok()) return absl::InvalidArgumentError(Cat(where(), ": ", time.status().message()));
    s.start = *time;
  }
  if (!schedule.end().empty()) {
    auto time = ParseCatalogTime(schedule.end(), item_zone, true);
    if (!time.ok()) return absl::InvalidArgumentError(Cat(where(), ": ", time.status().message()));
    s.end = *time;
  }
  if (!schedule.days().empty()) {
    s.days_mask = 0;
    for (int day : schedule.days()) {
      if (day >= v1::MONDAY && day <= v1::SUNDAY) s.days_mask |= 1u << (day - 1);
    }
  }
  for (const auto& window : schedule.hours()) {
    auto from = ParseClockMinutes(window.from());
    auto to = ParseClockMinutes(window.to());
    if (!from.ok() || !to.ok()) {
      return absl::InvalidArgumentError(Cat(where(), ": bad hour window"));
    }
    s.minutes.emplace_back(static_cast<int16_t>(*from), static_cast<int16_t>(*to % 1440));
  }
  PrepareSchedule(&s, item_zone);
  return absl::OkStatus();
}

// Size, page groups and target group, interned; unknown page or target groups are errors.
absl::Status ResolveItemPlacement(const ItemTables& t, const v1::Campaign& campaign,
                                  const v1::CampaignItem& item, const ItemPlacement& placement,
                                  CompiledItem& c) {
  if (!placement.size.empty()) c.size = InternedId(t.sizes, placement.size);
  for (const auto& pg : *placement.page_groups) {
    int32_t id = InternedId(t.page_groups, pg);
    if (id < 0) {
      return absl::InvalidArgumentError(
          Cat(ItemWhere(campaign, item), ": unknown page group \"", pg, "\""));
    }
    c.page_groups.push_back(id);
  }
  if (!placement.target_group.empty()) {
    auto it = t.target_ids.find(placement.target_group);
    if (it == t.target_ids.end()) {
      return absl::InvalidArgumentError(Cat(ItemWhere(campaign, item), ": unknown target group \"",
                                            placement.target_group, "\""));
    }
    c.target_group = it->second;
    for (const CompiledTargetEntry& e : t.target_groups[c.target_group].entries) {
      if (e.action == v1::TARGET_ACTION_TARGET && e.boost > 1) c.max_target_multiplier *= e.boost;
    }
  }
  return absl::OkStatus();
}

// Compiles item `ii` of a campaign (an ad or a discount) into `c`, whose index is set.
absl::Status CompileItem(ItemTables& t, const CampaignDefaults& campaign, int ii, CompiledItem& c) {
  const v1::CampaignItem& item = campaign.proto->items(ii);
  c.id = item.id();
  c.name = item.name();
  c.campaign_id = campaign.proto->id();
  c.campaign = campaign.index;
  c.customer = InternedId(t.customers, campaign.proto->customer_id());
  c.proto = &item;
  ItemPlacement placement;
  if (item.has_ad()) {
    placement = CompileAdFields(t, campaign, ii, item.ad(), c);
  } else {
    auto discount = CompileDiscountFields(t, *campaign.proto, item, c);
    if (!discount.ok()) return discount.status();
    placement = std::move(*discount);
  }
  if (absl::Status s = CompileItemSchedule(t, campaign, item, *placement.schedule, c.schedule);
      !s.ok()) {
    return s;
  }
  if (c.kind == ItemKind::kPaidAd && c.goal > 0 && c.schedule.total_seconds <= 0) {
    return absl::InvalidArgumentError(
        Cat(ItemWhere(*campaign.proto, item),
            ": a paid ad needs a finite schedule with deliverable time ",
            "(campaign or ad start and end) to pace toward its goal"));
  }
  return ResolveItemPlacement(t, *campaign.proto, item, placement, c);
}

}  // namespace

absl::Status CompiledCatalog::Build(const CompileOptions& options) {
  ApplyCatalogDefaults(&catalog_);
  const auto& rt = catalog_.reference_tables();
  auto intern = [](StringMap<int32_t>& map, const std::string& name) {
    return map.try_emplace(name, static_cast<int32_t>(map.size())).first->second;
  };
  for (const auto& pg : rt.page_groups()) intern(names_->page_groups, pg.name());
  for (const auto& size : rt.content_sizes()) intern(names_->sizes, size.name());
  for (const auto& industry : rt.industries()) intern(names_->industries, industry.code());
  for (const auto& customer : catalog_.customers()) intern(names_->customers, customer.id());
  competitors_ = MutualCompetitors(catalog_, names_->customers);

  auto zone = LoadZone(catalog_.time_zone());
  if (!zone.ok()) return zone.status();
  zones_.push_back(*zone);
  StringMap<int32_t> zone_ids{{catalog_.time_zone(), 0}};

  auto targeting = BuildTargetingSchema(catalog_);
  if (!targeting.ok()) return targeting.status();
  targeting_ = std::move(*targeting);
  auto target = CompileTargetGroups(catalog_, targeting_, options.default_target_boost);
  if (!target.ok()) return target.status();
  target_groups_ = std::move(*target);
  for (const CompiledTargetGroup& group : target_groups_) {
    double product = 1;
    for (const CompiledTargetEntry& e : group.entries) {
      if (e.action == v1::TARGET_ACTION_TARGET && e.boost > 1) product *= e.boost;
      if (e.action == v1::TARGET_ACTION_SPONSOR) has_sponsor_entries_ = true;
    }
    max_target_multiplier_ = std::max(max_target_multiplier_, product);
  }
  StringMap<int32_t> target_ids;
  for (size_t i = 0; i < target_groups_.size(); ++i) target_ids[target_groups_[i].id] = i;

  ads_by_page_group_.assign(names_->page_groups.size(), {});
  discounts_by_page_group_.assign(names_->page_groups.size(), {});

  ItemTables tables{catalog_, names_->customers, names_->industries, names_->sizes, names_->page_groups, targeting_,
                    target_groups_, target_ids, zones_, zone_ids};
  for (int ci = 0; ci < catalog_.campaigns_size(); ++ci) {
    auto campaign = ReadCampaignDefaults(catalog_, ci, zones_[0]);
    if (!campaign.ok()) return campaign.status();
    for (int ii = 0; ii < campaign->proto->items_size(); ++ii) {
      const v1::CampaignItem& item = campaign->proto->items(ii);
      if (!item.has_ad() && !item.has_discount()) continue;  // direct mail is not selected
      CompiledItem c;
      c.index = static_cast<uint32_t>(items_.size());
      if (absl::Status s = CompileItem(tables, *campaign, ii, c); !s.ok()) return s;
      names_->item_by_id[c.id] = c.index;
      bool active = campaign->proto->active() && item.active();
      if (active) {
        bool discount = c.kind == ItemKind::kDiscount;
        (discount ? all_discounts_ : all_ads_).push_back(c.index);
        if (c.page_groups.empty()) {
          (discount ? discounts_everywhere_ : ads_everywhere_).push_back(c.index);
        }
        for (int32_t pg : c.page_groups) {
          (discount ? discounts_by_page_group_ : ads_by_page_group_)[pg].push_back(c.index);
        }
      }
      items_.push_back(std::move(c));
    }
  }
  return absl::OkStatus();
}

}  // namespace herald
