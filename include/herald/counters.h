// herald/counters.h: delivery counters and event recording off the request path.
//
// DeliveryCounters keeps, for every campaign item, the global totals last
// loaded from a CounterStore plus the deltas this process added since. Request
// threads add deltas with a few atomic increments (no lock, no I/O, no
// allocation); a background flusher writes the deltas to the store and reloads
// the global totals (which include the other servers' deliveries) every
// `flush_interval`. Served() is the last loaded total plus every local delta
// not yet reflected in it, so a process always sees its own deliveries at once
// and the others' within one interval. A failed write puts the deltas back:
// nothing is lost, they go with the next flush.
//
// Items are addressed by a dense index that the selector assigns when it
// compiles a catalog: construct DeliveryCounters with the catalog's item ids
// (index i is item_ids[i]) and, when a new catalog snapshot arrives, Remap()
// with its ids. Counting is per item id, so an item keeps its counts across
// remaps whatever its index; the CounterSlots of the old snapshot stay valid
// (requests still being served with it count correctly) until the
// DeliveryCounters is destroyed.
//
// EventRecorder queues events in memory (Append never does I/O) and a
// background writer stores them in batches, each in one transaction. When it
// is given the DeliveryCounters, it also counts: Append adds the event's
// request or click to the in-memory counters, and each batch adds the same
// counts to the stored counters in the batch's own transaction
// (EventStore::RecordBatch), so stored counters always equal stored events,
// even after a kill -9. Use either Add() or a counting EventRecorder for a
// given delivery, never both, or it is counted twice.
//
// "Acknowledged": Flush() on either class returns OK only when everything
// added or appended before the call is durable in the store (see
// docs/operations.md). Data added after the last acknowledged flush may be
// lost in a crash; a clean Stop() or destruction flushes everything.
//
// Lifetime: the store passed in must outlive the object. Stop() (or the
// destructor) joins the background thread after a final flush.
// Thread-safety: every method may be called concurrently from any thread.
#ifndef HERALD_COUNTERS_H_
#define HERALD_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "herald/model/events.pb.h"
#include "herald/store.h"
#include "herald/string_map.h"

namespace herald {

struct DeliveryCountersOptions {
  absl::Duration flush_interval = absl::Seconds(1);  // how often deltas are written and totals reloaded
  bool start_flusher = true;  // false: nothing happens until Flush() (tests, single-shot tools)
  // Quota leases (docs/operations.md, "Quota leases"): an item given a quota
  // goal (CounterSlots::SetQuotaGoal) delivers only units leased from the
  // store (CounterStore::LeaseQuota), so all servers sharing the store
  // together never pass its goal. A background leaser keeps each item's local
  // balance at about `lease_horizon` of its recent consumption (at least
  // `min_lease`), looking every `lease_poll`; Stop() gives unused units back.
  bool lease_quota = false;
  absl::Duration lease_horizon = absl::Milliseconds(200);
  absl::Duration lease_poll = absl::Milliseconds(10);
  int64_t min_lease = 4;
};

// Requests and clicks of one item as seen by this process.
struct ServedCount {
  int64_t requests = 0;
  int64_t clicks = 0;
};

// One item's delivery split by where it stands, for pacing with several
// servers (docs/operations.md, "Pacing with several servers").
struct DeliveryDetail {
  ServedCount confirmed;  // the store's total at the last reload
  ServedCount local;      // this process's deliveries since that reload
};

class DeliveryCounters;

// The dense index space of one catalog snapshot: index i is item_ids()[i].
// Owned by its DeliveryCounters; valid for that object's lifetime.
class CounterSlots {
 public:
  // Adds delivered requests and clicks (both >= 0). Lock-free; never blocks.
  // An index out of range is ignored.
  void Add(int32_t index, int64_t requests, int64_t clicks);
  // Last loaded global total + local deltas not yet in it. Lock-free.
  ServedCount Served(int32_t index) const;
  // Served() split into confirmed and local counts, with this process's share.
  DeliveryDetail Detail(int32_t index) const;
  // The index of `item_id`, or -1.
  int32_t IndexOf(std::string_view item_id) const;
  // Hints the CPU to fetch the item's counts (a loop over many items calls it
  // for all of them first, so that their cache misses overlap).
  void Prefetch(int32_t index) const;

  // Quota leases (DeliveryCountersOptions::lease_quota; without it these
  // methods do nothing and TakeQuota always succeeds). The item's request
  // goal; 0 = none (never limited). The latest call wins for an item id.
  void SetQuotaGoal(int32_t index, int64_t goal);
  // Takes one unit of the item's leased quota. True when the item has no
  // quota goal, leasing is off, or a unit was taken; false when the local
  // balance is empty (the leaser is told to lease more). Lock-free.
  bool TakeQuota(int32_t index);
  // Gives back a unit TakeQuota took but the caller did not use. Lock-free.
  void ReturnQuota(int32_t index);
  // Units of quota this process holds for the item (0 without a quota goal).
  int64_t QuotaBalance(int32_t index) const;
  int32_t size() const { return static_cast<int32_t>(ids_.size()); }
  const std::string& item_id(int32_t index) const { return ids_[index]; }

 private:
  friend class DeliveryCounters;
  friend class EventRecorder;
  struct Item;
  std::vector<std::string> ids_;
  std::vector<Item*> items_;  // owned by the DeliveryCounters
  StringMap<int32_t> index_;
  bool leasing_ = false;      // DeliveryCountersOptions::lease_quota
};

class DeliveryCounters {
 public:
  // Loads the current totals, maps `item_ids` (index i = item_ids[i]) and
  // starts the flusher. Fails when the totals cannot be loaded.
  static absl::StatusOr<std::unique_ptr<DeliveryCounters>> Create(
      CounterStore* store, std::span<const std::string> item_ids,
      DeliveryCountersOptions options = {});

  DeliveryCounters(const DeliveryCounters&) = delete;
  DeliveryCounters& operator=(const DeliveryCounters&) = delete;
  ~DeliveryCounters();  // Stop(); a failed final flush is reported on stderr

  // The mapping given to Create or the latest Remap.
  CounterSlots* slots() const { return current_.load(std::memory_order_acquire); }
  // Shorthands for slots()->Add / Served: use the CounterSlots* of your own
  // catalog snapshot instead when Remap may run concurrently.
  void Add(int32_t index, int64_t requests, int64_t clicks) { slots()->Add(index, requests, clicks); }
  ServedCount Served(int32_t index) const { return slots()->Served(index); }

  // A new mapping for a new catalog snapshot; becomes slots(). Items already
  // known keep their counts. The returned pointer lives as long as `this`.
  CounterSlots* Remap(std::span<const std::string> item_ids);

  // Writes every delta added before the call, then reloads the totals.
  // Returns the first error; deltas that could not be written are kept.
  absl::Status Flush();
  // Reloads the global totals only.
  absl::Status Reload();
  // Stops the flusher and the leaser, flushes, and gives unused quota back.
  // Idempotent; later Adds stay in memory.
  absl::Status Stop();
  // One round of the quota leaser (what its thread does every lease_poll):
  // tops up every item whose balance ran low. Returns the first error.
  absl::Status LeaseRound();

  // The status of the last background flush (OK before the first one).
  absl::Status last_flush_status() const;
  // The status of the last lease round (OK before the first one).
  absl::Status last_lease_status() const;
  // When a flush last wrote every delta and reloaded the totals (creation
  // time before the first): how far the counters lag behind (/metrics).
  absl::Time last_successful_flush() const;
  absl::Duration flush_interval() const { return options_.flush_interval; }

 private:
  friend class EventRecorder;
  using Item = CounterSlots::Item;
  DeliveryCounters(CounterStore* store, DeliveryCountersOptions options);
  CounterSlots* MapLocked(std::span<const std::string> item_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Item* FindItem(std::string_view item_id) const;  // lock-free after the item exists; null if unknown
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(totals_mu_);
  // EventRecorder: counts of a stored batch (item id, requests, clicks).
  void AcknowledgeRecordedLocked(std::span<const CounterDelta> deltas)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(totals_mu_);
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
  absl::Mutex totals_mu_;  // orders total updates: reloads vs acknowledgements
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

struct EventRecorderOptions {
  int max_batch = 1000;          // events per transaction
  int64_t max_queued = 1 << 20;  // events waiting to be written; beyond it Append drops (see below)
  bool block_when_full = false;  // true: Append waits for room instead of dropping
  absl::Duration flush_interval = absl::Milliseconds(200);  // longest an event waits before its batch is written
  absl::Duration retry_delay = absl::Seconds(1);  // wait after a failed write before retrying
};

// An event to record, by reference: the cheap form of EventRecorder::Append
// for hot paths (no protobuf message is built). The views need only live
// for the call.
struct EventView {
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  absl::Time time = absl::UnixEpoch();
  int64_t count = 0;  // 0 = 1
  std::string_view custom_name, user_id, session_id, item_id, campaign_id, page_group;
};

class EventRecorder {
 public:
  // `counters` may be null (events only). With counters, request and click
  // events also count toward their item (see the header comment). Starts the
  // writer thread.
  EventRecorder(EventStore* store, DeliveryCounters* counters = nullptr,
                EventRecorderOptions options = {});
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;
  ~EventRecorder();  // Stop(); a failed final write is reported on stderr

  // Queues one event; no I/O. False when the queue is full and the event was
  // dropped (counted in dropped()), or after Stop().
  bool Append(v1::Event event);
  // The same from a view. With `slots` and the item's `index` in them, the
  // counter is found by index instead of by the item id.
  bool Append(const EventView& event, const CounterSlots* slots = nullptr, int32_t index = -1);
  // Returns when every event appended before the call is durable, or with the
  // error of a write attempted after the call (the events stay queued and are
  // retried).
  absl::Status Flush();
  // Writes everything queued and stops the writer. Idempotent.
  absl::Status Stop();

  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t written() const;  // events durable so far
  int64_t queued() const;   // events waiting

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
    CounterSlots::Item* item = nullptr;  // the in-memory counter Append added to, or null
  };
  // Counts `q` (when it counts and has an item), queues it; false if dropped.
  bool Enqueue(Queued q, std::pair<int64_t, int64_t> counts);
  void RunWriter();
  // Writes one batch from the head of the queue; called by the writer only.
  // `events` is the writer's buffer, reused from batch to batch.
  absl::Status WriteBatch(std::vector<Queued>& batch, std::vector<v1::Event>& events);

  EventStore* const store_;
  DeliveryCounters* const counters_;
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

}  // namespace herald

#endif  // HERALD_COUNTERS_H_
