// DeliveryCounters and EventRecorder: counting off the request path.
#include "herald/counters.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace herald {
namespace {

// A store whose counter and event writes can be made to fail.
class FlakyStore : public CounterStore, public EventStore {
 public:
  explicit FlakyStore(Store* inner) : inner_(inner) {}
  std::atomic<bool> fail{false};
  std::atomic<int> writes{0};
  absl::Status AddCounterDeltas(std::span<const CounterDelta> deltas) override {
    writes++;
    if (fail) return absl::UnavailableError("database down");
    return inner_->counters().AddCounterDeltas(deltas);
  }
  absl::StatusOr<std::vector<CounterTotal>> LoadCounterTotals() override {
    return inner_->counters().LoadCounterTotals();
  }
  absl::StatusOr<int64_t> LeaseQuota(std::string_view item_id, int64_t limit, int64_t delta) override {
    if (fail) return absl::UnavailableError("database down");
    return inner_->counters().LeaseQuota(item_id, limit, delta);
  }
  absl::Status RecordBatch(std::span<const v1::Event> events,
                           std::span<const CounterDelta> deltas) override {
    writes++;
    if (fail) return absl::UnavailableError("database down");
    return inner_->events().RecordBatch(events, deltas);
  }
  absl::Status ScanEvents(const EventQuery& q,
                          const std::function<absl::Status(const v1::Event&)>& fn) override {
    return inner_->events().ScanEvents(q, fn);
  }

 private:
  Store* inner_;
};

int64_t StoredRequests(Store& store, const std::string& id) {
  auto totals = store.counters().LoadCounterTotals();
  REQUIRE(totals.ok());
  for (const auto& t : *totals) {
    if (t.item_id == id) return t.requests;
  }
  return 0;
}

int64_t CountEvents(Store& store) {
  int64_t n = 0;
  REQUIRE(store.events().ScanEvents({}, [&](const v1::Event&) {
    ++n;
    return absl::OkStatus();
  }).ok());
  return n;
}

v1::Event Request(const std::string& item, int n = 0) {
  v1::Event e;
  e.set_type(v1::EVENT_TYPE_REQUEST);
  e.set_item_id(item);
  e.set_user_id("u" + std::to_string(n));
  e.mutable_time()->set_seconds(1700000000 + n);
  return e;
}

DeliveryCountersOptions Manual() {
  DeliveryCountersOptions o;
  o.start_flusher = false;
  return o;
}

TEST_CASE("DeliveryCounters: local adds are seen at once and flushed on demand", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<CounterDelta> earlier = {{"b", 10, 2}};
  REQUIRE(store->counters().AddCounterDeltas(earlier).ok());
  std::vector<std::string> ids = {"a", "b"};
  auto counters = DeliveryCounters::Create(&store->counters(), ids, Manual());
  REQUIRE(counters.ok());
  DeliveryCounters& c = **counters;
  CHECK(c.Served(1).requests == 10);  // loaded at creation
  CHECK(c.Served(1).clicks == 2);
  c.Add(0, 3, 1);
  c.Add(1, 1, 0);
  c.Add(7, 1, 1);   // out of range: ignored
  c.Add(-1, 1, 1);
  CHECK(c.Served(0).requests == 3);
  CHECK(c.Served(0).clicks == 1);
  CHECK(c.Served(1).requests == 11);
  CHECK(StoredRequests(*store, "a") == 0);  // nothing written yet
  REQUIRE(c.Flush().ok());
  CHECK(StoredRequests(*store, "a") == 3);
  CHECK(StoredRequests(*store, "b") == 11);
  CHECK(c.Served(0).requests == 3);  // no double counting after the flush
  CHECK(c.slots()->IndexOf("b") == 1);
  CHECK(c.slots()->IndexOf("zz") == -1);
}

TEST_CASE("DeliveryCounters: two servers see each other's deliveries after a flush", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a"};
  auto one = DeliveryCounters::Create(&store->counters(), ids, Manual());
  auto two = DeliveryCounters::Create(&store->counters(), ids, Manual());
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  (*one)->Add(0, 5, 0);
  (*two)->Add(0, 7, 0);
  CHECK((*one)->Served(0).requests == 5);
  REQUIRE((*one)->Flush().ok());
  REQUIRE((*two)->Flush().ok());
  CHECK((*two)->Served(0).requests == 12);
  CHECK((*one)->Served(0).requests == 5);  // not reloaded yet
  REQUIRE((*one)->Reload().ok());
  CHECK((*one)->Served(0).requests == 12);
}

DeliveryCountersOptions Leasing() {
  DeliveryCountersOptions o;
  o.start_flusher = false;
  o.lease_quota = true;
  o.min_lease = 4;
  return o;
}

TEST_CASE("DeliveryCounters: quota leases bound two servers by the goal exactly", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"paid", "free"};
  auto one = DeliveryCounters::Create(&store->counters(), ids, Leasing());
  auto two = DeliveryCounters::Create(&store->counters(), ids, Leasing());
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  for (auto* c : {one->get(), two->get()}) c->slots()->SetQuotaGoal(0, 50);
  // No goal: never limited. A goal: nothing before the first lease.
  CHECK((*one)->slots()->TakeQuota(1));
  CHECK_FALSE((*one)->slots()->TakeQuota(0));
  REQUIRE((*one)->LeaseRound().ok());
  CHECK((*one)->slots()->QuotaBalance(0) == 4);  // min_lease
  // Both servers take as fast as they can, the leaser growing their leases.
  int64_t served = 0;
  for (int round = 0; round < 200; ++round) {
    for (auto* c : {one->get(), two->get()}) {
      for (int i = 0; i < 5; ++i) {
        if (c->slots()->TakeQuota(0)) {
          ++served;
          c->Add(0, 1, 0);
        }
      }
      REQUIRE(c->LeaseRound().ok());
    }
  }
  CHECK(served == 50);  // all of the goal, never more
  CHECK((*one)->slots()->QuotaBalance(0) + (*two)->slots()->QuotaBalance(0) == 0);
  // A unit given back (an unused winner) is taken again.
  REQUIRE((*one)->slots()->QuotaBalance(0) == 0);
  (*one)->slots()->ReturnQuota(0);
  CHECK((*one)->slots()->TakeQuota(0));
  CHECK_FALSE((*one)->slots()->TakeQuota(0));
}

TEST_CASE("DeliveryCounters: stop gives unused quota back and a lease starts from stored deliveries",
          "[counters]") {
  auto store = NewMemoryStore();
  REQUIRE(store->counters().AddCounterDeltas(std::vector<CounterDelta>{{"paid", 90, 0}}).ok());
  std::vector<std::string> ids = {"paid"};
  {
    auto one = DeliveryCounters::Create(&store->counters(), ids, Leasing());
    REQUIRE(one.ok());
    (*one)->slots()->SetQuotaGoal(0, 100);
    REQUIRE((*one)->LeaseRound().ok());
    CHECK((*one)->slots()->QuotaBalance(0) == 4);
    CHECK((*one)->slots()->TakeQuota(0));
    REQUIRE((*one)->Stop().ok());  // gives 3 back
    CHECK((*one)->slots()->QuotaBalance(0) == 0);
  }
  // 90 counted + 1 taken: 9 remain to lease.
  CHECK(store->counters().LeaseQuota("paid", 100, 1000).value() == 9);
}

TEST_CASE("DeliveryCounters: a failed lease reports and keeps serving nothing unleased", "[counters]") {
  auto inner = NewMemoryStore();
  FlakyStore flaky(inner.get());
  std::vector<std::string> ids = {"paid"};
  auto c = DeliveryCounters::Create(&flaky, ids, Leasing());
  REQUIRE(c.ok());
  (*c)->slots()->SetQuotaGoal(0, 10);
  flaky.fail = true;
  CHECK((*c)->LeaseRound().code() == absl::StatusCode::kUnavailable);
  CHECK((*c)->last_lease_status().code() == absl::StatusCode::kUnavailable);
  CHECK_FALSE((*c)->slots()->TakeQuota(0));
  flaky.fail = false;
  REQUIRE((*c)->LeaseRound().ok());
  CHECK((*c)->slots()->TakeQuota(0));
}

TEST_CASE("DeliveryCounters: a failed write keeps the deltas for the next flush", "[counters]") {
  auto inner = NewMemoryStore();
  FlakyStore flaky(inner.get());
  std::vector<std::string> ids = {"a"};
  auto counters = DeliveryCounters::Create(&flaky, ids, Manual());
  REQUIRE(counters.ok());
  (*counters)->Add(0, 4, 1);
  flaky.fail = true;
  absl::Status s = (*counters)->Flush();
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK((*counters)->last_flush_status().code() == absl::StatusCode::kUnavailable);
  CHECK((*counters)->Served(0).requests == 4);  // still counted locally
  (*counters)->Add(0, 1, 0);
  flaky.fail = false;
  REQUIRE((*counters)->Flush().ok());
  CHECK(StoredRequests(*inner, "a") == 5);
  CHECK((*counters)->Served(0).requests == 5);
}

TEST_CASE("DeliveryCounters: remap keeps counts by item id", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a", "b"};
  auto counters = DeliveryCounters::Create(&store->counters(), ids, Manual());
  REQUIRE(counters.ok());
  CounterSlots* old_slots = (*counters)->slots();
  old_slots->Add(1, 2, 0);  // b
  std::vector<std::string> next = {"c", "b"};
  CounterSlots* slots = (*counters)->Remap(next);
  CHECK((*counters)->slots() == slots);
  CHECK(slots->Served(1).requests == 2);  // b kept its count under a new index
  old_slots->Add(1, 1, 0);                // a request still served with the old snapshot
  CHECK(slots->Served(1).requests == 3);
  slots->Add(0, 1, 0);
  REQUIRE((*counters)->Flush().ok());
  CHECK(StoredRequests(*store, "b") == 3);
  CHECK(StoredRequests(*store, "c") == 1);
}

TEST_CASE("DeliveryCounters: concurrent adds with a running flusher lose nothing", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a", "b", "c", "d"};
  DeliveryCountersOptions options;
  options.flush_interval = absl::Milliseconds(5);
  auto counters = DeliveryCounters::Create(&store->counters(), ids, options);
  REQUIRE(counters.ok());
  constexpr int kThreads = 8, kAdds = 50000;
  std::atomic<int> undercounts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAdds; ++i) {
        (*counters)->Add(i % 4, 1, i % 10 == 0 ? 1 : 0);
        // This thread alone added (i + 1) / 4-ish to item 0; Served never drops below its own adds.
        if (t == 0 && i % 4 == 0 && (*counters)->Served(0).requests < i / 4 + 1) undercounts++;
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE((*counters)->Stop().ok());
  CHECK(undercounts == 0);
  int64_t total = 0;
  for (const auto& id : ids) total += StoredRequests(*store, id);
  CHECK(total == int64_t{kThreads} * kAdds);
  CHECK((*counters)->Served(0).requests == int64_t{kThreads} * kAdds / 4);
}

TEST_CASE("DeliveryCounters: destruction flushes", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a"};
  {
    auto counters = DeliveryCounters::Create(&store->counters(), ids);
    REQUIRE(counters.ok());
    (*counters)->Add(0, 9, 0);
  }
  CHECK(StoredRequests(*store, "a") == 9);
}

TEST_CASE("EventRecorder: Flush returns when appended events are durable", "[counters]") {
  auto store = NewMemoryStore();
  EventRecorderOptions options;
  options.flush_interval = absl::Seconds(60);  // only Flush or a full batch writes
  options.max_batch = 100;
  auto recorder_owner = EventRecorder::Create(&store->events(), nullptr, options);
  EventRecorder& recorder = *recorder_owner;
  for (int i = 0; i < 250; ++i) REQUIRE(recorder.Append(Request("a", i)));
  REQUIRE(recorder.Flush().ok());
  CHECK(CountEvents(*store) == 250);
  CHECK(recorder.written() == 250);
  CHECK(recorder.queued() == 0);
  REQUIRE(recorder.Stop().ok());
  CHECK_FALSE(recorder.Append(Request("a")));  // stopped
}

TEST_CASE("EventRecorder: counts into DeliveryCounters in the events' transaction", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a", "b"};
  auto counters = DeliveryCounters::Create(&store->counters(), ids, Manual());
  REQUIRE(counters.ok());
  auto recorder_owner = EventRecorder::Create(&store->events(), counters->get());
  EventRecorder& recorder = *recorder_owner;
  for (int i = 0; i < 30; ++i) recorder.Append(Request(i % 3 == 0 ? "b" : "a", i));
  v1::Event click = Request("a");
  click.set_type(v1::EVENT_TYPE_CLICK);
  click.set_count(2);
  recorder.Append(click);
  recorder.Append(Request("unmapped"));
  CHECK((*counters)->Served(0).requests == 20);  // seen before any write
  CHECK((*counters)->Served(0).clicks == 2);
  REQUIRE(recorder.Flush().ok());
  CHECK(StoredRequests(*store, "a") == 20);
  CHECK(StoredRequests(*store, "b") == 10);
  CHECK(StoredRequests(*store, "unmapped") == 1);  // stored counters equal stored events
  CHECK((*counters)->Served(0).requests == 20);    // not counted twice
  REQUIRE((*counters)->Flush().ok());              // the counters' own flush adds nothing
  CHECK(StoredRequests(*store, "a") == 20);
  CHECK((*counters)->Served(0).requests == 20);
  CHECK((*counters)->Served(1).requests == 10);
}

TEST_CASE("EventRecorder: a failing store keeps events queued and reports it", "[counters]") {
  auto inner = NewMemoryStore();
  FlakyStore flaky(inner.get());
  EventRecorderOptions options;
  options.retry_delay = absl::Milliseconds(20);
  auto recorder_owner = EventRecorder::Create(&flaky, nullptr, options);
  EventRecorder& recorder = *recorder_owner;
  flaky.fail = true;
  for (int i = 0; i < 10; ++i) recorder.Append(Request("a", i));
  absl::Status s = recorder.Flush();
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(recorder.queued() == 10);
  flaky.fail = false;
  absl::Status later = recorder.Flush();
  for (int i = 0; i < 20 && !later.ok(); ++i) later = recorder.Flush();
  REQUIRE(later.ok());
  CHECK(CountEvents(*inner) == 10);
}

TEST_CASE("EventRecorder: a full queue drops (counted) instead of blocking", "[counters]") {
  auto inner = NewMemoryStore();
  FlakyStore flaky(inner.get());
  flaky.fail = true;
  EventRecorderOptions options;
  options.max_queued = 5;
  options.retry_delay = absl::Milliseconds(10);
  {
    auto recorder_owner = EventRecorder::Create(&flaky, nullptr, options);
    EventRecorder& recorder = *recorder_owner;
    int accepted = 0;
    for (int i = 0; i < 20; ++i) accepted += recorder.Append(Request("a", i)) ? 1 : 0;
    CHECK(accepted <= 6);  // the writer may hold one batch out of the queue
    CHECK(recorder.dropped() == 20 - accepted);
    flaky.fail = false;
    REQUIRE(recorder.Flush().ok());
    CHECK(CountEvents(*inner) == accepted);
  }
}

TEST_CASE("EventRecorder: many threads appending - stop writes everything", "[counters]") {
  auto store = NewMemoryStore();
  std::vector<std::string> ids = {"a"};
  auto counters = DeliveryCounters::Create(&store->counters(), ids);
  REQUIRE(counters.ok());
  {
    auto recorder_owner = EventRecorder::Create(&store->events(), counters->get());
    EventRecorder& recorder = *recorder_owner;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) recorder.Append(Request("a", t * 5000 + i));
      });
    }
    for (auto& th : threads) th.join();
  }  // destruction stops and writes
  CHECK(CountEvents(*store) == 20000);
  CHECK(StoredRequests(*store, "a") == 20000);
  CHECK((*counters)->Served(0).requests == 20000);
}

}  // namespace
}  // namespace herald
