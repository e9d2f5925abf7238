#include "herald/counters.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/input_check.h"
#include "core/strings.h"
#include "core/string_map.h"

namespace herald {
namespace counters_internal {

// One item's counts. The fields move in one direction each:
//   Add:        delta += n
//   flush:      inflight += d; delta -= d   ... written ...   total += d; inflight -= d
//   recorder:   pending += n               ... written ...   total += d; pending -= d
//   reload:     total = stored value
// Served() reads delta, pending, inflight, then total: a count in transit is
// seen at least once (possibly twice for an instant, never zero times), so
// Served() never undercounts, which is what keeps pacing from overshooting.
struct Item {
  alignas(64) std::atomic<int64_t> delta_requests{0};
  std::atomic<int64_t> delta_clicks{0};
  std::atomic<int64_t> pending_requests{0};
  std::atomic<int64_t> pending_clicks{0};
  std::atomic<int64_t> inflight_requests{0};
  std::atomic<int64_t> inflight_clicks{0};
  std::atomic<int64_t> total_requests{0};
  std::atomic<int64_t> total_clicks{0};
  // Odd while a background thread moves counts between the fields above
  // (flush, acknowledgement, reload); readers retry, so a count in transit is
  // seen exactly once (a seqlock; writers are serialized by totals_mu_).
  std::atomic<uint64_t> version{0};
  // The store's totals at the last reload (Detail() splits on them).
  std::atomic<int64_t> loaded_requests{0};
  std::atomic<int64_t> loaded_clicks{0};
  // Quota leases: the goal, the units held, and what requests took since the
  // leaser last looked (it sizes the next lease on that rate).
  alignas(64) std::atomic<int64_t> quota_goal{0};
  std::atomic<int64_t> quota_balance{0};
  std::atomic<int64_t> quota_taken{0};
  std::atomic<bool> quota_starved{false};
  // The leaser's own state (DeliveryCounters::lease_mu_).
  int64_t lease_target = 0;
  absl::Time lease_retry = absl::InfinitePast();
  std::string id;
};

}  // namespace counters_internal

using counters_internal::Item;

struct CounterSlots::Impl {
  std::vector<std::string> ids;
  std::vector<Item*> items;  // owned by the DeliveryCounters
  StringMap<int32_t> index;
  bool leasing = false;      // DeliveryCountersOptions::lease_quota
};

CounterSlots::CounterSlots(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CounterSlots::~CounterSlots() = default;
int32_t CounterSlots::size() const { return static_cast<int32_t>(impl_->ids.size()); }
const std::string& CounterSlots::item_id(int32_t index) const { return impl_->ids[index]; }

void CounterSlots::SetQuotaGoal(int32_t index, int64_t goal) {
  if (!impl_->leasing || index < 0 || index >= size()) return;
  impl_->items[index]->quota_goal.store(std::max<int64_t>(0, goal));
}

bool CounterSlots::TakeQuota(int32_t index) {
  if (!impl_->leasing || index < 0 || index >= size()) return true;
  Item* item = impl_->items[index];
  if (item->quota_goal.load(std::memory_order_relaxed) <= 0) return true;
  int64_t balance = item->quota_balance.load(std::memory_order_relaxed);
  while (balance > 0) {
    if (item->quota_balance.compare_exchange_weak(balance, balance - 1)) {
      item->quota_taken.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  if (!item->quota_starved.load(std::memory_order_relaxed)) item->quota_starved.store(true);
  return false;
}

void CounterSlots::ReturnQuota(int32_t index) {
  if (!impl_->leasing || index < 0 || index >= size()) return;
  Item* item = impl_->items[index];
  if (item->quota_goal.load(std::memory_order_relaxed) <= 0) return;
  item->quota_balance.fetch_add(1);
  item->quota_taken.fetch_sub(1, std::memory_order_relaxed);
}

void CounterSlots::Prefetch(int32_t index) const {
  if (index < 0 || index >= size()) return;
  // Served and Detail read the counts and the version after them.
  __builtin_prefetch(impl_->items[index]);
  __builtin_prefetch(&impl_->items[index]->version);
}

int64_t CounterSlots::QuotaBalance(int32_t index) const {
  if (!impl_->leasing || index < 0 || index >= size()) return 0;
  const Item* item = impl_->items[index];
  return item->quota_goal.load() > 0 ? item->quota_balance.load() : 0;
}

void CounterSlots::Add(int32_t index, int64_t requests, int64_t clicks) {
  if (index < 0 || index >= size()) return;
  Item* item = impl_->items[index];
  if (requests != 0) item->delta_requests.fetch_add(requests);
  if (clicks != 0) item->delta_clicks.fetch_add(clicks);
}

namespace {

// Runs `read` until it saw no move in progress (see Item::version).
template <typename Item, typename Read>
void ReadConsistent(const Item* item, Read read) {
  while (true) {
    uint64_t before = item->version.load();
    if (before & 1) continue;
    read();
    if (item->version.load() == before) return;
  }
}

// Brackets a multi-field move of one item's counts.
template <typename Item>
struct Moving {
  explicit Moving(Item* i) : item(i) { item->version.fetch_add(1); }
  ~Moving() { item->version.fetch_add(1); }
  Item* item;
};

}  // namespace

ServedCount CounterSlots::Served(int32_t index) const {
  if (index < 0 || index >= size()) return {};
  const Item* item = impl_->items[index];
  ServedCount out;
  ReadConsistent(item, [&] {
  out.requests = item->delta_requests.load();
  out.requests += item->pending_requests.load();
  out.requests += item->inflight_requests.load();
  out.requests += item->total_requests.load();
  out.clicks = item->delta_clicks.load();
  out.clicks += item->pending_clicks.load();
  out.clicks += item->inflight_clicks.load();
  out.clicks += item->total_clicks.load();
  });
  return out;
}

DeliveryDetail CounterSlots::Detail(int32_t index) const {
  if (index < 0 || index >= size()) return {};
  const Item* item = impl_->items[index];
  DeliveryDetail out;
  ReadConsistent(item, [&] {
  // Local: everything since the last reload (acknowledged or not).
  const int64_t loaded_r = item->loaded_requests.load();
  const int64_t loaded_c = item->loaded_clicks.load();
  out.local.requests = item->delta_requests.load() + item->pending_requests.load() +
                       item->inflight_requests.load() + item->total_requests.load() - loaded_r;
  out.local.clicks = item->delta_clicks.load() + item->pending_clicks.load() +
                     item->inflight_clicks.load() + item->total_clicks.load() - loaded_c;
  out.confirmed.requests = loaded_r;
  out.confirmed.clicks = loaded_c;
  });
  return out;
}

int32_t CounterSlots::IndexOf(std::string_view item_id) const {
  auto it = impl_->index.find(item_id);
  return it == impl_->index.end() ? -1 : it->second;
}

// The library's DeliveryCounters: the items by id, one CounterSlots per
// mapping, and the flusher and leaser threads.
class DeliveryCountersImpl final : public DeliveryCounters {
 public:
  DeliveryCountersImpl(CounterStore* store, DeliveryCountersOptions options);
  ~DeliveryCountersImpl() override;

  CounterSlots* slots() const override { return current_.load(std::memory_order_acquire); }
  CounterSlots* Remap(std::span<const std::string> item_ids) override;
  absl::Status Flush() override;
  absl::Status Reload() override;
  absl::Status Stop() override;
  absl::Status LeaseRound() override;
  absl::Status last_flush_status() const override;
  absl::Status last_lease_status() const override;
  absl::Time last_successful_flush() const override;
  absl::Duration flush_interval() const override { return options_.flush_interval; }

  // Create's steps: the first mapping, the first load, the threads.
  absl::Status Start(std::span<const std::string> item_ids);

  // For the EventRecorder: an item by id (lock-free after the item exists;
  // null if unknown), the counts of a stored batch (item id, requests,
  // clicks), and the lock that orders them against reloads.
  Item* FindItem(std::string_view item_id) const;
  void AcknowledgeRecordedLocked(std::span<const CounterDelta> deltas)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(totals_mu_);
  absl::Mutex totals_mu_;  // orders total updates: reloads vs acknowledgements

 private:
  CounterSlots* MapLocked(std::span<const std::string> item_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(totals_mu_);
  // Waits `d`; false as soon as Stop() began.
  bool WaitUnlessStopping(absl::Duration d);
  void RunFlusher();
  void RunLeaser();
  absl::Status ReturnQuotaToStore();

  CounterStore* const store_;
  const DeliveryCountersOptions options_;

  mutable absl::Mutex mu_;  // guards the maps below (not the atomics)
  StringMap<std::unique_ptr<Item>> items_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<CounterSlots>> all_slots_ ABSL_GUARDED_BY(mu_);
  std::atomic<CounterSlots*> current_{nullptr};
  // A snapshot of items_ readable without mu_ (republished on Remap).
  std::atomic<const StringMap<Item*>*> lookup_{nullptr};
  std::vector<std::unique_ptr<StringMap<Item*>>> lookups_ ABSL_GUARDED_BY(mu_);

  absl::Mutex flush_mu_;   // one flush at a time
  mutable absl::Mutex status_mu_;
  absl::Status last_status_ ABSL_GUARDED_BY(status_mu_);
  absl::Status last_lease_status_ ABSL_GUARDED_BY(status_mu_);
  absl::Time last_success_ ABSL_GUARDED_BY(status_mu_) = absl::Now();
  absl::Mutex lease_mu_;  // one lease round at a time
  absl::Time last_lease_round_ ABSL_GUARDED_BY(lease_mu_) = absl::InfinitePast();

  absl::Mutex stop_mu_;
  absl::CondVar stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread flusher_;
  std::thread leaser_;
};

DeliveryCountersImpl::DeliveryCountersImpl(CounterStore* store, DeliveryCountersOptions options)
    : store_(store), options_(options) {}

absl::StatusOr<std::unique_ptr<DeliveryCounters>> DeliveryCounters::Create(
    CounterStore* store, std::span<const std::string> item_ids, DeliveryCountersOptions options) {
  if (store == nullptr) return absl::InvalidArgumentError("DeliveryCounters: null store");
  if (options.flush_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DeliveryCounters: flush_interval must be positive");
  }
  if (options.lease_quota && (options.lease_horizon <= absl::ZeroDuration() ||
                              options.lease_poll <= absl::ZeroDuration() || options.min_lease <= 0)) {
    return absl::InvalidArgumentError(
        "DeliveryCounters: lease_horizon, lease_poll and min_lease must be positive");
  }
  auto counters = std::make_unique<DeliveryCountersImpl>(store, options);
  if (absl::Status s = counters->Start(item_ids); !s.ok()) return s;
  return std::unique_ptr<DeliveryCounters>(std::move(counters));
}

absl::Status DeliveryCountersImpl::Start(std::span<const std::string> item_ids) {
  {
    absl::MutexLock lock(&mu_);
    current_.store(MapLocked(item_ids));
  }
  {
    absl::MutexLock lock(&totals_mu_);
    if (absl::Status s = ReloadLocked(); !s.ok()) {
      absl::MutexLock stop(&stop_mu_);
      stopped_ = true;
      return s;
    }
  }
  if (options_.start_flusher) {
    flusher_ = std::thread([this] { RunFlusher(); });
    if (options_.lease_quota) leaser_ = std::thread([this] { RunLeaser(); });
  }
  return absl::OkStatus();
}

DeliveryCountersImpl::~DeliveryCountersImpl() {
  absl::Status s = Stop();
  if (!s.ok()) {
    std::fprintf(stderr, "herald: delivery counters: final flush failed: %s\n",
                 s.ToString().c_str());
  }
}

CounterSlots* DeliveryCountersImpl::MapLocked(std::span<const std::string> item_ids) {
  auto impl = std::make_unique<CounterSlots::Impl>();
  impl->leasing = options_.lease_quota;
  impl->ids.assign(item_ids.begin(), item_ids.end());
  impl->items.reserve(item_ids.size());
  for (size_t i = 0; i < item_ids.size(); ++i) {
    auto& owned = items_[item_ids[i]];
    if (owned == nullptr) {
      owned = std::make_unique<Item>();
      owned->id = item_ids[i];
    }
    impl->items.push_back(owned.get());
    impl->index.try_emplace(item_ids[i], static_cast<int32_t>(i));
  }
  auto slots = std::make_unique<CounterSlots>(std::move(impl));
  // Republish the lock-free id lookup (older maps stay alive for readers).
  auto lookup = std::make_unique<StringMap<Item*>>();
  for (const auto& [id, item] : items_) lookup->emplace(id, item.get());
  lookup_.store(lookup.get());
  lookups_.push_back(std::move(lookup));
  CounterSlots* out = slots.get();
  all_slots_.push_back(std::move(slots));
  return out;
}

CounterSlots* DeliveryCountersImpl::Remap(std::span<const std::string> item_ids) {
  CounterSlots* slots;
  {
    absl::MutexLock lock(&mu_);
    slots = MapLocked(item_ids);
    current_.store(slots);
  }
  // New items start from the last loaded totals at the next reload; load them now.
  absl::MutexLock lock(&totals_mu_);
  (void)ReloadLocked();
  return slots;
}

Item* DeliveryCountersImpl::FindItem(std::string_view item_id) const {
  const auto* lookup = lookup_.load();
  if (lookup == nullptr) return nullptr;
  auto it = lookup->find(item_id);
  return it == lookup->end() ? nullptr : it->second;
}

absl::Status DeliveryCountersImpl::ReloadLocked() {
  auto totals = store_->LoadCounterTotals();
  if (!totals.ok()) return totals.status();
  StringMap<const CounterTotal*> by_id;
  for (const CounterTotal& t : *totals) by_id[t.item_id] = &t;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, item] : items_) {
    auto it = by_id.find(id);
    int64_t requests = it == by_id.end() ? 0 : it->second->requests;
    int64_t clicks = it == by_id.end() ? 0 : it->second->clicks;
    Moving<Item> moving(item.get());
    item->total_requests.store(requests);
    item->total_clicks.store(clicks);
    item->loaded_requests.store(requests);
    item->loaded_clicks.store(clicks);
  }
  return absl::OkStatus();
}

absl::Status DeliveryCountersImpl::Reload() {
  absl::MutexLock lock(&totals_mu_);
  return ReloadLocked();
}

absl::Status DeliveryCountersImpl::Flush() {
  absl::MutexLock flush(&flush_mu_);
  struct Moved {
    Item* item;
    int64_t requests, clicks;
  };
  std::vector<Moved> moved;
  std::vector<CounterDelta> deltas;
  {
    absl::MutexLock totals(&totals_mu_);  // the writers of Item::version take totals_mu_
    absl::MutexLock lock(&mu_);
    for (const auto& [id, owned] : items_) {
      Item* item = owned.get();
      int64_t r = item->delta_requests.load(), c = item->delta_clicks.load();
      if (r == 0 && c == 0) continue;
      Moving<Item> moving(item);
      item->inflight_requests.fetch_add(r);
      item->inflight_clicks.fetch_add(c);
      item->delta_requests.fetch_sub(r);
      item->delta_clicks.fetch_sub(c);
      moved.push_back(Moved{item, r, c});
      deltas.push_back(CounterDelta{id, r, c});
    }
  }
  absl::Status written = deltas.empty() ? absl::OkStatus() : store_->AddCounterDeltas(deltas);
  absl::MutexLock lock(&totals_mu_);
  for (const Moved& m : moved) {
    Moving<Item> moving(m.item);
    if (written.ok()) {
      m.item->total_requests.fetch_add(m.requests);
      m.item->total_clicks.fetch_add(m.clicks);
    } else {  // put them back: the next flush retries
      m.item->delta_requests.fetch_add(m.requests);
      m.item->delta_clicks.fetch_add(m.clicks);
    }
    m.item->inflight_requests.fetch_sub(m.requests);
    m.item->inflight_clicks.fetch_sub(m.clicks);
  }
  absl::Status reloaded = ReloadLocked();
  absl::Status result = written.ok() ? reloaded : written;
  {
    absl::MutexLock status(&status_mu_);
    last_status_ = result;
    if (result.ok()) last_success_ = absl::Now();
  }
  return result;
}

void DeliveryCountersImpl::AcknowledgeRecordedLocked(std::span<const CounterDelta> deltas) {
  for (const CounterDelta& d : deltas) {
    Item* item = FindItem(d.item_id);
    if (item == nullptr) continue;
    Moving<Item> moving(item);
    item->total_requests.fetch_add(d.requests);
    item->total_clicks.fetch_add(d.clicks);
    item->pending_requests.fetch_sub(d.requests);
    item->pending_clicks.fetch_sub(d.clicks);
  }
}

absl::Time DeliveryCountersImpl::last_successful_flush() const {
  absl::MutexLock lock(&status_mu_);
  return last_success_;
}

absl::Status DeliveryCountersImpl::last_flush_status() const {
  absl::MutexLock lock(&status_mu_);
  return last_status_;
}

bool DeliveryCountersImpl::WaitUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&stop_mu_);
  const absl::Time deadline = absl::Now() + d;
  while (!stopping_ && !stop_cv_.WaitWithDeadline(&stop_mu_, deadline)) {
  }
  return !stopping_;
}

void DeliveryCountersImpl::RunFlusher() {
  while (WaitUnlessStopping(options_.flush_interval)) (void)Flush();
}

absl::Status DeliveryCountersImpl::last_lease_status() const {
  absl::MutexLock lock(&status_mu_);
  return last_lease_status_;
}

void DeliveryCountersImpl::RunLeaser() {
  while (WaitUnlessStopping(options_.lease_poll)) (void)LeaseRound();
}

absl::Status DeliveryCountersImpl::LeaseRound() {
  if (!options_.lease_quota) return absl::OkStatus();
  absl::MutexLock lease(&lease_mu_);
  std::vector<Item*> items;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, item] : items_) {
      if (item->quota_goal.load() > 0) items.push_back(item.get());
    }
  }
  const absl::Time now = absl::Now();
  const absl::Duration since = last_lease_round_ == absl::InfinitePast()
                                   ? options_.lease_poll
                                   : std::max(now - last_lease_round_, absl::Milliseconds(1));
  last_lease_round_ = now;
  // Units per round to cover the horizon at the rate seen since the last round.
  const double horizon = absl::FDivDuration(options_.lease_horizon, since);
  absl::Status result;
  for (Item* item : items) {
    const int64_t goal = item->quota_goal.load();
    const int64_t taken = item->quota_taken.exchange(0);
    const bool starved = item->quota_starved.exchange(false);
    int64_t target = std::max<int64_t>(options_.min_lease,
                                       static_cast<int64_t>(std::ceil(std::max<int64_t>(taken, 0) * horizon)));
    // Requests found nothing: demand is higher than the last rate showed.
    if (starved) target = std::max(target, 2 * item->lease_target);
    target = std::min(target, goal);  // never more than the whole goal (and no overflow while starved)
    item->lease_target = target;
    const int64_t balance = item->quota_balance.load();
    if (2 * balance > target) continue;  // enough held
    if (now < item->lease_retry) continue;  // the goal was fully leased a moment ago
    const int64_t want = target - balance;
    auto granted = store_->LeaseQuota(item->id, goal, want);
    if (!granted.ok()) {
      if (result.ok()) result = granted.status();
      continue;
    }
    if (*granted > 0) item->quota_balance.fetch_add(*granted);
    // Fully leased: ask again after a flush interval (others may give back).
    item->lease_retry = *granted < want ? now + options_.flush_interval : absl::InfinitePast();
  }
  absl::MutexLock status(&status_mu_);
  last_lease_status_ = result;
  return result;
}

// Gives every unit still held back to the store (at Stop).
absl::Status DeliveryCountersImpl::ReturnQuotaToStore() {
  if (!options_.lease_quota) return absl::OkStatus();
  absl::MutexLock lease(&lease_mu_);
  std::vector<Item*> items;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, item] : items_) items.push_back(item.get());
  }
  absl::Status result;
  for (Item* item : items) {
    const int64_t held = item->quota_balance.exchange(0);
    if (held <= 0) continue;
    auto returned = store_->LeaseQuota(item->id, item->quota_goal.load(), -held);
    if (!returned.ok()) {
      item->quota_balance.fetch_add(held);  // kept: a later Stop() retries
      if (result.ok()) result = returned.status();
    }
  }
  return result;
}

absl::Status DeliveryCountersImpl::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    if (stopped_) return absl::OkStatus();
    stopping_ = true;
    stop_cv_.SignalAll();
  }
  if (flusher_.joinable()) flusher_.join();
  if (leaser_.joinable()) leaser_.join();
  absl::Status s = Flush();
  s.Update(ReturnQuotaToStore());
  absl::MutexLock lock(&stop_mu_);
  stopped_ = s.ok();  // a failed final flush may be retried by calling Stop() again
  return s;
}

// EventRecorder ------------------------------------------------------------

namespace {

// The requests and clicks an event counts for.
std::pair<int64_t, int64_t> EventCounts(const v1::Event& e) {
  const int64_t n = e.count() == 0 ? 1 : e.count();
  if (e.type() == v1::EVENT_TYPE_REQUEST) return {n, 0};
  if (e.type() == v1::EVENT_TYPE_CLICK) return {0, n};
  return {0, 0};
}

// Events are stored as text every backend accepts. A string that is not
// UTF-8 (PostgreSQL refuses it, and its batch would be retried for ever,
// holding up every event queued behind it) or that holds a NUL byte is
// stored with those bytes written as \xNN; valid text is copied as it is.
void AssignStorable(std::string* out, std::string_view in) {
  if (in.find('\0') == std::string_view::npos && IsValidUtf8(in)) {
    out->assign(in.data(), in.size());
    return;
  }
  const std::string escaped = EscapeInvalidUtf8(in);
  out->clear();
  for (char c : escaped) {
    if (c == '\0') {
      out->append("\\x00");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

// The library's EventRecorder: a queue and one writer thread.
class EventRecorderImpl final : public EventRecorder {
 public:
  EventRecorderImpl(EventStore* store, DeliveryCountersImpl* counters, EventRecorderOptions options);
  ~EventRecorderImpl() override;

  bool Append(v1::Event event) override;
  bool Append(const EventView& event, const CounterSlots* slots, int32_t index) override;
  absl::Status Flush() override;
  absl::Status Stop() override;
  int64_t dropped() const override { return dropped_.load(std::memory_order_relaxed); }
  int64_t written() const override;
  int64_t queued() const override;

 private:
  // An event as queued: flat, its short strings inline, so that the request
  // thread allocates nothing the writer thread has to free (the writer turns
  // a batch into the events it reuses from batch to batch).
  struct Queued {
    int64_t seconds = 0;
    int32_t nanos = 0;
    bool has_time = false;
    v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
    int64_t count = 0;
    std::string custom_name, user_id, session_id, item_id, campaign_id, page_group;
    Item* item = nullptr;  // the in-memory counter Append added to, or null
  };
  // Counts `q` (when it counts and has an item), queues it; false if dropped.
  bool Enqueue(Queued q, std::pair<int64_t, int64_t> counts);
  void RunWriter();
  // Writes one batch from the head of the queue; called by the writer only.
  // `events` is the writer's buffer, reused from batch to batch.
  absl::Status WriteBatch(std::vector<Queued>& batch, std::vector<v1::Event>& events);

  EventStore* const store_;
  DeliveryCountersImpl* const counters_;
  EventRecorderOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;      // the writer waits: a full batch, a flush or stop
  absl::CondVar progress_cv_;  // the writer's progress: Flush and blocked Appends wait
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  int64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // events ever accepted
  int64_t durable_ ABSL_GUARDED_BY(mu_) = 0;   // events ever written
  int64_t flush_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t attempts_ ABSL_GUARDED_BY(mu_) = 0;  // write attempts finished
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  int64_t last_error_attempt_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> dropped_{0};
  std::thread writer_;
};

std::unique_ptr<EventRecorder> EventRecorder::Create(EventStore* store, DeliveryCounters* counters,
                                                     EventRecorderOptions options) {
  // The only DeliveryCounters there is is the library's (DeliveryCounters::Create).
  return std::make_unique<EventRecorderImpl>(store, static_cast<DeliveryCountersImpl*>(counters),
                                             options);
}

EventRecorderImpl::EventRecorderImpl(EventStore* store, DeliveryCountersImpl* counters,
                                     EventRecorderOptions options)
    : store_(store), counters_(counters), options_(options) {
  if (options_.max_batch <= 0) options_ = EventRecorderOptions{};
  writer_ = std::thread([this] { RunWriter(); });
}

EventRecorderImpl::~EventRecorderImpl() {
  absl::Status s = Stop();
  if (!s.ok()) {
    std::fprintf(stderr, "herald: event recorder: final write failed: %s\n", s.ToString().c_str());
  }
}

bool EventRecorderImpl::Append(v1::Event event) {
  Queued q;
  q.has_time = event.has_time();
  q.seconds = event.time().seconds();
  q.nanos = event.time().nanos();
  q.type = event.type();
  q.count = event.count();
  q.custom_name = std::move(*event.mutable_custom_name());
  q.user_id = std::move(*event.mutable_user_id());
  q.session_id = std::move(*event.mutable_session_id());
  q.item_id = std::move(*event.mutable_item_id());
  q.campaign_id = std::move(*event.mutable_campaign_id());
  q.page_group = std::move(*event.mutable_page_group());
  std::pair<int64_t, int64_t> counts{0, 0};
  if (counters_ != nullptr) {
    counts = EventCounts(event);
    if (counts.first != 0 || counts.second != 0) q.item = counters_->FindItem(q.item_id);
  }
  return Enqueue(std::move(q), counts);
}

bool EventRecorderImpl::Append(const EventView& event, const CounterSlots* slots, int32_t index) {
  Queued q;
  const int64_t nanos = absl::ToUnixNanos(event.time);
  q.has_time = true;
  q.seconds = nanos >= 0 ? nanos / 1'000'000'000 : -((-nanos + 999'999'999) / 1'000'000'000);
  q.nanos = static_cast<int32_t>(nanos - q.seconds * 1'000'000'000);
  q.type = event.type;
  q.count = event.count;
  q.custom_name = event.custom_name;
  q.user_id = event.user_id;
  q.session_id = event.session_id;
  q.item_id = event.item_id;
  q.campaign_id = event.campaign_id;
  q.page_group = event.page_group;
  std::pair<int64_t, int64_t> counts{0, 0};
  if (counters_ != nullptr) {
    const int64_t n = event.count == 0 ? 1 : event.count;
    if (event.type == v1::EVENT_TYPE_REQUEST) counts = {n, 0};
    if (event.type == v1::EVENT_TYPE_CLICK) counts = {0, n};
    if (counts.first != 0 || counts.second != 0) {
      q.item = slots != nullptr && index >= 0 && index < slots->size() ? slots->impl().items[index]
                                                                       : counters_->FindItem(q.item_id);
    }
  }
  return Enqueue(std::move(q), counts);
}

bool EventRecorderImpl::Enqueue(Queued q, std::pair<int64_t, int64_t> counts) {
  Item* item = q.item;
  if (item != nullptr) {  // counted before it is queued, so the ack never precedes it
    item->pending_requests.fetch_add(counts.first);
    item->pending_clicks.fetch_add(counts.second);
  }
  bool accepted = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_ && !stopping_ && static_cast<int64_t>(queue_.size()) >= options_.max_queued &&
        options_.block_when_full) {
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || stopped_ || static_cast<int64_t>(queue_.size()) < options_.max_queued;
      };
      while (!room()) progress_cv_.Wait(&mu_);
    }
    if (!stopped_ && !stopping_ && static_cast<int64_t>(queue_.size()) < options_.max_queued) {
      queue_.push_back(std::move(q));
      ++appended_;
      accepted = true;
      if (static_cast<int64_t>(queue_.size()) == options_.max_batch) work_cv_.Signal();
    }
  }
  if (!accepted) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (item != nullptr) {
      item->pending_requests.fetch_sub(counts.first);
      item->pending_clicks.fetch_sub(counts.second);
    }
  }
  return accepted;
}

absl::Status EventRecorderImpl::Flush() {
  absl::MutexLock lock(&mu_);
  const int64_t target = appended_;
  const int64_t attempts_before = attempts_;
  ++flush_requests_;
  work_cv_.Signal();
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return durable_ >= target || last_error_attempt_ > attempts_before || stopped_;
  };
  while (!done()) progress_cv_.Wait(&mu_);
  if (durable_ >= target) return absl::OkStatus();
  if (last_error_attempt_ > attempts_before) return last_error_;
  return absl::FailedPreconditionError("event recorder stopped with events not written");
}

int64_t EventRecorderImpl::written() const {
  absl::MutexLock lock(&mu_);
  return durable_;
}

int64_t EventRecorderImpl::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

absl::Status EventRecorderImpl::WriteBatch(std::vector<Queued>& batch, std::vector<v1::Event>& buffer) {
  // The buffer's events keep their strings' storage: no allocation per event
  // once the buffer has grown to the batch size.
  if (buffer.size() < batch.size()) buffer.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Queued& q = batch[i];
    v1::Event& e = buffer[i];
    if (q.has_time) {
      e.mutable_time()->set_seconds(q.seconds);
      e.mutable_time()->set_nanos(q.nanos);
    } else {
      e.clear_time();
    }
    e.set_type(q.type);
    e.set_count(q.count);
    AssignStorable(e.mutable_custom_name(), q.custom_name);
    AssignStorable(e.mutable_user_id(), q.user_id);
    AssignStorable(e.mutable_session_id(), q.session_id);
    AssignStorable(e.mutable_item_id(), q.item_id);
    AssignStorable(e.mutable_campaign_id(), q.campaign_id);
    AssignStorable(e.mutable_page_group(), q.page_group);
  }
  const std::span<const v1::Event> events(buffer.data(), batch.size());
  std::vector<CounterDelta> deltas;   // every request and click, for the stored counters
  std::vector<CounterDelta> counted;  // the ones Append added to the in-memory counters
  if (counters_ != nullptr) {
    std::map<std::string_view, std::pair<int64_t, int64_t>> all, mine;
    for (size_t i = 0; i < events.size(); ++i) {
      auto counts = EventCounts(events[i]);
      if (counts.first == 0 && counts.second == 0) continue;
      auto& a = all[events[i].item_id()];
      a.first += counts.first;
      a.second += counts.second;
      if (batch[i].item != nullptr) {
        auto& m = mine[events[i].item_id()];
        m.first += counts.first;
        m.second += counts.second;
      }
    }
    for (const auto& [id, c] : all) {
      if (!id.empty()) deltas.push_back(CounterDelta{std::string(id), c.first, c.second});
    }
    for (const auto& [id, c] : mine) counted.push_back(CounterDelta{std::string(id), c.first, c.second});
  }
  absl::Status s;
  if (counters_ != nullptr) {
    // No reload between the commit and the acknowledgement: a reload in
    // between would count the batch twice (in the store's total and still
    // pending) until the next one.
    absl::MutexLock totals(&counters_->totals_mu_);
    s = store_->RecordBatch(events, deltas);
    if (s.ok()) counters_->AcknowledgeRecordedLocked(counted);
  } else {
    s = store_->RecordBatch(events, deltas);
  }
  return s;
}

void EventRecorderImpl::RunWriter() {
  int64_t flushes_seen = 0;
  // Reused from batch to batch (the queue's entries and the events written).
  std::vector<Queued> batch;
  std::vector<v1::Event> events;
  while (true) {
    batch.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || flush_requests_ != flushes_seen ||
               static_cast<int64_t>(queue_.size()) >= options_.max_batch;
      };
      absl::Time deadline = absl::Now() + options_.flush_interval;
      while (!ready() && !work_cv_.WaitWithDeadline(&mu_, deadline)) {
      }
      // A flush request is answered only by the batch that drains the queue
      // (a full batch taken meanwhile leaves the rest for the next pass).
      if (static_cast<int64_t>(queue_.size()) <= options_.max_batch) flushes_seen = flush_requests_;
      if (queue_.empty()) {
        if (stopping_) break;
        continue;
      }
      const size_t n = std::min<size_t>(queue_.size(), static_cast<size_t>(options_.max_batch));
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    absl::Status s = WriteBatch(batch, events);
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      ++attempts_;
      if (s.ok()) {
        durable_ += static_cast<int64_t>(batch.size());
      } else {
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
        last_error_ = s;
        last_error_attempt_ = attempts_;
      }
      stopping = stopping_;
      progress_cv_.SignalAll();
      if (!s.ok() && stopping) break;  // the final write failed: Stop() reports it
    }
    if (!s.ok() && !stopping) {
      absl::MutexLock lock(&mu_);
      absl::Time deadline = absl::Now() + options_.retry_delay;
      while (!stopping_ && !work_cv_.WaitWithDeadline(&mu_, deadline)) {
      }
    }
  }
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  progress_cv_.SignalAll();
}

absl::Status EventRecorderImpl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_cv_.SignalAll();
    progress_cv_.SignalAll();
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return absl::OkStatus();
  return absl::DataLossError(Cat("event recorder: ", queue_.size(),
                                          " event(s) could not be written at stop: ",
                                          last_error_.message()));
}

}  // namespace herald
