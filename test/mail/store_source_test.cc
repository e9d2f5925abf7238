// Recipients from a store table (SQLite, memory, PostgreSQL when HERALD_TEST_PG
// is set), and in-flight claims with an owner and an age: the ledger's
// RequeueClaims on every backend and MailJob's recovery policy.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "pg_test.h"
#include "herald/mail.h"
#include "herald/store.h"
#include "mail_test_util.h"
#ifdef HERALD_HAVE_POSTGRES
#include "herald/store_postgres.h"
#endif

namespace herald {
namespace {

using testing::CaptureTransport;
using testing::MakeTempDir;
using testing::RunCommand;
using testing::WriteFile;

const char* PgConnection(std::string_view what) { return testing::PostgresOrSkip(what); }

struct Fixture {
  std::string dir = MakeTempDir("herald-mail-store");
  Registry registry;
  CaptureTransport transport;

  Fixture() {
    RegisterMailComponents(&registry);
    (void)RegisterStoreBackends(&registry);
  }
  ~Fixture() { RunCommand("rm -rf " + dir); }

  MailJobSpec Spec(const std::string& table) {
    MailJobSpec spec;
    spec.item_id = "winter";
    spec.base_dir = dir;
    v1::DirectMail& m = spec.mail;
    m.mutable_recipients()->set_store_table(table);
    auto* t = m.mutable_message()->mutable_template_();
    t->set_subject("{{first_name}}, winter gear is here");
    t->set_text("Hello {{first_name}} (customer {{id}}), tier {{tier}}.\n");
    m.set_from("Contoso Outdoor <news@contoso.example.com>");
    return spec;
  }
  MailerOptions Options(Store* store) {
    MailerOptions o;
    o.registry = &registry;
    o.store = store;
    o.transport = &transport;
    o.unsubscribe_secret = "0123456789abcdef0123456789abcdef";
    return o;
  }
};

// Runs a job over table "customers" (5 rows, one opted out, one a duplicate
// address) and checks who got what.
void CheckCustomersJob(Fixture& f, Store& store) {
  MailJobSpec spec = f.Spec("customers");
  WriteFile(f.dir + "/optout.txt", "carl@example.org\n");
  spec.mail.set_opt_out_list("optout.txt");
  auto job = MailJob::Create(spec, f.Options(&store));
  INFO(job.status().ToString());
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->recipients == 4);
  CHECK(report->sent == 3);
  CHECK(report->skipped_by_reason["opted_out"] == 1);
  auto sent = f.transport.sent();
  REQUIRE(sent.size() == 3);
  std::map<std::string, std::string> by_recipient;
  for (const auto& m : sent) by_recipient[m.recipient] = m.data;
  REQUIRE(by_recipient.count("ann@example.org") == 1);
  CHECK(by_recipient["ann@example.org"].find("Subject: Ann, winter gear is here") != std::string::npos);
  CHECK(by_recipient["ann@example.org"].find("Hello Ann (customer 1), tier gold.") != std::string::npos);
  REQUIRE(by_recipient.count("Bob@example.org") == 1);  // the first of bob's two rows
  CHECK(by_recipient["Bob@example.org"].find("Hello Bob (customer 2), tier .") != std::string::npos);  // NULL
  CHECK(by_recipient.count("dora@example.org") == 1);
  CHECK(by_recipient.count("carl@example.org") == 0);
}

const char kCustomersSql[] =
    "CREATE TABLE customers(id INTEGER, email TEXT, first_name TEXT, tier TEXT);"
    "INSERT INTO customers VALUES(1, 'ann@example.org', 'Ann', 'gold');"
    "INSERT INTO customers VALUES(2, ' Bob@Example.org', 'Bob', NULL);"
    "INSERT INTO customers VALUES(3, 'carl@example.org', 'Carl', 'silver');"
    "INSERT INTO customers VALUES(4, 'dora@example.org', 'Dora', 'gold');"
    "INSERT INTO customers VALUES(5, 'Bob@EXAMPLE.org', 'Bob again', 'gold');";

TEST_CASE("A job sends to every row of a SQLite store table minus the opt-out list", "[mail][store_table]") {
  Fixture f;
  const std::string path = f.dir + "/herald.db";
  auto store = OpenStore("sqlite:" + path, f.registry);
  REQUIRE(store.ok());
  // The site creates its table with SQL, next to Herald's own.
  int rc = 0;
  RunCommand("sqlite3 '" + path + "' \"" + kCustomersSql + "\"", &rc);
  REQUIRE(rc == 0);
  CheckCustomersJob(f, **store);
}

TEST_CASE("A SQLite store table is read page by page in rowid order", "[mail][store_table]") {
  Fixture f;
  const std::string path = f.dir + "/herald.db";
  auto store = OpenStore("sqlite:" + path, f.registry);
  REQUIRE(store.ok());
  // 2,500 rows (three pages) and a view over them.
  std::string sql = "CREATE TABLE big(email TEXT, n INTEGER); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                    "SELECT i + 1 FROM c WHERE i < 2500) INSERT INTO big SELECT 'u' || i || '@example.org', i FROM c;"
                    "CREATE VIEW big_odd AS SELECT email FROM big WHERE n % 2 = 1;";
  int rc = 0;
  RunCommand("sqlite3 '" + path + "' \"" + sql + "\"", &rc);
  REQUIRE(rc == 0);
  RecipientTableStore* tables = (*store)->recipient_tables();
  REQUIRE(tables != nullptr);
  std::vector<std::string> columns;
  int64_t rows = 0, last = 0;
  bool ordered = true;
  REQUIRE(tables
              ->ScanTable(
                  "BIG",  // SQLite names are case-insensitive
                  [&](std::span<const std::string> c) {
                    columns.assign(c.begin(), c.end());
                    return absl::OkStatus();
                  },
                  [&](std::span<const std::string> v) {
                    int64_t n = std::stoll(v[1]);
                    ordered = ordered && n == last + 1;
                    last = n;
                    ++rows;
                    return absl::OkStatus();
                  })
              .ok());
  CHECK(columns == std::vector<std::string>{"email", "n"});
  CHECK(rows == 2500);
  CHECK(ordered);
  int64_t odd = 0;
  REQUIRE(tables->ScanTable("big_odd", [](auto) { return absl::OkStatus(); },
                            [&](auto) {
                              ++odd;
                              return absl::OkStatus();
                            })
              .ok());
  CHECK(odd == 1250);
  // A callback's error stops the scan and is returned.
  int seen = 0;
  absl::Status stopped = tables->ScanTable("big", [](auto) { return absl::OkStatus(); },
                                           [&](auto) {
                                             return ++seen == 10 ? absl::CancelledError("enough")
                                                                 : absl::OkStatus();
                                           });
  CHECK(stopped.code() == absl::StatusCode::kCancelled);
  CHECK(seen == 10);
}

TEST_CASE("Bad store table names and missing tables are refused by name", "[mail][store_table]") {
  Fixture f;
  const std::string path = f.dir + "/herald.db";
  auto store = OpenStore("sqlite:" + path, f.registry);
  REQUIRE(store.ok());
  int rc = 0;
  RunCommand("sqlite3 '" + path + "' \"CREATE TABLE no_email(id INTEGER, mail TEXT);\"", &rc);
  REQUIRE(rc == 0);
  auto create = [&](const std::string& table) { return MailJob::Create(f.Spec(table), f.Options(store->get())).status(); };

  absl::Status bad = create("customers; DROP TABLE mail_jobs");
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(bad.message()),
             Catch::Contains("direct-mail item \"winter\"") &&
                 Catch::Contains("store table name 'customers; DROP TABLE mail_jobs' is not an SQL identifier"));
  for (const char* name : {"", "1abc", "a-b", "\"quoted\"", "x.y"}) {
    INFO(name);
    CHECK(create(name).code() == absl::StatusCode::kInvalidArgument);
  }
  absl::Status missing = create("nosuch");
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.message()),
             Catch::Contains("store table 'nosuch' not found") && Catch::Contains(path));
  absl::Status no_email = create("no_email");
  CHECK(no_email.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(no_email.message()),
             Catch::Contains("store table 'no_email': no \"email\" column (columns: id, mail)"));
  // Herald's tables are untouched.
  CHECK((*store)->mail_ledgers().AddRecipients("still-there", std::vector<std::string>{"a@x.org"}).ok());
}

TEST_CASE("The memory store holds recipient tables put by tests", "[mail][store_table]") {
  Fixture f;
  auto store = NewMemoryStore();
  std::vector<std::string> columns = {"id", "email", "first_name", "tier"};
  std::vector<std::vector<std::string>> rows = {{"1", "ann@example.org", "Ann", "gold"},
                                                {"2", " Bob@Example.org", "Bob", ""},
                                                {"3", "carl@example.org", "Carl", "silver"},
                                                {"4", "dora@example.org", "Dora", "gold"},
                                                {"5", "Bob@EXAMPLE.org", "Bob again", "gold"}};
  REQUIRE(store->recipient_tables()->PutTable("customers", columns, rows).ok());
  std::vector<std::vector<std::string>> ragged = {{"1"}};
  CHECK(store->recipient_tables()->PutTable("ragged", columns, ragged).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(store->recipient_tables()->PutTable("bad name", columns, rows).code() ==
        absl::StatusCode::kInvalidArgument);
  CheckCustomersJob(f, *store);
  CHECK(MailJob::Create(f.Spec("nosuch"), f.Options(store.get())).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("A PostgreSQL store table is a recipient source", "[mail][store_table][postgresql]") {
#ifndef HERALD_HAVE_POSTGRES
  testing::SkipTest("the PostgreSQL store table test: herald_store_postgres is not built");
#else
  const char* pg = PgConnection("the PostgreSQL store table test");
  if (pg == nullptr) return;
  Fixture f;
  const std::string schema = "mailtab_" + std::to_string(::getpid());
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(schema);
  auto store = OpenPostgresStore(config);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  std::string sql = std::string("SET search_path TO ") + schema + ";" + kCustomersSql +
                    "CREATE TABLE \"MixedCase\"(email text);"
                    "INSERT INTO \"MixedCase\" VALUES('x@example.org');";
  WriteFile(f.dir + "/tables.sql", sql);
  int rc = 0;
  std::string out = RunCommand(std::string("psql -q -v ON_ERROR_STOP=1 '") + pg + "' -f '" + f.dir + "/tables.sql' 2>&1", &rc);
  INFO(out);
  REQUIRE(rc == 0);
  CheckCustomersJob(f, **store);
  RecipientTableStore* tables = (*store)->recipient_tables();
  int64_t rows = 0;
  auto count = [&](const std::string& name) {
    rows = 0;
    return tables->ScanTable(name, [](auto) { return absl::OkStatus(); },
                             [&](auto) {
                               ++rows;
                               return absl::OkStatus();
                             });
  };
  CHECK(count("CUSTOMERS").ok());  // an unquoted name folds to lower case
  CHECK(rows == 5);
  CHECK(count("MixedCase").ok());  // and a quoted one is found as written
  CHECK(rows == 1);
  absl::Status missing = count("nosuch");
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.message()), Catch::Contains("store table 'nosuch' not found"));
  CHECK(count("x; DROP SCHEMA public").code() == absl::StatusCode::kInvalidArgument);
  RunCommand(std::string("psql -q '") + pg + "' -c 'DROP SCHEMA " + schema + " CASCADE' 2>&1");
#endif
}

// ---------------------------------------------------------------- claims

// Stale vs fresh claims and owners, on one backend.
void CheckRequeueClaims(Store& store) {
  MailLedgerStore& ledger = store.mail_ledgers();
  std::vector<std::string> recipients = {"a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test"};
  REQUIRE(ledger.AddRecipients("claims", recipients).ok());
  const absl::Time before = absl::Now();
  REQUIRE(ledger.ClaimPending("claims", "dead:1/0a0b0c0d/0", 2).ok());  // a, b
  absl::SleepFor(absl::Milliseconds(400));
  REQUIRE(ledger.ClaimPending("claims", "live:2/11223344", 1).ok());      // c
  REQUIRE(ledger.ClaimPending("claims", "live:22/55667788", 1).ok());     // d
  auto in_flight = ledger.InFlight("claims");
  REQUIRE(in_flight.ok());
  REQUIRE(in_flight->size() == 4);
  CHECK((*in_flight)[0].worker == "dead:1/0a0b0c0d/0");
  CHECK((*in_flight)[2].worker == "live:2/11223344");
  // Claim times on the store's clock (PostgreSQL: the server's; same host here).
  CHECK((*in_flight)[0].claimed_at > before - absl::Seconds(5));
  CHECK((*in_flight)[2].claimed_at >= (*in_flight)[0].claimed_at + absl::Milliseconds(300));

  // Fresh claims stay, whatever the age limit says about others.
  ClaimRequeue stale;
  stale.older_than = absl::Milliseconds(250);
  auto requeued = ledger.RequeueClaims("claims", stale, "requeued: stale");
  REQUIRE(requeued.ok());
  REQUIRE(requeued->size() == 2);
  CHECK((*requeued)[0].recipient == "a@x.test");
  CHECK((*requeued)[0].worker == "dead:1/0a0b0c0d/0");
  CHECK((*requeued)[1].recipient == "b@x.test");
  in_flight = ledger.InFlight("claims");
  REQUIRE(in_flight->size() == 2);
  CHECK((*in_flight)[0].recipient == "c@x.test");
  // Nothing is stale under a generous limit; an infinite one never requeues by age.
  stale.older_than = absl::Minutes(15);
  CHECK(ledger.RequeueClaims("claims", stale, "x")->empty());
  CHECK(ledger.RequeueClaims("claims", ClaimRequeue{}, "x")->empty());
  // Owners: the exact id and its threads, not a longer id with the same prefix.
  ClaimRequeue owners;
  owners.owners = {"live:2"};
  requeued = ledger.RequeueClaims("claims", owners, "requeued: resumed");
  REQUIRE(requeued.ok());
  REQUIRE(requeued->size() == 1);
  CHECK((*requeued)[0].recipient == "c@x.test");
  owners.owners = {"live:22/55667788"};
  requeued = ledger.RequeueClaims("claims", owners, "requeued: resumed");
  REQUIRE(requeued->size() == 1);
  CHECK((*requeued)[0].recipient == "d@x.test");
  // Requeued recipients are pending again, with the detail, and claimed in order.
  auto counts = ledger.CountStates("claims");
  REQUIRE(counts.ok());
  CHECK(*counts == std::vector<std::pair<RecipientState, int64_t>>{{RecipientState::kPending, 5}});
  auto again = ledger.ClaimPending("claims", "next/1", 10);
  REQUIRE(again.ok());
  CHECK(*again == recipients);
  CHECK(ledger.InFlight("claims")->at(0).attempts == 2);
}

TEST_CASE("RequeueClaims requeues stale claims and named owners but not fresh claims - memory", "[mail][claims]") {
  auto store = NewMemoryStore();
  CheckRequeueClaims(*store);
}

TEST_CASE("RequeueClaims requeues stale claims and named owners but not fresh claims - sqlite", "[mail][claims]") {
  Fixture f;
  auto store = OpenStore("sqlite:" + f.dir + "/herald.db", f.registry);
  REQUIRE(store.ok());
  CheckRequeueClaims(**store);
}

TEST_CASE("RequeueClaims requeues stale claims and named owners but not fresh claims - postgresql",
          "[mail][claims][postgresql]") {
#ifndef HERALD_HAVE_POSTGRES
  testing::SkipTest("the PostgreSQL claims test: herald_store_postgres is not built");
#else
  const char* pg = PgConnection("the PostgreSQL claims test");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  const std::string schema = "claims_" + std::to_string(::getpid());
  config.set_schema(schema);
  auto store = OpenPostgresStore(config);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  CheckRequeueClaims(**store);
  RunCommand(std::string("psql -q '") + pg + "' -c 'DROP SCHEMA " + schema + " CASCADE' 2>&1");
#endif
}

TEST_CASE("A version 1 SQLite ledger is migrated and its old claims count as stale", "[mail][claims]") {
  Fixture f;
  const std::string path = f.dir + "/old.db";
  {
    auto store = OpenStore("sqlite:" + path, f.registry);
    REQUIRE(store.ok());
    REQUIRE((*store)->mail_ledgers().AddRecipients("old", std::vector<std::string>{"a@x.test", "b@x.test"}).ok());
  }
  // Back to the version 1 layout, with one claim left by a version 1 build.
  int rc = 0;
  RunCommand("sqlite3 '" + path + "' \"ALTER TABLE mail_recipients DROP COLUMN claimed_us;"
             " UPDATE mail_recipients SET state = 1, worker = 'v1-host:99' WHERE recipient = 'a@x.test';"
             " PRAGMA user_version = 1;\"",
             &rc);
  REQUIRE(rc == 0);
  auto store = OpenStore("sqlite:" + path, f.registry);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  CHECK(RunCommand("sqlite3 '" + path + "' 'PRAGMA user_version'") == "2\n");
  auto in_flight = (*store)->mail_ledgers().InFlight("old");
  REQUIRE(in_flight.ok());
  REQUIRE(in_flight->size() == 1);
  CHECK((*in_flight)[0].worker == "v1-host:99");
  CHECK((*in_flight)[0].claimed_at == absl::InfinitePast());
  ClaimRequeue stale;
  stale.older_than = absl::Minutes(15);
  auto requeued = (*store)->mail_ledgers().RequeueClaims("old", stale, "requeued");
  REQUIRE(requeued.ok());
  CHECK(requeued->size() == 1);
}

TEST_CASE("A new run leaves fresh claims of other processes alone", "[mail][claims][job]") {
  Fixture f;
  auto store = NewMemoryStore();
  std::vector<std::string> columns = {"email", "first_name", "tier", "id"};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 10; ++i) rows.push_back({"u" + std::to_string(i) + "@example.org", "U", "t", std::to_string(i)});
  REQUIRE(store->recipient_tables()->PutTable("customers", columns, rows).ok());
  MailJobSpec spec = f.Spec("customers");
  MailerOptions options = f.Options(store.get());
  options.worker_id = "runner-a";
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  // Another process (alive, or killed a moment ago) holds two claims.
  REQUIRE(store->mail_ledgers().ClaimPending("winter", "runner-b/0f0f0f0f", 2).ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->requeued_in_flight == 0);
  CHECK(report->sent == 8);
  CHECK(report->pending == 2);
  CHECK(report->state == "running");  // not completed: two recipients are in flight elsewhere
  CHECK(report->worker_id.starts_with("runner-a/"));
  CHECK(report->worker_id.size() == std::string("runner-a/").size() + 8);

  // The operator knows runner-b is dead: its claims are requeued whatever their age.
  options.requeue_claims_of = {"runner-b"};
  auto resumed = MailJob::Create(spec, options);
  REQUIRE(resumed.ok());
  report = (*resumed)->Run();
  REQUIRE(report.ok());
  CHECK(report->requeued_in_flight == 2);
  CHECK(report->sent == 10);
  CHECK(report->state == "completed");
  CHECK(f.transport.sent().size() == 10);  // u0 and u1 once each: runner-b never sent them
}

TEST_CASE("Claims of a run whose process is gone on this host are requeued at once", "[mail][claims][job]") {
  Fixture f;
  auto store = NewMemoryStore();
  std::vector<std::string> columns = {"email", "first_name", "tier", "id"};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({"u" + std::to_string(i) + "@example.org", "U", "t", std::to_string(i)});
  REQUIRE(store->recipient_tables()->PutTable("customers", columns, rows).ok());
  // A process that has exited: its pid names no live process.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string dead = std::string(host) + ":" + std::to_string(child) + "/0a0b0c0d";
  const std::string alive = std::string(host) + ":" + std::to_string(getppid()) + "/01010101";
  MailJobSpec spec = f.Spec("customers");
  MailerOptions options = f.Options(store.get());  // default worker id, 15 min claim timeout
  auto job = MailJob::Create(spec, options);  // adds the recipients to the ledger
  REQUIRE(job.ok());
  REQUIRE(store->mail_ledgers().ClaimPending("winter", dead + "/0", 2).ok());
  REQUIRE(store->mail_ledgers().ClaimPending("winter", alive, 1).ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->requeued_in_flight == 2);  // the dead run's, not the live process's
  CHECK(report->sent == 5);
  CHECK(report->pending == 1);
  auto in_flight = store->mail_ledgers().InFlight("winter");
  REQUIRE(in_flight.ok());
  REQUIRE(in_flight->size() == 1);
  CHECK((*in_flight)[0].worker == alive);
}

TEST_CASE("Claims older than claim_timeout are requeued by any run", "[mail][claims][job]") {
  Fixture f;
  auto store = NewMemoryStore();
  std::vector<std::string> columns = {"email", "first_name", "tier", "id"};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({"u" + std::to_string(i) + "@example.org", "U", "t", std::to_string(i)});
  REQUIRE(store->recipient_tables()->PutTable("customers", columns, rows).ok());
  MailJobSpec spec = f.Spec("customers");
  MailerOptions options = f.Options(store.get());
  options.claim_timeout = absl::Milliseconds(200);
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  REQUIRE(store->mail_ledgers().ClaimPending("winter", "crashed/01234567", 3).ok());
  absl::SleepFor(absl::Milliseconds(300));
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->requeued_in_flight == 3);
  CHECK(report->state == "completed");
  CHECK(report->sent == 6);
  // claim_timeout must be positive.
  options.claim_timeout = absl::ZeroDuration();
  CHECK(MailJob::Create(spec, options).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("List Manager lists - recipients and opt-outs from the store, an opt-out made during the run honoured",
          "[mail][store_list]") {
  Fixture f;
  auto store = NewMemoryStore();
  MailListStore& lists = *store->mail_lists();
  v1::MailList recipients;
  recipients.set_name("customers");
  recipients.set_kind(v1::MAIL_LIST_KIND_RECIPIENTS);
  for (const char* c : {"email", "first_name", "tier", "id"}) recipients.add_columns(c);
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({"u" + std::to_string(i) + "@example.org", "U", "t", std::to_string(i)});
  REQUIRE(lists.PutList(recipients, rows).ok());
  REQUIRE(lists.AddOptOuts("site", std::vector<std::string>{"u1@example.org"}, "test", 1).ok());
  REQUIRE(lists.AddOptOuts("winter-out", std::vector<std::string>{"u2@example.org"}, "test", 1).ok());

  MailJobSpec spec = f.Spec("unused");
  spec.mail.mutable_recipients()->set_store_list("customers");
  spec.mail.set_opt_out_store_list("winter-out");
  spec.site_opt_out_store_list = "site";
  MailerOptions options = f.Options(store.get());
  options.batch_size = 1;
  options.store_opt_out_refresh = absl::ZeroDuration();  // read again before every batch
  // While u0 is being sent, u5 opts out on another server.
  f.transport.after_each = [&](size_t sent) {
    if (sent == 1) REQUIRE(lists.AddOptOuts("winter-out", std::vector<std::string>{"u5@example.org"}, "t", 2).ok());
  };
  auto audience = CountMailAudience(spec, options);
  REQUIRE(audience.ok());
  CHECK(audience->recipients == 6);
  CHECK(audience->opted_out_site == 1);
  CHECK(audience->opted_out_item == 1);
  CHECK(audience->will_receive == 4);
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->sent == 3);  // u0, u3, u4
  CHECK(report->skipped == 3);
  std::set<std::string> to;
  for (const OutgoingMessage& m : f.transport.sent()) to.insert(m.recipient);
  CHECK(to == std::set<std::string>{"u0@example.org", "u3@example.org", "u4@example.org"});

  // An opt-out list where recipients are wanted, and a missing list, are named.
  spec.mail.mutable_recipients()->set_store_list("site");
  CHECK(MailJob::Create(spec, options).status().code() == absl::StatusCode::kFailedPrecondition);
  spec.mail.mutable_recipients()->set_store_list("nothing");
  auto missing = MailJob::Create(spec, options);
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.status().message()).find("list 'nothing'") != std::string::npos);
}

TEST_CASE("A Stop made before Run starts is honoured - nobody is mailed - and Run again resumes",
          "[mail][job][states]") {
  Fixture f;
  auto store = NewMemoryStore();
  std::vector<std::string> columns = {"email", "first_name", "tier", "id"};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 3; ++i) rows.push_back({"s" + std::to_string(i) + "@example.org", "S", "t", std::to_string(i)});
  REQUIRE(store->recipient_tables()->PutTable("customers", columns, rows).ok());
  auto job = MailJob::Create(f.Spec("customers"), f.Options(store.get()));
  REQUIRE(job.ok());
  (*job)->Stop();  // the desk's Abort, right after its Start
  auto stopped = (*job)->Run();
  REQUIRE(stopped.ok());
  CHECK(stopped->state == "stopped");
  CHECK(f.transport.sent().empty());
  auto resumed = (*job)->Run();
  REQUIRE(resumed.ok());
  CHECK(resumed->state == "completed");
  CHECK(f.transport.sent().size() == 3);
}

}  // namespace
}  // namespace herald
