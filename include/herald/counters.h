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
// Both are interfaces made by their Create functions; what they keep and the
// threads they run are the library's (lib/store/counters.cc).
//
// Lifetime: the store passed in must outlive the object. Stop() (or the
// destructor) joins the background thread after a final flush.
// Thread-safety: every method may be called concurrently from any thread.
#ifndef HERALD_COUNTERS_H_
#define HERALD_COUNTERS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/events.pb.h"
#include "herald/store.h"

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

// The dense index space of one catalog snapshot: index i is item_ids()[i].
// Made by DeliveryCounters::Create or Remap, which own it; valid for that
// object's lifetime. Its counting methods are what every request calls, so
// they are plain calls, not virtual ones.
class CounterSlots {
 public:
  struct Impl;  // lib/store/counters.cc
  explicit CounterSlots(std::unique_ptr<Impl> impl);  // DeliveryCounters only
  ~CounterSlots();
  CounterSlots(const CounterSlots&) = delete;
  CounterSlots& operator=(const CounterSlots&) = delete;

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
  int32_t size() const;
  const std::string& item_id(int32_t index) const;

  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// The counters of one process (see the header comment). An interface: the
// library's implementation is made by Create; its flusher and quota leaser
// run on threads of their own.
class DeliveryCounters {
 public:
  // Loads the current totals, maps `item_ids` (index i = item_ids[i]) and
  // starts the flusher. Fails when the totals cannot be loaded.
  static absl::StatusOr<std::unique_ptr<DeliveryCounters>> Create(
      CounterStore* store, std::span<const std::string> item_ids,
      DeliveryCountersOptions options = {});

  DeliveryCounters(const DeliveryCounters&) = delete;
  DeliveryCounters& operator=(const DeliveryCounters&) = delete;
  virtual ~DeliveryCounters() = default;  // Stop(); a failed final flush is reported on stderr

  // The mapping given to Create or the latest Remap.
  virtual CounterSlots* slots() const = 0;
  // Shorthands for slots()->Add / Served: use the CounterSlots* of your own
  // catalog snapshot instead when Remap may run concurrently.
  void Add(int32_t index, int64_t requests, int64_t clicks) { slots()->Add(index, requests, clicks); }
  ServedCount Served(int32_t index) const { return slots()->Served(index); }

  // A new mapping for a new catalog snapshot; becomes slots(). Items already
  // known keep their counts. The returned pointer lives as long as `this`.
  virtual CounterSlots* Remap(std::span<const std::string> item_ids) = 0;

  // Writes every delta added before the call, then reloads the totals.
  // Returns the first error; deltas that could not be written are kept.
  virtual absl::Status Flush() = 0;
  // Reloads the global totals only.
  virtual absl::Status Reload() = 0;
  // Stops the flusher and the leaser, flushes, and gives unused quota back.
  // Idempotent; later Adds stay in memory.
  virtual absl::Status Stop() = 0;
  // One round of the quota leaser (what its thread does every lease_poll):
  // tops up every item whose balance ran low. Returns the first error.
  virtual absl::Status LeaseRound() = 0;

  // The status of the last background flush (OK before the first one).
  virtual absl::Status last_flush_status() const = 0;
  // The status of the last lease round (OK before the first one).
  virtual absl::Status last_lease_status() const = 0;
  // When a flush last wrote every delta and reloaded the totals (creation
  // time before the first): how far the counters lag behind (/metrics).
  virtual absl::Time last_successful_flush() const = 0;
  virtual absl::Duration flush_interval() const = 0;

 protected:
  DeliveryCounters() = default;
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

// Queues events and writes them in batches (see the header comment). An
// interface: the library's implementation is made by Create; its writer runs
// on a thread of its own.
class EventRecorder {
 public:
  // `counters` may be null (events only); otherwise it must come from
  // DeliveryCounters::Create and outlive the recorder. With counters, request
  // and click events also count toward their item (see the header comment).
  // Starts the writer.
  static std::unique_ptr<EventRecorder> Create(EventStore* store, DeliveryCounters* counters = nullptr,
                                               EventRecorderOptions options = {});
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;
  virtual ~EventRecorder() = default;  // Stop(); a failed final write is reported on stderr

  // Queues one event; no I/O. False when the queue is full and the event was
  // dropped (counted in dropped()), or after Stop().
  virtual bool Append(v1::Event event) = 0;
  // The same from a view. With `slots` and the item's `index` in them, the
  // counter is found by index instead of by the item id.
  virtual bool Append(const EventView& event, const CounterSlots* slots = nullptr, int32_t index = -1) = 0;
  // Returns when every event appended before the call is durable, or with the
  // error of a write attempted after the call (the events stay queued and are
  // retried).
  virtual absl::Status Flush() = 0;
  // Writes everything queued and stops the writer. Idempotent.
  virtual absl::Status Stop() = 0;

  virtual int64_t dropped() const = 0;  // events dropped (queue full, or after Stop)
  virtual int64_t written() const = 0;  // events durable so far
  virtual int64_t queued() const = 0;   // events waiting

 protected:
  EventRecorder() = default;
};

}  // namespace herald

#endif  // HERALD_COUNTERS_H_
