// Store benchmarks: recording events (SQLite, PostgreSQL) and counting
// deliveries, Herald against the naive way in the same run.
//
//   BM_RecordEventsSqlite_*    1000 events per iteration into a SQLite file
//                              (WAL, synchronous=FULL). Herald: one
//                              transaction per batch (EventStore::AppendEvents).
//                              Reference: one INSERT per event, autocommit.
//   BM_RecordEventsPostgres_*  the same into PostgreSQL (HERALD_TEST_PG; skipped
//                              when unset or when built without
//                              HERALD_BENCH_WITH_POSTGRES). Herald: one
//                              unnest() INSERT per batch in a transaction.
//                              Reference: one prepared INSERT per event, autocommit.
//   BM_CountDelivery_*         one delivery counted by request threads. Herald:
//                              DeliveryCounters::Add (atomics). Reference: a
//                              mutex-guarded map keyed by item id, like the
//                              reference cache's delta queue.
//
// items_per_second is events (or deliveries) per second.
//
// The references call SQLite and libpq directly, so this program needs
//   target_link_libraries(bench_store PRIVATE SQLite::SQLite3 herald_store_postgres PostgreSQL::PostgreSQL)
//   target_compile_definitions(bench_store PRIVATE HERALD_BENCH_WITH_SQLITE HERALD_BENCH_WITH_POSTGRES)
// Without the definitions those benchmarks report themselves skipped.
#include <benchmark/benchmark.h>
#include <unistd.h>
#ifdef HERALD_BENCH_WITH_SQLITE
#include <sqlite3.h>
#endif

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "herald/counters.h"
#include "herald/store.h"
#ifdef HERALD_BENCH_WITH_POSTGRES
#include <libpq-fe.h>

#include "herald/store_postgres.h"
#endif

namespace {

namespace fs = std::filesystem;

std::vector<herald::v1::Event> MakeEvents(int n, int64_t base) {
  std::vector<herald::v1::Event> events(n);
  for (int i = 0; i < n; ++i) {
    auto& e = events[i];
    e.set_type(i % 20 == 0 ? herald::v1::EVENT_TYPE_CLICK : herald::v1::EVENT_TYPE_REQUEST);
    e.mutable_time()->set_seconds(1780000000 + base + i);
    e.set_item_id("item-" + std::to_string(i % 50));
    e.set_campaign_id("campaign-" + std::to_string(i % 5));
    e.set_user_id("user-" + std::to_string((base + i) % 10007));
    e.set_session_id("session-" + std::to_string((base + i) % 3001));
    e.set_page_group(i % 3 == 0 ? "home" : "sports");
  }
  return events;
}

std::string TempDb(const char* name) {
  fs::path p = fs::temp_directory_path() / (std::string("herald-bench-") + name + "-" +
                                            std::to_string(::getpid()) + ".db");
  fs::remove(p);
  fs::remove(p.string() + "-wal");
  fs::remove(p.string() + "-shm");
  return p.string();
}

void BM_RecordEventsSqlite_Herald(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string path = TempDb("herald");
  herald::Registry registry;
  auto store = herald::OpenStore(path, registry);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    absl::Status s = (*store)->events().AppendEvents(events);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  store->reset();
  fs::remove(path);
}
BENCHMARK(BM_RecordEventsSqlite_Herald)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RecordEventsSqlite_Reference(benchmark::State& state) {
#ifndef HERALD_BENCH_WITH_SQLITE
  state.SkipWithError("built without HERALD_BENCH_WITH_SQLITE (links SQLite::SQLite3)");
#else
  const int n = static_cast<int>(state.range(0));
  const std::string path = TempDb("reference");
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE events(seq INTEGER PRIMARY KEY, time_us INTEGER, type INTEGER,"
               " custom_name TEXT, user_id TEXT, session_id TEXT, item_id TEXT, campaign_id TEXT,"
               " page_group TEXT, count INTEGER)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO events(time_us, type, custom_name, user_id, session_id, item_id,"
                     " campaign_id, page_group, count) VALUES(?,?,?,?,?,?,?,?,?)",
                     -1, &st, nullptr);
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    for (const auto& e : events) {  // autocommit: one transaction (and fsync) per event
      sqlite3_bind_int64(st, 1, e.time().seconds() * 1000000);
      sqlite3_bind_int(st, 2, e.type());
      sqlite3_bind_text(st, 3, e.custom_name().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 4, e.user_id().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 5, e.session_id().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 6, e.item_id().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 7, e.campaign_id().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 8, e.page_group().c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 9, e.count());
      if (sqlite3_step(st) != SQLITE_DONE) {
        state.SkipWithError(sqlite3_errmsg(db));
        break;
      }
      sqlite3_reset(st);
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  sqlite3_finalize(st);
  sqlite3_close(db);
  fs::remove(path);
#endif
}
BENCHMARK(BM_RecordEventsSqlite_Reference)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef HERALD_BENCH_WITH_POSTGRES
const char* PgConnection() {
  const char* pg = std::getenv("HERALD_TEST_PG");
  return pg != nullptr && *pg != '\0' ? pg : nullptr;
}
#endif

void BM_RecordEventsPostgres_Herald(benchmark::State& state) {
#ifdef HERALD_BENCH_WITH_POSTGRES
  const char* pg = PgConnection();
  if (pg == nullptr) {
    state.SkipWithError("HERALD_TEST_PG is not set (scripts/pg_test_server.sh start)");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  herald::v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema("bench_" + std::to_string(::getpid()));
  auto store = herald::OpenPostgresStore(config);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    absl::Status s = (*store)->events().AppendEvents(events);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
#else
  state.SkipWithError("built without HERALD_BENCH_WITH_POSTGRES (herald_store_postgres)");
#endif
}
BENCHMARK(BM_RecordEventsPostgres_Herald)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RecordEventsPostgres_Reference(benchmark::State& state) {
#ifdef HERALD_BENCH_WITH_POSTGRES
  const char* pg = PgConnection();
  if (pg == nullptr) {
    state.SkipWithError("HERALD_TEST_PG is not set (scripts/pg_test_server.sh start)");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  PGconn* conn = PQconnectdb(pg);
  if (PQstatus(conn) != CONNECTION_OK) {
    state.SkipWithError(PQerrorMessage(conn));
    PQfinish(conn);
    return;
  }
  const std::string table = "bench_ref_" + std::to_string(::getpid());
  PQclear(PQexec(conn, ("CREATE TABLE IF NOT EXISTS " + table +
                        "(seq bigserial PRIMARY KEY, time_us bigint, type int, custom_name text,"
                        " user_id text, session_id text, item_id text, campaign_id text,"
                        " page_group text, count bigint)")
                           .c_str()));
  PQclear(PQprepare(conn, "ins",
                    ("INSERT INTO " + table +
                     "(time_us, type, custom_name, user_id, session_id, item_id, campaign_id,"
                     " page_group, count) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)")
                        .c_str(),
                    0, nullptr));
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    for (const auto& e : events) {  // autocommit: one round trip and commit per event
      std::string time = std::to_string(e.time().seconds() * 1000000);
      std::string type = std::to_string(e.type());
      std::string count = std::to_string(e.count());
      const char* values[] = {time.c_str(),          type.c_str(),           e.custom_name().c_str(),
                              e.user_id().c_str(),   e.session_id().c_str(), e.item_id().c_str(),
                              e.campaign_id().c_str(), e.page_group().c_str(), count.c_str()};
      PGresult* r = PQexecPrepared(conn, "ins", 9, values, nullptr, nullptr, 0);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        state.SkipWithError(PQresultErrorMessage(r));
        PQclear(r);
        break;
      }
      PQclear(r);
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  PQclear(PQexec(conn, ("DROP TABLE " + table).c_str()));
  PQfinish(conn);
#else
  state.SkipWithError("built without HERALD_BENCH_WITH_POSTGRES (herald_store_postgres)");
#endif
}
BENCHMARK(BM_RecordEventsPostgres_Reference)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Counting deliveries on the request path.
std::unique_ptr<herald::Store> g_memory = herald::NewMemoryStore();
std::unique_ptr<herald::DeliveryCounters> g_counters;
std::mutex g_ref_mu;
std::map<std::string, std::pair<int64_t, int64_t>> g_ref_deltas;
std::vector<std::string> ItemIds() {
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i) ids.push_back("item-" + std::to_string(i));
  return ids;
}

void BM_CountDelivery_Herald(benchmark::State& state) {
  if (state.thread_index() == 0) {
    herald::DeliveryCountersOptions options;
    options.flush_interval = absl::Milliseconds(100);
    auto ids = ItemIds();
    g_counters = std::move(*herald::DeliveryCounters::Create(&g_memory->counters(), ids, options));
  }
  // (Google Benchmark starts the timing only once every thread is set up.)
  int i = static_cast<int>(state.thread_index()) * 7;
  for (auto _ : state) {
    herald::CounterSlots* slots = g_counters->slots();
    slots->Add(i & 63, 1, 0);
    benchmark::DoNotOptimize(slots->Served(i & 63));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_counters.reset();
}
BENCHMARK(BM_CountDelivery_Herald)->Threads(1)->Threads(4);

void BM_CountDelivery_Reference(benchmark::State& state) {
  const auto ids = ItemIds();
  int i = static_cast<int>(state.thread_index()) * 7;
  for (auto _ : state) {
    std::lock_guard<std::mutex> lock(g_ref_mu);
    auto& d = g_ref_deltas[ids[i & 63]];
    d.first += 1;
    benchmark::DoNotOptimize(d.first);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CountDelivery_Reference)->Threads(1)->Threads(4);

}  // namespace

BENCHMARK_MAIN();
