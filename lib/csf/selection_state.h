// Internal: what the built-in selection components share with the selector.
#ifndef HERALD_LIB_CSF_SELECTION_STATE_H_
#define HERALD_LIB_CSF_SELECTION_STATE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/catalog_schemas.h"
#include "herald/campaign_cache.h"
#include "herald/counters.h"
#include "herald/expr.h"
#include "herald/model/events.pb.h"
#include "herald/selection.h"

namespace herald {

struct RankedAds;

// SelectionServices::RecordItemEvent's item for an event of no item.
inline constexpr uint32_t kNoItem = UINT32_MAX;

// Per-request scratch, reused: one per concurrently running request.
struct RequestScratch {
  explicit RequestScratch(uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  // The memory of SelectionContext's lists between requests.
  std::vector<Candidate> candidates;
  std::vector<uint32_t> winners, history;
  std::vector<Exposure> exposures;
  std::vector<int32_t> page_groups;   // interned page groups of the request
  int32_t size = -1;                  // interned size; -1 = any
  std::vector<uint32_t> seen;         // per item: generation stamp (dedupe, page history)
  uint32_t generation = 0;
  std::vector<int32_t> page_history_items;
  std::vector<int32_t> page_history_industries;
  std::vector<int32_t> page_history_customers;
  // Local civil time of the request per catalog zone.
  std::vector<LocalTime> local;       // the request time in each catalog zone
  std::vector<LocalTime> local_paced; // the request time plus the pacing lead, per zone
  // Targeting.
  const CompiledCatalog* activation_catalog = nullptr;
  expr::Activation activation{size_t{0}};
  std::vector<AttributeStorage> user_lists, context_lists;
  std::vector<uint32_t> target_stamp;   // per target group: generation when evaluated
  std::vector<double> target_multiplier;
  std::vector<uint8_t> target_sponsor;
  // SelectWinners.
  std::vector<uint32_t> order;
  std::vector<double> weights;
  std::vector<uint32_t> quota_taken;  // items whose quota unit this request took
  std::string event_tag;              // RecordEvent's custom_name of house-ad and empty-slot events
  // FormatTemplate's placeholder values.
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  // FormatTemplate's rendered items, per component instance, for one catalog
  // snapshot (kept per scratch, so threads share nothing).
  struct RenderedItems {
    const void* owner = nullptr;
    uint64_t generation = 0;
    std::vector<std::shared_ptr<const RenderedItem>> items;  // by item index; null = not rendered yet
  };
  std::vector<RenderedItems> rendered;
  // The selector's per-snapshot state for this request (selector.cc), and
  // what this scratch keeps of it between requests so that a request reads
  // shared state without writing to it (no shared reference counts or locks).
  const void* binding = nullptr;
  std::shared_ptr<const void> binding_ref;   // keeps `binding` alive
  uint64_t binding_version = 0;              // the selector's version of binding_ref
  std::vector<std::shared_ptr<const RankedAds>> ranked;  // per page group slot
  std::vector<uint64_t> ranked_version;      // the binding's version of each
  // Lets go of the snapshot and its rankings (a new snapshot was set).
  void DropSnapshot() {
    binding_ref.reset();
    ranked.clear();
    ranked_version.clear();
  }
  // Lends the context's lists this scratch's memory, and takes it back
  // (cleared) when called again after the request.
  void SwapLists(SelectionContext& ctx) {
    ctx.candidates.clear();
    ctx.winners.clear();
    ctx.history.clear();
    ctx.exposures.clear();
    ctx.candidates.swap(candidates);
    ctx.winners.swap(winners);
    ctx.history.swap(history);
    ctx.exposures.swap(exposures);
  }
  // Requests and reruns run on this scratch; written by the thread that holds
  // it, summed by Selector::ExhaustiveReruns.
  std::atomic<int64_t> requests{0}, reruns{0};
  const class PacedScorer* paced = nullptr;  // the pipeline's NOD scorer, if pruning may use it

  // A fresh stamp for `seen` (and target_stamp); clears them when it wraps.
  uint32_t NextGeneration() {
    if (++generation == 0) {
      std::fill(seen.begin(), seen.end(), 0);
      std::fill(target_stamp.begin(), target_stamp.end(), 0);
      generation = 1;
    }
    return generation;
  }

  // Starts a new request over `catalog`.
  void Reset(const CompiledCatalog& catalog) {
    size_t n = catalog.items().size();
    if (seen.size() != n) seen.assign(n, 0);
    size_t groups = catalog.target_groups().size();
    if (target_stamp.size() != groups) {
      target_stamp.assign(groups, 0);
      target_multiplier.assign(groups, 1.0);
      target_sponsor.assign(groups, 0);
    }
    if (activation_catalog != &catalog) {
      activation = expr::Activation(catalog.targeting().schema);
      activation_catalog = &catalog;
      std::fill(target_stamp.begin(), target_stamp.end(), 0);
    }
    NextGeneration();
  }
};

// Paid ads of one page group ranked by an upper bound of their score,
// valid for requests up to `valid_until`: bound = NOD computed with the
// expected delivery at valid_until and the delivery when built, times the
// item's largest target-group boost. Deliveries only grow and the expected
// delivery only grows with time, so the bound holds until then.
struct RankedAds {
  absl::Time built_for;      // the request time it was built at
  absl::Time valid_until;
  struct Entry {
    double bound;
    uint32_t item;
    int32_t size;  // the item's size (CompiledItem::size), read without the item
    bool operator==(const Entry&) const = default;
  };
  std::vector<Entry> paid;  // best bound first
  std::vector<uint32_t> others;                    // house ads, always emitted
};

// The initial scorer whose formula the selector's ranking relies on
// (NeedOfDelivery). Internal to the selection module.
class PacedScorer {
 public:
  virtual ~PacedScorer() = default;
  // NOD for a paid ad: 1 + gain * (expected - delivered) / goal, clamped.
  virtual double Nod(double expected, double delivered, double goal) const = 0;
};

// Delivery counters and user histories, owned by the selector.
class SelectionServices {
 public:
  virtual ~SelectionServices() = default;
  // Delivery of `item` (an index of the context's snapshot), split into what
  // the store confirmed and this process's local counts, with its share.
  virtual DeliveryDetail Delivery(SelectionContext& context, uint32_t item) = 0;
  // Starts fetching what Delivery(context, item) will read (a hint).
  virtual void PrefetchDelivery(SelectionContext& context, uint32_t item) = 0;
  // Reads the user's history into context.history (item indexes, most recent
  // first) and its exposures: per (user, session), or per user without a
  // session id, and per local day and week (docs/pacing.md).
  virtual void ReadHistory(SelectionContext& context) = 0;
  // Adds context.winners to the user's history (front), keeping `history_size`.
  virtual void AddToHistory(SelectionContext& context, int history_size) = 0;
  // Queues an event of `item` (an index of the context's snapshot, or kNoItem
  // for an event of no item); request and click events count toward its delivery.
  virtual void RecordItemEvent(SelectionContext& context, const EventView& event, uint32_t item) = 0;
  virtual RequestScratch& scratch(SelectionContext& context) = 0;
  // The ranked paid ads of page group `page_group` (-1 = the request has no
  // page group) valid at context.now; kept alive until the request ends.
  virtual const RankedAds& Ranked(SelectionContext& context, int32_t page_group) = 0;
  // Takes a unit of `item`'s leased request quota for this request (quota
  // leases; always true when they are off or the item has no request goal).
  // A dry run (request.record false) only checks. Units taken by a run the
  // selector repeats or fails are given back.
  virtual bool TakeQuota(SelectionContext& context, uint32_t item) = 0;
};

}  // namespace herald

#endif  // HERALD_LIB_CSF_SELECTION_STATE_H_
