// Exposure limits per (user, session) under any interleaving, per user
// across sessions and processes sharing a store, and the daily and weekly
// frequency caps in the catalog's time zone (docs/pacing.md, "Exposure
// limits and frequency caps").
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <unistd.h>

#include "csf/catalog_builder.h"
#include "herald/builtins.h"
#include "herald/selection.h"
#include "herald/store.h"
#include "herald/store_postgres.h"
#include "pg_test.h"

namespace herald {
namespace {

using testing::CatalogBuilder;
using testing::Utc;

struct Fixture {
  Registry registry;
  Fixture() { REQUIRE(RegisterBuiltins(&registry).ok()); }
  std::unique_ptr<ContentSelector> Selector(std::shared_ptr<const CompiledCatalog> catalog, Store* store,
                                            bool sticky_users = false) {
    SelectorConfig config;
    config.registry = &registry;
    config.store = store;
    config.options.seed = 7;
    config.options.sticky_users = sticky_users;
    auto s = NewContentSelector(std::move(catalog), config);
    REQUIRE(s.ok());
    return std::move(*s);
  }
};

// Paid ads far behind schedule (each wants every slot) with exposure limits,
// and a house ad that takes the slot once they may not serve.
std::shared_ptr<const CompiledCatalog> LimitedCatalog(const std::map<std::string, int>& limits,
                                                      const std::string& zone = "UTC") {
  CatalogBuilder b;
  b.proto().set_time_zone(zone);
  auto* c = b.Campaign("c", "2026-06-01", "2026-12-31");
  for (const auto& [id, limit] : limits) CatalogBuilder::PaidAd(c, id, 10'000'000)->set_exposure_limit(limit);
  CatalogBuilder::HouseAd(c, "filler", 1);
  return b.Compile();
}

std::string Winner(ContentSelector& s, const std::string& user, const std::string& session, absl::Time at) {
  SelectionRequest r;
  r.page_groups = {"Home"};
  r.user_id = user;
  r.session_id = session;
  r.time = at;
  auto result = s.Select(r);
  REQUIRE(result.ok());
  REQUIRE(result->winners.size() == 1);
  return std::string(result->winners[0].item_id);
}

TEST_CASE("Exposure limits hold per session when sessions interleave: A A B A A A", "[csf][exposure]") {
  Fixture f;
  auto store = NewMemoryStore();
  auto selector = f.Selector(LimitedCatalog({{"limited", 3}}), store.get());
  const absl::Time at = Utc(2026, 12, 30);
  std::vector<std::string> got;
  for (const char* session : {"A", "A", "B", "A", "A", "A"}) got.push_back(Winner(*selector, "u", session, at));
  // A sees it 3 times (its limit) and B once; B's request does not reset A's count.
  CHECK(got == std::vector<std::string>{"limited", "limited", "limited", "limited", "filler", "filler"});
  CHECK(Winner(*selector, "u", "B", at) == "limited");
  CHECK(Winner(*selector, "u", "B", at) == "limited");
  CHECK(Winner(*selector, "u", "B", at) == "filler");
  // Without a session id, the limit counts the user's exposures in all sessions.
  CHECK(Winner(*selector, "u", "", at) == "filler");
  CHECK(Winner(*selector, "v", "", at) == "limited");
}

// The reference: a map of (user, session) -> count and user -> count.
TEST_CASE("Exposure limits match a reference model for random interleavings", "[csf][exposure]") {
  const std::map<std::string, int> limits = {{"ad-a", 1}, {"ad-b", 2}, {"ad-c", 4}};
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Fixture f;
    auto store = NewMemoryStore();
    auto selector = f.Selector(LimitedCatalog(limits), store.get());
    std::mt19937_64 rng(seed);
    std::map<std::pair<std::string, std::string>, std::map<std::string, int>> per_session;
    std::map<std::string, std::map<std::string, int>> per_user;
    absl::Time at = Utc(2026, 12, 30);
    for (int i = 0; i < 300; ++i) {
      std::string user = "u" + std::to_string(rng() % 3);
      // Up to kMaxSessions (4) sessions per user: their counts are exact. No session: per user.
      std::string session = rng() % 6 == 0 ? "" : "s" + std::to_string(rng() % 4);
      at += absl::Seconds(1);
      std::string got = Winner(*selector, user, session, at);
      auto& counts = session.empty() ? per_user[user] : per_session[{user, session}];
      bool any_left = false;
      for (const auto& [id, limit] : limits) any_left = any_left || counts[id] < limit;
      INFO("seed " << seed << " request " << i << " user " << user << " session '" << session << "'");
      if (got == "filler") {
        CHECK_FALSE(any_left);
      } else {
        REQUIRE(limits.count(got) == 1);
        CHECK(counts[got] < limits.at(got));
      }
      if (got != "filler") {
        per_user[user][got]++;
        if (!session.empty()) per_session[{user, session}][got]++;
      }
      if (i % 97 == 96) REQUIRE(selector->Flush().ok());  // reloading after a flush keeps the counts
    }
  }
}

TEST_CASE("Exposure limits never undercount a live session when a user has more sessions than kept", "[csf][exposure]") {
  Fixture f;
  auto store = NewMemoryStore();
  auto selector = f.Selector(LimitedCatalog({{"limited", 2}}), store.get());
  absl::Time at = Utc(2026, 12, 30);
  std::map<std::string, int> shown;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 400; ++i) {
    std::string session = "s" + std::to_string(rng() % 9);  // 9 live sessions, 4 kept
    at += absl::Seconds(2);
    if (Winner(*selector, "u", session, at) == "limited") shown[session]++;
    if (i == 200) REQUIRE(selector->Flush().ok());
  }
  for (const auto& [session, n] : shown) {
    INFO(session);
    CHECK(n <= 2);
  }
  // Once every evicted session has timed out (30 minutes), new sessions start from 0.
  at += absl::Hours(1);
  CHECK(Winner(*selector, "u", "fresh", at) == "limited");
}

// Day and week caps count in the catalog's zone: America/New_York, across a
// local midnight that is not UTC's and the end of daylight saving time on
// Sunday 2026-11-01 (the week is Monday 2026-10-26 to Sunday 2026-11-01).
TEST_CASE("Daily and weekly frequency caps count in the catalog's time zone across midnight, DST and weeks", "[csf][exposure]") {
  CatalogBuilder b;
  b.proto().set_time_zone("America/New_York");
  auto* c = b.Campaign("c", "2026-06-01", "2026-12-31");
  auto* ad = CatalogBuilder::PaidAd(c, "capped", 10'000'000);
  ad->set_max_per_day(3);
  ad->set_max_per_week(5);
  CatalogBuilder::HouseAd(c, "filler", 1);
  Fixture f;
  auto store = NewMemoryStore();
  auto selector = f.Selector(b.Compile(), store.get());
  int session = 0;
  // Each request in a new session: the caps count across sessions.
  auto next = [&](absl::Time at) { return Winner(*selector, "u", "s" + std::to_string(++session), at); };
  const absl::Time sat_evening = Utc(2026, 10, 31, 23, 30);  // 19:30 EDT, Saturday
  CHECK(next(sat_evening) == "capped");
  CHECK(next(sat_evening) == "capped");
  CHECK(next(sat_evening) == "capped");
  CHECK(next(sat_evening) == "filler");              // 3 a day
  CHECK(next(Utc(2026, 11, 1, 0, 30)) == "filler");  // 20:30 EDT: a new day in UTC, not in New York
  const absl::Time sunday = Utc(2026, 11, 1, 4, 10);  // 00:10 EDT, Sunday
  CHECK(next(sunday) == "capped");
  CHECK(next(sunday) == "capped");
  SelectionRequest r;
  r.page_groups = {"Home"};
  r.user_id = "u";
  r.session_id = "traced";
  r.time = sunday;
  r.trace = true;
  auto traced = selector->Select(r);
  REQUIRE(traced.ok());
  CHECK(traced->winners[0].item_id == "filler");  // 5 a week, though only 2 today
  CHECK_THAT(traced->trace.ToText(), Catch::Contains("frequency cap 5 a week reached"));
  // 23:30 EST on Sunday, after the clocks went back (Monday 04:30 in UTC): still the same week.
  CHECK(next(Utc(2026, 11, 2, 4, 30)) == "filler");
  // 00:05 EST Monday: a new day and a new week.
  CHECK(next(Utc(2026, 11, 2, 5, 5)) == "capped");
  // The caps survive a flush and a new process on the same store.
  REQUIRE(selector->Flush().ok());
  auto other = f.Selector(b.Compile(), store.get());
  CHECK(Winner(*other, "u", "x", Utc(2026, 11, 2, 5, 6)) == "capped");
  CHECK(Winner(*other, "u", "y", Utc(2026, 11, 2, 5, 7)) == "capped");
  CHECK(Winner(*other, "u", "z", Utc(2026, 11, 2, 5, 8)) == "filler");
}

// Two selectors (two processes) sharing one store: each flushes after
// serving, and the other then sees the counts (docs/pacing.md).
void CheckSharedStore(Fixture& f, Store& one_store, Store& other_store) {
  auto catalog = LimitedCatalog({{"limited", 3}});
  auto one = f.Selector(catalog, &one_store);
  auto two = f.Selector(catalog, &other_store);
  const absl::Time at = Utc(2026, 12, 30);
  CHECK(Winner(*one, "u", "A", at) == "limited");
  CHECK(Winner(*one, "u", "A", at) == "limited");
  CHECK(Winner(*one, "u", "B", at) == "limited");
  REQUIRE(one->Flush().ok());
  CHECK(Winner(*two, "u", "A", at) == "limited");  // the third in session A
  CHECK(Winner(*two, "u", "A", at) == "filler");
  CHECK(Winner(*two, "u", "B", at) == "limited");
  REQUIRE(two->Flush().ok());
  // `one` had the user in memory: after its flush it reads the store again.
  CHECK(Winner(*one, "u", "A", at) == "filler");
  CHECK(Winner(*one, "u", "B", at) == "limited");
  CHECK(Winner(*one, "u", "B", at) == "filler");
  // Per user across sessions (no session id): 2 + 1 + 2 + ... shown in all.
  CHECK(Winner(*one, "u", "", at) == "filler");
  REQUIRE(one->Flush().ok());
  CHECK(Winner(*two, "u", "B", at) == "filler");
}

// The times `item` was shown in the stored history's sessions.
int32_t StoredSessionCount(Store& store, const std::string& user, const std::string& item) {
  auto stored = store.history().LoadHistory(user);
  REQUIRE(stored.ok());
  int32_t n = 0;
  if (!stored->has_value()) return n;
  for (const UserHistory::Count& c : (*stored)->counts) {
    if (c.item_id == item && c.kind == UserHistory::Scope::kSession) n += c.count;
  }
  return n;
}

std::vector<std::pair<std::string, UserHistory>> Emptied(const std::string& user) { return {{user, UserHistory{}}}; }

TEST_CASE("Sticky users: a flush writes the history memory holds and never reads it back", "[csf][exposure]") {
  Fixture f;
  auto store = NewMemoryStore();
  auto catalog = LimitedCatalog({{"limited", 3}});
  const absl::Time at = Utc(2026, 12, 30);
  auto sticky = f.Selector(catalog, store.get(), /*sticky_users=*/true);
  CHECK(Winner(*sticky, "u", "A", at) == "limited");
  CHECK(Winner(*sticky, "u", "A", at) == "limited");
  REQUIRE(sticky->Flush().ok());
  CHECK(StoredSessionCount(*store, "u", "limited") == 2);
  // Behind the selector's back the stored history goes; a sticky selector
  // serves its users from memory (a shared one would read the empty history
  // and show the ad three more times).
  REQUIRE(store->history().SaveHistories(Emptied("u")).ok());
  CHECK(Winner(*sticky, "u", "A", at) == "limited");
  CHECK(Winner(*sticky, "u", "A", at) == "filler");
  REQUIRE(sticky->Flush().ok());
  // Written whole (3), not merged into what the store held (which would give 1).
  CHECK(StoredSessionCount(*store, "u", "limited") == 3);
  // A restarted server reads the user once, at first sight.
  auto restarted = f.Selector(catalog, store.get(), /*sticky_users=*/true);
  CHECK(Winner(*restarted, "u", "A", at) == "filler");
  CHECK(Winner(*restarted, "u", "B", at) == "limited");

  // The same steps with a shared selector: it reads the emptied history back.
  auto shared_store = NewMemoryStore();
  auto shared = f.Selector(catalog, shared_store.get());
  CHECK(Winner(*shared, "u", "A", at) == "limited");
  CHECK(Winner(*shared, "u", "A", at) == "limited");
  REQUIRE(shared->Flush().ok());
  REQUIRE(shared_store->history().SaveHistories(Emptied("u")).ok());
  CHECK(Winner(*shared, "u", "A", at) == "limited");
  CHECK(Winner(*shared, "u", "A", at) == "limited");
  REQUIRE(shared->Flush().ok());
  CHECK(StoredSessionCount(*shared_store, "u", "limited") == 2);
}

TEST_CASE("RefreshDeliveries writes events and counts and reloads every server's totals - histories wait for Flush",
          "[csf][exposure]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto store = NewMemoryStore();
  auto catalog = LimitedCatalog({{"limited", 100}});
  auto make = [&] {
    SelectorConfig config;
    config.registry = &registry;
    config.store = store.get();
    config.options.seed = 7;
    config.options.flush_interval = absl::InfiniteDuration();  // refreshed by hand only
    config.options.quota_leases = SelectorOptions::QuotaLeases::kOff;
    auto s = NewContentSelector(catalog, config);
    REQUIRE(s.ok());
    return std::move(*s);
  };
  auto one = make();
  auto two = make();
  const absl::Time at = Utc(2026, 12, 30);
  for (int i = 0; i < 3; ++i) CHECK(Winner(*one, "u", "A", at) == "limited");
  CHECK(two->Delivered("limited").first == 0);
  REQUIRE(one->RefreshDeliveries().ok());
  REQUIRE(two->RefreshDeliveries().ok());
  CHECK(two->Delivered("limited").first == 3);  // one's deliveries, through the store
  CHECK(one->Delivered("limited").first == 3);  // counted once, not twice
  int64_t events = 0;
  REQUIRE(store->events()
              .ScanEvents({}, [&](const v1::Event&) {
                ++events;
                return absl::OkStatus();
              })
              .ok());
  CHECK(events == 3);
  CHECK(StoredSessionCount(*store, "u", "limited") == 0);  // the history is still only in memory
  REQUIRE(one->Flush().ok());
  CHECK(StoredSessionCount(*store, "u", "limited") == 3);
}

TEST_CASE("Exposure limits hold across two selectors sharing one SQLite store", "[csf][exposure]") {
  auto dir = std::filesystem::temp_directory_path() / ("herald-exposure-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "herald.db").string();
  Fixture f;
  {
    auto one = OpenStore("sqlite:" + path, f.registry);
    auto two = OpenStore("sqlite:" + path, f.registry);
    REQUIRE(one.ok());
    REQUIRE(two.ok());
    CheckSharedStore(f, **one, **two);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Exposure limits hold across two selectors sharing one PostgreSQL store", "[csf][exposure][postgresql]") {
  const char* pg = testing::PostgresOrSkip("exposure limits across selectors sharing PostgreSQL");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema("exposure_" + std::to_string(::getpid()));
  auto one = OpenPostgresStore(config);
  auto two = OpenPostgresStore(config);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  Fixture f;
  CheckSharedStore(f, **one, **two);
}

}  // namespace
}  // namespace herald
