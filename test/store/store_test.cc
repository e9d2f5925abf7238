// The conformance suite over the three backends, and each backend's own checks.
#include <unistd.h>

#include <libpq-fe.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "pg_test.h"
#include "herald/counters.h"
#include "herald/model/store.pb.h"
#include "herald/store.h"
#include "herald/store_postgres.h"
#include "herald/store_backend.h"
#include "store/store_conformance.h"

namespace herald {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the temp dir, removed at exit of the test case.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("herald-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

std::unique_ptr<Store> MustOpen(absl::StatusOr<std::unique_ptr<Store>> store) {
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(*store);
}

// A fresh schema per test run of the PostgreSQL suite.
std::string NewPgSchema() {
  static std::atomic<int> counter{0};
  std::string schema = "t";  // (appends: g++ 12 warns falsely on + chains)
  schema.append(std::to_string(::getpid())).append("_").append(std::to_string(counter++));
  return schema;
}

const char* PgConnection(std::string_view what) { return testing::PostgresOrSkip(what); }

TEST_CASE("memory store conformance", "[store][memory]") {
  testing::StoreFixture fixture;
  fixture.open_fresh = [] { return NewMemoryStore(); };
  testing::RunStoreConformance(fixture);
}

TEST_CASE("sqlite store conformance", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  testing::StoreFixture fixture;
  Registry registry;
  fixture.open_fresh = [&] { return MustOpen(OpenStore(path, registry)); };
  fixture.open_again = [&](Store&) { return MustOpen(OpenStore("sqlite:" + path, registry)); };
  testing::RunStoreConformance(fixture);
}

TEST_CASE("postgresql store conformance", "[store][postgresql]") {
  const char* pg = PgConnection("PostgreSQL conformance");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(NewPgSchema());
  config.set_pool_size(8);
  testing::StoreFixture fixture;
  fixture.open_fresh = [&] { return MustOpen(OpenPostgresStore(config)); };
  fixture.open_again = [&](Store&) { return MustOpen(OpenPostgresStore(config)); };
  testing::RunStoreConformance(fixture);
}

TEST_CASE("sqlite store: created in WAL mode - reopened with its data", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("site.db");
  Registry registry;
  {
    auto store = MustOpen(OpenStore(path, registry));
    std::vector<CounterDelta> d = {{"ad-1", 3, 1}};
    REQUIRE(store->counters().AddCounterDeltas(d).ok());
    CHECK(store->Describe() == "sqlite:" + path);
    CHECK(fs::exists(path + "-wal"));
  }
  auto again = MustOpen(OpenStore("sqlite:" + path, registry));
  auto totals = again->counters().LoadCounterTotals();
  REQUIRE(totals.ok());
  REQUIRE(totals->size() == 1);
  CHECK((*totals)[0].requests == 3);
  // Read-only opening sees the data and refuses writes.
  OpenStoreOptions ro;
  ro.read_only = true;
  auto reader = MustOpen(OpenStore(path, registry, ro));
  CHECK(reader->counters().LoadCounterTotals()->size() == 1);
  std::vector<CounterDelta> d = {{"ad-1", 1, 0}};
  CHECK(reader->counters().AddCounterDeltas(d).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("sqlite store: an older store opened read-only, without the desk tables, reads as empty",
          "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("older.db");
  Registry registry;
  {
    auto store = MustOpen(OpenStore(path, registry));
    v1::DeskUser ann;
    ann.set_name("ann");
    REQUIRE(store->accounts()->CreateUser(ann).ok());
  }
  // As a build from before the Business Desk's accounts (and catalogs) left it.
  REQUIRE(std::system(("sqlite3 '" + path +
                       "' 'DROP TABLE desk_users; DROP TABLE desk_sessions; DROP TABLE desk_sign_in_failures;"
                       " DROP TABLE desk_audit; DROP TABLE catalog_versions; DROP TABLE mail_lists;"
                       " DROP TABLE mail_list_rows; DROP TABLE committed_orders; DROP TABLE order_discounts;'")
                          .c_str()) == 0);
  OpenStoreOptions ro;
  ro.read_only = true;
  auto reader = MustOpen(OpenStore(path, registry, ro));
  AccountStore& accounts = *reader->accounts();
  CHECK_FALSE(accounts.GetUser("ann")->has_value());
  CHECK(accounts.ListUsers()->empty());
  CHECK(*accounts.FailedSignIns("user:ann") == std::pair<int64_t, int64_t>(0, 0));
  CHECK_FALSE(accounts.GetSession("h1")->has_value());
  CHECK(accounts.ReadAudit(0, 10)->empty());
  CHECK(*reader->catalogs()->CurrentCatalogVersion() == 0);
  CHECK(reader->catalogs()->ListCatalogVersions()->empty());
  MailListStore& lists = *reader->mail_lists();
  CHECK(lists.ListLists()->empty());
  CHECK_FALSE(lists.GetList("spring")->has_value());
  CHECK(lists.ScanList("spring", [](auto) { return absl::OkStatus(); }).code() == absl::StatusCode::kNotFound);
  // No committed orders: the discount-usage report reads none.
  int discounts = 0;
  CHECK(reader->coupons()
            .ScanOrderDiscounts(absl::InfinitePast(), absl::InfiniteFuture(),
                                [&](const OrderDiscountRow&) { return ++discounts, absl::OkStatus(); })
            .ok());
  CHECK(discounts == 0);
  CHECK(reader->coupons().CountOrders(absl::InfinitePast(), absl::InfiniteFuture())->empty());
  // Writes are refused, naming the store and the table.
  absl::Status write = accounts.CreateUser(v1::DeskUser());
  CHECK(write.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(write.message() ==
        "sqlite store " + path + ": table desk_users: create user: the store was opened read-only");
  // Opened for writing, the store gets the tables back.
  auto writer = MustOpen(OpenStore(path, registry));
  v1::DeskUser bob;
  bob.set_name("bob");
  CHECK(writer->accounts()->CreateUser(bob).ok());
  CHECK(writer->accounts()->ListUsers()->size() == 1);
  CHECK(writer->mail_lists()->AddOptOuts("unsub", std::vector<std::string>{"a@x.org"}, "ann", 1).value() == 1);
  CHECK(writer->mail_lists()->ListLists()->size() == 1);
}

TEST_CASE("mail lists: the stored form of values is herald.v1.StoredMailListValues", "[store]") {
  const std::vector<std::string> values = {"", "a,b", std::string("\0\xff", 2), std::string(300, 'x')};
  const std::string stored = store_backend::EncodeMailListValues(values);
  v1::StoredMailListValues message;
  REQUIRE(message.ParseFromString(stored));
  CHECK(std::vector<std::string>(message.values().begin(), message.values().end()) == values);
  CHECK(message.SerializeAsString() == stored);
  std::vector<std::string> decoded;
  REQUIRE(store_backend::DecodeMailListValues(stored, &decoded));
  CHECK(decoded == values);
  CHECK(store_backend::EncodeMailListValues(std::vector<std::string>{}).empty());
  // Cut short, or another field: not this form.
  decoded.clear();
  CHECK_FALSE(store_backend::DecodeMailListValues(stored.substr(0, stored.size() - 1), &decoded));
  CHECK_FALSE(store_backend::DecodeMailListValues(std::string("\x12\x01" "a", 3), &decoded));
}

TEST_CASE("sqlite store: a corrupt file is a clear error and is left untouched", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("random.db");
  std::string junk(8192, '\0');
  std::mt19937 rng(42);
  for (char& c : junk) c = static_cast<char>(rng());
  { std::ofstream(path, std::ios::binary) << junk; }
  Registry registry;
  auto store = OpenStore(path, registry);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == absl::StatusCode::kDataLoss);
  const std::string message(store.status().message());
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("not a SQLite database or is corrupt") != std::string::npos);
  std::ifstream in(path, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(after == junk);
}

TEST_CASE("sqlite store: a damaged Herald store is an error - never reset", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("damaged.db");
  Registry registry;
  {
    auto store = MustOpen(OpenStore(path, registry));
    std::vector<v1::Event> events(200);
    for (auto& e : events) {
      e.set_type(v1::EVENT_TYPE_REQUEST);
      e.set_item_id(std::string(100, 'x'));
    }
    REQUIRE(store->events().AppendEvents(events).ok());
  }
  // Overwrite the middle of the file (after the header page) with garbage.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);
    std::string junk(20000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  auto store = OpenStore(path, registry);
  if (store.ok()) {
    // The header survived: the damage shows on the first read, as DataLoss.
    absl::Status s = (*store)->events().ScanEvents({}, [](const v1::Event&) { return absl::OkStatus(); });
    CHECK_FALSE(s.ok());
    CHECK(s.code() == absl::StatusCode::kDataLoss);
  } else {
    CHECK(store.status().code() != absl::StatusCode::kOk);
  }
}

TEST_CASE("sqlite store: a foreign database is refused", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("other.db");
  REQUIRE(std::system(("sqlite3 '" + path + "' 'CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES(1, \"x\");'").c_str()) == 0);
  Registry registry;
  auto store = OpenStore(path, registry);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(store.status().message()).find("not a Herald store") != std::string::npos);
  CHECK(std::string(store.status().message()).find(path) != std::string::npos);
}

TEST_CASE("sqlite store: a newer schema version is refused", "[store][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  Registry registry;
  { MustOpen(OpenStore(path, registry)); }
  REQUIRE(std::system(("sqlite3 '" + path + "' 'PRAGMA user_version = 99;'").c_str()) == 0);
  auto store = OpenStore(path, registry);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(store.status().message()).find("schema version 99") != std::string::npos);
}

TEST_CASE("OpenStore: URIs - registry and errors", "[store]") {
  TempDir dir;
  Registry registry;
  CHECK(MustOpen(OpenStore("memory", registry))->Describe() == "memory");
  CHECK(OpenStore("", registry).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(OpenStore("ftp://x/y", registry).status().code() == absl::StatusCode::kInvalidArgument);
  auto pg = OpenStore("postgresql://herald:secret@127.0.0.1/db", registry);
  CHECK(pg.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(pg.status().message()).find("RegisterPostgresStore") != std::string::npos);
  CHECK(std::string(pg.status().message()).find("secret") == std::string::npos);
  OpenStoreOptions ro;
  ro.read_only = true;
  CHECK(OpenStore(dir.File("missing.db"), registry, ro).status().code() ==
        absl::StatusCode::kNotFound);
  CHECK(OpenStore(dir.path.string(), registry).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  OpenStoreOptions based;
  based.base_dir = dir.path.string();
  MustOpen(OpenStore("relative.db", registry, based));
  CHECK(fs::exists(dir.File("relative.db")));

  REQUIRE(RegisterStoreBackends(&registry).ok());
  REQUIRE(RegisterStoreBackends(&registry).ok());  // idempotent
  CHECK(registry.Names("store") == std::vector<std::string>{"memory", "sqlite"});
  v1::SqliteStoreConfig config;
  CreateContext context;
  CHECK(registry.Create<Store>("sqlite", config, context).status().code() ==
        absl::StatusCode::kInvalidArgument);  // no path
  config.set_path(dir.File("by-factory.db"));
  CHECK(registry.Create<Store>("sqlite", config, context).ok());
}

TEST_CASE("postgresql store: registration - bad connections - password never shown",
          "[store][postgresql]") {
  Registry registry;
  REQUIRE(RegisterPostgresStore(&registry).ok());
  REQUIRE(RegisterPostgresStore(&registry).ok());
  auto bad = OpenStore("postgresql://herald:hunter2@127.0.0.1:1/nodb?connect_timeout=2", registry);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(bad.status().message()).find("hunter2") == std::string::npos);
  CHECK(std::string(bad.status().message()).find("127.0.0.1") != std::string::npos);
  v1::PostgresStoreConfig config;
  CHECK(OpenPostgresStore(config).status().code() == absl::StatusCode::kInvalidArgument);
  config.set_connection_string_env("HERALD_TEST_UNSET_VARIABLE");
  CHECK(OpenPostgresStore(config).status().code() == absl::StatusCode::kInvalidArgument);
  config.set_connection_string("postgresql://x@127.0.0.1/db");
  config.set_schema("Robert'); DROP TABLE students;--");
  CHECK(OpenPostgresStore(config).status().code() == absl::StatusCode::kInvalidArgument);

  const char* pg = PgConnection("the live PostgreSQL checks");
  if (pg == nullptr) return;
  auto store = MustOpen(OpenStore(pg, registry));
  CHECK(store->Describe().find("postgresql://") == 0);
  // A schema holding someone else's tables is refused.
  const std::string foreign = NewPgSchema();
  REQUIRE(std::system(("psql -q '" + std::string(pg) + "' -c 'CREATE SCHEMA " + foreign +
                       "; CREATE TABLE " + foreign + ".customers(id int)' >/dev/null")
                          .c_str()) == 0);
  v1::PostgresStoreConfig foreign_config;
  foreign_config.set_connection_string(pg);
  foreign_config.set_schema(foreign);
  auto refused = OpenPostgresStore(foreign_config);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(refused.status().message()).find("not a Herald store") != std::string::npos);
  // A newer schema version is refused.
  const std::string newer = NewPgSchema();
  v1::PostgresStoreConfig newer_config = foreign_config;
  newer_config.set_schema(newer);
  { MustOpen(OpenPostgresStore(newer_config)); }
  REQUIRE(std::system(("psql -q '" + std::string(pg) + "' -c \"UPDATE " + newer +
                       ".herald_meta SET value = '7' WHERE key = 'schema_version'\" >/dev/null")
                          .c_str()) == 0);
  auto too_new = OpenPostgresStore(newer_config);
  CHECK(too_new.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(too_new.status().message()).find("schema version 7") != std::string::npos);
}

TEST_CASE("postgresql store: several servers create the schema at once", "[store][postgresql]") {
  const char* pg = PgConnection("creating the schema from several servers at once");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(NewPgSchema());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (OpenPostgresStore(config).ok()) ok++;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 6);
}

// Runs `sql` in `schema` on a connection of its own (the test's hand on the
// tables behind the store's back).
void ExecIn(const char* pg, const std::string& schema, const std::string& sql) {
  PGconn* conn = PQconnectdb(pg);
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  std::string statements = "SET search_path = \"";  // (appends: g++ 12 warns falsely on + chains)
  statements.append(schema).append("\"; ").append(sql);
  PGresult* r = PQexec(conn, statements.c_str());
  INFO(sql << ": " << PQresultErrorMessage(r));
  CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
  PQclear(r);
  PQfinish(conn);
}

std::vector<v1::Event> ScanEvents(Store& store) {
  std::vector<v1::Event> out;
  REQUIRE(store.events()
              .ScanEvents({},
                          [&](const v1::Event& e) {
                            out.push_back(e);
                            return absl::OkStatus();
                          })
              .ok());
  return out;
}

v1::Event RequestFor(const std::string& user, int64_t seconds) {
  v1::Event e;
  e.set_type(v1::EVENT_TYPE_REQUEST);
  e.mutable_time()->set_seconds(seconds);
  e.set_item_id("ad-a");
  e.set_campaign_id("c1");
  e.set_user_id(user);
  return e;
}

// Ids that are not UTF-8, or that hold a NUL byte, reach the recorder from
// outside (a storefront's user and session ids). PostgreSQL refuses such
// text: before the fix the recorder retried that batch for ever and every
// later event waited behind it. They are stored with the bytes escaped.
void CheckPoisonIdsAreStored(Store& store) {
  EventRecorderOptions options;
  options.flush_interval = absl::Seconds(60);  // only Flush writes
  options.retry_delay = absl::Milliseconds(10);
  auto recorder = EventRecorder::Create(&store.events(), nullptr, options);
  const std::string bad_user("u\xff\x00\xc3", 4);  // an invalid byte, a NUL, a truncated sequence
  v1::Event poison = RequestFor(bad_user, 100);
  poison.set_session_id(std::string("s\0", 2));
  REQUIRE(recorder->Append(poison));
  REQUIRE(recorder->Append(RequestFor("after", 101)));
  absl::Status flushed = recorder->Flush();
  INFO(flushed.ToString());
  REQUIRE(flushed.ok());
  CHECK(recorder->written() == 2);
  std::vector<v1::Event> events = ScanEvents(store);
  REQUIRE(events.size() == 2);
  CHECK(events[0].user_id() == "u\\xFF\\x00\\xC3");
  CHECK(events[0].session_id() == "s\\x00");
  CHECK(events[1].user_id() == "after");
  REQUIRE(recorder->Stop().ok());
}

TEST_CASE("event recorder: ids that are not UTF-8 or hold a NUL are stored escaped, never retried for ever",
          "[store][sqlite][postgresql]") {
  SECTION("sqlite") {
    TempDir dir;
    Registry registry;
    auto store = MustOpen(OpenStore("sqlite:" + dir.File("herald.db"), registry));
    CheckPoisonIdsAreStored(*store);
  }
  SECTION("postgresql") {
    const char* pg = PgConnection("poison ids into PostgreSQL");
    if (pg == nullptr) return;
    v1::PostgresStoreConfig config;
    config.set_connection_string(pg);
    config.set_schema(NewPgSchema());
    auto store = MustOpen(OpenPostgresStore(config));
    CheckPoisonIdsAreStored(*store);
  }
}

// Events, counter deltas and histories go in by COPY through staging tables:
// a COPY or merge the server refuses leaves nothing behind (no event, no
// count, no staged row merged later), and the event recorder keeps the
// refused batch for its next flush.
TEST_CASE("postgresql store: a failed COPY keeps its events for the next flush - nothing half-written",
          "[store][postgresql]") {
  const char* pg = PgConnection("failing COPY");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(NewPgSchema());
  config.set_pool_size(1);  // one connection: its staging tables serve every write below
  auto store = MustOpen(OpenPostgresStore(config));
  // The server refuses every new row until the constraints are dropped.
  ExecIn(pg, config.schema(), "ALTER TABLE events ADD CONSTRAINT hold_events CHECK (time_us < 0) NOT VALID");
  ExecIn(pg, config.schema(), "ALTER TABLE counters ADD CONSTRAINT hold_counters CHECK (requests < 0) NOT VALID");

  SECTION("a refused batch stores neither its events nor its counts") {
    std::vector<v1::Event> events = {RequestFor("u1", 100), RequestFor("u2", 101)};
    absl::Status refused = store->events().RecordBatch(events, std::vector<CounterDelta>{{"ad-a", 2, 0}});
    CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(refused.message()), Catch::Contains("append events (table events)") &&
                                                   Catch::Contains("hold_events"));
    // Events accepted, counts refused: the batch is still all or nothing.
    ExecIn(pg, config.schema(), "ALTER TABLE events DROP CONSTRAINT hold_events");
    refused = store->events().RecordBatch(events, std::vector<CounterDelta>{{"ad-a", 2, 0}});
    CHECK_THAT(std::string(refused.message()), Catch::Contains("table counters") && Catch::Contains("hold_counters"));
    CHECK(ScanEvents(*store).empty());
    CHECK(store->counters().AddCounterDeltas(std::vector<CounterDelta>{{"ad-a", 5, 0}}).code() ==
          absl::StatusCode::kFailedPrecondition);
    // Accepted again: exactly this batch's counts, none of the refused ones
    // (left in a staging table, they would be merged now).
    ExecIn(pg, config.schema(), "ALTER TABLE counters DROP CONSTRAINT hold_counters");
    REQUIRE(store->events().RecordBatch(events, std::vector<CounterDelta>{{"ad-a", 2, 0}}).ok());
    auto totals = store->counters().LoadCounterTotals();
    REQUIRE(totals.ok());
    REQUIRE(totals->size() == 1);
    CHECK((*totals)[0].requests == 2);
    CHECK(ScanEvents(*store).size() == 2);
  }

  SECTION("the event recorder keeps a refused batch and writes it once at the next flush") {
    ExecIn(pg, config.schema(), "ALTER TABLE counters DROP CONSTRAINT hold_counters");
    EventRecorderOptions options;
    options.flush_interval = absl::Milliseconds(10);
    options.retry_delay = absl::Milliseconds(10);
    auto recorder = EventRecorder::Create(&store->events(), nullptr, options);
    const std::string users[] = {"u0", "u1", "u2"};
    for (int i = 0; i < 3; ++i) REQUIRE(recorder->Append(RequestFor(users[i], 100 + i)));
    CHECK(recorder->Flush().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(recorder->written() == 0);
    CHECK(recorder->queued() == 3);
    ExecIn(pg, config.schema(), "ALTER TABLE events DROP CONSTRAINT hold_events");
    REQUIRE(recorder->Flush().ok());
    CHECK(recorder->written() == 3);
    CHECK(recorder->Stop().ok());
    auto events = ScanEvents(*store);
    REQUIRE(events.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(events[i].user_id() == users[i]);
  }

  SECTION("a refused history batch saves none of its histories") {
    ExecIn(pg, config.schema(), "ALTER TABLE histories ADD CONSTRAINT hold_histories CHECK (user_id <> 'u2') NOT VALID");
    UserHistory h;
    h.recent = {"ad-a"};
    std::vector<std::pair<std::string, UserHistory>> batch = {{"u1", h}, {"u2", h}};
    absl::Status refused = store->history().SaveHistories(batch);
    CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(refused.message()), Catch::Contains("table histories"));
    CHECK_FALSE(store->history().LoadHistory("u1")->has_value());
    batch = {{"u3", h}};
    REQUIRE(store->history().SaveHistories(batch).ok());
    CHECK_FALSE(store->history().LoadHistory("u1")->has_value());  // not merged with u3's batch
    CHECK(store->history().LoadHistory("u3")->has_value());
  }
}

}  // namespace
}  // namespace herald
