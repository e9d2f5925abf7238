#include "store/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <cstdlib>
#include <catch2/catch.hpp>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
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

// AccountStore records with every field set, so that a lost column shows.
v1::DeskUser MakeUser(std::string name, std::string role, int64_t created) {
  v1::DeskUser u;
  u.set_name(std::move(name));
  u.set_role(std::move(role));
  u.set_password_hash("$argon2id$v=19$m=65536,t=2,p=1$" + u.name());
  u.set_created_unix_micros(created);
  u.set_password_changed_unix_micros(created + 1);
  return u;
}

v1::DeskSession MakeSession(std::string id_hash, std::string user, int64_t expires) {
  v1::DeskSession s;
  s.set_id_hash(std::move(id_hash));
  s.set_user(std::move(user));
  s.set_csrf_token("csrf-" + s.id_hash());
  s.set_created_unix_micros(expires - 100);
  s.set_expires_unix_micros(expires);
  return s;
}

v1::AuditEntry MakeAudit(int i) {
  v1::AuditEntry e;
  e.set_time_unix_micros(1000 * i);
  e.set_user(i % 2 == 0 ? "ann" : "bob");
  e.set_action("catalog.save");
  e.set_object("campaign \"c" + std::to_string(i) + "\"");
  e.set_detail("change " + std::to_string(i) + "\nsecond line");
  return e;
}

// The store under test, or a second connection to its data when the
// backend has one (another process sees what this one wrote).
AccountStore& Reader(Store& store, std::unique_ptr<Store>& other) {
  return other != nullptr ? *other->accounts() : *store.accounts();
}

void CheckAccountUsers(const StoreFixture& fixture, Store& store) {
  AccountStore* accounts = store.accounts();
  REQUIRE(accounts != nullptr);
  CHECK(Value(accounts->ListUsers()).empty());
  CHECK_FALSE(Value(accounts->GetUser("ann")).has_value());
  v1::DeskUser ann = MakeUser("ann", "admin", 100);
  HERALD_REQUIRE_OK(accounts->CreateUser(ann));
  HERALD_REQUIRE_OK(accounts->CreateUser(MakeUser("carl", "viewer", 300)));
  HERALD_REQUIRE_OK(accounts->CreateUser(MakeUser("Bob", "editor", 200)));
  absl::Status taken = accounts->CreateUser(MakeUser("ann", "viewer", 400));
  CHECK(taken.code() == absl::StatusCode::kAlreadyExists);
  CHECK(taken.message() == "user \"ann\" already exists");
  CHECK(Value(accounts->GetUser("ann"))->ShortDebugString() == ann.ShortDebugString());  // untouched

  ann.set_role("editor");
  ann.set_password_hash("$argon2id$new");
  ann.set_password_changed_unix_micros(5000);
  ann.set_disabled(true);
  HERALD_REQUIRE_OK(accounts->UpdateUser(ann));
  absl::Status absent = accounts->UpdateUser(MakeUser("dora", "viewer", 1));
  CHECK(absent.code() == absl::StatusCode::kNotFound);
  CHECK(absent.message() == "no user \"dora\"");
  CHECK_FALSE(Value(accounts->GetUser("dora")).has_value());

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  AccountStore& reader = Reader(store, other);
  std::optional<v1::DeskUser> read = Value(reader.GetUser("ann"));
  REQUIRE(read.has_value());
  CHECK(read->ShortDebugString() == ann.ShortDebugString());
  std::vector<v1::DeskUser> users = Value(reader.ListUsers());
  std::vector<std::string> names;
  for (const v1::DeskUser& u : users) names.push_back(u.name());
  CHECK(names == std::vector<std::string>{"Bob", "ann", "carl"});  // by bytes: upper case first
  CHECK(users[0].ShortDebugString() == MakeUser("Bob", "editor", 200).ShortDebugString());

  // Deleting a user deletes its sessions, and only its.
  HERALD_REQUIRE_OK(accounts->CreateSession(MakeSession("h-ann-1", "ann", 9000)));
  HERALD_REQUIRE_OK(accounts->CreateSession(MakeSession("h-ann-2", "ann", 9000)));
  HERALD_REQUIRE_OK(accounts->CreateSession(MakeSession("h-carl", "carl", 9000)));
  HERALD_REQUIRE_OK(accounts->DeleteUser("ann"));
  CHECK_FALSE(Value(reader.GetUser("ann")).has_value());
  CHECK_FALSE(Value(reader.GetSession("h-ann-1")).has_value());
  CHECK_FALSE(Value(reader.GetSession("h-ann-2")).has_value());
  CHECK(Value(reader.GetSession("h-carl")).has_value());
  CHECK(Value(reader.ListUsers()).size() == 2);
  absl::Status again = accounts->DeleteUser("ann");
  CHECK(again.code() == absl::StatusCode::kNotFound);
  CHECK(again.message() == "no user \"ann\"");
}

void CheckFailedSignIns(const StoreFixture& fixture, Store& store) {
  AccountStore& accounts = *store.accounts();
  using Failures = std::pair<int64_t, int64_t>;
  CHECK(Value(accounts.FailedSignIns("user:ann")) == Failures{0, 0});
  CHECK(Value(accounts.AddFailedSignIn("user:ann", 1000)) == 1);
  CHECK(Value(accounts.AddFailedSignIn("user:ann", 2000)) == 2);
  CHECK(Value(accounts.AddFailedSignIn("address:192.0.2.1", 2500)) == 1);
  CHECK(Value(accounts.AddFailedSignIn("user:ann", 3000)) == 3);
  // A server whose clock lags counts the failure but never moves the last time back.
  CHECK(Value(accounts.AddFailedSignIn("user:ann", 2200)) == 4);

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  AccountStore& reader = Reader(store, other);
  CHECK(Value(reader.FailedSignIns("user:ann")) == Failures{4, 3000});
  CHECK(Value(reader.FailedSignIns("address:192.0.2.1")) == Failures{1, 2500});
  HERALD_REQUIRE_OK(accounts.ClearFailedSignIns("user:ann"));
  HERALD_REQUIRE_OK(accounts.ClearFailedSignIns("user:nobody"));  // absent: OK
  CHECK(Value(reader.FailedSignIns("user:ann")) == Failures{0, 0});
  CHECK(Value(reader.FailedSignIns("address:192.0.2.1")) == Failures{1, 2500});
  CHECK(Value(reader.AddFailedSignIn("user:ann", 4000)) == 1);  // counting starts again
  CHECK(Value(accounts.FailedSignIns("user:ann")) == Failures{1, 4000});
}

void CheckSessions(const StoreFixture& fixture, Store& store) {
  AccountStore& accounts = *store.accounts();
  CHECK_FALSE(Value(accounts.GetSession("h1")).has_value());
  const v1::DeskSession s1 = MakeSession("h1", "ann", 1000);
  HERALD_REQUIRE_OK(accounts.CreateSession(s1));
  HERALD_REQUIRE_OK(accounts.CreateSession(MakeSession("h2", "ann", 2000)));
  HERALD_REQUIRE_OK(accounts.CreateSession(MakeSession("h3", "bob", 3000)));
  HERALD_REQUIRE_OK(accounts.CreateSession(MakeSession("h4", "bob", 1500)));
  HERALD_REQUIRE_OK(accounts.CreateSession(MakeSession("h5", "carl", 2500)));
  absl::Status taken = accounts.CreateSession(MakeSession("h1", "mallory", 99999));
  CHECK(taken.code() == absl::StatusCode::kAlreadyExists);

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  AccountStore& reader = Reader(store, other);
  // Expired sessions are still returned: the caller checks the expiry.
  std::optional<v1::DeskSession> got = Value(reader.GetSession("h1"));
  REQUIRE(got.has_value());
  CHECK(got->ShortDebugString() == s1.ShortDebugString());
  CHECK(Value(reader.GetSession("h3"))->user() == "bob");
  CHECK_FALSE(Value(reader.GetSession("h-none")).has_value());

  HERALD_REQUIRE_OK(accounts.DeleteSession("h2"));
  HERALD_REQUIRE_OK(accounts.DeleteSession("h-none"));  // absent: OK
  CHECK_FALSE(Value(reader.GetSession("h2")).has_value());
  // Expired before 1500: h1 only (h4 expires at 1500, not before).
  CHECK(Value(accounts.DeleteExpiredSessions(1500)) == 1);
  CHECK_FALSE(Value(reader.GetSession("h1")).has_value());
  CHECK(Value(reader.GetSession("h4")).has_value());
  CHECK(Value(accounts.DeleteUserSessions("bob")) == 2);
  CHECK(Value(accounts.DeleteUserSessions("bob")) == 0);
  CHECK_FALSE(Value(reader.GetSession("h3")).has_value());
  CHECK_FALSE(Value(reader.GetSession("h4")).has_value());
  CHECK(Value(reader.GetSession("h5")).has_value());
  CHECK(Value(accounts.DeleteExpiredSessions(2501)) == 1);
  CHECK_FALSE(Value(reader.GetSession("h5")).has_value());
}

void CheckAudit(const StoreFixture& fixture, Store& store) {
  AccountStore& accounts = *store.accounts();
  CHECK(Value(accounts.ReadAudit(0, 10)).empty());
  for (int i = 1; i <= 5; ++i) CHECK(Value(accounts.AppendAudit(MakeAudit(i))) == i);
  v1::AuditEntry preset = MakeAudit(6);
  preset.set_sequence(99);  // the store numbers entries, not the caller
  CHECK(Value(accounts.AppendAudit(preset)) == 6);

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  AccountStore& reader = Reader(store, other);
  auto sequences = [](const std::vector<v1::AuditEntry>& entries) {
    std::vector<int64_t> out;
    for (const v1::AuditEntry& e : entries) out.push_back(e.sequence());
    return out;
  };
  std::vector<v1::AuditEntry> all = Value(reader.ReadAudit(0, 10));
  CHECK(sequences(all) == std::vector<int64_t>{6, 5, 4, 3, 2, 1});
  v1::AuditEntry want = MakeAudit(5);
  want.set_sequence(5);
  REQUIRE(all.size() == 6);
  CHECK(all[1].ShortDebugString() == want.ShortDebugString());
  // Paging back from the newest: `before` is the last sequence seen.
  CHECK(sequences(Value(reader.ReadAudit(0, 2))) == std::vector<int64_t>{6, 5});
  CHECK(sequences(Value(reader.ReadAudit(5, 2))) == std::vector<int64_t>{4, 3});
  CHECK(sequences(Value(reader.ReadAudit(3, 2))) == std::vector<int64_t>{2, 1});
  CHECK(Value(reader.ReadAudit(1, 2)).empty());
  CHECK(sequences(Value(reader.ReadAudit(100, 1))) == std::vector<int64_t>{6});
  CHECK(reader.ReadAudit(0, 0).status().code() == absl::StatusCode::kInvalidArgument);
}

// herald forget erases a customer from Herald's data and the site's
// recipient tables; the desk's tables are neither (a desk user may well be
// named by an address that is also a customer's).
void CheckErasureLeavesAccounts(Store& store) {
  AccountStore& accounts = *store.accounts();
  const std::string address = "ann@example.com";
  HERALD_REQUIRE_OK(accounts.CreateUser(MakeUser(address, "admin", 100)));
  HERALD_REQUIRE_OK(accounts.CreateSession(MakeSession("h1", address, 9000)));
  CHECK(Value(accounts.AddFailedSignIn("user:" + address, 100)) == 1);
  v1::AuditEntry entry = MakeAudit(1);
  entry.set_user(address);
  CHECK(Value(accounts.AppendAudit(entry)) == 1);
  SubjectErasure erasure;
  erasure.selector = "email";
  erasure.recipients = {address};
  erasure.user_ids = {address};
  REQUIRE(store.personal_data() != nullptr);
  Value(store.personal_data()->EraseSubject(erasure, v1::ForgetLogEntry()));
  CHECK(Value(accounts.GetUser(address)).has_value());
  CHECK(Value(accounts.GetSession("h1")).has_value());
  CHECK(Value(accounts.FailedSignIns("user:" + address)).first == 1);
  CHECK(Value(accounts.ReadAudit(0, 10)).size() == 1);
}

// Every failed sign-in counts, whichever thread or process adds it: the
// counts handed back are exactly 1..N*M, each once.
void CheckConcurrentAccounts(const StoreFixture& fixture, Store& store) {
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  constexpr int kThreads = 8, kEach = 25;
  absl::Mutex mu;
  std::vector<int64_t> counts;
  std::atomic<int> failures{0}, created{0}, taken{0};
  Concurrently(kThreads, [&](int t) {
    Store& s = (other != nullptr && t % 2 == 1) ? *other : store;
    absl::Status c = s.accounts()->CreateUser(MakeUser("ann", "admin", t));
    if (c.ok()) {
      created++;
    } else if (c.code() == absl::StatusCode::kAlreadyExists) {
      taken++;
    } else {
      failures++;
    }
    for (int i = 0; i < kEach; ++i) {
      auto n = s.accounts()->AddFailedSignIn("user:ann", 1000 * t + i);
      if (!n.ok()) {
        failures++;
        continue;
      }
      absl::MutexLock lock(&mu);
      counts.push_back(*n);
    }
  });
  CHECK(failures == 0);
  CHECK(created == 1);
  CHECK(taken == kThreads - 1);
  std::sort(counts.begin(), counts.end());
  std::vector<int64_t> want(kThreads * kEach);
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<int64_t>(i) + 1;
  CHECK(counts == want);
  using Failures = std::pair<int64_t, int64_t>;
  CHECK(Value(store.accounts()->FailedSignIns("user:ann")) ==
        Failures{kThreads * kEach, 1000 * (kThreads - 1) + kEach - 1});
}

// MailListStore. Lists with every field set, so that a lost column shows.
v1::MailList MakeList(std::string name, v1::MailListKind kind, std::vector<std::string> columns) {
  v1::MailList list;
  list.set_name(std::move(name));
  list.set_kind(kind);
  for (std::string& c : columns) list.add_columns(std::move(c));
  list.set_rows(999);  // set by the store: ignored
  list.set_updated_by("ann");
  list.set_updated_unix_micros(1700000000000001);
  list.set_description("spring newsletter, from \"crm-export.csv\"\nsecond line");
  return list;
}

v1::MailList OptOutList(std::string name) {
  return MakeList(std::move(name), v1::MAIL_LIST_KIND_OPT_OUT, {"email"});
}

// `list` as the store describes it: its rows set to `rows`.
std::string Described(v1::MailList list, int64_t rows) {
  list.set_rows(rows);
  return list.ShortDebugString();
}

using Rows = std::vector<std::vector<std::string>>;

Rows ScanRows(Store& store, std::string_view name) {
  Rows out;
  HERALD_REQUIRE_OK(store.mail_lists()->ScanList(name, [&](std::span<const std::string> values) {
    out.emplace_back(values.begin(), values.end());
    return absl::OkStatus();
  }));
  return out;
}

std::vector<std::string> ListNames(MailListStore& lists) {
  std::vector<std::string> out;
  for (const v1::MailList& l : Value(lists.ListLists())) out.push_back(l.name());
  return out;
}

bool Contains(absl::string_view text, std::string_view part) {
  return std::string_view(text.data(), text.size()).find(part) != std::string_view::npos;
}

// Values a CSV import or a careless encoding would break.
Rows AwkwardRows() {
  return {
      {"ann@example.com", "Ann, Jr.", "she said \"hi\""},
      {"bob@example.com", "", "line one\nline two\r\nline three"},
      {"zoe@example.com", "Zoë Þórsdóttir 日本語 🙂", "tab\there, 'single' and \\backslash"},
      {"", "", ""},
      {"nul@example.com", std::string("a\0b", 3), "\xff\xfe not UTF-8"},
      {"long@example.com", std::string(100000, 'x'), ","},
  };
}

void CheckMailListRoundTrip(const StoreFixture& fixture, Store& store) {
  MailListStore* lists = store.mail_lists();
  REQUIRE(lists != nullptr);
  CHECK(Value(lists->ListLists()).empty());
  CHECK_FALSE(Value(lists->GetList("spring")).has_value());
  absl::Status missing = lists->ScanList("spring", [](auto) { return absl::OkStatus(); });
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK(missing.message() == "list 'spring' not found");

  const v1::MailList spring = MakeList("spring", v1::MAIL_LIST_KIND_RECIPIENTS, {"email", "name", "note"});
  HERALD_REQUIRE_OK(lists->PutList(spring, AwkwardRows()));
  CHECK(Value(lists->GetList("spring"))->ShortDebugString() == Described(spring, 6));
  CHECK(ScanRows(store, "spring") == AwkwardRows());
  // Column names are kept as given too.
  const v1::MailList odd = MakeList("B-list.v2_x", v1::MAIL_LIST_KIND_RECIPIENTS, {"email", "first, name", "\"q\"", ""});
  HERALD_REQUIRE_OK(lists->PutList(odd, Rows{{"a@example.com", "A", "", "x"}}));
  const v1::MailList empty = MakeList("a-empty", v1::MAIL_LIST_KIND_RECIPIENTS, {"id"});
  HERALD_REQUIRE_OK(lists->PutList(empty, Rows{}));
  // An opt-out list keeps each address once (compared as given).
  const v1::MailList opt_outs = OptOutList("spring.opt-outs");
  HERALD_REQUIRE_OK(lists->PutList(opt_outs, Rows{{"x@example.com"}, {"y@example.com"}, {"x@example.com"},
                                                  {"X@example.com"}}));
  // By name, byte by byte.
  CHECK(ListNames(*lists) == std::vector<std::string>{"B-list.v2_x", "a-empty", "spring", "spring.opt-outs"});
  const auto all = Value(lists->ListLists());
  REQUIRE(all.size() == 4);
  CHECK(all[0].ShortDebugString() == Described(odd, 1));
  CHECK(all[1].ShortDebugString() == Described(empty, 0));
  CHECK(all[3].ShortDebugString() == Described(opt_outs, 3));
  CHECK(ScanRows(store, "spring.opt-outs") == Rows{{"x@example.com"}, {"y@example.com"}, {"X@example.com"}});
  CHECK(ScanRows(store, "a-empty").empty());
  CHECK(ScanRows(store, "B-list.v2_x") == Rows{{"a@example.com", "A", "", "x"}});

  // Another process sees the same lists.
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  if (other != nullptr) {
    CHECK(Value(other->mail_lists()->GetList("spring"))->ShortDebugString() == Described(spring, 6));
    CHECK(ScanRows(*other, "spring") == AwkwardRows());
  }
}

// Replacing a list is one transaction: readers see the old rows or the new
// ones, never a mix, and a refused replacement leaves the old list.
void CheckMailListReplace(const StoreFixture& fixture, Store& store) {
  MailListStore& lists = *store.mail_lists();
  const v1::MailList a = MakeList("news", v1::MAIL_LIST_KIND_RECIPIENTS, {"email", "name"});
  v1::MailList b = MakeList("news", v1::MAIL_LIST_KIND_RECIPIENTS, {"email", "city", "id"});
  b.set_description("replaced");
  b.set_updated_by("bob");
  b.set_updated_unix_micros(1700000000000002);
  Rows rows_a, rows_b;
  for (int i = 0; i < 1200; ++i) rows_a.push_back({absl::StrCat("a", i, "@example.com"), "A"});
  for (int i = 0; i < 1700; ++i) rows_b.push_back({absl::StrCat("b", i, "@example.com"), "B", std::to_string(i)});
  HERALD_REQUIRE_OK(lists.PutList(a, rows_a));
  HERALD_REQUIRE_OK(lists.PutList(b, rows_b));
  CHECK(Value(lists.GetList("news"))->ShortDebugString() == Described(b, 1700));
  CHECK(ScanRows(store, "news") == rows_b);
  // Refused: nothing changes.
  Rows bad = rows_a;
  bad[700].push_back("extra");
  CHECK(lists.PutList(a, bad).code() == absl::StatusCode::kInvalidArgument);
  CHECK(Value(lists.GetList("news"))->rows() == 1700);

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  Store& reader = other != nullptr ? *other : store;
  std::atomic<bool> done{false};
  std::atomic<int> scans{0}, mixed{0}, failures{0};
  std::thread scanner([&] {
    while (!done.load() || scans.load() < 3) {
      int64_t as = 0, bs = 0;
      absl::Status s = reader.mail_lists()->ScanList("news", [&](std::span<const std::string> values) {
        (values.size() == 2 ? as : bs)++;
        return absl::OkStatus();
      });
      if (!s.ok()) failures++;
      if (!((as == 1200 && bs == 0) || (as == 0 && bs == 1700))) mixed++;
      scans++;
    }
  });
  for (int i = 0; i < 6; ++i) {
    HERALD_REQUIRE_OK(lists.PutList(i % 2 == 0 ? a : b, i % 2 == 0 ? rows_a : rows_b));
  }
  done = true;
  scanner.join();
  CHECK(failures == 0);
  CHECK(mixed == 0);
  CHECK(Value(reader.mail_lists()->GetList("news"))->rows() == 1700);
}

// Pages: more than two of them, in PutList's order, stopped by the callback,
// and read from one snapshot while the list is replaced.
void CheckMailListPaging(Store& store) {
  MailListStore& lists = *store.mail_lists();
  const v1::MailList big = MakeList("big", v1::MAIL_LIST_KIND_RECIPIENTS, {"n", "email"});
  Rows rows;
  // Not in any sorted order, so that only the stored order gives them back.
  for (int i = 0; i < 2600; ++i) rows.push_back({std::to_string((i * 7919) % 2600), absl::StrCat("p", i, "@x.org")});
  HERALD_REQUIRE_OK(lists.PutList(big, rows));
  CHECK(Value(lists.GetList("big"))->rows() == 2600);
  CHECK(ScanRows(store, "big") == rows);

  int seen = 0;
  absl::Status stopped = lists.ScanList("big", [&](std::span<const std::string>) {
    return ++seen == 1500 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  CHECK(stopped.code() == absl::StatusCode::kCancelled);
  CHECK(seen == 1500);

  // Replaced (by another thread: the callback itself must not write) while
  // the scan has read one row: the scan still gives the rows it began with.
  Rows scanned;
  absl::Status replaced;
  HERALD_REQUIRE_OK(lists.ScanList("big", [&](std::span<const std::string> values) {
    if (scanned.empty()) {
      std::thread writer([&] { replaced = lists.PutList(big, Rows{{"1", "new@x.org"}}); });
      writer.join();
    }
    scanned.emplace_back(values.begin(), values.end());
    return absl::OkStatus();
  }));
  HERALD_REQUIRE_OK(replaced);
  CHECK(scanned == rows);
  CHECK(ScanRows(store, "big") == Rows{{"1", "new@x.org"}});
}

void CheckMailListRefusals(Store& store) {
  MailListStore& lists = *store.mail_lists();
  // A row of the wrong width is refused, naming the list and the row.
  absl::Status width = lists.PutList(MakeList("wide", v1::MAIL_LIST_KIND_RECIPIENTS, {"email", "name"}),
                                     Rows{{"a@x.org", "A"}, {"b@x.org"}, {"c@x.org", "C"}});
  CHECK(width.code() == absl::StatusCode::kInvalidArgument);
  CHECK(width.message() == "list 'wide': row 2 has 1 value(s) for 2 column(s)");
  CHECK_FALSE(Value(lists.GetList("wide")).has_value());

  const std::string longest(64, 'n');
  HERALD_REQUIRE_OK(lists.PutList(OptOutList(longest), Rows{}));
  for (std::string name : {std::string(), std::string(65, 'n'), std::string("a b"), std::string("a/b"),
                           std::string("Zoë"), std::string("x;y"), std::string("a\nb")}) {
    CAPTURE(name);
    absl::Status put = lists.PutList(OptOutList(name), Rows{});
    CHECK(put.code() == absl::StatusCode::kInvalidArgument);
    CHECK(put.message() == absl::StrCat("list name '", name, "' is not valid: 1-64 of [A-Za-z0-9._-]"));
    auto add = lists.AddOptOuts(name, std::vector<std::string>{"a@x.org"}, "ann", 1);
    CHECK(add.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(add.status().message(), absl::StrCat("'", name, "'")));
  }
  CHECK(ListNames(lists) == std::vector<std::string>{longest});

  // An opt-out list has the one column "email"; a list has a kind.
  for (const std::vector<std::string>& columns :
       {std::vector<std::string>{}, std::vector<std::string>{"Email"}, std::vector<std::string>{"email", "name"},
        std::vector<std::string>{"name", "email"}}) {
    absl::Status s = lists.PutList(MakeList("opt", v1::MAIL_LIST_KIND_OPT_OUT, columns),
                                   Rows(1, std::vector<std::string>(columns.size(), "a@x.org")));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(s.message(), "list 'opt': an opt-out list has the one column \"email\""));
  }
  absl::Status unkinded = lists.PutList(MakeList("nokind", v1::MAIL_LIST_KIND_UNSPECIFIED, {"email"}), Rows{});
  CHECK(unkinded.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Contains(unkinded.message(), "list 'nokind'"));
  absl::Status no_columns = lists.PutList(MakeList("nocols", v1::MAIL_LIST_KIND_RECIPIENTS, {}), Rows{});
  CHECK(no_columns.code() == absl::StatusCode::kInvalidArgument);
  CHECK(ListNames(lists) == std::vector<std::string>{longest});
}

void CheckOptOuts(Store& store) {
  MailListStore& lists = *store.mail_lists();
  // Absent: created, with `by` and the time.
  CHECK(Value(lists.AddOptOuts("unsub", std::vector<std::string>{"a@x.org", "b@x.org", "a@x.org"}, "web", 10)) == 2);
  v1::MailList want = OptOutList("unsub");
  want.set_updated_by("web");
  want.set_updated_unix_micros(10);
  want.clear_description();
  CHECK(Value(lists.GetList("unsub"))->ShortDebugString() == Described(want, 2));
  // Idempotent; only new addresses count (compared as given), after the others.
  CHECK(Value(lists.AddOptOuts("unsub", std::vector<std::string>{"b@x.org", "a@x.org"}, "web", 11)) == 0);
  CHECK(Value(lists.GetList("unsub"))->updated_unix_micros() == 10);  // nothing changed
  CHECK(Value(lists.AddOptOuts("unsub", std::vector<std::string>{"c@x.org", "a@x.org", "A@x.org"}, "desk", 12)) == 2);
  want.set_updated_by("desk");
  want.set_updated_unix_micros(12);
  CHECK(Value(lists.GetList("unsub"))->ShortDebugString() == Described(want, 4));
  CHECK(ScanRows(store, "unsub") == Rows{{"a@x.org"}, {"b@x.org"}, {"c@x.org"}, {"A@x.org"}});
  // Added after the rows PutList gave.
  HERALD_REQUIRE_OK(lists.PutList(OptOutList("imported"), Rows{{"p@x.org"}, {"q@x.org"}}));
  CHECK(Value(lists.AddOptOuts("imported", std::vector<std::string>{"q@x.org", "r@x.org"}, "ann", 13)) == 1);
  CHECK(ScanRows(store, "imported") == Rows{{"p@x.org"}, {"q@x.org"}, {"r@x.org"}});
  CHECK(Value(lists.GetList("imported"))->rows() == 3);
  // Replaced, with addresses it had: the new rows only, each once.
  HERALD_REQUIRE_OK(lists.PutList(OptOutList("imported"), Rows{{"r@x.org"}, {"s@x.org"}, {"r@x.org"}}));
  CHECK(ScanRows(store, "imported") == Rows{{"r@x.org"}, {"s@x.org"}});
  CHECK(Value(lists.GetList("imported"))->rows() == 2);
  CHECK(Value(lists.AddOptOuts("imported", std::vector<std::string>{"p@x.org", "s@x.org"}, "ann", 13)) == 1);
  CHECK(ScanRows(store, "imported") == Rows{{"r@x.org"}, {"s@x.org"}, {"p@x.org"}});
  // No addresses: the list is created all the same.
  CHECK(Value(lists.AddOptOuts("quiet", std::vector<std::string>{}, "ann", 14)) == 0);
  CHECK(Value(lists.GetList("quiet"))->rows() == 0);
  CHECK(Value(lists.GetList("quiet"))->kind() == v1::MAIL_LIST_KIND_OPT_OUT);
  // A recipient list is not an opt-out list: refused, and left as it was.
  HERALD_REQUIRE_OK(lists.PutList(MakeList("customers", v1::MAIL_LIST_KIND_RECIPIENTS, {"email"}), Rows{{"z@x.org"}}));
  auto refused = lists.AddOptOuts("customers", std::vector<std::string>{"y@x.org"}, "ann", 15);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Contains(refused.status().message(), "list 'customers'"));
  CHECK(ScanRows(store, "customers") == Rows{{"z@x.org"}});
  CHECK(Value(lists.GetList("customers"))->rows() == 1);
}

// The same addresses added by four threads (and processes) at once: each is
// added exactly once in all, and the list counts each once.
void CheckConcurrentOptOuts(const StoreFixture& fixture, Store& store) {
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  constexpr int kThreads = 4, kAddresses = 60;
  std::atomic<int64_t> added{0};
  std::atomic<int> failures{0};
  Concurrently(kThreads, [&](int t) {
    Store& s = (other != nullptr && t % 2 == 1) ? *other : store;
    for (int batch = 0; batch < 6; ++batch) {
      std::vector<std::string> addresses;
      // Overlapping batches, each thread in its own order.
      for (int i = 0; i < 15; ++i) {
        addresses.push_back(absl::StrCat("u", (batch * 10 + i * (t + 1)) % kAddresses, "@x.org"));
      }
      auto n = s.mail_lists()->AddOptOuts("race", addresses, absl::StrCat("t", t), batch);
      if (n.ok()) {
        added += *n;
      } else {
        INFO(n.status().ToString());
        failures++;
      }
    }
  });
  CHECK(failures == 0);
  const Rows rows = ScanRows(store, "race");
  std::set<std::string> unique;
  for (const auto& r : rows) unique.insert(r.at(0));
  CHECK(unique.size() == rows.size());
  CHECK(added == static_cast<int64_t>(rows.size()));
  CHECK(Value(store.mail_lists()->GetList("race"))->rows() == static_cast<int64_t>(rows.size()));
  CHECK(rows.size() > 15);
}

void CheckDeleteList(const StoreFixture& fixture, Store& store) {
  MailListStore& lists = *store.mail_lists();
  HERALD_REQUIRE_OK(lists.PutList(MakeList("old", v1::MAIL_LIST_KIND_RECIPIENTS, {"email"}), Rows{{"a@x.org"}, {"b@x.org"}}));
  HERALD_REQUIRE_OK(lists.PutList(OptOutList("keep"), Rows{{"a@x.org"}}));
  HERALD_REQUIRE_OK(lists.DeleteList("old"));
  CHECK_FALSE(Value(lists.GetList("old")).has_value());
  CHECK(lists.ScanList("old", [](auto) { return absl::OkStatus(); }).code() == absl::StatusCode::kNotFound);
  absl::Status again = lists.DeleteList("old");
  CHECK(again.code() == absl::StatusCode::kNotFound);
  CHECK(again.message() == "list 'old' not found");
  CHECK(ListNames(lists) == std::vector<std::string>{"keep"});
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  if (other != nullptr) CHECK_FALSE(Value(other->mail_lists()->GetList("old")).has_value());
  // The name is free again, without the old rows; an opt-out list named as a deleted one starts empty.
  HERALD_REQUIRE_OK(lists.PutList(MakeList("old", v1::MAIL_LIST_KIND_RECIPIENTS, {"email"}), Rows{{"c@x.org"}}));
  CHECK(ScanRows(store, "old") == Rows{{"c@x.org"}});
  HERALD_REQUIRE_OK(lists.DeleteList("keep"));
  CHECK(Value(lists.AddOptOuts("keep", std::vector<std::string>{"a@x.org"}, "ann", 1)) == 1);
}

// herald forget deletes the person's rows from recipient lists (their
// "email" compared trimmed and lowercased) and keeps them on opt-out lists.
void CheckMailListErasure(const StoreFixture& fixture, Store& store) {
  MailListStore& lists = *store.mail_lists();
  HERALD_REQUIRE_OK(lists.PutList(MakeList("customers", v1::MAIL_LIST_KIND_RECIPIENTS, {"id", "email", "name"}),
                                  Rows{{"1", " Ann@Example.COM\t", "Ann"}, {"2", "bob@example.com", "Bob"},
                                       {"3", "carl@example.com", "ann@example.com"}}));
  HERALD_REQUIRE_OK(lists.PutList(MakeList("vip", v1::MAIL_LIST_KIND_RECIPIENTS, {"email"}),
                                  Rows{{"ann@example.com"}, {"dan@example.com"}, {"ANN@example.com"}}));
  HERALD_REQUIRE_OK(lists.PutList(MakeList("no-email", v1::MAIL_LIST_KIND_RECIPIENTS, {"id", "name"}),
                                  Rows{{"1", "Ann"}}));
  HERALD_REQUIRE_OK(lists.PutList(OptOutList("unsub"), Rows{{"ann@example.com"}, {"eve@example.com"}}));
  SubjectErasure erasure;
  erasure.selector = "email";
  erasure.recipients = {"ann@example.com "};
  REQUIRE(store.personal_data() != nullptr);
  const v1::ForgetLogEntry entry = Value(store.personal_data()->EraseSubject(erasure, v1::ForgetLogEntry()));
  CHECK(entry.table_rows() == 3);
  CHECK(Value(lists.GetList("customers"))->rows() == 2);
  CHECK(ScanRows(store, "customers") == Rows{{"2", "bob@example.com", "Bob"}, {"3", "carl@example.com", "ann@example.com"}});
  CHECK(Value(lists.GetList("vip"))->rows() == 1);
  CHECK(ScanRows(store, "vip") == Rows{{"dan@example.com"}});
  CHECK(ScanRows(store, "no-email") == Rows{{"1", "Ann"}});
  // Never mailed again: the opt-out list keeps the address.
  CHECK(ScanRows(store, "unsub") == Rows{{"ann@example.com"}, {"eve@example.com"}});
  CHECK(Value(lists.GetList("unsub"))->rows() == 2);
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  if (other != nullptr) CHECK(ScanRows(*other, "vip") == Rows{{"dan@example.com"}});
  // The lists keep working: an erased address may be added again, and rows follow the last one.
  CHECK(Value(store.personal_data()->EraseSubject(erasure, v1::ForgetLogEntry())).table_rows() == 0);
  HERALD_REQUIRE_OK(lists.PutList(MakeList("vip", v1::MAIL_LIST_KIND_RECIPIENTS, {"email"}),
                                  Rows{{"dan@example.com"}, {"ann@example.com"}}));
  CHECK(Value(lists.GetList("vip"))->rows() == 2);
}

// CouponStore's committed orders. Orders with every field set, so that a
// lost column shows; times with microseconds, the stores' precision.
absl::Time OrderTime(int64_t second) { return absl::FromUnixMicros(1700000000000000 + second * 1000000 + 7); }

CommittedOrder MakeOrder(std::string id, std::string customer, std::string currency, int64_t second,
                         std::vector<CouponUse> coupons = {}, std::vector<OrderDiscountUse> discounts = {}) {
  CommittedOrder order;
  order.order_id = std::move(id);
  order.customer_id = std::move(customer);
  order.currency = std::move(currency);
  order.time = OrderTime(second);
  order.subtotal_minor = 10000 + second;
  order.total_minor = 9000 + second;
  order.coupons = std::move(coupons);
  order.discounts = std::move(discounts);
  return order;
}

// A discount row as one line, so that a mismatch shows both sides whole.
std::string RowText(const OrderDiscountRow& row) {
  return absl::StrCat(absl::ToUnixMicros(row.time), " ", row.order_id, " ", row.use.discount_id, " ",
                      row.use.campaign_id, " ", row.currency, " ", row.use.units, " ", row.use.amount_minor);
}

// The rows ScanOrderDiscounts should give for `orders`: by time, order id, discount id.
std::vector<std::string> ExpectedRows(const std::vector<CommittedOrder>& orders) {
  std::vector<std::pair<std::tuple<int64_t, std::string, std::string>, std::string>> rows;
  for (const CommittedOrder& order : orders) {
    for (const OrderDiscountUse& use : order.discounts) {
      rows.emplace_back(std::make_tuple(absl::ToUnixMicros(order.time), order.order_id, use.discount_id),
                        RowText(OrderDiscountRow{order.order_id, order.time, order.currency, use}));
    }
  }
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.second);
  return out;
}

std::vector<std::string> ScanDiscounts(Store& store, absl::Time from = absl::InfinitePast(),
                                       absl::Time to = absl::InfiniteFuture()) {
  std::vector<std::string> out;
  HERALD_REQUIRE_OK(store.coupons().ScanOrderDiscounts(from, to, [&](const OrderDiscountRow& row) {
    out.push_back(RowText(row));
    return absl::OkStatus();
  }));
  return out;
}

// CountOrders as "currency:orders:subtotal:total" lines.
std::vector<std::string> Totals(Store& store, absl::Time from = absl::InfinitePast(),
                                absl::Time to = absl::InfiniteFuture()) {
  std::vector<std::string> out;
  for (const CouponStore::OrderTotals& t : Value(store.coupons().CountOrders(from, to))) {
    out.push_back(absl::StrCat(t.currency, ":", t.orders, ":", t.subtotal_minor, ":", t.total_minor));
  }
  return out;
}

// A commit records the order, its coupons and its discounts; the same order
// again is a no-op whatever it carries; another connection sees it all.
void CheckOrderCommit(const StoreFixture& fixture, Store& store) {
  CouponStore& coupons = store.coupons();
  CHECK(ScanDiscounts(store).empty());
  CHECK(Totals(store).empty());
  const CommittedOrder o1 = MakeOrder("o1", "alice", "USD", 10, {{"SPRING", 2, 1}, {"VIP", 0, 0}},
                                      {{"d-ship", "c-summer", 0, 500}, {"d-2for1", "c-summer", 2, 1250}});
  HERALD_REQUIRE_OK(coupons.CommitOrder(o1));
  const std::vector<std::string> rows = ExpectedRows({o1});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == "1700000010000007 o1 d-2for1 c-summer USD 2 1250");  // by discount id
  CHECK(ScanDiscounts(store) == rows);
  CHECK(Totals(store) == std::vector<std::string>{"USD:1:10010:9010"});
  CHECK(Value(coupons.CouponUses("SPRING")) == 1);
  CHECK(Value(coupons.CouponUses("SPRING", "alice")) == 1);
  CHECK(Value(coupons.CouponUses("VIP")) == 1);

  // Again, carrying other data (another currency, coupon and discount): nothing changes.
  CommittedOrder changed = MakeOrder("o1", "bob", "EUR", 20, {{"OTHER", 0, 0}}, {{"d-new", "c-new", 1, 1}});
  HERALD_REQUIRE_OK(coupons.CommitOrder(changed));
  HERALD_REQUIRE_OK(coupons.CommitOrder(o1));
  CHECK(ScanDiscounts(store) == rows);
  CHECK(Totals(store) == std::vector<std::string>{"USD:1:10010:9010"});
  CHECK(Value(coupons.CouponUses("SPRING")) == 1);
  CHECK(Value(coupons.CouponUses("OTHER")) == 0);

  // An order with neither coupons nor discounts is counted, and, once
  // committed, RedeemCoupons of its id is a no-op too.
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("o2", "bob", "EUR", 11)));
  HERALD_REQUIRE_OK(coupons.RedeemCoupons("o2", "bob", std::vector<CouponUse>{{"VIP", 0, 0}}));
  CHECK(Value(coupons.CouponUses("VIP")) == 1);
  CHECK(Totals(store) == std::vector<std::string>{"EUR:1:10011:9011", "USD:1:10010:9010"});
  CHECK(ScanDiscounts(store) == rows);

  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  if (other != nullptr) {
    CHECK(ScanDiscounts(*other) == rows);
    CHECK(Totals(*other) == std::vector<std::string>{"EUR:1:10011:9011", "USD:1:10010:9010"});
    HERALD_REQUIRE_OK(other->coupons().CommitOrder(changed));  // another process: still a no-op
    CHECK(Totals(store) == std::vector<std::string>{"EUR:1:10011:9011", "USD:1:10010:9010"});
  }
}

// A limit reached records nothing of the order; an order RedeemCoupons
// recorded is not committed again; bad orders are refused, recording nothing.
void CheckOrderRefusals(Store& store) {
  CouponStore& coupons = store.coupons();
  HERALD_REQUIRE_OK(coupons.RedeemCoupons("legacy", "ann", std::vector<CouponUse>{{"VIP", 0, 0}}));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("legacy", "ann", "USD", 1, {{"VIP", 0, 0}}, {{"d1", "c1", 1, 100}})));
  CHECK(Totals(store).empty());
  CHECK(ScanDiscounts(store).empty());
  CHECK(Value(coupons.CouponUses("VIP")) == 1);

  const CommittedOrder first = MakeOrder("o-a", "ann", "USD", 2, {{"ONCE", 1, 0}}, {{"d1", "c1", 1, 100}});
  HERALD_REQUIRE_OK(coupons.CommitOrder(first));
  CommittedOrder refused = MakeOrder("o-b", "bob", "USD", 3, {{"ONCE", 1, 0}, {"FREE", 0, 0}},
                                     {{"d1", "c1", 1, 100}, {"d2", "c1", 0, 50}});
  absl::Status limit = coupons.CommitOrder(refused);
  CHECK(limit.code() == absl::StatusCode::kResourceExhausted);
  CHECK(Contains(limit.message(), "ONCE"));
  CHECK(Totals(store) == std::vector<std::string>{"USD:1:10002:9002"});
  CHECK(ScanDiscounts(store) == ExpectedRows({first}));
  CHECK(Value(coupons.CouponUses("ONCE")) == 1);
  CHECK(Value(coupons.CouponUses("FREE")) == 0);
  // Nothing of o-b was kept: without the spent coupon it commits in full.
  refused.coupons = {{"FREE", 0, 0}};
  HERALD_REQUIRE_OK(coupons.CommitOrder(refused));
  CHECK(Value(coupons.CouponUses("FREE")) == 1);
  CHECK(ScanDiscounts(store) == ExpectedRows({first, refused}));

  // Per customer: ann's second use is refused, bob's first is not.
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("o-c", "ann", "USD", 4, {{"MINE", 0, 1}})));
  absl::Status mine = coupons.CommitOrder(MakeOrder("o-d", "ann", "USD", 5, {{"MINE", 0, 1}}));
  CHECK(mine.code() == absl::StatusCode::kResourceExhausted);
  CHECK(Contains(mine.message(), "ann"));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("o-e", "bob", "USD", 6, {{"MINE", 0, 1}})));
  CHECK(Value(coupons.CouponUses("MINE")) == 2);
  CHECK(Totals(store) == std::vector<std::string>{"USD:4:40015:36015"});

  // No order id; a discount listed twice (named); a coupon without a code.
  absl::Status no_id = coupons.CommitOrder(MakeOrder("", "ann", "USD", 7, {}, {{"d1", "c1", 1, 100}}));
  CHECK(no_id.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Contains(no_id.message(), "order id"));
  const CommittedOrder twice = MakeOrder("o-f", "ann", "USD", 8, {{"VIP", 0, 0}},
                                         {{"d1", "c1", 1, 100}, {"d2", "c1", 1, 10}, {"d1", "c2", 2, 200}});
  absl::Status duplicate = coupons.CommitOrder(twice);
  CHECK(duplicate.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Contains(duplicate.message(), "o-f"));
  CHECK(Contains(duplicate.message(), "\"d1\""));
  CHECK(coupons.CommitOrder(MakeOrder("o-g", "ann", "USD", 9, {{"", 0, 0}})).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(Totals(store) == std::vector<std::string>{"USD:4:40015:36015"});
  CHECK(Value(coupons.CouponUses("VIP")) == 1);
  CHECK(ScanDiscounts(store) == ExpectedRows({first, refused}));
}

// 1,500 orders (more than one page of rows), three at each time, ids out
// of time order and discounts listed out of id order; every tenth order
// has none.
std::vector<CommittedOrder> ManyOrders() {
  std::vector<CommittedOrder> orders;
  for (int i = 0; i < 1500; ++i) {
    std::vector<OrderDiscountUse> discounts;
    if (i % 10 != 0) discounts = {{"d-b", "c-" + std::to_string(i % 4), 1, i}, {"d-a", "c-x", 0, 2 * i}};
    orders.push_back(MakeOrder(absl::StrCat("o", (i * 7) % 1500), "c", i % 2 == 0 ? "USD" : "EUR", i / 3, {},
                               std::move(discounts)));
  }
  return orders;
}

void CheckOrderScans(Store& store) {
  std::vector<CommittedOrder> orders = ManyOrders();
  for (const CommittedOrder& order : orders) HERALD_REQUIRE_OK(store.coupons().CommitOrder(order));
  const std::vector<std::string> all = ExpectedRows(orders);
  REQUIRE(all.size() == 2700);
  CHECK(ScanDiscounts(store) == all);

  // [from, to): times 100 to 199 (orders 300 to 599), not 200.
  std::vector<CommittedOrder> middle(orders.begin() + 300, orders.begin() + 600);
  const std::vector<std::string> some = ExpectedRows(middle);
  CHECK(ScanDiscounts(store, OrderTime(100), OrderTime(200)) == some);
  CHECK(ScanDiscounts(store, OrderTime(100), OrderTime(100)).empty());
  CHECK(ScanDiscounts(store, OrderTime(499) + absl::Microseconds(1)).empty());
  CHECK(ScanDiscounts(store, absl::InfinitePast(), OrderTime(1)) ==
        ExpectedRows(std::vector<CommittedOrder>(orders.begin(), orders.begin() + 3)));

  // Stopped by the callback: its status comes back, nothing more is read.
  int seen = 0;
  absl::Status stopped = store.coupons().ScanOrderDiscounts(
      absl::InfinitePast(), absl::InfiniteFuture(), [&](const OrderDiscountRow&) {
        return ++seen == 1200 ? absl::CancelledError("enough") : absl::OkStatus();
      });
  CHECK(stopped.code() == absl::StatusCode::kCancelled);
  CHECK(stopped.message() == "enough");
  CHECK(seen == 1200);

  // One snapshot: an order committed (by another thread: the callback itself
  // must not write) while the scan has read one row is not seen by it,
  // though it falls on the last page.
  const CommittedOrder late = MakeOrder("late", "c", "USD", 600, {}, {{"d-late", "c-x", 1, 1}});
  std::vector<std::string> scanned;
  absl::Status committed;
  HERALD_REQUIRE_OK(store.coupons().ScanOrderDiscounts(
      absl::InfinitePast(), absl::InfiniteFuture(), [&](const OrderDiscountRow& row) {
        if (scanned.empty()) {
          std::thread writer([&] { committed = store.coupons().CommitOrder(late); });
          writer.join();
        }
        scanned.push_back(RowText(row));
        return absl::OkStatus();
      }));
  HERALD_REQUIRE_OK(committed);
  CHECK(scanned == all);
  orders.push_back(late);
  CHECK(ScanDiscounts(store) == ExpectedRows(orders));
}

void CheckOrderCounts(Store& store) {
  CouponStore& coupons = store.coupons();
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("u1", "a", "USD", 1, {}, {{"d1", "c1", 1, 100}})));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("u2", "b", "USD", 2)));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("e1", "c", "EUR", 2)));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("g1", "d", "GBP", 5)));
  HERALD_REQUIRE_OK(coupons.CommitOrder(MakeOrder("u3", "e", "USD", 9)));
  CHECK(Totals(store) ==
        std::vector<std::string>{"EUR:1:10002:9002", "GBP:1:10005:9005", "USD:3:30012:27012"});
  CHECK(Totals(store, OrderTime(2), OrderTime(5)) == std::vector<std::string>{"EUR:1:10002:9002", "USD:1:10002:9002"});
  CHECK(Totals(store, OrderTime(5), OrderTime(9)) == std::vector<std::string>{"GBP:1:10005:9005"});
  CHECK(Totals(store, OrderTime(3), OrderTime(5)).empty());
  CHECK(Totals(store, OrderTime(9) + absl::Microseconds(1)).empty());
}

// Several threads, two connections where the backend has them: each order
// is committed by two threads at once (one per connection); the orders
// with the coupon limited to 5 uses record 5 of them, every order without
// coupons records once.
void CheckConcurrentOrders(const StoreFixture& fixture, Store& store) {
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  std::atomic<int> ok{0}, exhausted{0}, failures{0};
  absl::Mutex mu;
  std::string failure;  // the first, shown on failure (Catch2 asserts on this thread only)
  auto fail = [&](const absl::Status& s) {
    failures++;
    absl::MutexLock lock(&mu);
    if (failure.empty()) failure = s.ToString();
  };
  Concurrently(12, [&](int t) {
    Store& s = (other != nullptr && t % 2 == 1) ? *other : store;
    const int pair = t / 2;
    for (int i = 0; i < 3; ++i) {
      absl::Status r = s.coupons().CommitOrder(MakeOrder(absl::StrCat("order-", pair, "-", i), absl::StrCat("c", pair),
                                                         "USD", pair, {{"LIMITED", 5, 0}}, {{"d", "c", 1, 10}}));
      if (r.ok()) {
        ok++;
      } else if (r.code() == absl::StatusCode::kResourceExhausted) {
        exhausted++;
      } else {
        fail(r);
      }
    }
    absl::Status free_order = s.coupons().CommitOrder(
        MakeOrder(absl::StrCat("free-", pair), absl::StrCat("c", pair), "USD", pair, {}, {{"d", "c", 1, 10}}));
    if (!free_order.ok()) fail(free_order);
  });
  INFO(failure);
  CHECK(failures == 0);
  CHECK(ok == 10);  // 5 orders, each answered OK to both of its threads
  CHECK(exhausted == 26);
  CHECK(Value(store.coupons().CouponUses("LIMITED")) == 5);
  const std::vector<CouponStore::OrderTotals> totals =
      Value(store.coupons().CountOrders(absl::InfinitePast(), absl::InfiniteFuture()));
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].orders == 11);
  std::multiset<std::string> ids;
  HERALD_REQUIRE_OK(store.coupons().ScanOrderDiscounts(absl::InfinitePast(), absl::InfiniteFuture(),
                                                       [&](const OrderDiscountRow& row) {
                                                         ids.insert(row.order_id);
                                                         return absl::OkStatus();
                                                       }));
  CHECK(ids.size() == 11);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 11);
  for (int pair = 0; pair < 6; ++pair) CHECK(ids.count(absl::StrCat("free-", pair)) == 1);
}

void CheckListWatermarks(const StoreFixture& fixture, Store& store) {
  WatermarkStore& marks = store.watermarks();
  CHECK(Value(marks.ListWatermarks()).empty());
  HERALD_REQUIRE_OK(marks.SetWatermark("meta", 10));
  HERALD_REQUIRE_OK(marks.SetWatermark("google", 3));
  HERALD_REQUIRE_OK(marks.SetWatermark("Zeta", 7));  // bytes: before every lower-case name
  HERALD_REQUIRE_OK(marks.SetWatermark("file:/exports/a.csv", 1));
  HERALD_REQUIRE_OK(marks.SetWatermark("meta", 12));
  CHECK(marks.SetWatermark("google", 2).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Value(marks.GetWatermark("unset")) == 0);  // read, never set: not listed
  using Marks = std::vector<std::pair<std::string, int64_t>>;
  const Marks want = {{"Zeta", 7}, {"file:/exports/a.csv", 1}, {"google", 3}, {"meta", 12}};
  CHECK(Value(marks.ListWatermarks()) == want);
  std::unique_ptr<Store> other = fixture.open_again ? fixture.open_again(store) : nullptr;
  if (other != nullptr) CHECK(Value(other->watermarks().ListWatermarks()) == want);
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

  SECTION("event text round-trips byte for byte, and a batch larger than a write chunk lands whole") {
    // What array literals and COPY treat specially: quotes, backslashes,
    // commas, braces, tabs, newlines, NULL spelled out, multi-byte UTF-8.
    const std::vector<std::string> awkward = {"a\"b", "c\\d", "e,f", "{g}", "h\ti", "j\nk", "NULL", "",
                                              "\\N", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x89"};
    std::vector<v1::Event> events;
    for (size_t i = 0; i < awkward.size(); ++i) {
      v1::Event e = MakeEvent(100, v1::EVENT_TYPE_CUSTOM, awkward[i], awkward[(i + 1) % awkward.size()],
                              awkward[(i + 2) % awkward.size()], awkward[(i + 3) % awkward.size()]);
      e.set_custom_name(awkward[(i + 4) % awkward.size()]);
      e.set_session_id(awkward[(i + 5) % awkward.size()]);
      e.set_count(-static_cast<int64_t>(i) * 1000000007);
      events.push_back(e);
    }
    // About 3 MB: several chunks of a COPY, several pages of a scan.
    const std::string long_name(150, 'x');
    for (int i = 0; i < 20000; ++i) {
      v1::Event e = MakeEvent(200 + i / 100, v1::EVENT_TYPE_REQUEST, "ad-" + std::to_string(i % 7), "c1",
                              "user-" + std::to_string(i));
      e.set_custom_name(long_name);
      events.push_back(e);
    }
    HERALD_REQUIRE_OK(store->events().AppendEvents(events));
    auto all = ScanAll(*store);
    REQUIRE(all.size() == events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      INFO("event " << i);
      REQUIRE(all[i].SerializeAsString() == events[i].SerializeAsString());
    }
  }

  SECTION("a history batch naming a user twice keeps the last one given") {
    UserHistory first, second;
    first.recent = {"ad-a"};
    second.recent = {"ad-b"};
    second.exposures = {{"ad-b", 3}};
    std::vector<std::pair<std::string, UserHistory>> batch = {{"u1", first}, {"u2", first}, {"u1", second}};
    HERALD_REQUIRE_OK(store->history().SaveHistories(batch));
    auto u1 = Value(store->history().LoadHistory("u1"));
    REQUIRE(u1.has_value());
    CHECK(u1->recent == second.recent);
    CHECK(u1->exposures == second.exposures);
    CHECK(Value(store->history().LoadHistory("u2"))->recent == first.recent);
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

  SECTION("accounts: users create, read, list by name, update, delete with their sessions") {
    CheckAccountUsers(fixture, *store);
  }
  SECTION("accounts: failed sign-ins count per key, keep the last time, clear") {
    CheckFailedSignIns(fixture, *store);
  }
  SECTION("accounts: sessions create, read, delete one, per user and expired") {
    CheckSessions(fixture, *store);
  }
  SECTION("accounts: the audit log numbers entries and pages newest first") {
    CheckAudit(fixture, *store);
  }
  SECTION("accounts: erasing a person (herald forget) leaves the desk's accounts alone") {
    CheckErasureLeavesAccounts(*store);
  }
  SECTION("accounts: concurrent failed sign-ins all count, one of concurrent creations lands") {
    CheckConcurrentAccounts(fixture, *store);
  }

  SECTION("mail lists: put, get, list by name and scan keep awkward values as given") {
    CheckMailListRoundTrip(fixture, *store);
  }
  SECTION("mail lists: a replacement is atomic, counted, and a refused one changes nothing") {
    CheckMailListReplace(fixture, *store);
  }
  SECTION("mail lists: scans page in order, stop when told, and read one snapshot") {
    CheckMailListPaging(*store);
  }
  SECTION("mail lists: bad widths, names, kinds and opt-out columns are refused") {
    CheckMailListRefusals(*store);
  }
  SECTION("mail lists: opt-outs are added once each, creating the list, never to a recipient list") {
    CheckOptOuts(*store);
  }
  SECTION("mail lists: concurrent opt-outs of the same addresses count each once") {
    CheckConcurrentOptOuts(fixture, *store);
  }
  SECTION("mail lists: a deleted list is gone with its rows") {
    CheckDeleteList(fixture, *store);
  }
  SECTION("mail lists: erasing a person deletes recipient rows and keeps opt-outs") {
    CheckMailListErasure(fixture, *store);
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

  SECTION("orders: a commit records the order, its coupons and discounts; again it is a no-op") {
    CheckOrderCommit(fixture, *store);
  }
  SECTION("orders: a limit reached records nothing, RedeemCoupons' orders stay, bad orders are refused") {
    CheckOrderRefusals(*store);
  }
  SECTION("orders: discount scans keep [from, to) and the order, page, stop when told, read one snapshot") {
    CheckOrderScans(*store);
  }
  SECTION("orders: counted per currency in [from, to), sorted by currency") {
    CheckOrderCounts(*store);
  }
  SECTION("orders: concurrent commits never exceed a coupon limit and record each order once") {
    CheckConcurrentOrders(fixture, *store);
  }
  SECTION("watermarks: every destination set, by name, with its value") {
    CheckListWatermarks(fixture, *store);
  }

  SECTION("flush and describe") {
    HERALD_REQUIRE_OK(store->Flush());
    CHECK_FALSE(store->Describe().empty());
  }
}

}  // namespace herald::testing
