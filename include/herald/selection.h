// herald/selection.h: the Content Selection Framework (ads and discount ads).
//
// ContentSelector::Select(request) runs the selection pipeline
// (herald/pipeline.h, family "selection") over the current CompiledCatalog
// snapshot and returns the winners. The built-in components follow the
// reference CSF (docs/pacing.md, docs/pipelines.md):
//
//   load_context   LoadContext, LoadHistory
//   filter         FilterContent (indexes: page group, size, schedule, active),
//                  ExposureLimit
//   initial_score  NeedOfDelivery (paid ads), DiscountPriority (discount ads)
//   score          HistoryPenalty, EvalTargetGroups
//   select         SelectWinners (paid by score; house ads by weight; industry,
//                  competitor and page-history exclusion)
//   record         RecordHistory, RecordEvent
//   format         FormatTemplate
//
// Scorers only multiply; a score of 0 removes a candidate for good. With
// request.trace set, the fate of every candidate is recorded (TraceScores).
// The facts the built-ins read and write (ComponentContract, herald/pipeline.h):
//   LoadContext          writes "request_state" (page groups, size, local
//                        times, page history, targeting variables)
//   LoadHistory          reads "request_state", writes "history" (recent
//                        items and exposures)
//   FilterContent        reads "request_state", writes "candidates"
//   ExposureLimit        reads "candidates", "history"
//   HistoryPenalty       reads "candidates", "history"
//   NeedOfDelivery, DiscountPriority, EvalTargetGroups, DiscountEligibility
//                        read "candidates"
//   SelectWinners        reads "candidates", writes "winners"
//   RecordHistory        reads "winners"
//   RecordEvent          reads "winners"
//   FormatTemplate       reads "winners", writes "results"
// so a definition that drops LoadHistory but keeps ExposureLimit is refused
// when the selector is built, instead of never enforcing an exposure limit.
//
// Lifetime: a ContentSelector owns its pipeline, its delivery counters and
// its history cache; it borrows the Store given at creation, which must
// outlive it. Destroying it flushes counters, events and histories.
// Thread-safety: Select() and RecordClick() may be called from any number of
// threads at once. SetCatalog() swaps in a new snapshot without blocking
// them: requests already running finish on the snapshot they started with.
#ifndef HERALD_SELECTION_H_
#define HERALD_SELECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/counters.h"
#include "herald/families.h"
#include "herald/model/catalog.pb.h"
#include "herald/model/common.pb.h"
#include "herald/pipeline.h"
#include "herald/model/pipeline.pb.h"
#include "herald/registry.h"

namespace herald {

class CompiledCatalog;
class SelectionServices;
class Store;
struct CompiledItem;
struct SelectionContext;

// A user profile or a request context in the form a compiled catalog's
// targeting reads directly: each attribute the catalog declares
// (user_attributes / context_attributes), converted once into the slot the
// catalog's expressions read. Reading a v1::Profile costs a map walk and a
// conversion per attribute on every request; a storefront that builds a
// PreparedProfile once per user (or once per kind of page, for contexts) and
// passes it with each request (SelectionRequest::prepared_user /
// prepared_context) skips that.
//
// It is built for one catalog snapshot. Given with a request that runs on
// another (after SetCatalog, or a catalog update from the store), the
// selector reads the copy of the profile it keeps, exactly as it reads
// SelectionRequest::user: a stale one is slower, never wrong. Rebuild it
// when `catalog_generation()` differs from the selector's catalog's.
//
// An opaque object made by Build and held by the caller (the request points
// at it directly, so that a cold one costs one cache miss, not two).
// Lifetime: self-contained (it keeps its own copy of the profile). Thread-
// safety: immutable once built; any number of threads may pass the same one
// with their requests at once.
class PreparedProfile {
 public:
  enum class Role { kUser, kContext };

  // `profile` as the user (Role::kUser) or context (Role::kContext)
  // attributes of `catalog`'s targeting. Attributes the catalog does not
  // declare are kept in profile() but read by nothing.
  static std::unique_ptr<const PreparedProfile> Build(const CompiledCatalog& catalog, Role role,
                                                      v1::Profile profile);
  virtual ~PreparedProfile() = default;
  PreparedProfile(const PreparedProfile&) = delete;
  PreparedProfile& operator=(const PreparedProfile&) = delete;

  Role role() const;
  const v1::Profile& profile() const;   // the copy it was built from
  uint64_t catalog_generation() const;  // CompiledCatalog::generation() it was built for

 protected:
  PreparedProfile() = default;  // the library's implementation only (lib/csf/prepared_profile.h)
};

// One ad request ("give me N items for this page").
struct SelectionRequest {
  std::vector<std::string> page_groups;    // the page's group(s); empty = no page-group filter
  std::string size;                        // content size name; empty = any size
  int count = 1;                           // winners wanted
  std::string user_id;                     // history and exposure limits; empty = anonymous
  std::string session_id;                  // exposure limits count per (user, session) when set
  const v1::Profile* user = nullptr;       // borrowed for the call; null = empty profile
  const v1::Profile* context = nullptr;    // borrowed for the call; null = empty context
  // The same, prepared (PreparedProfile, above), borrowed for the call. When
  // set, it is read instead of `user` / `context`, which may then be null.
  const PreparedProfile* prepared_user = nullptr;
  const PreparedProfile* prepared_context = nullptr;
  std::vector<std::string> page_history;   // item ids already shown on this page
  absl::Time time = absl::InfinitePast();  // InfinitePast = now
  bool trace = false;                      // record TraceScores
  bool record = true;                      // record history and events (false: a dry run)
  bool discounts = false;                  // select discount ads instead of ads
};

// A winner's display, rendered once per catalog snapshot by FormatTemplate
// (or a replacement component) and shared, immutable, by every result that
// shows it.
struct RenderedItem {
  std::string item_id;
  std::string name;
  std::string campaign_id;
  std::string kind;        // "paid", "house" or "discount"
  std::string html;        // FormatTemplate output
  std::string click_url;
  std::string image_url;
  std::string text;
};

// A winner. The text fields view `rendered`, which this item shares: they
// stay valid while this SelectedItem or any copy of it lives (moving or
// copying it keeps them valid; copy a field into a std::string to keep it
// longer). Copying costs a reference count, not the strings.
struct SelectedItem {
  SelectedItem() = default;
  SelectedItem(std::shared_ptr<const RenderedItem> r, double score_)
      : item_id(r->item_id), name(r->name), campaign_id(r->campaign_id), kind(r->kind),
        score(score_), html(r->html), click_url(r->click_url), image_url(r->image_url),
        text(r->text), rendered(std::move(r)) {}

  std::string_view item_id;
  std::string_view name;
  std::string_view campaign_id;
  std::string_view kind;   // "paid", "house" or "discount"
  double score = 0;        // final score (paid: NOD times multipliers)
  std::string_view html;   // FormatTemplate output
  std::string_view click_url;
  std::string_view image_url;
  std::string_view text;
  std::shared_ptr<const RenderedItem> rendered;  // owns what the fields view
};

struct SelectionResult {
  std::vector<SelectedItem> winners;
  Trace trace;             // filled when request.trace
};

// Why SelectWinners left slots of a request empty (SelectionContext::
// empty_reason). RecordEvent records them as EVENT_TYPE_EMPTY_SLOT events
// named by EmptySlotReasonName, which the house-ad fill report explains.
enum class EmptySlotReason : uint8_t {
  kNone,
  kNoHouseAd,         // "no_house_ad": no house ad passed the filters (size, page group, schedule, targeting, limits)
  kIndustryConflict,  // "industry_conflict": those left share an industry (or a competing customer) with a winner
  kPageHistory,       // "page_history": those left are already on the page, or their industry is
  kAllShown,          // "all_shown": fewer eligible house ads than slots; each fills another slot
};
std::string_view EmptySlotReasonName(EmptySlotReason reason);

// A candidate in the pipeline: an index into CompiledCatalog::items() and its score.
struct Candidate {
  uint32_t item;
  double score;
  double initial = 0;  // the initial score (paid ads: Need of Delivery), kept for SelectWinners
};

// How often the request's user saw an item (docs/pacing.md, "Exposure
// limits and frequency caps").
struct Exposure {
  uint32_t item = 0;      // index into CompiledCatalog::items()
  int32_t count = 0;      // in the request's session; without a session id, in all
  int32_t today = 0;      // in all sessions, in the catalog's local day of the request
  int32_t this_week = 0;  // in all sessions, in the local week (Monday to Sunday)
};

// SelectionServices::RecordItemEvent's item for an event of no item.
inline constexpr uint32_t kNoItem = UINT32_MAX;

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
    uint32_t item;   // index into CompiledCatalog::items()
    int32_t size;    // the item's size (CompiledItem::size), read without the item
    bool operator==(const Entry&) const = default;
  };
  std::vector<Entry> paid;       // best bound first
  std::vector<uint32_t> others;  // house ads, always emitted
};

// What the selector lends the components of its pipelines, through
// SelectionContext::services: delivery counters, the users' histories, the
// event sink, the ranked candidate source, quota leases and randomness.
// Every built-in that needs one of these reaches it here, so a replacement
// can do what it does.
//
// Lifetime: the selector's; valid while the request runs. Items are indexes
// into the context's catalog snapshot (CompiledCatalog::items()).
// Thread-safety: each call concerns the calling request's context; any
// number of requests call them at once.
class SelectionServices {
 public:
  virtual ~SelectionServices() = default;
  // Delivery of `item`, split into what the store confirmed and this
  // process's local counts (Need of Delivery reads it).
  virtual DeliveryDetail Delivery(SelectionContext& context, uint32_t item) = 0;
  // Starts fetching what Delivery(context, item) will read (a hint: call it
  // for many items first, then Delivery for each, so that misses overlap).
  virtual void PrefetchDelivery(SelectionContext& context, uint32_t item) = 0;
  // Reads the user's history into context.history (item indexes, most recent
  // first) and context.exposures: per (user, session), or per user without a
  // session id, and per local day and week (docs/pacing.md). What
  // LoadHistory does.
  virtual void ReadHistory(SelectionContext& context) = 0;
  // Adds context.winners to the user's history (front), keeping
  // `history_size` items. What RecordHistory does.
  virtual void AddToHistory(SelectionContext& context, int history_size) = 0;
  // Queues an event of `item` (or kNoItem for an event of no item); request
  // and click events count toward the item's delivery. No I/O: the events
  // are written in batches off the request path. What RecordEvent does.
  virtual void RecordItemEvent(SelectionContext& context, const EventView& event, uint32_t item) = 0;
  // The ranked paid ads (and the house ads) of page group `page_group` (an
  // interned id, CompiledCatalog::PageGroupId; -1 = the request has no page
  // group), valid at context.now; kept alive until the request ends. What
  // FilterContent emits candidates from when pruning.
  virtual const RankedAds& Ranked(SelectionContext& context, int32_t page_group) = 0;
  // Takes a unit of `item`'s leased request quota for this request (quota
  // leases; always true when they are off or the item has no request goal).
  // A dry run (request.record false) only checks. Units taken by a run the
  // selector repeats or fails are given back.
  virtual bool TakeQuota(SelectionContext& context, uint32_t item) = 0;
  // The request's random numbers (seeded from SelectorOptions::seed, one
  // stream per pooled scratch): draw from it, e.g. house ads by weight.
  virtual absl::BitGenRef Random(SelectionContext& context) = 0;
};

// The selection family's context. Components read the request and catalog,
// narrow `candidates`, and fill `winners` and `results`.
struct SelectionContext : PipelineContext {
  const SelectionRequest* request = nullptr;
  const CompiledCatalog* catalog = nullptr;
  SelectionServices* services = nullptr;   // counters, histories, events, ranking, random (above)
  absl::Time now;                          // request time resolved
  std::vector<Candidate> candidates;
  std::vector<uint32_t> winners;           // item indexes in placement order
  std::vector<SelectedItem> results;       // formatted winners
  bool sponsored_only = false;             // set by a Sponsor target entry that matched
  // Set by SelectWinners for RecordEvent and the house-ad fill report: the
  // slots left to house ads after the paid winners, and how many of them
  // stayed empty and why.
  int house_slots = 0;
  int empty_slots = 0;
  EmptySlotReason empty_reason = EmptySlotReason::kNone;
  // Item indexes the user saw, most recent first, and per-item exposure
  // counts (filled by LoadHistory; only items with a limit or cap are counted).
  std::vector<uint32_t> history;
  std::vector<Exposure> exposures;
  // Scratch owned by the built-in components (reused across requests).
  void* scratch = nullptr;

  // Pruning (docs/pacing.md, "Selecting without scoring everything"): when
  // prune_limit > 0 the built-in FilterContent emits only the paid ads with
  // the highest bound on their Need of Delivery, and SelectWinners checks
  // that nothing left out could have won; if it cannot prove that, it sets
  // needs_exhaustive and end_run (herald/pipeline.h: the run ends there,
  // successfully, whatever the error policies) and the selector runs the
  // request again with a larger limit, and in the end exhaustively.
  int prune_limit = 0;               // paid candidates to emit; 0 = all
  bool exhaustive = false;           // a rerun without pruning
  bool pruned = false;               // FilterContent left paid ads out
  double pruned_bound = 0;           // no left-out ad's NOD x target boost exceeds this
  double max_multiplier = 1;         // product of the components' MaxScoreMultiplier
  int servers = 1;                   // SelectorOptions::servers
  bool quota_leases = false;         // SelectorOptions::quota_leases, resolved
  absl::Duration pacing_lead;        // SelectorOptions::pacing_lead, resolved
  bool needs_exhaustive = false;

  // Multiplies candidate `i`'s score, tracing `reason` when tracing.
  void MultiplyScore(size_t i, double factor, std::string_view reason);
  // Drops candidates whose score is 0 (keeps order).
  void RemoveZeroScores();
  const CompiledItem& item(size_t candidate) const;
};

template <>
struct FamilyOf<SelectionContext> {
  static constexpr const FamilyInfo& kInfo = kSelectionFamily;
};

using SelectionComponent = Component<SelectionContext>;

struct SelectorOptions {
  uint64_t seed = 0;                                 // 0 = from entropy; else deterministic house-ad draws per thread
  absl::Duration flush_interval = absl::Seconds(1);  // counters, events and histories to the store
  size_t max_users_in_memory = 1'000'000;            // history cache bound (least recently used dropped)
  // Every request of a given user comes to this selector (one server, or
  // servers that partition the users between them: sticky sessions). Then
  // the histories in memory stay valid across flushes: a flush writes them as
  // they are, without reading the stored ones first, and no user is read
  // again from the store until evicted. Default: other servers may serve the
  // same user, so a flush merges into the stored history and every user is
  // read again at their next request.
  bool sticky_users = false;
  // A session not seen for this long is over: exposure limits count per
  // (user, session), and a user's list of sessions is bounded (docs/pacing.md,
  // "Exposure limits and frequency caps"); only live sessions are never undercounted.
  absl::Duration session_timeout = absl::Minutes(30);
  double default_target_boost = 1.2;                 // TARGET entries without a boost
  // Pruning: paid candidates emitted per request before SelectWinners must
  // prove nothing left out could win (else the request reruns exhaustively);
  // 0 = always exhaustive. Used only when every component bounds its score
  // multiplier (see Component::MaxScoreMultiplier).
  int prune_limit = 16;
  absl::Duration ranking_horizon = absl::Seconds(60);  // how long a page group's ranking stays valid
  // Servers sharing the store (PostgreSQL) and serving the same traffic. Each
  // counts its own deliveries since the last counter refresh `servers` times
  // (the others deliver as much meanwhile), so between refreshes it takes at
  // most 1/servers of what remained: together they cannot pass a goal by more
  // than the rounding (docs/operations.md, "Pacing with several servers").
  // Too low a number risks overshoot; too high only slows the last approach.
  int servers = 1;
  // Paces as if it were this much later, so that servers whose counts lag
  // still finish a goal before the campaign ends. Default (infinite): none
  // for one server, 3 flush intervals for several.
  absl::Duration pacing_lead = absl::InfiniteDuration();
  // Quota leases (docs/operations.md, "Quota leases"): a paid ad goaled by
  // requests wins only with a unit of quota leased from the store, so servers
  // sharing the store never pass its goal together. kAuto: on when
  // servers > 1. The leases are sized to about lease_horizon of each ad's
  // recent delivery; unused units go back to the store when the selector is
  // destroyed.
  enum class QuotaLeases { kAuto, kOn, kOff };
  QuotaLeases quota_leases = QuotaLeases::kAuto;
  absl::Duration lease_horizon = absl::Milliseconds(200);
};

// What a selector is built from. Pointers are borrowed and must outlive it.
struct SelectorConfig {
  SelectorOptions options;
  const Registry* registry = nullptr;            // where the pipelines' components come from (with built-ins)
  Store* store = nullptr;                        // counters, events, histories; null = in memory only
  const v1::PipelineDefinition* advertising = nullptr;  // null = DefaultAdvertisingPipeline()
  const v1::PipelineDefinition* discounts = nullptr;    // null = DefaultDiscountPipeline()
};

// The built-in pipeline definitions (also in pipelines/*.textproto).
const v1::PipelineDefinition& DefaultAdvertisingPipeline();
const v1::PipelineDefinition& DefaultDiscountPipeline();

// The selector's background work as seen from outside (herald serve's
// /metrics): the event queue and when the counters last reached the store.
struct SelectorStats {
  int64_t events_queued = 0;   // appended, not yet written
  int64_t events_written = 0;  // durable since creation
  int64_t events_dropped = 0;  // refused by a full queue (0 while requests wait for room instead)
  absl::Time counters_flushed = absl::InfinitePast();  // last flush that wrote every delta
};

class ContentSelector {
 public:
  virtual ~ContentSelector() = default;

  virtual absl::StatusOr<SelectionResult> Select(const SelectionRequest& request) const = 0;

  // Records a click on `item_id` (the redirect case): an event and, for
  // click-goaled ads, delivery toward the goal.
  virtual absl::Status RecordClick(std::string_view item_id, std::string_view user_id,
                                   std::string_view page_group, absl::Time time) const = 0;

  // Swaps in a new snapshot; counters carry over by item id.
  virtual absl::Status SetCatalog(std::shared_ptr<const CompiledCatalog> catalog) = 0;
  virtual std::shared_ptr<const CompiledCatalog> catalog() const = 0;

  // Writes pending counters, events and histories to the store; returns when durable.
  virtual absl::Status Flush() = 0;

  // What the background flusher does every flush_interval, now: writes the
  // pending events and counter deltas (durable on return), then reloads the
  // delivery totals, which include every other server's written deliveries.
  // Histories stay in memory until Flush(). For servers that refresh pacing
  // on a schedule of their own (flush_interval infinite), such as the
  // simulation's lanes at the end of each simulated hour. The default is
  // Flush().
  virtual absl::Status RefreshDeliveries() { return Flush(); }

  // Delivery of an item so far (this server's view: last loaded totals plus
  // local deltas): requests and clicks.
  virtual std::pair<int64_t, int64_t> Delivered(std::string_view item_id) const = 0;

  // Requests that pruning could not settle and that ran exhaustively, and all
  // requests, since creation (for tuning prune_limit).
  virtual std::pair<int64_t, int64_t> ExhaustiveReruns() const = 0;

  // Queue depth and counter lag; takes two short locks (not for the request path).
  virtual SelectorStats Stats() const { return {}; }
};

absl::StatusOr<std::unique_ptr<ContentSelector>> NewContentSelector(
    std::shared_ptr<const CompiledCatalog> catalog, const SelectorConfig& config);

// Click tracking (docs/pipelines.md, "Recording clicks"). The ids of the
// catalog's ads (with `discounts`, discount ads) whose display, rendered by
// `pipeline`, links straight to the advertiser's click_url: a visitor's click
// on such a link never reaches the site, so no click is recorded and
// click-goaled ads cannot pace. Empty when the pipeline's FormatTemplate has a
// click_redirect, when no FormatTemplate renders (no format stage, or only
// other components, whose links Herald cannot know), or when no such display
// has a click_url (non-clickable images never link).
std::vector<std::string> ItemsLinkingPastTheSite(const v1::Catalog& catalog,
                                                 const v1::PipelineDefinition& pipeline,
                                                 bool discounts = false);

// Registers the built-in selection components (idempotent).
void RegisterSelectionComponents(Registry* registry);

}  // namespace herald

#endif  // HERALD_SELECTION_H_
