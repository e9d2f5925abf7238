#include "store/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace herald::testing {
namespace {

#define HERALD_REQUIRE_OK(expr)                   \
  do {                                            \
    absl::Status _s = (expr);                     \
    INFO(_s.ToString());                          \
    REQUIRE(_s.ok());                             \
  } while (0)

template <typename T>
T Value(absl::StatusOr<T> v) {
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return std::move(*v);
}

v1::Event MakeEvent(int64_t seconds, v1::EventType type, std::string item, std::string campaign,
                    std::string user, std::string page = "home") {
  v1::Event e;
  e.set_type(type);
  e.mutable_time()->set_seconds(seconds);
  e.mutable_time()->set_nanos(123000);
  e.set_item_id(std::move(item));
  e.set_campaign_id(std::move(campaign));
  e.set_user_id(std::move(user));
  e.set_session_id("s-" + e.user_id());
  e.set_page_group(std::move(page));
  return e;
}

std::vector<v1::Event> ScanAll(Store& store, EventQuery query = {}) {
  std::vector<v1::Event> out;
  HERALD_REQUIRE_OK(store.events().ScanEvents(query, [&](const v1::Event& e) {
    out.push_back(e);
    return absl::OkStatus();
  }));
  return out;
}

// Runs `fn(i)` on `n` threads at once.
void Concurrently(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      fn(i);
    });
  }
  go = true;
  for (auto& t : threads) t.join();
}

}  // namespace

void RunStoreConformance(const StoreFixture& fixture) {
  std::unique_ptr<Store> store = fixture.open_fresh();
  REQUIRE(store != nullptr);
  CAPTURE(store->Describe());

  SECTION("counters add, sum duplicates and load") {
    CHECK(Value(store->counters().LoadCounterTotals()).empty());
    std::vector<CounterDelta> deltas = {{"ad-b", 2, 1}, {"ad-a", 5, 0}, {"ad-b", 3, 2}};
    HERALD_REQUIRE_OK(store->counters().AddCounterDeltas(deltas));
    HERALD_REQUIRE_OK(store->counters().AddCounterDeltas(std::vector<CounterDelta>{{"ad-a", 1, 1}}));
    auto totals = Value(store->counters().LoadCounterTotals());
    std::sort(totals.begin(), totals.end(),
              [](const auto& a, const auto& b) { return a.item_id < b.item_id; });
    REQUIRE(totals.size() == 2);
    CHECK(totals[0].item_id == "ad-a");
    CHECK(totals[0].requests == 6);
    CHECK(totals[0].clicks == 1);
    CHECK(totals[1].item_id == "ad-b");
    CHECK(totals[1].requests == 5);
    CHECK(totals[1].clicks == 3);
  }

  SECTION("counters refuse negative deltas and empty ids, all or none") {
    std::vector<CounterDelta> bad = {{"ad-a", 1, 0}, {"ad-b", -1, 0}};
    CHECK(store->counters().AddCounterDeltas(bad).code() == absl::StatusCode::kInvalidArgument);
    std::vector<CounterDelta> empty_id = {{"", 1, 0}};
    CHECK(store->counters().AddCounterDeltas(empty_id).code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(Value(store->counters().LoadCounterTotals()).empty());
  }

  SECTION("counters are exact under concurrent adds") {
    constexpr int kThreads = 8, kRounds = 50;
    std::atomic<int> failures{0};
    Concurrently(kThreads, [&](int t) {
      for (int i = 0; i < kRounds; ++i) {
        std::vector<CounterDelta> d = {{"ad-a", 1, 0}, {"ad-b", 2, 1}, {"ad-" + std::to_string(t), 1, 1}};
        if (!store->counters().AddCounterDeltas(d).ok()) failures++;
      }
    });
    int64_t a = 0, b_clicks = 0;
    for (const auto& t : Value(store->counters().LoadCounterTotals())) {
      if (t.item_id == "ad-a") a = t.requests;
      if (t.item_id == "ad-b") b_clicks = t.clicks;
    }
    CHECK(a == kThreads * kRounds);
    CHECK(b_clicks == kThreads * kRounds);
    CHECK(failures == 0);
  }

  SECTION("quota leases grant up to the limit from the stored count and take returns") {
    HERALD_REQUIRE_OK(store->counters().AddCounterDeltas(std::vector<CounterDelta>{{"ad-a", 30, 0}}));
    // The first lease starts from the 30 requests already counted.
    CHECK(Value(store->counters().LeaseQuota("ad-a", 100, 50)) == 50);
    CHECK(Value(store->counters().LeaseQuota("ad-a", 100, 50)) == 20);
    CHECK(Value(store->counters().LeaseQuota("ad-a", 100, 5)) == 0);
    CHECK(Value(store->counters().LeaseQuota("ad-a", 100, -8)) == -8);
    CHECK(Value(store->counters().LeaseQuota("ad-a", 100, 10)) == 8);
    // A higher limit (a raised goal) grants more; returns never go below zero.
    CHECK(Value(store->counters().LeaseQuota("ad-a", 110, 50)) == 10);
    CHECK(Value(store->counters().LeaseQuota("ad-new", 10, -3)) == 0);
    CHECK(Value(store->counters().LeaseQuota("ad-new", 10, 4)) == 4);
    CHECK(store->counters().LeaseQuota("", 10, 1).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(store->counters().LeaseQuota("ad-a", -1, 1).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  SECTION("quota leases never grant more than the limit to concurrent servers") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    constexpr int64_t kLimit = 997;
    std::atomic<int64_t> granted{0};
    std::atomic<int> failures{0};
    Concurrently(8, [&](int t) {
      Store& s = (other != nullptr && t % 2 == 1) ? *other : *store;
      for (int i = 0; i < 60; ++i) {
        auto got = s.counters().LeaseQuota("ad-q", kLimit, 1 + (i + t) % 5);
        if (!got.ok()) {
          failures++;
        } else {
          granted += *got;
        }
        if (i % 7 == 3) {  // give one back now and then
          auto back = s.counters().LeaseQuota("ad-q", kLimit, -1);
          if (back.ok()) granted += *back;
        }
      }
    });
    CHECK(failures == 0);
    // Every unit granted and given back is accounted for: what is left to
    // lease brings the total exactly to the limit, and then nothing is left.
    granted += Value(store->counters().LeaseQuota("ad-q", kLimit, 10 * kLimit));
    CHECK(granted == kLimit);
    CHECK(Value(store->counters().LeaseQuota("ad-q", kLimit, 1)) == 0);
  }

  SECTION("events and counters are recorded together") {
    std::vector<v1::Event> events = {MakeEvent(100, v1::EVENT_TYPE_REQUEST, "ad-a", "c1", "u1"),
                                     MakeEvent(101, v1::EVENT_TYPE_CLICK, "ad-a", "c1", "u1")};
    std::vector<CounterDelta> deltas = {{"ad-a", 1, 1}};
    HERALD_REQUIRE_OK(store->events().RecordBatch(events, deltas));
    CHECK(ScanAll(*store).size() == 2);
    auto totals = Value(store->counters().LoadCounterTotals());
    REQUIRE(totals.size() == 1);
    CHECK(totals[0].requests == 1);
    CHECK(totals[0].clicks == 1);
    // A bad delta fails the whole batch: no event is stored.
    std::vector<CounterDelta> bad = {{"ad-a", -5, 0}};
    CHECK_FALSE(store->events().RecordBatch(events, bad).ok());
    CHECK(ScanAll(*store).size() == 2);
  }

  SECTION("events round-trip, in time order, filtered") {
    std::vector<v1::Event> events;
    events.push_back(MakeEvent(300, v1::EVENT_TYPE_CLICK, "ad-b", "c2", "u2", "sports"));
    events.push_back(MakeEvent(100, v1::EVENT_TYPE_REQUEST, "ad-a", "c1", "u1"));
    events.push_back(MakeEvent(200, v1::EVENT_TYPE_REQUEST, "ad-b", "c2", "u1"));
    v1::Event custom = MakeEvent(200, v1::EVENT_TYPE_CUSTOM, "ad-a", "c1", "u3");
    custom.set_custom_name("video-play");
    custom.set_count(7);
    events.push_back(custom);
    HERALD_REQUIRE_OK(store->events().AppendEvents(events));

    auto all = ScanAll(*store);
    REQUIRE(all.size() == 4);
    CHECK(all[0].time().seconds() == 100);
    CHECK(all[1].time().seconds() == 200);
    CHECK(all[1].type() == v1::EVENT_TYPE_REQUEST);  // ties keep append order
    CHECK(all[2].custom_name() == "video-play");
    CHECK(all[2].count() == 7);
    CHECK(all[3].page_group() == "sports");
    CHECK(all[0].time().nanos() == 123000);
    CHECK(all[0].session_id() == "s-u1");

    EventQuery q;
    q.from = absl::FromUnixSeconds(200);
    q.to = absl::FromUnixSeconds(300);
    CHECK(ScanAll(*store, q).size() == 2);
    EventQuery by_campaign;
    by_campaign.campaign_id = "c2";
    CHECK(ScanAll(*store, by_campaign).size() == 2);
    EventQuery by_item;
    by_item.item_id = "ad-a";
    by_item.campaign_id = "c1";
    CHECK(ScanAll(*store, by_item).size() == 2);

    // The callback's error stops the scan and is returned.
    int seen = 0;
    absl::Status s = store->events().ScanEvents({}, [&](const v1::Event&) {
      ++seen;
      return absl::CancelledError("enough");
    });
    CHECK(s.code() == absl::StatusCode::kCancelled);
    CHECK(seen == 1);
  }

  SECTION("event scans page through many events") {
    std::vector<v1::Event> events;
    for (int i = 0; i < 5000; ++i) {
      events.push_back(MakeEvent(1000 + i / 3, v1::EVENT_TYPE_REQUEST, "ad-a", "c1",
                                 "u" + std::to_string(i)));
    }
    HERALD_REQUIRE_OK(store->events().AppendEvents(events));
    auto all = ScanAll(*store);
    REQUIRE(all.size() == 5000);
    for (int i = 0; i < 5000; ++i) REQUIRE(all[i].user_id() == "u" + std::to_string(i));
  }

  SECTION("histories save, replace and load") {
    CHECK_FALSE(Value(store->history().LoadHistory("u1")).has_value());
    UserHistory h;
    h.recent = {"ad-b", "ad-a"};
    h.exposures = {{"ad-a", 2}, {"ad-b", 1}};
    std::vector<std::pair<std::string, UserHistory>> batch = {{"u1", h}, {"u2", UserHistory{}}};
    HERALD_REQUIRE_OK(store->history().SaveHistories(batch));
    auto loaded = Value(store->history().LoadHistory("u1"));
    REQUIRE(loaded.has_value());
    CHECK(loaded->recent == h.recent);
    CHECK(loaded->exposures == h.exposures);
    REQUIRE(Value(store->history().LoadHistory("u2")).has_value());
    h.recent = {"ad-c"};
    batch = {{"u1", h}};
    HERALD_REQUIRE_OK(store->history().SaveHistories(batch));
    CHECK(Value(store->history().LoadHistory("u1"))->recent == std::vector<std::string>{"ad-c"});
  }

  SECTION("interactions get increasing sequence numbers") {
    v1::InteractionRecord r;
    r.set_interaction_id("i1");
    r.mutable_action()->set_name("Offer");
    r.set_outcome(v1::OUTCOME_ACCEPTED);
    int64_t s1 = Value(store->interactions().AppendInteraction(r));
    r.set_interaction_id("i2");
    int64_t s2 = Value(store->interactions().AppendInteraction(r));
    r.set_interaction_id("i3");
    int64_t s3 = Value(store->interactions().AppendInteraction(r));
    CHECK(s1 > 0);
    CHECK(s2 > s1);
    CHECK(s3 > s2);
    auto read = Value(store->interactions().ReadInteractions(s1, 10));
    REQUIRE(read.size() == 2);
    CHECK(read[0].interaction_id() == "i2");
    CHECK(read[0].sequence() == s2);
    CHECK(read[1].sequence() == s3);
    CHECK(read[1].action().name() == "Offer");
    CHECK(Value(store->interactions().ReadInteractions(0, 1)).size() == 1);
    CHECK(Value(store->interactions().ReadInteractions(s3, 10)).empty());
    // The work left after a watermark (an export's progress total).
    CHECK(Value(store->interactions().CountInteractions(0)) == 3);
    CHECK(Value(store->interactions().CountInteractions(s1)) == 2);
    CHECK(Value(store->interactions().CountInteractions(s3)) == 0);
  }

  SECTION("interaction sequences are unique and gap-ordered under concurrency") {
    std::vector<int64_t> seqs;
    absl::Mutex mu;
    std::atomic<int> failures{0};
    Concurrently(8, [&](int t) {
      for (int i = 0; i < 25; ++i) {
        v1::InteractionRecord r;
        r.set_interaction_id("t" + std::to_string(t) + "-" + std::to_string(i));
        auto s = store->interactions().AppendInteraction(r);
        if (!s.ok()) {
          failures++;
          continue;
        }
        absl::MutexLock lock(&mu);
        seqs.push_back(*s);
      }
    });
    std::set<int64_t> unique(seqs.begin(), seqs.end());
    CHECK(failures == 0);
    CHECK(unique.size() == 200);
    CHECK(Value(store->interactions().ReadInteractions(0, 1000)).size() == 200);
  }

  SECTION("mail ledger: add, claim, mark, in flight, counts, job state") {
    std::vector<std::string> recipients = {"a@x.test", "b@x.test", "c@x.test"};
    HERALD_REQUIRE_OK(store->mail_ledgers().AddRecipients("job1", recipients));
    HERALD_REQUIRE_OK(store->mail_ledgers().AddRecipients("job1", recipients));  // idempotent
    CHECK(Value(store->mail_ledgers().GetJobState("job1")) == "created");
    CHECK(store->mail_ledgers().GetJobState("nope").status().code() == absl::StatusCode::kNotFound);
    auto claimed = Value(store->mail_ledgers().ClaimPending("job1", "w1", 2));
    CHECK(claimed == std::vector<std::string>{"a@x.test", "b@x.test"});
    std::vector<LedgerEntry> marks = {{"a@x.test", RecipientState::kSent, "250 ok", 0}};
    HERALD_REQUIRE_OK(store->mail_ledgers().MarkRecipients("job1", marks));
    auto in_flight = Value(store->mail_ledgers().InFlight("job1"));
    REQUIRE(in_flight.size() == 1);
    CHECK(in_flight[0].recipient == "b@x.test");
    CHECK(in_flight[0].state == RecipientState::kSending);
    CHECK(in_flight[0].attempts == 1);
    auto counts = Value(store->mail_ledgers().CountStates("job1"));
    using P = std::pair<RecipientState, int64_t>;
    CHECK(counts == std::vector<P>{{RecipientState::kPending, 1},
                                   {RecipientState::kSending, 1},
                                   {RecipientState::kSent, 1}});
    // Retry: back to pending, claimed again with a second attempt.
    marks = {{"b@x.test", RecipientState::kPending, "451 later", 0}};
    HERALD_REQUIRE_OK(store->mail_ledgers().MarkRecipients("job1", marks));
    claimed = Value(store->mail_ledgers().ClaimPending("job1", "w2", 10));
    CHECK(claimed == std::vector<std::string>{"b@x.test", "c@x.test"});
    CHECK(Value(store->mail_ledgers().InFlight("job1"))[0].attempts == 2);
    // Unknown recipient: NotFound, and nothing of the batch is applied.
    marks = {{"c@x.test", RecipientState::kSent, "", 0}, {"zz@x.test", RecipientState::kSent, "", 0}};
    CHECK(store->mail_ledgers().MarkRecipients("job1", marks).code() ==
          absl::StatusCode::kNotFound);
    CHECK(Value(store->mail_ledgers().InFlight("job1")).size() == 2);
    HERALD_REQUIRE_OK(store->mail_ledgers().SetJobState("job1", "running"));
    CHECK(Value(store->mail_ledgers().GetJobState("job1")) == "running");
    // Jobs are separate.
    CHECK(Value(store->mail_ledgers().ClaimPending("job2", "w1", 10)).empty());
  }

  SECTION("mail ledger: concurrent workers never claim the same recipient") {
    std::vector<std::string> recipients;
    for (int i = 0; i < 600; ++i) recipients.push_back("r" + std::to_string(i) + "@x.test");
    HERALD_REQUIRE_OK(store->mail_ledgers().AddRecipients("big", recipients));
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    std::vector<std::string> all;
    absl::Mutex mu;
    std::atomic<int> failures{0};
    Concurrently(6, [&](int t) {
      Store& s = (other != nullptr && t % 2 == 1) ? *other : *store;
      while (true) {
        auto got = s.mail_ledgers().ClaimPending("big", "w" + std::to_string(t), 7);
        if (!got.ok()) {
          failures++;
          break;
        }
        if (got->empty()) break;
        absl::MutexLock lock(&mu);
        all.insert(all.end(), got->begin(), got->end());
      }
    });
    std::set<std::string> unique(all.begin(), all.end());
    CHECK(failures == 0);
    CHECK(all.size() == 600);
    CHECK(unique.size() == 600);
  }

  SECTION("watermarks never move backwards") {
    CHECK(Value(store->watermarks().GetWatermark("meta")) == 0);
    HERALD_REQUIRE_OK(store->watermarks().SetWatermark("meta", 10));
    HERALD_REQUIRE_OK(store->watermarks().SetWatermark("meta", 10));
    CHECK(store->watermarks().SetWatermark("meta", 9).code() ==
          absl::StatusCode::kFailedPrecondition);
    HERALD_REQUIRE_OK(store->watermarks().SetWatermark("meta", 42));
    CHECK(Value(store->watermarks().GetWatermark("meta")) == 42);
    CHECK(Value(store->watermarks().GetWatermark("google")) == 0);
  }

  SECTION("leases are exclusive, renewable, expire and release") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    Store& second = other != nullptr ? *other : *store;
    CHECK(Value(store->watermarks().TryLease("export", "p1", absl::Seconds(30))));
    CHECK_FALSE(Value(second.watermarks().TryLease("export", "p2", absl::Seconds(30))));
    CHECK(Value(store->watermarks().TryLease("export", "p1", absl::Seconds(30))));  // renew
    HERALD_REQUIRE_OK(second.watermarks().ReleaseLease("export", "p2"));  // not the owner: no-op
    CHECK_FALSE(Value(second.watermarks().TryLease("export", "p2", absl::Seconds(30))));
    HERALD_REQUIRE_OK(store->watermarks().ReleaseLease("export", "p1"));
    CHECK(Value(second.watermarks().TryLease("export", "p2", absl::Milliseconds(300))));
    CHECK_FALSE(Value(store->watermarks().TryLease("export", "p1", absl::Seconds(30))));
    absl::SleepFor(absl::Milliseconds(400));  // p2's lease expires
    CHECK(Value(store->watermarks().TryLease("export", "p1", absl::Seconds(30))));
    CHECK(store->watermarks().TryLease("export", "p1", absl::ZeroDuration()).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  SECTION("LeaseHolder names the live owner and nobody once released or expired") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    Store& second = other != nullptr ? *other : *store;
    CHECK(Value(second.watermarks().LeaseHolder("export")).empty());
    CHECK(Value(store->watermarks().TryLease("export", "host:1/ab", absl::Milliseconds(300))));
    CHECK(Value(second.watermarks().LeaseHolder("export")) == "host:1/ab");
    CHECK(Value(second.watermarks().LeaseHolder("other")).empty());
    absl::SleepFor(absl::Milliseconds(400));
    CHECK(Value(second.watermarks().LeaseHolder("export")).empty());  // expired
    CHECK(Value(store->watermarks().TryLease("export", "p1", absl::Seconds(30))));
    HERALD_REQUIRE_OK(store->watermarks().ReleaseLease("export", "p1"));
    CHECK(Value(second.watermarks().LeaseHolder("export")).empty());
  }

  SECTION("leases: exactly one of many concurrent contenders wins") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    std::atomic<int> winners{0}, failures{0};
    Concurrently(8, [&](int t) {
      Store& s = (other != nullptr && t % 2 == 1) ? *other : *store;
      auto got = s.watermarks().TryLease("solo", "owner" + std::to_string(t), absl::Seconds(30));
      if (!got.ok()) {
        failures++;
      } else if (*got) {
        winners++;
      }
    });
    CHECK(failures == 0);
    CHECK(winners == 1);
  }

  SECTION("catalog versions: numbered, never overwritten unseen, loaded back whole") {
    CatalogStore* catalogs = store->catalogs();
    REQUIRE(catalogs != nullptr);
    CHECK(Value(catalogs->CurrentCatalogVersion()) == 0);
    CHECK(catalogs->LoadCatalogVersion(0).status().code() == absl::StatusCode::kNotFound);
    CHECK(Value(catalogs->ListCatalogVersions()).empty());
    v1::CatalogVersion first;
    first.set_author("ann");
    first.set_summary("first version");
    first.mutable_catalog()->set_name("Spring");
    first.mutable_catalog()->add_campaigns()->set_id("c1");
    CHECK(Value(catalogs->AppendCatalogVersion(0, first)) == 1);
    v1::CatalogVersion second = first;
    second.set_author("bob");
    second.mutable_catalog()->set_name("Summer");
    // Based on no version while version 1 exists: refused, nothing written.
    absl::StatusOr<int64_t> stale = catalogs->AppendCatalogVersion(0, second);
    CHECK(stale.status().code() == absl::StatusCode::kAborted);
    CHECK(stale.status().message() ==
          "catalog: version 1 is current, but this save was based on no version; load version 1, "
          "apply the change again and save");
    CHECK(Value(catalogs->AppendCatalogVersion(1, second)) == 2);
    v1::CatalogVersion rollback = first;
    rollback.set_rollback_of(1);
    rollback.set_summary("rollback to version 1");
    CHECK(Value(catalogs->AppendCatalogVersion(2, rollback)) == 3);
    v1::CatalogVersion bad = first;
    bad.set_rollback_of(9);
    CHECK(catalogs->AppendCatalogVersion(3, bad).status().code() == absl::StatusCode::kInvalidArgument);
    bad.clear_catalog();
    bad.set_rollback_of(0);
    CHECK(catalogs->AppendCatalogVersion(3, bad).status().code() == absl::StatusCode::kInvalidArgument);

    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    CatalogStore& reader = other != nullptr ? *other->catalogs() : *catalogs;
    CHECK(Value(reader.CurrentCatalogVersion()) == 3);
    v1::CatalogVersion current = Value(reader.LoadCatalogVersion(0));
    CHECK(current.version() == 3);
    CHECK(current.rollback_of() == 1);
    CHECK(current.catalog().name() == "Spring");
    CHECK(current.catalog().campaigns(0).id() == "c1");
    v1::CatalogVersion two = Value(reader.LoadCatalogVersion(2));
    CHECK(two.author() == "bob");
    CHECK(two.catalog().name() == "Summer");
    CHECK(std::abs(two.time_unix_micros() - absl::ToUnixMicros(absl::Now())) < 60'000'000);
    CHECK(reader.LoadCatalogVersion(4).status().message() == "catalog: no version 4 (versions 1 to 3 exist)");
    std::vector<v1::CatalogVersion> list = Value(reader.ListCatalogVersions());
    REQUIRE(list.size() == 3);
    CHECK(list[0].version() == 1);
    CHECK(list[0].summary() == "first version");
    CHECK(list[2].summary() == "rollback to version 1");
    CHECK_FALSE(list[1].has_catalog());
  }

  SECTION("catalog versions: of concurrent saves on one version exactly one lands") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    std::atomic<int> saved{0}, refused{0}, failures{0};
    Concurrently(8, [&](int t) {
      Store& s = (other != nullptr && t % 2 == 1) ? *other : *store;
      v1::CatalogVersion v;
      v.set_author("editor" + std::to_string(t));
      v.mutable_catalog()->set_name("edit " + std::to_string(t));
      auto got = s.catalogs()->AppendCatalogVersion(0, v);
      if (got.ok()) {
        saved++;
      } else if (got.status().code() == absl::StatusCode::kAborted) {
        refused++;
      } else {
        failures++;
      }
    });
    CHECK(failures == 0);
    CHECK(saved == 1);
    CHECK(refused == 7);
    CHECK(Value(store->catalogs()->CurrentCatalogVersion()) == 1);
  }

  SECTION("coupons: limits, per customer, all or none, idempotent orders") {
    CouponUse spring{"SPRING", 2, 1};
    CouponUse vip{"VIP", 0, 0};
    std::vector<CouponUse> both = {spring, vip};
    HERALD_REQUIRE_OK(store->coupons().RedeemCoupons("o1", "alice", both));
    HERALD_REQUIRE_OK(store->coupons().RedeemCoupons("o1", "alice", both));  // same order: no-op
    CHECK(Value(store->coupons().CouponUses("SPRING")) == 1);
    CHECK(Value(store->coupons().CouponUses("VIP")) == 1);
    // alice reached her per-customer limit of SPRING; nothing of o2 is recorded.
    absl::Status s = store->coupons().RedeemCoupons("o2", "alice", both);
    CHECK(s.code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(s.message()).find("SPRING") != std::string::npos);
    CHECK(Value(store->coupons().CouponUses("VIP")) == 1);
    HERALD_REQUIRE_OK(store->coupons().RedeemCoupons("o3", "bob", both));
    CHECK(store->coupons().RedeemCoupons("o4", "carol", both).code() ==
          absl::StatusCode::kResourceExhausted);  // SPRING's total of 2 is used up
    CHECK(Value(store->coupons().CouponUses("SPRING")) == 2);
    CHECK(Value(store->coupons().CouponUses("SPRING", "bob")) == 1);
    CHECK(Value(store->coupons().CouponUses("SPRING", "carol")) == 0);
    CHECK(Value(store->coupons().CouponUses("VIP")) == 2);
    CHECK(Value(store->coupons().CouponUses("NONE")) == 0);
  }

  SECTION("coupons: concurrent checkouts never exceed the limit") {
    std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(*store) : nullptr;
    std::atomic<int> ok{0}, exhausted{0}, failures{0};
    Concurrently(12, [&](int t) {
      Store& s = (other != nullptr && t % 2 == 1) ? *other : *store;
      for (int i = 0; i < 3; ++i) {
        std::vector<CouponUse> use = {{"LIMITED", 5, 0}};
        absl::Status r = s.coupons().RedeemCoupons(
            "order-" + std::to_string(t) + "-" + std::to_string(i), "c" + std::to_string(t), use);
        if (r.ok()) {
          ok++;
        } else if (r.code() == absl::StatusCode::kResourceExhausted) {
          exhausted++;
        } else {
          failures++;
        }
      }
    });
    CHECK(failures == 0);
    CHECK(ok == 5);
    CHECK(exhausted == 31);
    CHECK(Value(store->coupons().CouponUses("LIMITED")) == 5);
  }

  SECTION("flush and describe") {
    HERALD_REQUIRE_OK(store->Flush());
    CHECK_FALSE(store->Describe().empty());
  }
}

}  // namespace herald::testing
