// Store benchmarks: recording events (SQLite, PostgreSQL) and counting
// deliveries, Herald against the way before it in the same run.
//
//   BM_RecordEventsSqlite_*    1000 events per iteration into a SQLite file
//                              (WAL, synchronous=FULL), one transaction per
//                              batch. Herald: EventStore::AppendEvents (prepared
//                              multi-row INSERTs, 32 rows a statement).
//                              Reference: a prepared one-row INSERT per event,
//                              the batched INSERT Herald used before, into the
//                              same table and index.
//   BM_RecordEventsPostgres_*  the same into PostgreSQL (HERALD_TEST_PG; skipped
//                              when unset or when built without
//                              HERALD_BENCH_WITH_POSTGRES). Herald: binary COPY
//                              into the store's schema. Reference: the batched
//                              INSERT Herald used before (one INSERT ... SELECT
//                              FROM unnest() of text arrays per batch) into a
//                              schema made the way the store made it before
//                              (with the campaign index it no longer keeps).
//   BM_CountDelivery_*         one delivery counted by request threads. Herald:
//                              DeliveryCounters::Add (atomics). Reference: a
//                              mutex-guarded map keyed by item id, like the
//                              reference cache's delta queue.
//
// items_per_second is events (or deliveries) per second. (One autocommitted
// INSERT per event, the naive way, records about 6,500 events/s into either.)
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
               "CREATE TABLE events(seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, type INTEGER NOT NULL,"
               " custom_name TEXT NOT NULL, user_id TEXT NOT NULL, session_id TEXT NOT NULL,"
               " item_id TEXT NOT NULL, campaign_id TEXT NOT NULL, page_group TEXT NOT NULL,"
               " count INTEGER NOT NULL);"
               "CREATE INDEX events_time ON events(time_us, seq)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO events(time_us, type, custom_name, user_id, session_id, item_id,"
                     " campaign_id, page_group, count) VALUES(?,?,?,?,?,?,?,?,?)",
                     -1, &st, nullptr);
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (const auto& e : events) {  // one row per statement, one transaction per batch
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
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      state.SkipWithError(sqlite3_errmsg(db));
      break;
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
  store->reset();
  PGconn* conn = PQconnectdb(pg);
  PQclear(PQexec(conn, ("DROP SCHEMA " + config.schema() + " CASCADE").c_str()));
  PQfinish(conn);
#else
  state.SkipWithError("built without HERALD_BENCH_WITH_POSTGRES (herald_store_postgres)");
#endif
}
BENCHMARK(BM_RecordEventsPostgres_Herald)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef HERALD_BENCH_WITH_POSTGRES
// A PostgreSQL array literal of `values` ({"a","b"}), as the batched INSERT built it.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}
#endif

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
  // The events table as the store created it before (both indexes).
  const std::string schema = "bench_ref_" + std::to_string(::getpid());
  PQclear(PQexec(conn, ("CREATE SCHEMA " + schema + "; SET search_path = " + schema +
                        "; CREATE TABLE events(seq bigserial PRIMARY KEY, time_us bigint NOT NULL,"
                        " type int NOT NULL, custom_name text NOT NULL, user_id text NOT NULL,"
                        " session_id text NOT NULL, item_id text NOT NULL, campaign_id text NOT NULL,"
                        " page_group text NOT NULL, count bigint NOT NULL);"
                        " CREATE INDEX events_time ON events(time_us, seq);"
                        " CREATE INDEX events_campaign_time ON events(campaign_id, time_us, seq)")
                           .c_str()));
  const char* insert =
      "INSERT INTO events(time_us, type, custom_name, user_id, session_id, item_id, campaign_id,"
      " page_group, count) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[],"
      " $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])";
  auto events = MakeEvents(n, 0);
  for (auto _ : state) {
    // The arrays are built per batch, as the store did.
    std::vector<std::string> columns[9];
    for (const auto& e : events) {
      columns[0].push_back(std::to_string(e.time().seconds() * 1000000));
      columns[1].push_back(std::to_string(e.type()));
      columns[2].push_back(e.custom_name());
      columns[3].push_back(e.user_id());
      columns[4].push_back(e.session_id());
      columns[5].push_back(e.item_id());
      columns[6].push_back(e.campaign_id());
      columns[7].push_back(e.page_group());
      columns[8].push_back(std::to_string(e.count()));
    }
    std::string arrays[9];
    const char* values[9];
    for (int c = 0; c < 9; ++c) {
      arrays[c] = ArrayLiteral(columns[c]);
      values[c] = arrays[c].c_str();
    }
    PQclear(PQexec(conn, "BEGIN"));
    PGresult* r = PQexecParams(conn, insert, 9, nullptr, values, nullptr, nullptr, 0);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) state.SkipWithError(PQresultErrorMessage(r));
    PQclear(r);
    PQclear(PQexec(conn, ok ? "COMMIT" : "ROLLBACK"));
    if (!ok) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
  PQclear(PQexec(conn, ("DROP SCHEMA " + schema + " CASCADE").c_str()));
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
