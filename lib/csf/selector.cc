// ContentSelector: the selection pipelines over a swappable catalog snapshot,
// with delivery counters, user histories and event recording.
#include "core/strings.h"
#include <algorithm>
#include <deque>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
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

// A user's history in memory. Item ids are interned to stable keys.
struct HistoryState {
  std::deque<uint32_t> recent;                       // stable keys, most recent first
  std::string session;                               // exposures count in this session
  std::vector<std::pair<uint32_t, int32_t>> exposures;  // stable key, count
  bool dirty = false;
  bool loaded = false;
};

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
  std::shared_ptr<const CompiledCatalog> catalog;
  CounterSlots* slots = nullptr;       // counters, index = item index
  std::vector<uint32_t> key_of;        // item index -> stable key
  absl::flat_hash_map<uint32_t, uint32_t> index_of;  // stable key -> item index
};

class Selector final : public ContentSelector, public SelectionServices {
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
    auto counters = DeliveryCounters::Create(&store_->counters(), ids, counter_options);
    if (!counters.ok()) return counters.status();
    counters_ = std::move(*counters);
    EventRecorderOptions recorder_options;
    recorder_options.flush_interval = std::min(options_.flush_interval, absl::Milliseconds(200));
    recorder_ = std::make_unique<EventRecorder>(&store_->events(), counters_.get(), recorder_options);
    binding_.store(MakeBinding(std::move(catalog), counters_->slots()));
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
    std::shared_ptr<const Binding> binding = binding_.load();
    SelectionResult result;
    std::unique_ptr<RequestScratch> scratch = AcquireScratch();
    SelectionContext ctx;
    ctx.request = &request;
    ctx.catalog = binding->catalog.get();
    ctx.services = const_cast<Selector*>(this);
    ctx.scratch = scratch.get();
    scratch->binding = binding.get();
    ctx.now = request.time == absl::InfinitePast() ? absl::Now() : request.time;
    if (request.trace) ctx.trace = &result.trace;
    const Pipeline<SelectionContext>& pipeline = request.discounts ? *discounts_ : *advertising_;
    absl::Status status = pipeline.Run(ctx);
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

  int64_t Delivered(SelectionContext& ctx, uint32_t item, bool clicks) override {
    ServedCount served = BindingOf(ctx).slots->Served(static_cast<int32_t>(item));
    return clicks ? served.clicks : served.requests;
  }

  void ReadHistory(SelectionContext& ctx) override {
    const Binding& b = BindingOf(ctx);
    const SelectionRequest& request = *ctx.request;
    std::vector<uint32_t>* recent = &ctx.history;
    std::vector<std::pair<uint32_t, int32_t>>* exposures = &ctx.exposures;
    const std::string& user = request.user_id.empty() ? request.session_id : request.user_id;
    Shard& shard = ShardOf(user);
    EnsureLoaded(shard, user);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.users.find(user);
    if (it == shard.users.end()) return;
    HistoryState& h = it->second;
    for (uint32_t key : h.recent) {
      auto found = b.index_of.find(key);
      if (found != b.index_of.end()) recent->push_back(found->second);
    }
    if (!request.session_id.empty() && h.session != request.session_id) return;  // a new session
    for (auto [key, count] : h.exposures) {
      auto found = b.index_of.find(key);
      if (found != b.index_of.end()) exposures->emplace_back(found->second, count);
    }
  }

  void AddToHistory(SelectionContext& ctx, int history_size) override {
    const Binding& b = BindingOf(ctx);
    const SelectionRequest& request = *ctx.request;
    const std::vector<uint32_t>& winners = ctx.winners;
    const std::string& user = request.user_id.empty() ? request.session_id : request.user_id;
    Shard& shard = ShardOf(user);
    absl::MutexLock lock(&shard.mu);
    if (shard.users.size() >= options_.max_users_in_memory / kShards + 1) EvictLocked(shard);
    HistoryState& h = shard.users[user];
    h.loaded = true;
    if (!request.session_id.empty() && h.session != request.session_id) {
      h.session = request.session_id;
      h.exposures.clear();
    }
    for (uint32_t item : winners) {
      uint32_t key = b.key_of[item];
      h.recent.push_front(key);
      bool found = false;
      for (auto& [k, count] : h.exposures) {
        if (k == key) {
          ++count;
          found = true;
          break;
        }
      }
      if (!found) h.exposures.emplace_back(key, 1);
    }
    while (h.recent.size() > static_cast<size_t>(history_size)) h.recent.pop_back();
    h.dirty = true;
  }

  void RecordEvent(v1::Event event) override { recorder_->Append(std::move(event)); }

  RequestScratch& scratch(SelectionContext& context) override {
    return *static_cast<RequestScratch*>(context.scratch);
  }

 private:
  struct Shard {
    absl::Mutex mu;
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

  std::shared_ptr<const Binding> MakeBinding(std::shared_ptr<const CompiledCatalog> catalog,
                                             CounterSlots* slots) {
    auto b = std::make_shared<Binding>();
    b->catalog = std::move(catalog);
    b->slots = slots;
    for (const CompiledItem& item : b->catalog->items()) {
      uint32_t key = keys_.Intern(item.id);
      b->key_of.push_back(key);
      b->index_of[key] = item.index;
    }
    return b;
  }

  Shard& ShardOf(std::string_view user) const {
    return shards_[absl::HashOf(user) % kShards];
  }

  // Loads a user's stored history the first time this process sees the user.
  void EnsureLoaded(Shard& shard, const std::string& user) {
    {
      absl::MutexLock lock(&shard.mu);
      auto it = shard.users.find(user);
      if (it != shard.users.end() && it->second.loaded) return;
    }
    auto stored = store_->history().LoadHistory(user);
    absl::MutexLock lock(&shard.mu);
    HistoryState& h = shard.users[user];
    if (h.loaded) return;
    h.loaded = true;
    if (!stored.ok() || !stored->has_value()) return;
    for (const std::string& id : (*stored)->recent) h.recent.push_back(keys_.Intern(id));
    for (const auto& [id, count] : (*stored)->exposures) h.exposures.emplace_back(keys_.Intern(id), count);
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

  absl::Status SaveHistories() {
    std::vector<std::pair<std::string, UserHistory>> dirty;
    for (Shard& shard : shards_) {
      absl::MutexLock lock(&shard.mu);
      for (auto& [user, h] : shard.users) {
        if (!h.dirty) continue;
        UserHistory out;
        for (uint32_t key : h.recent) out.recent.push_back(keys_.Id(key));
        for (auto [key, count] : h.exposures) out.exposures.emplace_back(keys_.Id(key), count);
        dirty.emplace_back(user, std::move(out));
        h.dirty = false;
      }
    }
    if (dirty.empty()) return absl::OkStatus();
    absl::Status s = store_->history().SaveHistories(dirty);
    if (!s.ok()) {  // put the dirty marks back so the next flush retries
      for (const auto& [user, unused] : dirty) {
        Shard& shard = ShardOf(user);
        absl::MutexLock lock(&shard.mu);
        shard.users[user].dirty = true;
      }
    }
    return s;
  }

  std::unique_ptr<RequestScratch> AcquireScratch() const {
    {
      absl::MutexLock lock(&pool_mu_);
      if (!pool_.empty()) {
        auto s = std::move(pool_.back());
        pool_.pop_back();
        return s;
      }
      ++scratch_created_;
    }
    uint64_t seed = options_.seed != 0 ? options_.seed + scratch_created_ * 0x9e3779b97f4a7c15ull
                                       : absl::Uniform<uint64_t>(absl::BitGen());
    return std::make_unique<RequestScratch>(seed);
  }
  void ReleaseScratch(std::unique_ptr<RequestScratch> s) const {
    absl::MutexLock lock(&pool_mu_);
    pool_.push_back(std::move(s));
  }

  const SelectorOptions options_;
  Store* store_;
  std::unique_ptr<Store> owned_store_;
  std::unique_ptr<Pipeline<SelectionContext>> advertising_, discounts_;
  std::unique_ptr<DeliveryCounters> counters_;
  std::unique_ptr<EventRecorder> recorder_;
  std::atomic<std::shared_ptr<const Binding>> binding_;
  mutable ItemKeys keys_;
  mutable std::array<Shard, kShards> shards_;
  mutable absl::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<RequestScratch>> pool_ ABSL_GUARDED_BY(pool_mu_);
  mutable uint64_t scratch_created_ ABSL_GUARDED_BY(pool_mu_) = 0;
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
