// herald/campaign_cache.h: a catalog compiled for fast selection, and the
// cache that swaps snapshots.
//
// CompiledCatalog is an immutable snapshot built once from a validated
// v1::Catalog: items flattened into CompiledItem with interned page groups,
// sizes, industries and customers; per-page-group indexes of ads and of
// discount ads; campaign-level goals split by weight; schedules turned into
// weekday masks, minute windows and cumulative deliverable time (the
// denominator of Need of Delivery, docs/pacing.md); target-group expressions
// compiled. Nothing in it changes after Compile, so any number of threads
// may read it.
//
// CampaignCache holds the current snapshot: Get() returns it as a
// shared_ptr (readers keep theirs alive while they use it), Set() swaps in a
// new one atomically without blocking readers.
//
// Lifetime: snapshots are shared_ptr-owned; a CompiledItem is valid while its
// snapshot is. Thread-safety: CompiledCatalog is immutable; CampaignCache's
// methods may be called concurrently.
#ifndef HERALD_CAMPAIGN_CACHE_H_
#define HERALD_CAMPAIGN_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/expr.h"
#include "herald/model/catalog.pb.h"

namespace herald {

enum class ItemKind : uint8_t { kPaidAd, kHouseAd, kDiscount };

std::string_view ItemKindName(ItemKind kind);  // "paid", "house", "discount"

// A request time seen in one zone: computed once per request and zone.
struct LocalTime {
  int64_t day = 0;    // local days since 1970-01-01
  int weekday = 0;    // Monday = 0 ... Sunday = 6
  int second = 0;     // local second of the day
  int minute() const { return second / 60; }
  static LocalTime Of(absl::Time t, absl::TimeZone zone);
};

struct CompiledSchedule {
  // The fields a request reads for every candidate come first: with the
  // item's own (CompiledItem) they fill two cache lines.
  absl::Time start = absl::InfinitePast();   // inclusive
  absl::Time end = absl::InfiniteFuture();   // exclusive
  int64_t first_day = 0;         // local day of `start` (days since 1970-01-01)
  // Seconds of deliverable time in [start, end): days and hour windows honoured.
  double total_seconds = 0;
  int32_t zone = 0;              // index into CompiledCatalog::zones()
  int32_t start_second = 0;      // local second of day of `start`
  int32_t end_second = 86400;    // local second of day of `end` on the last day
  int32_t days = 0;              // local days from start to end (cumulative_seconds.size()); 0 = not finite
  uint8_t days_mask = 0x7f;      // bit d: weekday d allowed (Monday = 0 ... Sunday = 6)
  bool all_day = true;           // days_mask == 0x7f && minutes.empty() (set when compiled)
  // Read only for schedules with days or hour windows.
  // cumulative_seconds[d]: deliverable seconds from `start` to the start of
  // local day d after the start day (d = 0 is the start day).
  std::vector<double> cumulative_seconds;
  // [from, to) minutes of the local day; empty = all day; to < from wraps.
  absl::InlinedVector<std::pair<int16_t, int16_t>, 2> minutes;

  bool AllDay() const { return all_day; }
  // Whether local time (weekday, minute of day) is inside the days and windows.
  bool OpenAt(int weekday, int minute_of_day) const;
  // Deliverable seconds from `start` up to `t` (0 before start, total after end).
  // `local` is `t` in the schedule's zone.
  double DeliverableSecondsUntil(absl::Time t, const LocalTime& local) const;
};

struct CompiledTargetEntry {
  int action = 0;      // v1::TargetAction
  double boost = 1.0;  // TARGET multiplier on match
  expr::Program program;
  std::string source;  // the expression text, for traces
};

struct CompiledTargetGroup {
  std::string id;
  std::vector<CompiledTargetEntry> entries;
};

// The schema of targeting expressions and the slots to fill per request.
struct TargetingSchema {
  expr::Schema schema;
  std::vector<std::pair<std::string, expr::Slot>> user;     // attribute name, slot
  std::vector<std::pair<std::string, expr::Slot>> context;  // attribute name, slot
  expr::Slot now;
};

// One item of a snapshot. The fields read for every candidate of a request
// come first, and items start on a cache line, so that filtering and scoring
// a candidate touches as few lines as possible.
struct alignas(64) CompiledItem {
  uint32_t index = 0;
  ItemKind kind = ItemKind::kPaidAd;
  bool goal_clicks = false;     // paid: goaled by clicks
  bool sponsored = false;       // `sponsored: true` (see sponsor_opt_out)
  bool has_eligibility = false;
  int32_t customer = -1;        // interned customer id
  int32_t industry = -1;        // interned industry code; -1 = none
  int32_t size = -1;            // interned content size; -1 = any
  int32_t target_group = -1;    // index into target_groups(); -1 = none
  int32_t exposure_limit = 0;   // per session (or per user without one); 0 = unlimited
  // Sponsorship (docs/pacing.md): an ad whose own target group has a SPONSOR
  // entry that matches is sponsored for that request. `sponsored: true` also
  // keeps it eligible under another group's sponsorship; `sponsored: false`
  // (explicit) means its group's SPONSOR entries never sponsor it.
  bool sponsor_opt_out = false;
  bool frequency_capped = false;  // max_per_day or max_per_week set
  int64_t goal = 0;             // paid: events scheduled (requests or clicks)
  double weight = 0;            // house: relative probability; discounts: unused
  double max_target_multiplier = 1;  // the most its target group can multiply its score by
  CompiledSchedule schedule;
  // Read for winners and traces.
  std::string id;
  std::string name;
  std::string campaign_id;
  int32_t campaign = -1;        // index into catalog().campaigns()
  int32_t priority = 0;         // discounts: smaller first
  int32_t max_per_day = 0;      // per user and local day of the catalog's zone; 0 = unlimited
  int32_t max_per_week = 0;     // per user and local week (Monday to Sunday); 0 = unlimited
  std::vector<int32_t> page_groups;  // interned; empty = every page group
  expr::Program eligibility;    // discounts: over user, context and now; empty source = everyone
  const v1::CampaignItem* proto = nullptr;  // owned by the snapshot
};

struct CompileOptions {
  double default_target_boost = 1.2;  // TARGET entries with boost 0
};

class CompiledCatalog {
 public:
  // Compiles a catalog that passed ValidateCatalog (Compile re-checks what it
  // relies on and fails with InvalidArgument naming the item otherwise).
  static absl::StatusOr<std::shared_ptr<const CompiledCatalog>> Compile(
      v1::Catalog catalog, const CompileOptions& options = {});
  // LoadCatalog + Compile.
  static absl::StatusOr<std::shared_ptr<const CompiledCatalog>> Load(
      const std::string& path, const CompileOptions& options = {});
  ~CompiledCatalog();
  CompiledCatalog(const CompiledCatalog&) = delete;
  CompiledCatalog& operator=(const CompiledCatalog&) = delete;

  const v1::Catalog& catalog() const { return catalog_; }
  // Unique per compiled snapshot in this process (never reused), so that
  // components can key per-snapshot caches on it.
  uint64_t generation() const { return generation_; }
  std::span<const CompiledItem> items() const { return items_; }
  const CompiledItem* FindItem(std::string_view id) const;

  // Interned ids; -1 when unknown.
  int32_t PageGroupId(std::string_view name) const;
  int32_t SizeId(std::string_view name) const;
  int32_t IndustryId(std::string_view code) const;

  // Active ads (or discount ads) placed on page group `id`, and those placed
  // on every page group. Indexes into items(), in catalog order.
  std::span<const uint32_t> AdsOnPageGroup(int32_t id) const;
  std::span<const uint32_t> AdsOnEveryPage() const { return ads_everywhere_; }
  std::span<const uint32_t> DiscountsOnPageGroup(int32_t id) const;
  std::span<const uint32_t> DiscountsOnEveryPage() const { return discounts_everywhere_; }
  std::span<const uint32_t> AllAds() const { return all_ads_; }
  std::span<const uint32_t> AllDiscounts() const { return all_discounts_; }

  std::span<const CompiledTargetGroup> target_groups() const { return target_groups_; }
  // The variables target-group expressions see: user.<attr>, context.<attr>
  // (declared by the catalog) and now.
  const TargetingSchema& targeting() const { return targeting_; }
  // The largest factor any target group can multiply a score by (the product
  // of its TARGET boosts above 1); 1 when no group boosts.
  double max_target_multiplier() const { return max_target_multiplier_; }
  // Whether any target group has a SPONSOR entry: one ad's sponsorship
  // removes others, which pruning cannot bound, so such catalogs select
  // exhaustively.
  bool has_sponsor_entries() const { return has_sponsor_entries_; }
  std::span<const absl::TimeZone> zones() const { return zones_; }
  // competitors()[customer] lists the interned customers it competes with.
  const std::vector<std::vector<int32_t>>& competitors() const { return competitors_; }

 private:
  struct NameIndex;  // ids by name (lib/csf/compiled_catalog.cc)
  CompiledCatalog();
  absl::Status Build(const CompileOptions& options);

  v1::Catalog catalog_;
  uint64_t generation_ = 0;
  std::vector<CompiledItem> items_;
  std::unique_ptr<NameIndex> names_;
  std::vector<std::vector<uint32_t>> ads_by_page_group_, discounts_by_page_group_;
  std::vector<uint32_t> ads_everywhere_, discounts_everywhere_, all_ads_, all_discounts_;
  std::vector<CompiledTargetGroup> target_groups_;
  TargetingSchema targeting_;
  double max_target_multiplier_ = 1;
  bool has_sponsor_entries_ = false;
  std::vector<absl::TimeZone> zones_;
  std::vector<std::vector<int32_t>> competitors_;
};

// Holds the current snapshot. See the file comment.
class CampaignCache {
 public:
  explicit CampaignCache(std::shared_ptr<const CompiledCatalog> initial = nullptr)
      : current_(std::move(initial)) {}
  std::shared_ptr<const CompiledCatalog> Get() const {
    return current_.load(std::memory_order_acquire);
  }
  void Set(std::shared_ptr<const CompiledCatalog> snapshot) {
    current_.store(std::move(snapshot), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const CompiledCatalog>> current_;
};

}  // namespace herald

#endif  // HERALD_CAMPAIGN_CACHE_H_
