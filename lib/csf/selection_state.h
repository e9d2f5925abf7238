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

// The initial scorer whose formula the selector's ranking relies on
// (NeedOfDelivery). Internal to the selection module.
class PacedScorer {
 public:
  virtual ~PacedScorer() = default;
  // NOD for a paid ad: 1 + gain * (expected - delivered) / goal, clamped.
  virtual double Nod(double expected, double delivered, double goal) const = 0;
};

// The selector's services as the built-ins see them: the public ones
// (herald/selection.h) and the per-request scratch they share.
class SelectorServices : public SelectionServices {
 public:
  virtual RequestScratch& scratch(SelectionContext& context) = 0;
};

// The built-ins' scratch of the request `ctx` runs. The selector is the only
// maker of SelectionContexts that run built-ins, and its services are these.
inline RequestScratch& ScratchOf(SelectionContext& ctx) {
  return static_cast<SelectorServices*>(ctx.services)->scratch(ctx);
}

}  // namespace herald

#endif  // HERALD_LIB_CSF_SELECTION_STATE_H_
