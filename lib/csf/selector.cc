// ContentSelector: the selection pipelines over a swappable catalog snapshot,
// with delivery counters, user histories and event recording.
#include "core/strings.h"
#include <algorithm>
#include <cmath>
#include <span>
#include <deque>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/plain_mutex.h"
#include "core/proto_io.h"
#include "csf/selection_state.h"
#include "herald/counters.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald {
namespace {

constexpr char kAdvertisingPipeline[] = R"pb(
name: "advertising"
family: "selection"
stages { name: "load_context" components { name: "LoadContext" } components { name: "LoadHistory" } }
stages { name: "filter" components { name: "FilterContent" } components { name: "ExposureLimit" } }
stages { name: "initial_score" components { name: "NeedOfDelivery" } }
stages { name: "score" components { name: "HistoryPenalty" } components { name: "EvalTargetGroups" } }
stages { name: "select" components { name: "SelectWinners" } }
stages { name: "record" components { name: "RecordHistory" } components { name: "RecordEvent" } }
stages { name: "format" components { name: "FormatTemplate" } }
)pb";

constexpr char kDiscountPipeline[] = R"pb(
name: "discounts"
family: "selection"
stages { name: "load_context" components { name: "LoadContext" } components { name: "LoadHistory" } }
stages { name: "filter" components { name: "FilterContent" } components { name: "ExposureLimit" } }
stages { name: "initial_score" components { name: "DiscountPriority" } }
stages { name: "score" components { name: "DiscountEligibility" } components { name: "HistoryPenalty" } components { name: "EvalTargetGroups" } }
stages { name: "select" components { name: "SelectWinners" } }
stages { name: "record" components { name: "RecordHistory" } components { name: "RecordEvent" } }
stages { name: "format" components { name: "FormatTemplate" } }
)pb";

const v1::PipelineDefinition& ParseBuiltin(const char* text, const char* name) {
  auto parsed = ParsePipelineDefinition(text, name);
  if (!parsed.ok()) std::abort();  // a built-in constant; covered by tests
  return *new v1::PipelineDefinition(std::move(*parsed));
}

// A user's history in memory. Item ids are interned to stable keys. The
// usual sizes are stored inline, so that reading a user's history touches
// the hash table's slot and nothing it points to.
//
// Exposure counts (docs/pacing.md, "Exposure limits and frequency caps"):
// per user in all (kUser), per session (kSession, keyed by a stable hash of
// the session id), per local day and week (kDay, kWeek), and kOverflow, the
// largest count of live sessions evicted from the bounded session list. Only
// items with a limit or cap are counted.
enum CountKind : uint8_t {
  kUser = 0,
  kSession = static_cast<uint8_t>(UserHistory::Scope::kSession),
  kDay = static_cast<uint8_t>(UserHistory::Scope::kDay),
  kWeek = static_cast<uint8_t>(UserHistory::Scope::kWeek),
  kOverflow = static_cast<uint8_t>(UserHistory::Scope::kOverflow),
};
struct ExposureCount {
  int64_t scope = 0;    // kSession: session hash; kDay: local day; kWeek: its Monday; else 0
  uint32_t item = 0;    // stable key
  uint8_t kind = kUser;
  int32_t count = 0;
  int32_t unsaved = 0;  // what the store has not got yet (kOverflow: nonzero = changed)
};
struct SessionSeen {
  int64_t id;         // stable hash of the session id
  int64_t last_seen;  // Unix seconds
};
// Sessions kept per user: with more live sessions at once, the least
// recently seen one is folded into kOverflow (see AdmitSession).
constexpr size_t kMaxSessions = 4;

struct HistoryState {
  absl::InlinedVector<uint32_t, 35> recent;              // stable keys, most recent LAST
  absl::InlinedVector<ExposureCount, 4> counts;
  absl::InlinedVector<SessionSeen, 2> sessions;          // at most kMaxSessions
  int64_t overflow_until = 0;    // kOverflow applies to unknown sessions until then (Unix seconds)
  uint16_t recent_unsaved = 0;   // the last ones of `recent` the store has not got
  bool dirty = false;            // has unsaved counts or recent items
  bool loaded = false;           // false: (re)load from the store, keeping what is unsaved
};

// FNV-1a: stable across processes (the store keeps it); never 0 (= no session).
int64_t SessionHash(std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : id) h = (h ^ c) * 0x100000001b3ull;
  return static_cast<int64_t>(h | 1);
}

ExposureCount* FindCount(HistoryState& h, uint32_t item, uint8_t kind, int64_t scope) {
  for (ExposureCount& c : h.counts) {
    if (c.item == item && c.kind == kind && c.scope == scope) return &c;
  }
  return nullptr;
}

// Adds `n` to a count; a day or week count of an earlier period is reused.
void AddCount(HistoryState& h, uint32_t item, uint8_t kind, int64_t scope, int32_t n) {
  if (ExposureCount* c = FindCount(h, item, kind, scope)) {
    c->count += n;
    c->unsaved += n;
    return;
  }
  if (kind == kDay || kind == kWeek) {
    for (ExposureCount& c : h.counts) {
      if (c.item == item && c.kind == kind && c.scope < scope) {  // a past period: over
        c = ExposureCount{scope, item, kind, n, n};
        return;
      }
    }
  }
  h.counts.push_back(ExposureCount{scope, item, kind, n, n});
}

// Makes room for session `id` first seen at `now`. The list is bounded; the
// least recently seen session leaves it. If it is still live (seen within
// `timeout`) its counts are folded into kOverflow, taking per item the
// largest, and kOverflow applies to every session not in the list until
// that session would have timed out; a session entering while kOverflow
// applies starts from its counts. So a live session is never undercounted
// (an evicted one coming back reads at least its own count); the price is
// that other new sessions may be overcounted for at most `timeout`.
void AdmitSession(HistoryState& h, int64_t id, int64_t now, int64_t timeout) {
  if (h.sessions.size() >= kMaxSessions) {
    auto lru = std::min_element(h.sessions.begin(), h.sessions.end(),
                                [](const SessionSeen& a, const SessionSeen& b) { return a.last_seen < b.last_seen; });
    const int64_t gone = lru->id;
    const bool live = now - lru->last_seen < timeout;
    if (live) h.overflow_until = std::max(h.overflow_until, lru->last_seen + timeout);
    for (const ExposureCount& c : h.counts) {
      if (!live || c.kind != kSession || c.scope != gone) continue;
      ExposureCount* o = FindCount(h, c.item, kOverflow, 0);
      if (o == nullptr) {
        h.counts.push_back(ExposureCount{0, c.item, kOverflow, c.count, 1});
      } else if (o->count < c.count) {
        o->count = c.count;
        o->unsaved = 1;
      }
    }
    h.counts.erase(std::remove_if(h.counts.begin(), h.counts.end(),
                                  [&](const ExposureCount& c) { return c.kind == kSession && c.scope == gone; }),
                   h.counts.end());
    h.sessions.erase(lru);
  }
  h.sessions.push_back(SessionSeen{id, now});
  if (now < h.overflow_until) {
    for (size_t i = 0, n = h.counts.size(); i < n; ++i) {
      const ExposureCount o = h.counts[i];
      if (o.kind == kOverflow && FindCount(h, o.item, kSession, id) == nullptr) {
        h.counts.push_back(ExposureCount{id, o.item, kSession, o.count, o.count});
      }
    }
  } else {  // every evicted session has timed out
    h.counts.erase(std::remove_if(h.counts.begin(), h.counts.end(),
                                  [](const ExposureCount& c) { return c.kind == kOverflow; }),
                   h.counts.end());
  }
}

// Adds what `delta` has not saved to `base` (a fresher copy from the store):
// counts, sessions, the overflow and recent items.
void MergeUnsaved(const HistoryState& delta, HistoryState& base) {
  for (const ExposureCount& c : delta.counts) {
    if (c.unsaved == 0) continue;
    if (c.kind == kOverflow) {
      ExposureCount* o = FindCount(base, c.item, kOverflow, 0);
      if (o == nullptr) {
        base.counts.push_back(c);
      } else {
        o->count = std::max(o->count, c.count);
        o->unsaved = 1;
      }
      continue;
    }
    AddCount(base, c.item, c.kind, c.scope, c.unsaved);
  }
  for (const SessionSeen& seen : delta.sessions) {
    auto it = std::find_if(base.sessions.begin(), base.sessions.end(),
                           [&](const SessionSeen& x) { return x.id == seen.id; });
    if (it == base.sessions.end()) {
      base.sessions.push_back(seen);
    } else {
      it->last_seen = std::max(it->last_seen, seen.last_seen);
    }
  }
  base.overflow_until = std::max(base.overflow_until, delta.overflow_until);
  const size_t n = std::min<size_t>(delta.recent_unsaved, delta.recent.size());
  base.recent.insert(base.recent.end(), delta.recent.end() - n, delta.recent.end());
  base.recent_unsaved = static_cast<uint16_t>(std::min<size_t>(base.recent_unsaved + n, UINT16_MAX));
  base.dirty = base.dirty || delta.dirty;
}

// Brings a merged list back within kMaxSessions (oldest first out, by the
// AdmitSession rule) and `recent` within `keep`.
void Bound(HistoryState& h, int64_t now, int64_t timeout, size_t keep) {
  while (h.sessions.size() > kMaxSessions) {
    auto newest = std::max_element(h.sessions.begin(), h.sessions.end(),
                                   [](const SessionSeen& a, const SessionSeen& b) { return a.last_seen < b.last_seen; });
    SessionSeen admit = *newest;
    h.sessions.erase(newest);
    // Re-admit the newest once the list has room: evicts the oldest.
    absl::InlinedVector<ExposureCount, 4> mine;
    for (const ExposureCount& c : h.counts) {
      if (c.kind == kSession && c.scope == admit.id) mine.push_back(c);
    }
    h.counts.erase(std::remove_if(h.counts.begin(), h.counts.end(),
                                  [&](const ExposureCount& c) { return c.kind == kSession && c.scope == admit.id; }),
                   h.counts.end());
    AdmitSession(h, admit.id, now, timeout);
    h.sessions.back().last_seen = admit.last_seen;
    for (const ExposureCount& c : mine) {
      if (ExposureCount* x = FindCount(h, c.item, kSession, admit.id)) {
        *x = c;  // a known session reads its own count, not the overflow's
      } else {
        h.counts.push_back(c);
      }
    }
  }
  if (h.recent.size() > keep) h.recent.erase(h.recent.begin(), h.recent.end() - keep);
}

// Interns item ids to stable keys across catalog snapshots.
class ItemKeys {
 public:
  uint32_t Intern(std::string_view id) {
    absl::MutexLock lock(&mu_);
    auto [it, added] = keys_.try_emplace(std::string(id), static_cast<uint32_t>(ids_.size()));
    if (added) ids_.emplace_back(id);
    return it->second;
  }
  std::string Id(uint32_t key) const {
    absl::MutexLock lock(&mu_);
    return key < ids_.size() ? ids_[key] : std::string();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint32_t> keys_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ids_ ABSL_GUARDED_BY(mu_);
};

// One catalog snapshot with what the selector derived from it.
struct Binding {
  Binding() = default;
  Binding(const Binding&) = delete;
  std::shared_ptr<const CompiledCatalog> catalog;
  // Per page group (last: requests without one), the current ranking and
  // how many times it was replaced (request scratches keep the ranking they
  // read while its version stays the same).
  mutable std::vector<std::atomic<std::shared_ptr<const RankedAds>>> ranked;
  mutable std::unique_ptr<std::atomic<uint64_t>[]> ranked_version;
  CounterSlots* slots = nullptr;       // counters, index = item index
  std::vector<uint32_t> key_of;        // item index -> stable key
  std::vector<int32_t> index_of;       // stable key -> item index; -1 or out of range = not in this catalog
  int32_t IndexOf(uint32_t key) const {
    return key < index_of.size() ? index_of[key] : -1;
  }
};

class Selector final : public ContentSelector, public SelectorServices {
 public:
  Selector(const SelectorConfig& config) : options_(config.options), store_(config.store) {}

  absl::Status Init(std::shared_ptr<const CompiledCatalog> catalog, const SelectorConfig& config) {
    if (catalog == nullptr) return absl::InvalidArgumentError("NewContentSelector: no catalog");
    if (config.registry == nullptr) return absl::InvalidArgumentError("NewContentSelector: no registry");
    if (store_ == nullptr) {
      owned_store_ = NewMemoryStore();
      store_ = owned_store_.get();
    }
    CreateContext cc;
    cc.registry = config.registry;
    cc.store = store_;
    auto ads = Pipeline<SelectionContext>::Create(
        config.advertising ? *config.advertising : DefaultAdvertisingPipeline(), cc,
        config.advertising ? "advertising pipeline" : "built-in advertising pipeline");
    if (!ads.ok()) return ads.status();
    advertising_ = std::move(*ads);
    auto discounts = Pipeline<SelectionContext>::Create(
        config.discounts ? *config.discounts : DefaultDiscountPipeline(), cc,
        config.discounts ? "discount pipeline" : "built-in discount pipeline");
    if (!discounts.ok()) return discounts.status();
    discounts_ = std::move(*discounts);

    std::vector<std::string> ids = ItemIds(*catalog);
    DeliveryCountersOptions counter_options;
    counter_options.flush_interval = options_.flush_interval;
    quota_leases_ = options_.quota_leases == SelectorOptions::QuotaLeases::kOn ||
                    (options_.quota_leases == SelectorOptions::QuotaLeases::kAuto && options_.servers > 1);
    counter_options.lease_quota = quota_leases_;
    counter_options.lease_horizon = options_.lease_horizon;
    auto counters = DeliveryCounters::Create(&store_->counters(), ids, counter_options);
    if (!counters.ok()) return counters.status();
    counters_ = std::move(*counters);
    EventRecorderOptions recorder_options;
    recorder_options.flush_interval = std::min(options_.flush_interval, absl::Milliseconds(200));
    // Nothing is lost: when the store cannot keep up, requests wait for room
    // (backpressure) instead of dropping events and their counts.
    recorder_options.block_when_full = true;
    recorder_ = EventRecorder::Create(&store_->events(), counters_.get(), recorder_options);
    binding_.store(MakeBinding(std::move(catalog), counters_->slots()));
    // Pruning relies on the initial score being Need of Delivery alone.
    for (const auto* pipeline : {advertising_.get(), discounts_.get()}) {
      std::vector<const SelectionComponent*> others;
      const PacedScorer* paced = nullptr;
      int initial = 0;
      for (const auto& [stage, component] : pipeline->Instances()) {
        if (stage == "initial_score") {
          ++initial;
          paced = dynamic_cast<const PacedScorer*>(component);
        } else {
          others.push_back(component);
        }
      }
      bounds_.push_back(std::move(others));
      paced_.push_back(initial == 1 ? paced : nullptr);
    }
    return absl::OkStatus();
  }

  ~Selector() override {
    if (absl::Status s = Flush(); !s.ok()) {
      fprintf(stderr, "herald: selector: final flush failed: %s\n", std::string(s.message()).c_str());
    }
    recorder_.reset();
    counters_.reset();
  }

  // ------------------------------------------------------------ ContentSelector

  absl::StatusOr<SelectionResult> Select(const SelectionRequest& request) const override {
    SelectionResult result;
    PrefetchUser(request);
    std::unique_ptr<RequestScratch> scratch = AcquireScratch();
    // The scratch keeps the snapshot it last used while no new one was set:
    // a request reads one atomic and writes nothing shared.
    const uint64_t version = binding_version_.load(std::memory_order_acquire);
    if (scratch->binding_version != version || scratch->binding_ref == nullptr) {
      scratch->DropSnapshot();
      scratch->binding_ref = binding_.load();
      scratch->binding_version = version;
    }
    const Binding* binding = static_cast<const Binding*>(scratch->binding_ref.get());
    SelectionContext ctx;
    scratch->SwapLists(ctx);  // no allocation per request
    ctx.request = &request;
    ctx.catalog = binding->catalog.get();
    ctx.services = const_cast<Selector*>(this);
    ctx.scratch = scratch.get();
    scratch->binding = binding;
    ctx.now = request.time == absl::InfinitePast() ? absl::Now() : request.time;
    ctx.servers = std::max(1, options_.servers);
    ctx.quota_leases = quota_leases_;
    ctx.pacing_lead = options_.pacing_lead != absl::InfiniteDuration() ? options_.pacing_lead
                      : ctx.servers > 1 ? 3 * options_.flush_interval
                                        : absl::ZeroDuration();
    if (request.trace) ctx.trace = &result.trace;
    const Pipeline<SelectionContext>& pipeline = request.discounts ? *discounts_ : *advertising_;
    // Pruning needs the NOD formula and a finite bound on every other multiplier.
    int which = request.discounts ? 1 : 0;
    scratch->paced = paced_[which];
    if (options_.prune_limit > 0 && paced_[which] != nullptr && !ctx.catalog->has_sponsor_entries()) {
      double product = 1;
      for (const SelectionComponent* c : bounds_[which]) product *= c->MaxScoreMultiplier(ctx);
      if (std::isfinite(product)) {
        ctx.max_multiplier = product;
        ctx.prune_limit = std::max(options_.prune_limit, 4 * request.count);
      }
    }
    Bump(scratch->requests);
    absl::Status status = pipeline.Run(ctx);
    while (status.ok() && ctx.needs_exhaustive) {
      // Widen: four times as many candidates, then all of them.
      Bump(scratch->reruns);
      if (ctx.trace != nullptr) {
        ctx.trace->Note("", "rerun", Cat("pruning to ", ctx.prune_limit,
                                         " paid ads could not prove the winners; widening"));
      }
      GiveBackQuota(*scratch);
      ctx.candidates.clear();
      ctx.winners.clear();
      ctx.results.clear();
      ctx.history.clear();
      ctx.exposures.clear();
      ctx.needs_exhaustive = false;
      ctx.prune_limit *= 4;
      ctx.exhaustive = ctx.prune_limit > 256;
      ctx.pruned = false;
      status = pipeline.Run(ctx);
    }
    if (!status.ok()) GiveBackQuota(*scratch);
    scratch->quota_taken.clear();
    scratch->SwapLists(ctx);  // the memory back to the scratch
    ReleaseScratch(std::move(scratch));
    if (!status.ok()) return status;
    result.winners = std::move(ctx.results);
    return result;
  }

  absl::Status RecordClick(std::string_view item_id, std::string_view user_id,
                           std::string_view page_group, absl::Time time) const override {
    std::shared_ptr<const Binding> binding = binding_.load();
    const CompiledItem* item = binding->catalog->FindItem(item_id);
    if (item == nullptr) {
      return absl::NotFoundError(Cat("click on unknown item \"", item_id, "\""));
    }
    v1::Event event;
    event.set_type(v1::EVENT_TYPE_CLICK);
    SetTime(time == absl::InfinitePast() ? absl::Now() : time, &event);
    event.set_user_id(std::string(user_id));
    event.set_item_id(item->id);
    event.set_campaign_id(item->campaign_id);
    event.set_page_group(std::string(page_group));
    if (!recorder_->Append(std::move(event))) {
      return absl::ResourceExhaustedError("click not recorded: the event queue is full");
    }
    return absl::OkStatus();
  }

  absl::Status SetCatalog(std::shared_ptr<const CompiledCatalog> catalog) override {
    if (catalog == nullptr) return absl::InvalidArgumentError("SetCatalog: null catalog");
    std::vector<std::string> ids = ItemIds(*catalog);
    CounterSlots* slots = counters_->Remap(ids);
    binding_.store(MakeBinding(std::move(catalog), slots));
    binding_version_.fetch_add(1, std::memory_order_acq_rel);
    // Idle scratches let go of the old snapshot now, not at their next request.
    ForEachIdleScratch([](RequestScratch& s) { s.DropSnapshot(); });
    return absl::OkStatus();
  }

  std::shared_ptr<const CompiledCatalog> catalog() const override {
    return binding_.load()->catalog;
  }

  absl::Status Flush() override {
    absl::Status status = recorder_ ? recorder_->Flush() : absl::OkStatus();
    if (counters_) status.Update(counters_->Flush());
    status.Update(SaveHistories());
    return status;
  }

  absl::Status RefreshDeliveries() override {
    absl::Status status = recorder_ ? recorder_->Flush() : absl::OkStatus();
    if (counters_) status.Update(counters_->Flush());
    return status;
  }

  SelectorStats Stats() const override {
    SelectorStats stats;
    if (recorder_) {
      stats.events_queued = recorder_->queued();
      stats.events_written = recorder_->written();
      stats.events_dropped = recorder_->dropped();
    }
    if (counters_) stats.counters_flushed = counters_->last_successful_flush();
    return stats;
  }

  std::pair<int64_t, int64_t> Delivered(std::string_view item_id) const override {
    std::shared_ptr<const Binding> binding = binding_.load();
    int32_t index = binding->slots->IndexOf(item_id);
    if (index < 0) return {0, 0};
    ServedCount served = binding->slots->Served(index);
    return {served.requests, served.clicks};
  }

  // ------------------------------------------------------------ SelectionServices

  static const Binding& BindingOf(SelectionContext& ctx) {
    return *static_cast<const Binding*>(static_cast<RequestScratch*>(ctx.scratch)->binding);
  }

  DeliveryDetail Delivery(SelectionContext& ctx, uint32_t item) override {
    return BindingOf(ctx).slots->Detail(static_cast<int32_t>(item));
  }
  void PrefetchDelivery(SelectionContext& ctx, uint32_t item) override {
    BindingOf(ctx).slots->Prefetch(static_cast<int32_t>(item));
  }

  void ReadHistory(SelectionContext& ctx) override {
    const Binding& b = BindingOf(ctx);
    const SelectionRequest& request = *ctx.request;
    const std::string& user = HistoryKey(request);
    Shard& shard = ShardOf(user);
    for (int attempt = 0; attempt < 2; ++attempt) {
      {
        PlainLock lock(&shard.mu);
        auto it = shard.users.find(user);
        if (it != shard.users.end() && it->second.loaded) {
          ReadLocked(ctx, b, it->second);
          return;
        }
      }
      LoadFromStore(shard, user, ctx.now);  // first sight of this user, or stale since a flush
    }
  }

  // The request's view of a user's counts: its session's (or the user's in
  // all without a session id), today's and this week's, by item.
  void ReadLocked(SelectionContext& ctx, const Binding& b, const HistoryState& h) {
    for (auto it = h.recent.rbegin(); it != h.recent.rend(); ++it) {
      int32_t index = b.IndexOf(*it);
      if (index >= 0) ctx.history.push_back(static_cast<uint32_t>(index));
    }
    if (h.counts.empty()) return;
    const std::string& sid = ctx.request->session_id;
    const int64_t session = sid.empty() ? 0 : SessionHash(sid);
    const LocalTime& local = scratch(ctx).local[0];  // the catalog's zone
    const int64_t day = local.day, week = local.day - local.weekday;
    bool overflow = false;
    if (session != 0 && ToUnixSeconds(ctx.now) < h.overflow_until) {
      overflow = std::none_of(h.sessions.begin(), h.sessions.end(),
                              [&](const SessionSeen& x) { return x.id == session; });
    }
    for (const ExposureCount& c : h.counts) {
      int32_t Exposure::*field = nullptr;
      switch (c.kind) {
        case kUser: if (session == 0) field = &Exposure::count; break;
        case kSession: if (session != 0 && c.scope == session) field = &Exposure::count; break;
        case kOverflow: if (overflow) field = &Exposure::count; break;
        case kDay: if (c.scope == day) field = &Exposure::today; break;
        case kWeek: if (c.scope == week) field = &Exposure::this_week; break;
      }
      if (field == nullptr) continue;
      const int32_t index = b.IndexOf(c.item);
      if (index < 0) continue;
      Exposure* e = nullptr;
      for (Exposure& x : ctx.exposures) {
        if (x.item == static_cast<uint32_t>(index)) e = &x;
      }
      if (e == nullptr) e = &ctx.exposures.emplace_back(Exposure{static_cast<uint32_t>(index)});
      e->*field = c.count;
    }
  }

  void AddToHistory(SelectionContext& ctx, int history_size) override {
    const Binding& b = BindingOf(ctx);
    const SelectionRequest& request = *ctx.request;
    const std::vector<uint32_t>& winners = ctx.winners;
    const std::string& user = HistoryKey(request);
    const int64_t now = ToUnixSeconds(ctx.now);
    const int64_t session = request.session_id.empty() ? 0 : SessionHash(request.session_id);
    const LocalTime& local = scratch(ctx).local[0];
    const int64_t day = local.day, week = local.day - local.weekday;
    Shard& shard = ShardOf(user);
    PlainLock lock(&shard.mu);
    auto it = shard.users.find(user);
    if (it == shard.users.end()) {
      // Evicted (or stale) since this request read it: the counts added here
      // stay unsaved and join the stored ones when it loads again.
      if (shard.users.size() >= options_.max_users_in_memory / kShards + 1) EvictLocked(shard);
      it = shard.users.try_emplace(user).first;
    }
    HistoryState& h = it->second;
    if (session != 0) {
      auto seen = std::find_if(h.sessions.begin(), h.sessions.end(),
                               [&](const SessionSeen& x) { return x.id == session; });
      if (seen == h.sessions.end()) {
        AdmitSession(h, session, now, SessionTimeout());
      } else {
        seen->last_seen = std::max(seen->last_seen, now);
      }
    }
    for (uint32_t w : winners) {
      const CompiledItem& item = b.catalog->items()[w];
      const uint32_t key = b.key_of[w];
      h.recent.push_back(key);
      if (h.recent_unsaved < UINT16_MAX) ++h.recent_unsaved;
      if (item.exposure_limit > 0) {
        AddCount(h, key, kUser, 0, 1);
        if (session != 0) AddCount(h, key, kSession, session, 1);
      }
      if (item.frequency_capped) {
        if (item.max_per_day > 0) AddCount(h, key, kDay, day, 1);
        if (item.max_per_week > 0) AddCount(h, key, kWeek, week, 1);
      }
    }
    if (h.recent.size() > static_cast<size_t>(history_size)) {
      h.recent.erase(h.recent.begin(), h.recent.end() - history_size);
    }
    h.dirty = true;
  }

  void RecordItemEvent(SelectionContext& ctx, const EventView& event, uint32_t item) override {
    recorder_->Append(event, BindingOf(ctx).slots, static_cast<int32_t>(item));
  }

  bool TakeQuota(SelectionContext& ctx, uint32_t item) override {
    CounterSlots* slots = BindingOf(ctx).slots;
    const int32_t index = static_cast<int32_t>(item);
    if (!slots->TakeQuota(index)) return false;
    if (ctx.request->record) {
      scratch(ctx).quota_taken.push_back(item);
    } else {
      slots->ReturnQuota(index);  // a dry run only checks
    }
    return true;
  }

  // Gives back the quota units of a run that is repeated or failed.
  static void GiveBackQuota(RequestScratch& s) {
    const Binding& b = *static_cast<const Binding*>(s.binding);
    for (uint32_t item : s.quota_taken) b.slots->ReturnQuota(static_cast<int32_t>(item));
    s.quota_taken.clear();
  }

  RequestScratch& scratch(SelectionContext& context) override {
    return *static_cast<RequestScratch*>(context.scratch);
  }

  absl::BitGenRef Random(SelectionContext& context) override { return scratch(context).rng; }

  const RankedAds& Ranked(SelectionContext& ctx, int32_t page_group) override {
    const Binding& b = BindingOf(ctx);
    RequestScratch& s = scratch(ctx);
    const size_t slot = page_group < 0 ? b.ranked.size() - 1 : static_cast<size_t>(page_group);
    if (s.ranked.size() != b.ranked.size()) {
      s.ranked.assign(b.ranked.size(), nullptr);
      s.ranked_version.assign(b.ranked.size(), 0);
    }
    // Valid up to valid_until; rebuilt too when time went back (a ranking built
    // for a later time is a valid but loose bound).
    auto valid = [&](const RankedAds* r) {
      return r != nullptr && ctx.now <= r->valid_until && ctx.now >= r->built_for - absl::Seconds(1);
    };
    // The scratch's copy while the shared one is unchanged (no shared writes).
    const uint64_t version = b.ranked_version[slot].load(std::memory_order_acquire);
    if (s.ranked_version[slot] == version && valid(s.ranked[slot].get())) return *s.ranked[slot];
    std::shared_ptr<const RankedAds> current = b.ranked[slot].load(std::memory_order_acquire);
    if (!valid(current.get())) {
      current = BuildRanking(ctx, b, page_group);
      b.ranked[slot].store(current, std::memory_order_release);
      b.ranked_version[slot].fetch_add(1, std::memory_order_acq_rel);
    }
    // A version read before the load: a newer ranking stored meanwhile only
    // makes the next request load it again.
    s.ranked_version[slot] = version;
    s.ranked[slot] = std::move(current);
    return *s.ranked[slot];
  }

  std::pair<int64_t, int64_t> ExhaustiveReruns() const override {
    int64_t reruns = 0, requests = 0;
    absl::MutexLock lock(&pool_mu_);
    for (const RequestScratch* s : all_scratches_) {
      reruns += s->reruns.load(std::memory_order_relaxed);
      requests += s->requests.load(std::memory_order_relaxed);
    }
    return {reruns, requests};
  }

 private:
  struct alignas(64) Shard {
    PlainMutex mu;  // on every request: see core/plain_mutex.h
    absl::flat_hash_map<std::string, HistoryState> users ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 64;

  static std::vector<std::string> ItemIds(const CompiledCatalog& catalog) {
    std::vector<std::string> ids;
    ids.reserve(catalog.items().size());
    for (const CompiledItem& item : catalog.items()) ids.push_back(item.id);
    return ids;
  }

  static void SetTime(absl::Time t, v1::Event* event) {
    int64_t nanos = absl::ToUnixNanos(t);
    event->mutable_time()->set_seconds(nanos / 1'000'000'000);
    event->mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  }

  // Ranks the page group's paid ads by (expected by valid_until - delivered) / goal.
  std::shared_ptr<const RankedAds> BuildRanking(SelectionContext& ctx, const Binding& b,
                                                int32_t page_group) {
    const CompiledCatalog& catalog = *b.catalog;
    auto out = std::make_shared<RankedAds>();
    out->built_for = ctx.now;
    out->valid_until = ctx.now + options_.ranking_horizon;
    const absl::Time paced_until = out->valid_until + ctx.pacing_lead;
    std::vector<LocalTime> local;
    for (const absl::TimeZone& zone : catalog.zones()) local.push_back(LocalTime::Of(paced_until, zone));
    auto add = [&](std::span<const uint32_t> list) {
      for (uint32_t index : list) {
        const CompiledItem& item = catalog.items()[index];
        if (item.kind != ItemKind::kPaidAd) {
          out->others.push_back(index);
          continue;
        }
        ServedCount served = b.slots->Served(static_cast<int32_t>(index));
        int64_t delivered = item.goal_clicks ? served.clicks : served.requests;
        if (item.goal <= 0 || delivered >= item.goal) continue;  // never serves again
        const CompiledSchedule& sc = item.schedule;
        double fraction = sc.total_seconds > 0
                              ? sc.DeliverableSecondsUntil(paced_until, local[sc.zone]) / sc.total_seconds
                              : 1.0;
        double bound = scratch(ctx).paced->Nod(item.goal * fraction, static_cast<double>(delivered),
                                               static_cast<double>(item.goal)) *
                       item.max_target_multiplier;
        if (bound <= 0) continue;
        out->paid.push_back(RankedAds::Entry{bound, index, item.size});
      }
    };
    if (page_group < 0) {
      add(catalog.AllAds());
    } else {
      add(catalog.AdsOnPageGroup(page_group));
      add(catalog.AdsOnEveryPage());
    }
    std::sort(out->paid.begin(), out->paid.end(), [](const auto& x, const auto& y) {
      return x.bound != y.bound ? x.bound > y.bound : x.item < y.item;
    });
    out->paid.erase(std::unique(out->paid.begin(), out->paid.end()), out->paid.end());
    std::sort(out->others.begin(), out->others.end());
    out->others.erase(std::unique(out->others.begin(), out->others.end()), out->others.end());
    return out;
  }

  std::shared_ptr<const Binding> MakeBinding(std::shared_ptr<const CompiledCatalog> catalog,
                                             CounterSlots* slots) {
    auto b = std::make_shared<Binding>();
    b->catalog = std::move(catalog);
    b->slots = slots;
    b->ranked = std::vector<std::atomic<std::shared_ptr<const RankedAds>>>(
        b->catalog->catalog().reference_tables().page_groups_size() + 1);
    b->ranked_version = std::make_unique<std::atomic<uint64_t>[]>(b->ranked.size());
    for (size_t i = 0; i < b->ranked.size(); ++i) b->ranked_version[i].store(1);
    for (const CompiledItem& item : b->catalog->items()) {
      // Quota leases bound paid ads goaled by requests (clicks follow serving).
      if (item.kind == ItemKind::kPaidAd && !item.goal_clicks) {
        slots->SetQuotaGoal(static_cast<int32_t>(item.index), item.goal);
      }
      uint32_t key = keys_.Intern(item.id);
      b->key_of.push_back(key);
      if (key >= b->index_of.size()) b->index_of.resize(key + 1, -1);
      b->index_of[key] = static_cast<int32_t>(item.index);
    }
    return b;
  }

  // Sets the user's data, which is usually cold, on its way into the cache
  // before the pipeline reads it: the profile messages and the history slot.
  // Their misses then overlap instead of following one another.
  void PrefetchUser(const SelectionRequest& request) const {
    // A prepared profile is read instead of the plain one: its values sit in
    // its first cache lines.
    if (request.prepared_user != nullptr) {
      const char* prepared = reinterpret_cast<const char*>(request.prepared_user);
      __builtin_prefetch(prepared);
      __builtin_prefetch(prepared + 64);
      __builtin_prefetch(prepared + 128);
    } else if (request.user != nullptr) {
      __builtin_prefetch(request.user);
    }
    if (request.prepared_context == nullptr && request.context != nullptr) __builtin_prefetch(request.context);
    const std::string& user = HistoryKey(request);
    if (user.empty()) return;
    Shard& shard = ShardOf(user);
    PlainLock lock(&shard.mu);
    shard.users.prefetch(user);
  }

  // Whose history a request reads and extends: the user's, else the session's.
  static const std::string& HistoryKey(const SelectionRequest& request) {
    return request.user_id.empty() ? request.session_id : request.user_id;
  }

  Shard& ShardOf(std::string_view user) const {
    return shards_[absl::HashOf(user) % kShards];
  }

  int64_t SessionTimeout() const { return absl::ToInt64Seconds(options_.session_timeout); }
  static int64_t ToUnixSeconds(absl::Time t) { return absl::ToUnixSeconds(t); }

  // A stored history in memory form.
  HistoryState FromStored(const UserHistory& stored) {
    HistoryState h;
    for (auto it = stored.recent.rbegin(); it != stored.recent.rend(); ++it) h.recent.push_back(keys_.Intern(*it));
    for (const auto& [id, count] : stored.exposures) {
      h.counts.push_back(ExposureCount{0, keys_.Intern(id), kUser, count, 0});
    }
    for (const UserHistory::Count& c : stored.counts) {
      h.counts.push_back(ExposureCount{c.scope, keys_.Intern(c.item_id), static_cast<uint8_t>(c.kind), c.count, 0});
    }
    for (const auto& [id, last_seen] : stored.sessions) h.sessions.push_back(SessionSeen{id, last_seen});
    h.overflow_until = stored.overflow_until;
    return h;
  }
  UserHistory ToStored(const HistoryState& h) const {
    UserHistory out;
    for (auto it = h.recent.rbegin(); it != h.recent.rend(); ++it) out.recent.push_back(keys_.Id(*it));
    for (const ExposureCount& c : h.counts) {
      if (c.kind == kUser) {
        out.exposures.emplace_back(keys_.Id(c.item), c.count);
      } else {
        out.counts.push_back(UserHistory::Count{keys_.Id(c.item), static_cast<UserHistory::Scope>(c.kind),
                                                c.scope, c.count});
      }
    }
    for (const SessionSeen& x : h.sessions) out.sessions.emplace_back(x.id, x.last_seen);
    out.overflow_until = h.overflow_until;
    return out;
  }

  // Loads a user's stored history when this process first sees the user, or
  // again after a flush (another process may have served the user since):
  // the stored counts plus what this process has not saved yet. A missing
  // or unreadable history starts empty.
  void LoadFromStore(Shard& shard, const std::string& user, absl::Time now) {
    auto stored = store_->history().LoadHistory(user);
    HistoryState fresh;
    if (stored.ok() && stored->has_value()) fresh = FromStored(**stored);
    PlainLock lock(&shard.mu);
    auto it = shard.users.find(user);
    if (it == shard.users.end()) {
      if (shard.users.size() >= options_.max_users_in_memory / kShards + 1) EvictLocked(shard);
      it = shard.users.try_emplace(user).first;
    }
    HistoryState& h = it->second;
    if (h.loaded) return;
    MergeUnsaved(h, fresh);
    fresh.recent_unsaved = h.recent_unsaved;
    fresh.dirty = h.dirty;
    Bound(fresh, ToUnixSeconds(now), SessionTimeout(), std::max<size_t>(h.recent.size(), 35));
    fresh.loaded = true;
    h = std::move(fresh);
  }

  // Drops about an eighth of the shard's clean histories (they reload from
  // the store when their users return).
  static void EvictLocked(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
    size_t budget = shard.users.size() / 8 + 1;
    for (auto it = shard.users.begin(); it != shard.users.end() && budget > 0;) {
      if (!it->second.dirty) {
        shard.users.erase(it++);
        --budget;
      } else {
        ++it;
      }
    }
  }

  // Saves what each history has not saved, added to what the store holds
  // (other processes sharing the store may have served the user), then
  // marks every history in memory stale so that its next request reloads
  // the sum. Exact across processes that flush between serving one user;
  // two processes flushing the same user at the same moment can lose one's
  // counts (the read and the write are not one transaction).
  absl::Status SaveHistories() {
    std::vector<std::pair<std::string, HistoryState>> deltas;
    for (Shard& shard : shards_) {
      PlainLock lock(&shard.mu);
      for (auto& [user, h] : shard.users) {
        if (!h.dirty) continue;
        deltas.emplace_back(user, h);
        for (ExposureCount& c : h.counts) c.unsaved = 0;
        h.recent_unsaved = 0;
        h.dirty = false;
      }
    }
    if (options_.sticky_users) return SaveStickyHistories(deltas);
    absl::Status s = absl::OkStatus();
    if (!deltas.empty()) {
      const int64_t now = ToUnixSeconds(absl::Now());
      std::vector<std::pair<std::string, UserHistory>> merged;
      merged.reserve(deltas.size());
      for (const auto& [user, delta] : deltas) {
        auto stored = store_->history().LoadHistory(user);
        HistoryState base;
        if (stored.ok() && stored->has_value()) base = FromStored(**stored);
        MergeUnsaved(delta, base);
        // The newest session's time, not the clock: simulations run in the past.
        int64_t latest = 0;
        for (const SessionSeen& x : base.sessions) latest = std::max(latest, x.last_seen);
        Bound(base, base.sessions.empty() ? now : latest, SessionTimeout(),
              std::max<size_t>(delta.recent.size(), 35));
        merged.emplace_back(user, ToStored(base));
      }
      s = store_->history().SaveHistories(merged);
      if (!s.ok()) {  // put the unsaved parts back so the next flush retries
        PutBackUnsaved(deltas);
        return s;
      }
    }
    // The store now holds the sum: read it again on each user's next request.
    for (Shard& shard : shards_) {
      PlainLock lock(&shard.mu);
      for (auto& [user, h] : shard.users) h.loaded = false;
    }
    return s;
  }

  // After a failed save: the unsaved parts go back, so the next flush retries.
  void PutBackUnsaved(const std::vector<std::pair<std::string, HistoryState>>& deltas) {
    for (const auto& [user, delta] : deltas) {
      Shard& shard = ShardOf(user);
      PlainLock lock(&shard.mu);
      HistoryState& h = shard.users[user];
      for (const ExposureCount& c : delta.counts) {
        if (c.unsaved == 0) continue;
        if (ExposureCount* x = FindCount(h, c.item, c.kind, c.scope)) {
          x->unsaved += c.unsaved;
        } else {
          h.counts.push_back(c);
        }
      }
      h.recent_unsaved = static_cast<uint16_t>(std::min<size_t>(h.recent_unsaved + delta.recent_unsaved, UINT16_MAX));
      h.dirty = true;
    }
  }

  // SaveHistories with sticky users: what memory holds is the whole history
  // (read from the store once, when the user was first seen), so it is
  // written as it is, bounded as a reload would bound it, and stays loaded.
  absl::Status SaveStickyHistories(const std::vector<std::pair<std::string, HistoryState>>& deltas) {
    if (deltas.empty()) return absl::OkStatus();
    std::vector<std::pair<std::string, UserHistory>> whole;
    whole.reserve(deltas.size());
    for (const auto& [user, snapshot] : deltas) {
      HistoryState h = snapshot;
      int64_t latest = 0;
      for (const SessionSeen& x : h.sessions) latest = std::max(latest, x.last_seen);
      Bound(h, h.sessions.empty() ? ToUnixSeconds(absl::Now()) : latest, SessionTimeout(),
            std::max<size_t>(h.recent.size(), 35));
      whole.emplace_back(user, ToStored(h));
    }
    absl::Status s = store_->history().SaveHistories(whole);
    if (!s.ok()) PutBackUnsaved(deltas);
    return s;
  }

  // Scratches: each thread first tries a slot of its own (a cache line no
  // other thread writes while there are at most kScratchSlots threads), then
  // the shared pool, then makes a new one.
  static size_t ThreadSlot() {
    static std::atomic<size_t> next{0};
    thread_local const size_t slot = next.fetch_add(1, std::memory_order_relaxed) % kScratchSlots;
    return slot;
  }
  std::unique_ptr<RequestScratch> AcquireScratch() const {
    if (RequestScratch* s = scratch_slots_[ThreadSlot()].s.exchange(nullptr, std::memory_order_acquire)) {
      return std::unique_ptr<RequestScratch>(s);
    }
    uint64_t created;
    {
      absl::MutexLock lock(&pool_mu_);
      if (!pool_.empty()) {
        auto s = std::move(pool_.back());
        pool_.pop_back();
        return s;
      }
      created = ++scratch_created_;
    }
    uint64_t seed = options_.seed != 0 ? options_.seed + created * 0x9e3779b97f4a7c15ull
                                       : absl::Uniform<uint64_t>(absl::BitGen());
    auto s = std::make_unique<RequestScratch>(seed);
    absl::MutexLock lock(&pool_mu_);
    all_scratches_.push_back(s.get());
    return s;
  }
  void ReleaseScratch(std::unique_ptr<RequestScratch> s) const {
    RequestScratch* expected = nullptr;
    if (scratch_slots_[ThreadSlot()].s.compare_exchange_strong(expected, s.get(), std::memory_order_release,
                                                              std::memory_order_relaxed)) {
      s.release();
      return;
    }
    absl::MutexLock lock(&pool_mu_);
    pool_.push_back(std::move(s));
  }
  // Runs `f` once on every scratch no request holds: the pool's first, then
  // the slots' (one that cannot go back to its slot joins the pool done).
  template <typename F>
  void ForEachIdleScratch(F f) {
    {
      absl::MutexLock lock(&pool_mu_);
      for (auto& s : pool_) f(*s);
    }
    for (ScratchSlot& slot : scratch_slots_) {
      if (RequestScratch* s = slot.s.exchange(nullptr, std::memory_order_acquire)) {
        f(*s);
        // Back into its own slot, not the caller's: the thread it serves
        // keeps its scratch (and the random stream in it).
        RequestScratch* expected = nullptr;
        if (!slot.s.compare_exchange_strong(expected, s, std::memory_order_release, std::memory_order_relaxed)) {
          absl::MutexLock lock(&pool_mu_);
          pool_.emplace_back(s);
        }
      }
    }
  }
  static void Bump(std::atomic<int64_t>& counter) {  // one writer: no read-modify-write needed
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  const SelectorOptions options_;
  bool quota_leases_ = false;  // options_.quota_leases resolved
  Store* store_;
  std::unique_ptr<Store> owned_store_;
  std::unique_ptr<Pipeline<SelectionContext>> advertising_, discounts_;
  std::unique_ptr<DeliveryCounters> counters_;
  std::unique_ptr<EventRecorder> recorder_;
  std::atomic<std::shared_ptr<const Binding>> binding_;
  std::atomic<uint64_t> binding_version_{1};  // bumped after each new binding_
  mutable ItemKeys keys_;
  mutable std::array<Shard, kShards> shards_;
  std::vector<std::vector<const SelectionComponent*>> bounds_;  // advertising, discounts
  std::vector<const PacedScorer*> paced_;                        // advertising, discounts
  static constexpr size_t kScratchSlots = 16;
  struct alignas(64) ScratchSlot {
    std::atomic<RequestScratch*> s{nullptr};
    ~ScratchSlot() { delete s.load(); }
  };
  mutable absl::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<RequestScratch>> pool_ ABSL_GUARDED_BY(pool_mu_);
  mutable std::vector<const RequestScratch*> all_scratches_ ABSL_GUARDED_BY(pool_mu_);  // live ones
  mutable uint64_t scratch_created_ ABSL_GUARDED_BY(pool_mu_) = 0;
  mutable std::array<ScratchSlot, kScratchSlots> scratch_slots_;
};

}  // namespace

const v1::PipelineDefinition& DefaultAdvertisingPipeline() {
  static const v1::PipelineDefinition& def = ParseBuiltin(kAdvertisingPipeline, "advertising");
  return def;
}

const v1::PipelineDefinition& DefaultDiscountPipeline() {
  static const v1::PipelineDefinition& def = ParseBuiltin(kDiscountPipeline, "discounts");
  return def;
}

absl::StatusOr<std::unique_ptr<ContentSelector>> NewContentSelector(
    std::shared_ptr<const CompiledCatalog> catalog, const SelectorConfig& config) {
  auto selector = std::make_unique<Selector>(config);
  if (absl::Status s = selector->Init(std::move(catalog), config); !s.ok()) return s;
  return std::unique_ptr<ContentSelector>(std::move(selector));
}

}  // namespace herald
