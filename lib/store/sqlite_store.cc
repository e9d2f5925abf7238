#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "core/strings.h"
#include "herald/store_backend.h"

namespace herald::store_backend {
namespace {

// The schema, version 1. Migrations from older versions go in kMigrations.
constexpr const char* kSchemaV1[] = {
    "CREATE TABLE counters(item_id TEXT PRIMARY KEY, requests INTEGER NOT NULL DEFAULT 0,"
    " clicks INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, type INTEGER NOT NULL,"
    " custom_name TEXT NOT NULL, user_id TEXT NOT NULL, session_id TEXT NOT NULL,"
    " item_id TEXT NOT NULL, campaign_id TEXT NOT NULL, page_group TEXT NOT NULL,"
    " count INTEGER NOT NULL)",
    "CREATE INDEX events_time ON events(time_us, seq)",
    // (events_campaign_time(campaign_id, time_us, seq) was dropped: no query
    // used it, and every event paid for it; see kDropUnusedIndexes.)
    "CREATE TABLE histories(user_id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE interactions(seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL)",
    "CREATE TABLE mail_jobs(job_id TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE mail_recipients(id INTEGER PRIMARY KEY, job_id TEXT NOT NULL,"
    " recipient TEXT NOT NULL, state INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '',"
    " attempts INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '',"
    " UNIQUE(job_id, recipient))",
    "CREATE INDEX mail_recipients_state ON mail_recipients(job_id, state, id)",
    "CREATE TABLE watermarks(destination TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE leases(name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_us INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE coupon_redemptions(order_id TEXT NOT NULL, code TEXT NOT NULL,"
    " customer_id TEXT NOT NULL, PRIMARY KEY(order_id, code)) WITHOUT ROWID",
    "CREATE INDEX coupon_redemptions_code ON coupon_redemptions(code, customer_id)",
};

// Quota leases (CounterStore::LeaseQuota): created at open when missing.
constexpr const char kQuotaLeasesTable[] =
    "CREATE TABLE IF NOT EXISTS quota_leases(item_id TEXT PRIMARY KEY, leased INTEGER NOT NULL)"
    " WITHOUT ROWID";

// Version 2: in-flight claims carry their time (the owner was already in
// `worker`). Claims left by a version-1 build read as infinitely old.
constexpr const char* kMigrationV2[] = {
    "ALTER TABLE mail_recipients ADD COLUMN claimed_us INTEGER NOT NULL DEFAULT 0",
};

// herald forget's record (PersonalDataStore::EraseSubject): created at open
// when missing, like quota_leases. `entry` is a serialized ForgetLogEntry.
constexpr const char kForgetLogTable[] =
    "CREATE TABLE IF NOT EXISTS forget_log(id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL,"
    " entry BLOB NOT NULL)";

// CatalogStore's versions: created at open when missing, like forget_log.
// `catalog` is a serialized herald.v1.Catalog as its author wrote it.
constexpr const char kCatalogVersionsTable[] =
    "CREATE TABLE IF NOT EXISTS catalog_versions(version INTEGER PRIMARY KEY,"
    " time_us INTEGER NOT NULL, author TEXT NOT NULL, summary TEXT NOT NULL,"
    " rollback_of INTEGER NOT NULL, catalog BLOB NOT NULL)";

// AccountStore's tables (the Business Desk's users, signed-in sessions,
// failed sign-in counts and audit log): created at open when missing, like
// catalog_versions. A session row holds the hash of its cookie, never the
// cookie; AUTOINCREMENT: an audit sequence is never handed out twice.
constexpr const char* kDeskTables[] = {
    "CREATE TABLE IF NOT EXISTS desk_users(name TEXT PRIMARY KEY, role TEXT NOT NULL,"
    " password_hash TEXT NOT NULL, created_us INTEGER NOT NULL, password_changed_us INTEGER NOT NULL,"
    " disabled INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS desk_sessions(id_hash TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " csrf_token TEXT NOT NULL, created_us INTEGER NOT NULL, expires_us INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS desk_sessions_user ON desk_sessions(user)",
    "CREATE TABLE IF NOT EXISTS desk_sign_in_failures(key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
    " last_us INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS desk_audit(sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time_us INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
    " detail TEXT NOT NULL)",
};

// MailListStore's tables (the List Manager's lists): created at open when
// missing, like the desk tables. `column_names` and `vals` hold
// StoredMailListValues (any bytes). A row's `address` is its erasure or
// uniqueness key: in a recipient list, the "email" value trimmed and
// lowercased (NULL without such a column), found by herald forget through
// mail_list_rows_address; in an opt-out list, the address as given, kept
// once per list by mail_list_opt_outs, so that AddOptOuts from any number
// of processes never adds one twice. `seq` orders the rows as given.
constexpr const char* kMailListTables[] = {
    "CREATE TABLE IF NOT EXISTS mail_lists(name TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
    " column_names BLOB NOT NULL, row_count INTEGER NOT NULL, updated_by TEXT NOT NULL,"
    " updated_us INTEGER NOT NULL, description TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mail_list_rows(list TEXT NOT NULL, seq INTEGER NOT NULL, address BLOB,"
    " opt_out INTEGER NOT NULL, vals BLOB NOT NULL, PRIMARY KEY(list, seq)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX IF NOT EXISTS mail_list_opt_outs ON mail_list_rows(list, address) WHERE opt_out = 1",
    "CREATE INDEX IF NOT EXISTS mail_list_rows_address ON mail_list_rows(address)"
    " WHERE opt_out = 0 AND address IS NOT NULL",
};

// CouponStore's committed orders (CommitOrder) and their discounts, what
// the discounts report reads: created at open when missing, like the mail
// list tables. No customer id: the report needs none (coupon_redemptions
// keeps the one per-customer limits need). A discount row repeats its
// order's time and currency, so that a scan by time reads one index and
// joins nothing.
constexpr const char* kOrderTables[] = {
    "CREATE TABLE IF NOT EXISTS committed_orders(order_id TEXT PRIMARY KEY, time_us INTEGER NOT NULL,"
    " currency TEXT NOT NULL, subtotal_minor INTEGER NOT NULL, total_minor INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS committed_orders_time ON committed_orders(time_us)",
    "CREATE TABLE IF NOT EXISTS order_discounts(order_id TEXT NOT NULL, discount_id TEXT NOT NULL,"
    " campaign_id TEXT NOT NULL, time_us INTEGER NOT NULL, currency TEXT NOT NULL, units INTEGER NOT NULL,"
    " amount_minor INTEGER NOT NULL, PRIMARY KEY(order_id, discount_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS order_discounts_time ON order_discounts(time_us, order_id, discount_id)",
};

// Herald's own tables: every other table is a recipient table (the site's).
constexpr std::string_view kHeraldTables[] = {
    "counters", "events", "histories", "interactions", "mail_jobs", "mail_recipients", "watermarks",
    "leases", "coupon_redemptions", "quota_leases", "forget_log", "catalog_versions",
    "desk_users", "desk_sessions", "desk_sign_in_failures", "desk_audit", "mail_lists", "mail_list_rows",
    "committed_orders", "order_discounts"};

// A JSON array of strings, for `IN (SELECT value FROM json_each(?))`.
std::string JsonStrings(const std::set<std::string, std::less<>>& values) {
  std::string out = "[";
  for (const std::string& v : values) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('"');
  }
  out.push_back(']');
  return out;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// RecordBatch inserts events this many rows per statement.
constexpr size_t kEventsPerInsert = 32;

// "INSERT INTO events(...) VALUES(?,...),(?,...)..." with kEventsPerInsert rows;
// a stable pointer (the statement cache is keyed by it).
const char* MultiRowEventInsert() {
  static const std::string* const sql = [] {
    auto* s = new std::string(
        "INSERT INTO events(time_us, type, custom_name, user_id, session_id, item_id,"
        " campaign_id, page_group, count) VALUES");
    for (size_t r = 0; r < kEventsPerInsert; ++r) CatTo(*s, r == 0 ? "" : ",", "(?,?,?,?,?,?,?,?,?)");
    return s;
  }();
  return sql->c_str();
}

// Indexes no query uses, dropped at open (older builds never needed them
// either: ScanEvents filters a campaign while it walks events_time).
constexpr const char kDropUnusedIndexes[] = "DROP INDEX IF EXISTS events_campaign_time";

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string_view ColumnText(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p),
                                         static_cast<size_t>(sqlite3_column_bytes(st, i)));
}

std::string_view ColumnBlob(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  return p == nullptr ? std::string_view()
                      : std::string_view(static_cast<const char*>(p),
                                         static_cast<size_t>(sqlite3_column_bytes(st, i)));
}

class SqliteStore;

// A cached prepared statement, reset when the handle goes out of scope.
// `what` names it in step errors ("table desk_users: create user").
class Stmt {
 public:
  Stmt(SqliteStore* store, sqlite3_stmt* st, std::string_view what = "statement")
      : store_(store), st_(st), what_(what) {}
  Stmt(const Stmt&) = delete;
  ~Stmt() {
    if (st_ != nullptr) {
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
    }
  }
  sqlite3_stmt* get() const { return st_; }
  Stmt& Bind(int i, std::string_view v) {
    // An empty view may have a null data(): bind "" rather than NULL.
    sqlite3_bind_text(st_, i, v.data() == nullptr ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.data() == nullptr ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without copying: `v` must stay valid until the statement is reset
  // (the bulk inserts step at once, so the caller's strings outlive the step).
  Stmt& BindStatic(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data() == nullptr ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  // A blob bound without a copy, as BindStatic; null binds NULL.
  Stmt& BindStaticBlob(int i, const std::string* v) {
    if (v == nullptr) {
      sqlite3_bind_null(st_, i);
    } else {
      sqlite3_bind_blob(st_, i, v->data(), static_cast<int>(v->size()), SQLITE_STATIC);
    }
    return *this;
  }
  // SQLITE_ROW: true; SQLITE_DONE: false; else an error.
  absl::StatusOr<bool> Step();
  // Runs to completion.
  absl::Status Run() {
    auto r = Step();
    return r.ok() ? absl::OkStatus() : r.status();
  }

 private:
  SqliteStore* store_;
  sqlite3_stmt* st_;
  std::string_view what_;
};

class SqliteStore final : public Store,
                          CounterStore,
                          EventStore,
                          HistoryStore,
                          InteractionStore,
                          MailLedgerStore,
                          WatermarkStore,
                          CouponStore,
                          RecipientTableStore,
                          PersonalDataStore,
                          CatalogStore,
                          AccountStore,
                          MailListStore {
 public:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}
  ~SqliteStore() override {
    for (Reader& r : readers_) {
      for (auto& [sql, st] : r.cache) sqlite3_finalize(st);
      if (r.db != nullptr) sqlite3_close_v2(r.db);
    }
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  absl::Status Open(const v1::SqliteStoreConfig& config);

  CounterStore& counters() override { return *this; }
  EventStore& events() override { return *this; }
  HistoryStore& history() override { return *this; }
  InteractionStore& interactions() override { return *this; }
  MailLedgerStore& mail_ledgers() override { return *this; }
  WatermarkStore& watermarks() override { return *this; }
  CouponStore& coupons() override { return *this; }
  RecipientTableStore* recipient_tables() override { return this; }
  PersonalDataStore* personal_data() override { return this; }
  CatalogStore* catalogs() override { return this; }
  AccountStore* accounts() override { return this; }
  MailListStore* mail_lists() override { return this; }
  absl::Status Flush() override { return absl::OkStatus(); }  // every commit is durable
  std::string Describe() const override { return Cat("sqlite:", path_); }

  absl::Status Error(std::string_view what, int rc) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ErrorOn(db_, what, rc);
  }
  // As Error, with the message of connection `db` (the writer's or the reader's).
  absl::Status ErrorOn(sqlite3* db, std::string_view what, int rc) const {
    const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string hint;
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
      hint = " (the file is not a SQLite database or is corrupt; it was left untouched)";
    }
    return absl::Status(CodeFor(rc),
                        Cat("sqlite store ", path_, ": ", what, ": ", msg, hint));
  }

  // CounterStore
  absl::Status AddCounterDeltas(std::span<const CounterDelta> deltas) override {
    auto merged = MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    if (merged->empty()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    return InTransaction("add counter deltas", [&]() { return AddDeltasLocked(*merged); });
  }
  absl::StatusOr<std::vector<CounterTotal>> LoadCounterTotals() override {
    ReaderLock reader(this);
    auto st = reader.Prepare("SELECT item_id, requests, clicks FROM counters ORDER BY item_id");
    if (!st.ok()) return st.status();
    std::vector<CounterTotal> out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sqlite3_stmt* s = (*st)->get();
      out.push_back(CounterTotal{std::string(ColumnText(s, 0)), sqlite3_column_int64(s, 1),
                                 sqlite3_column_int64(s, 2)});
    }
    return out;
  }

  absl::StatusOr<int64_t> LeaseQuota(std::string_view item_id, int64_t limit, int64_t delta) override {
    if (absl::Status s = ValidateQuotaLease(item_id, limit); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    int64_t change = 0;
    absl::Status s = InTransaction("lease quota", [&]() -> absl::Status {
      // The first lease starts from the deliveries already counted.
      auto init = Prepare(
          "INSERT OR IGNORE INTO quota_leases(item_id, leased)"
          " VALUES(?1, COALESCE((SELECT requests FROM counters WHERE item_id = ?1), 0))");
      if (!init.ok()) return init.status();
      (*init)->Bind(1, item_id);
      if (absl::Status r = (*init)->Run(); !r.ok()) return r;
      auto read = Prepare("SELECT leased FROM quota_leases WHERE item_id = ?1");
      if (!read.ok()) return read.status();
      (*read)->Bind(1, item_id);
      auto row = (*read)->Step();
      if (!row.ok()) return row.status();
      const int64_t leased = *row ? sqlite3_column_int64((*read)->get(), 0) : 0;
      change = QuotaChange(leased, limit, delta);
      if (change == 0) return absl::OkStatus();
      auto write = Prepare("UPDATE quota_leases SET leased = leased + ?2 WHERE item_id = ?1");
      if (!write.ok()) return write.status();
      (*write)->Bind(1, item_id).Bind(2, change);
      return (*write)->Run();
    });
    if (!s.ok()) return s;
    return change;
  }

  // EventStore
  absl::Status RecordBatch(std::span<const v1::Event> events,
                           std::span<const CounterDelta> deltas) override {
    auto merged = MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    if (events.empty() && merged->empty()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    return InTransaction("append events", [&]() -> absl::Status {
      // The events outlive their step: bound without copies (BindStatic).
      auto bind = [](Stmt& s, int first, const v1::Event& e) {
        s.Bind(first, EventMicros(e))
            .Bind(first + 1, static_cast<int64_t>(e.type()))
            .BindStatic(first + 2, e.custom_name())
            .BindStatic(first + 3, e.user_id())
            .BindStatic(first + 4, e.session_id())
            .BindStatic(first + 5, e.item_id())
            .BindStatic(first + 6, e.campaign_id())
            .BindStatic(first + 7, e.page_group())
            .Bind(first + 8, e.count());
      };
      size_t i = 0;
      // Whole groups of kEventsPerInsert rows in one statement (one step,
      // one reset), then the rest one by one; rows keep their order.
      if (events.size() >= kEventsPerInsert) {
        auto st = Prepare(MultiRowEventInsert());
        if (!st.ok()) return st.status();
        for (; i + kEventsPerInsert <= events.size(); i += kEventsPerInsert) {
          for (size_t r = 0; r < kEventsPerInsert; ++r) bind(**st, static_cast<int>(9 * r + 1), events[i + r]);
          if (absl::Status s = (*st)->Run(); !s.ok()) return s;
          sqlite3_reset((*st)->get());
        }
      }
      if (i < events.size()) {
        auto st = Prepare(
            "INSERT INTO events(time_us, type, custom_name, user_id, session_id, item_id,"
            " campaign_id, page_group, count) VALUES(?,?,?,?,?,?,?,?,?)");
        if (!st.ok()) return st.status();
        for (; i < events.size(); ++i) {
          bind(**st, 1, events[i]);
          if (absl::Status s = (*st)->Run(); !s.ok()) return s;
          sqlite3_reset((*st)->get());
        }
      }
      return AddDeltasLocked(*merged);
    });
  }
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<absl::Status(const v1::Event&)>& fn) override {
    const int64_t from = TimeMicros(query.from), to = TimeMicros(query.to);
    int64_t after_time = from, after_seq = -1;
    constexpr int kPage = 4096;
    // The page's events are reused from page to page: their strings keep
    // their buffers, so a long scan allocates nothing per event.
    std::vector<v1::Event> page(kPage);
    while (true) {
      int n = 0;
      {
        // The reader connection: a scan never waits for (nor holds up) a write.
        ReaderLock reader(this);
        auto st = reader.Prepare(
            "SELECT seq, time_us, type, custom_name, user_id, session_id, item_id, campaign_id,"
            " page_group, count FROM events WHERE time_us >= ?1 AND time_us < ?2"
            " AND (?3 = '' OR campaign_id = ?3) AND (?4 = '' OR item_id = ?4)"
            " AND (time_us > ?1 OR seq > ?5) ORDER BY time_us, seq LIMIT ?6");
        if (!st.ok()) return st.status();
        (*st)->Bind(1, after_time)
            .Bind(2, to)
            .Bind(3, query.campaign_id)
            .Bind(4, query.item_id)
            .Bind(5, after_seq)
            .Bind(6, static_cast<int64_t>(kPage));
        while (true) {
          auto row = (*st)->Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          sqlite3_stmt* s = (*st)->get();
          v1::Event& e = page[n++];
          after_seq = sqlite3_column_int64(s, 0);
          after_time = sqlite3_column_int64(s, 1);
          SetEventMicros(after_time, &e);
          e.set_type(static_cast<v1::EventType>(sqlite3_column_int64(s, 2)));
          auto text = [s](int i, std::string* out) {
            std::string_view v = ColumnText(s, i);
            if (v.empty()) {
              out->clear();
            } else {
              out->assign(v.data(), v.size());
            }
          };
          text(3, e.mutable_custom_name());
          text(4, e.mutable_user_id());
          text(5, e.mutable_session_id());
          text(6, e.mutable_item_id());
          text(7, e.mutable_campaign_id());
          text(8, e.mutable_page_group());
          e.set_count(sqlite3_column_int64(s, 9));
        }
      }
      for (int i = 0; i < n; ++i) {
        if (absl::Status s = fn(page[i]); !s.ok()) return s;
      }
      if (n < kPage) break;
    }
    return absl::OkStatus();
  }

  // HistoryStore
  absl::StatusOr<std::optional<UserHistory>> LoadHistory(std::string_view user_id) override {
    ReaderLock reader(this);
    auto st = reader.Prepare("SELECT data FROM histories WHERE user_id = ?");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, user_id);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<UserHistory>();
    auto h = DecodeHistory(ColumnBlob((*st)->get(), 0), user_id);
    if (!h.ok()) return h.status();
    return std::optional<UserHistory>(std::move(*h));
  }
  absl::Status SaveHistories(
      std::span<const std::pair<std::string, UserHistory>> histories) override {
    for (const auto& [user, h] : histories) {
      if (user.empty()) return absl::InvalidArgumentError("history with an empty user id");
    }
    if (histories.empty()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    return InTransaction("save histories", [&]() -> absl::Status {
      auto st = Prepare("INSERT OR REPLACE INTO histories(user_id, data) VALUES(?, ?)");
      if (!st.ok()) return st.status();
      for (const auto& [user, h] : histories) {
        (*st)->Bind(1, user).BindBlob(2, EncodeHistory(h));
        if (absl::Status r = (*st)->Run(); !r.ok()) return r;
        sqlite3_reset((*st)->get());
      }
      return absl::OkStatus();
    });
  }

  // InteractionStore
  absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& record) override {
    v1::InteractionRecord copy = record;
    copy.clear_sequence();
    std::string data = copy.SerializeAsString();
    absl::MutexLock lock(&mu_);
    int64_t seq = 0;
    absl::Status s = InTransaction("append interaction", [&]() -> absl::Status {
      auto st = Prepare("INSERT INTO interactions(data) VALUES(?)");
      if (!st.ok()) return st.status();
      (*st)->BindBlob(1, data);
      if (absl::Status r = (*st)->Run(); !r.ok()) return r;
      seq = sqlite3_last_insert_rowid(db_);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return seq;
  }
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after,
                                                                      int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ReadInteractions: limit must be positive");
    ReaderLock reader(this);
    auto st = reader.Prepare("SELECT seq, data FROM interactions WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, after).Bind(2, static_cast<int64_t>(limit));
    std::vector<v1::InteractionRecord> out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sqlite3_stmt* s = (*st)->get();
      v1::InteractionRecord& r = out.emplace_back();
      std::string_view data = ColumnBlob(s, 1);
      if (!r.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
        return absl::DataLossError(Cat("sqlite store ", path_, ": table interactions: row ",
                                                sqlite3_column_int64(s, 0), " is corrupt"));
      }
      r.set_sequence(sqlite3_column_int64(s, 0));
    }
    return out;
  }
  absl::StatusOr<int64_t> CountInteractions(int64_t after) override {
    ReaderLock reader(this);
    auto st = reader.Prepare("SELECT count(*) FROM interactions WHERE seq > ?");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, after);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::InternalError(Cat("sqlite store ", path_, ": count(*) returned no row"));
    return static_cast<int64_t>(sqlite3_column_int64((*st)->get(), 0));
  }

  // PersonalDataStore
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadStoredInteractions(int64_t after, int limit) override {
    return ReadInteractions(after, limit);
  }
  absl::StatusOr<int64_t> RewriteInteractions(std::span<const v1::InteractionRecord> records) override {
    std::vector<std::pair<int64_t, std::string>> rows;
    for (const v1::InteractionRecord& r : records) {
      v1::InteractionRecord copy = r;
      copy.clear_sequence();
      rows.emplace_back(r.sequence(), copy.SerializeAsString());
    }
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    // The rows' old bytes (raw or sealed under a retired key) are zeroed, not left in free space.
    if (absl::Status s = Exec("PRAGMA secure_delete = ON"); !s.ok()) return s;
    absl::Status s = InTransaction("rewrite interactions", [&]() -> absl::Status {
      auto st = Prepare("UPDATE interactions SET data = ?2 WHERE seq = ?1");
      if (!st.ok()) return st.status();
      for (const auto& [seq, data] : rows) {
        (*st)->Bind(1, seq).BindBlob(2, data);
        if (absl::Status r = (*st)->Run(); !r.ok()) return r;
        sqlite3_reset((*st)->get());
        n += sqlite3_changes(db_);
      }
      return absl::OkStatus();
    });
    (void)Exec("PRAGMA secure_delete = FAST");
    if (!s.ok()) return s;
    return n;
  }
  absl::StatusOr<v1::ForgetLogEntry> EraseSubject(const SubjectErasure& erasure,
                                                 const v1::ForgetLogEntry& log) override {
    std::string sequences = "[";
    for (int64_t seq : erasure.interactions) CatTo(sequences, sequences.size() > 1 ? "," : "", seq);
    sequences += "]";
    const std::set<std::string, std::less<>> lowered = LowerTrimmedSet(erasure.recipients);
    const std::string recipients = JsonStrings(lowered);
    const std::string users = JsonStrings({erasure.user_ids.begin(), erasure.user_ids.end()});
    absl::MutexLock lock(&mu_);
    v1::ForgetLogEntry entry = log;
    // secure_delete=ON: the deleted rows' bytes are overwritten with zeros in
    // the pages written (and so in the WAL frames and, at the checkpoint, in
    // the database file), not left in free space.
    if (absl::Status s = Exec("PRAGMA secure_delete = ON"); !s.ok()) return s;
    absl::Status s = InTransaction("forget", [&]() -> absl::Status {
      return EraseLocked(sequences, recipients, lowered, users, entry);
    });
    (void)Exec("PRAGMA secure_delete = FAST");
    if (!s.ok()) return s;
    // The WAL still holds the pages as they were before: copy the new ones
    // into the database and truncate the log to zero bytes.
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return Error(Cat("forget: the person's rows are deleted (forget log entry ", entry.id(),
                       "), but the write-ahead log could not be checkpointed while other connections read;"
                       " run herald forget again later"),
                   rc);
    }
    return entry;
  }
  absl::StatusOr<std::vector<v1::ForgetLogEntry>> ReadForgetLog() override {
    absl::MutexLock lock(&mu_);
    auto st = Prepare("SELECT id, time_us, entry FROM forget_log ORDER BY id");
    if (!st.ok()) return st.status();
    std::vector<v1::ForgetLogEntry> out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      std::string_view data = ColumnBlob((*st)->get(), 2);
      v1::ForgetLogEntry& e = out.emplace_back();
      if (!e.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
        return absl::DataLossError(Cat("sqlite store ", path_, ": table forget_log: row ",
                                       sqlite3_column_int64((*st)->get(), 0), " is corrupt"));
      }
      e.set_id(sqlite3_column_int64((*st)->get(), 0));
      e.set_time_unix_micros(sqlite3_column_int64((*st)->get(), 1));
    }
    return out;
  }

  // CatalogStore
  absl::StatusOr<int64_t> AppendCatalogVersion(int64_t expected_current,
                                               const v1::CatalogVersion& entry) override {
    if (absl::Status s = ValidateCatalogEntry(expected_current, entry); !s.ok()) return s;
    const std::string catalog = entry.catalog().SerializeAsString();
    absl::MutexLock lock(&mu_);
    // BEGIN IMMEDIATE holds the write lock from the read of the current
    // version to the insert: two processes cannot both append version N + 1.
    int64_t saved = 0;
    absl::Status s = InTransaction("save catalog version", [&]() -> absl::Status {
      auto current = CurrentCatalogVersionLocked();
      if (!current.ok()) return current.status();
      if (*current != expected_current) return CatalogVersionConflict(expected_current, *current);
      auto st = Prepare(
          "INSERT INTO catalog_versions(version, time_us, author, summary, rollback_of, catalog)"
          " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, *current + 1).Bind(2, absl::ToUnixMicros(absl::Now())).Bind(3, entry.author());
      (*st)->Bind(4, entry.summary()).Bind(5, entry.rollback_of()).BindBlob(6, catalog);
      saved = *current + 1;
      return (*st)->Run();
    });
    if (!s.ok()) return s;
    return saved;
  }
  absl::StatusOr<int64_t> CurrentCatalogVersion() override {
    absl::MutexLock lock(&mu_);
    return CurrentCatalogVersionLocked();
  }
  absl::StatusOr<v1::CatalogVersion> LoadCatalogVersion(int64_t version) override {
    absl::MutexLock lock(&mu_);
    auto current = CurrentCatalogVersionLocked();
    if (!current.ok()) return current.status();
    if (version == 0) version = *current;
    if (version < 1 || version > *current) return CatalogVersionNotFound(version, *current);
    auto st = Prepare(
        "SELECT version, time_us, author, summary, rollback_of, catalog FROM catalog_versions"
        " WHERE version = ?1");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, version);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return CatalogVersionNotFound(version, *current);
    v1::CatalogVersion out = CatalogVersionRow((*st)->get());
    std::string_view data = ColumnBlob((*st)->get(), 5);
    if (!out.mutable_catalog()->ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      return absl::DataLossError(
          Cat("sqlite store ", path_, ": table catalog_versions: version ", version, " is corrupt"));
    }
    return out;
  }
  absl::StatusOr<std::vector<v1::CatalogVersion>> ListCatalogVersions() override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::CatalogVersion> out;
    if (!catalog_table_) return out;
    auto st = Prepare(
        "SELECT version, time_us, author, summary, rollback_of FROM catalog_versions ORDER BY version");
    if (!st.ok()) return st.status();
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(CatalogVersionRow((*st)->get()));
    }
    return out;
  }

  // AccountStore. Every write is one BEGIN IMMEDIATE transaction, so it is
  // atomic across processes; reads use the reader connections, since the
  // desk looks a session up on every request and should not queue behind an
  // event batch. A read-only store from before these tables reads as empty.
  absl::Status CreateUser(const v1::DeskUser& user) override {
    constexpr const char* kWhat = "table desk_users: create user";
    auto added = WriteDesk(kWhat,
                           "INSERT INTO desk_users(name, role, password_hash, created_us, password_changed_us,"
                           " disabled) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
                           [&](Stmt& st) { BindUser(st, user); });
    if (!added.ok()) return added.status();
    return *added == 0 ? DeskUserExists(user.name()) : absl::OkStatus();
  }
  absl::Status UpdateUser(const v1::DeskUser& user) override {
    constexpr const char* kWhat = "table desk_users: update user";
    auto updated = WriteDesk(kWhat,
                             "UPDATE desk_users SET role = ?2, password_hash = ?3, created_us = ?4,"
                             " password_changed_us = ?5, disabled = ?6 WHERE name = ?1",
                             [&](Stmt& st) { BindUser(st, user); });
    if (!updated.ok()) return updated.status();
    return *updated == 0 ? DeskUserNotFound(user.name()) : absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskUser>> GetUser(std::string_view name) override {
    if (!desk_tables_) return std::optional<v1::DeskUser>();
    ReaderLock reader(this);
    auto st = reader.Prepare(
        "SELECT name, role, password_hash, created_us, password_changed_us, disabled FROM desk_users"
        " WHERE name = ?1",
        "table desk_users: read user");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, name);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<v1::DeskUser>();
    return std::optional<v1::DeskUser>(UserRow((*st)->get()));
  }
  absl::StatusOr<std::vector<v1::DeskUser>> ListUsers() override {
    std::vector<v1::DeskUser> out;
    if (!desk_tables_) return out;
    ReaderLock reader(this);
    // TEXT compares byte by byte (BINARY): the order of the other backends.
    auto st = reader.Prepare(
        "SELECT name, role, password_hash, created_us, password_changed_us, disabled FROM desk_users"
        " ORDER BY name",
        "table desk_users: list users");
    if (!st.ok()) return st.status();
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(UserRow((*st)->get()));
    }
    return out;
  }
  absl::Status DeleteUser(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    // One transaction: no moment where the user is gone but a session of it still opens.
    return InTransaction("table desk_users: delete user", [&]() -> absl::Status {
      auto user = Prepare("DELETE FROM desk_users WHERE name = ?1", "table desk_users: delete user");
      if (!user.ok()) return user.status();
      (*user)->Bind(1, name);
      if (absl::Status s = (*user)->Run(); !s.ok()) return s;
      if (sqlite3_changes(db_) == 0) return DeskUserNotFound(name);
      auto sessions = Prepare("DELETE FROM desk_sessions WHERE user = ?1", "table desk_sessions: delete user");
      if (!sessions.ok()) return sessions.status();
      (*sessions)->Bind(1, name);
      return (*sessions)->Run();
    });
  }

  absl::StatusOr<int64_t> AddFailedSignIn(std::string_view key, int64_t time_unix_micros) override {
    constexpr const char* kWhat = "table desk_sign_in_failures: count a failed sign-in";
    absl::MutexLock lock(&mu_);
    int64_t count = 0;
    absl::Status s = InTransaction(kWhat, [&]() -> absl::Status {
      // One upsert counts and reads back the count: no process can slip in
      // between. MAX: a server whose clock lags never moves the last failure
      // back (which would shorten a lockout that runs from it).
      auto st = Prepare(
          "INSERT INTO desk_sign_in_failures(key, count, last_us) VALUES(?1, 1, ?2)"
          " ON CONFLICT(key) DO UPDATE SET count = count + 1, last_us = MAX(last_us, excluded.last_us)"
          " RETURNING count",
          kWhat);
      if (!st.ok()) return st.status();
      (*st)->Bind(1, key).Bind(2, time_unix_micros);
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::InternalError(Cat("sqlite store ", path_, ": ", kWhat, ": no count returned"));
      count = sqlite3_column_int64((*st)->get(), 0);
      // Stepped to the end: a write statement still running would block the COMMIT.
      return (*st)->Run();
    });
    if (!s.ok()) return s;
    return count;
  }
  absl::StatusOr<std::pair<int64_t, int64_t>> FailedSignIns(std::string_view key) override {
    std::pair<int64_t, int64_t> out{0, 0};
    if (!desk_tables_) return out;
    ReaderLock reader(this);
    auto st = reader.Prepare("SELECT count, last_us FROM desk_sign_in_failures WHERE key = ?1",
                             "table desk_sign_in_failures: read");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, key);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (*row) out = {sqlite3_column_int64((*st)->get(), 0), sqlite3_column_int64((*st)->get(), 1)};
    return out;
  }
  absl::Status ClearFailedSignIns(std::string_view key) override {
    return WriteDesk("table desk_sign_in_failures: clear", "DELETE FROM desk_sign_in_failures WHERE key = ?1",
                     [&](Stmt& st) { st.Bind(1, key); })
        .status();
  }

  absl::Status CreateSession(const v1::DeskSession& session) override {
    auto added = WriteDesk("table desk_sessions: create session",
                           "INSERT INTO desk_sessions(id_hash, user, csrf_token, created_us, expires_us)"
                           " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id_hash) DO NOTHING",
                           [&](Stmt& st) {
                             st.Bind(1, session.id_hash()).Bind(2, session.user()).Bind(3, session.csrf_token());
                             st.Bind(4, session.created_unix_micros()).Bind(5, session.expires_unix_micros());
                           });
    if (!added.ok()) return added.status();
    return *added == 0 ? DeskSessionExists() : absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskSession>> GetSession(std::string_view id_hash) override {
    if (!desk_tables_) return std::optional<v1::DeskSession>();
    ReaderLock reader(this);
    auto st = reader.Prepare(
        "SELECT id_hash, user, csrf_token, created_us, expires_us FROM desk_sessions WHERE id_hash = ?1",
        "table desk_sessions: read session");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, id_hash);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<v1::DeskSession>();
    sqlite3_stmt* s = (*st)->get();
    v1::DeskSession session;
    session.set_id_hash(std::string(ColumnText(s, 0)));
    session.set_user(std::string(ColumnText(s, 1)));
    session.set_csrf_token(std::string(ColumnText(s, 2)));
    session.set_created_unix_micros(sqlite3_column_int64(s, 3));
    session.set_expires_unix_micros(sqlite3_column_int64(s, 4));
    return std::optional<v1::DeskSession>(std::move(session));
  }
  absl::Status DeleteSession(std::string_view id_hash) override {
    return WriteDesk("table desk_sessions: delete session", "DELETE FROM desk_sessions WHERE id_hash = ?1",
                     [&](Stmt& st) { st.Bind(1, id_hash); })
        .status();
  }
  absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user) override {
    return WriteDesk("table desk_sessions: delete user sessions", "DELETE FROM desk_sessions WHERE user = ?1",
                     [&](Stmt& st) { st.Bind(1, user); });
  }
  absl::StatusOr<int64_t> DeleteExpiredSessions(int64_t now_unix_micros) override {
    return WriteDesk("table desk_sessions: delete expired sessions",
                     "DELETE FROM desk_sessions WHERE expires_us < ?1",
                     [&](Stmt& st) { st.Bind(1, now_unix_micros); });
  }

  absl::StatusOr<int64_t> AppendAudit(const v1::AuditEntry& entry) override {
    constexpr const char* kWhat = "table desk_audit: append";
    absl::MutexLock lock(&mu_);
    int64_t sequence = 0;
    absl::Status s = InTransaction(kWhat, [&]() -> absl::Status {
      auto st = Prepare(
          "INSERT INTO desk_audit(time_us, user, action, object, detail) VALUES(?1, ?2, ?3, ?4, ?5)", kWhat);
      if (!st.ok()) return st.status();
      (*st)->Bind(1, entry.time_unix_micros()).Bind(2, entry.user()).Bind(3, entry.action());
      (*st)->Bind(4, entry.object()).Bind(5, entry.detail());
      if (absl::Status r = (*st)->Run(); !r.ok()) return r;
      sequence = sqlite3_last_insert_rowid(db_);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return sequence;
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> ReadAudit(int64_t before, int limit) override {
    if (absl::Status s = ValidateAuditLimit(limit); !s.ok()) return s;
    std::vector<v1::AuditEntry> out;
    if (!desk_tables_) return out;
    ReaderLock reader(this);
    auto st = reader.Prepare(
        "SELECT sequence, time_us, user, action, object, detail FROM desk_audit"
        " WHERE ?1 = 0 OR sequence < ?1 ORDER BY sequence DESC LIMIT ?2",
        "table desk_audit: read");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, before).Bind(2, static_cast<int64_t>(limit));
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sqlite3_stmt* s = (*st)->get();
      v1::AuditEntry& e = out.emplace_back();
      e.set_sequence(sqlite3_column_int64(s, 0));
      e.set_time_unix_micros(sqlite3_column_int64(s, 1));
      e.set_user(std::string(ColumnText(s, 2)));
      e.set_action(std::string(ColumnText(s, 3)));
      e.set_object(std::string(ColumnText(s, 4)));
      e.set_detail(std::string(ColumnText(s, 5)));
    }
    return out;
  }

  // MailListStore. Writes are BEGIN IMMEDIATE transactions, atomic across
  // processes: a reader sees the old list or the new one. Lists are read by
  // the reader connections; a scan by a connection of its own that holds
  // one read transaction (one snapshot) from the first page to the last,
  // without taking a reader from the hot paths for as long as its callback
  // runs. A read-only store from before these tables reads as empty.
  absl::Status PutList(const v1::MailList& list, std::span<const std::vector<std::string>> rows) override {
    if (absl::Status s = ValidateMailList(list, rows); !s.ok()) return s;
    const std::vector<size_t> keep = MailListRowsToStore(list, rows);
    const std::vector<std::string> columns(list.columns().begin(), list.columns().end());
    const bool opt_out = list.kind() == v1::MAIL_LIST_KIND_OPT_OUT;
    const int email = MailListEmailColumn(columns);
    const std::string what = Cat("list '", list.name(), "': put (table mail_list_rows)");
    absl::MutexLock lock(&mu_);
    return InTransaction(what, [&]() -> absl::Status {
      auto info = Prepare(
          "INSERT INTO mail_lists(name, kind, column_names, row_count, updated_by, updated_us, description)"
          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind,"
          " column_names = excluded.column_names, row_count = excluded.row_count,"
          " updated_by = excluded.updated_by, updated_us = excluded.updated_us, description = excluded.description",
          what);
      if (!info.ok()) return info.status();
      (*info)->Bind(1, list.name()).Bind(2, static_cast<int64_t>(list.kind())).BindBlob(3, EncodeMailListValues(columns));
      (*info)->Bind(4, static_cast<int64_t>(keep.size())).Bind(5, list.updated_by());
      (*info)->Bind(6, list.updated_unix_micros()).Bind(7, list.description());
      if (absl::Status s = (*info)->Run(); !s.ok()) return s;
      auto old_rows = Prepare("DELETE FROM mail_list_rows WHERE list = ?1", what);
      if (!old_rows.ok()) return old_rows.status();
      (*old_rows)->Bind(1, list.name());
      if (absl::Status s = (*old_rows)->Run(); !s.ok()) return s;
      // One statement, prepared once, stepped per row (bindings persist across resets).
      auto insert = Prepare(
          "INSERT INTO mail_list_rows(list, seq, address, opt_out, vals) VALUES(?1, ?2, ?3, ?4, ?5)", what);
      if (!insert.ok()) return insert.status();
      (*insert)->Bind(1, list.name()).Bind(4, static_cast<int64_t>(opt_out ? 1 : 0));
      std::string vals;
      std::optional<std::string> address;
      for (size_t n = 0; n < keep.size(); ++n) {
        const std::vector<std::string>& row = rows[keep[n]];
        address = opt_out ? std::optional<std::string>(row[0]) : MailListRowAddress(email, row);
        vals = EncodeMailListValues(row);
        (*insert)->Bind(2, static_cast<int64_t>(n + 1)).BindStaticBlob(3, address ? &*address : nullptr);
        (*insert)->BindStaticBlob(5, &vals);
        if (absl::Status s = (*insert)->Run(); !s.ok()) {
          return absl::Status(s.code(), Cat(s.message(), " (row ", keep[n] + 1, ")"));
        }
        sqlite3_reset((*insert)->get());
      }
      return absl::OkStatus();
    });
  }
  absl::StatusOr<int64_t> AddOptOuts(std::string_view name, std::span<const std::string> addresses,
                                     std::string_view by, int64_t time_unix_micros) override {
    if (absl::Status s = ValidateMailListName(name); !s.ok()) return s;
    const std::vector<std::string_view> unique = UniqueAddresses(addresses);
    const std::string what = Cat("list '", name, "': add opt-outs (table mail_list_rows)");
    absl::MutexLock lock(&mu_);
    int64_t added = 0;
    absl::Status s = InTransaction(what, [&]() -> absl::Status {
      added = 0;
      auto create = Prepare(
          "INSERT INTO mail_lists(name, kind, column_names, row_count, updated_by, updated_us, description)"
          " VALUES(?1, ?2, ?3, 0, ?4, ?5, '') ON CONFLICT(name) DO NOTHING",
          what);
      if (!create.ok()) return create.status();
      (*create)->Bind(1, name).Bind(2, static_cast<int64_t>(v1::MAIL_LIST_KIND_OPT_OUT));
      (*create)->BindBlob(3, EncodeMailListValues(std::vector<std::string>{"email"})).Bind(4, by).Bind(5, time_unix_micros);
      if (absl::Status r = (*create)->Run(); !r.ok()) return r;
      auto last = OptOutListEndLocked(name, what);
      if (!last.ok()) return last.status();
      // BEGIN IMMEDIATE holds the write lock, and mail_list_opt_outs refuses
      // a second copy of an address besides: DO NOTHING counts it as not new.
      auto insert = Prepare(
          "INSERT INTO mail_list_rows(list, seq, address, opt_out, vals) VALUES(?1, ?2, ?3, 1, ?4)"
          " ON CONFLICT DO NOTHING",
          what);
      if (!insert.ok()) return insert.status();
      (*insert)->Bind(1, name);
      std::string address, vals;
      for (std::string_view a : unique) {
        address.assign(a.data(), a.size());
        vals = EncodeMailListValues(std::span<const std::string>(&address, 1));
        (*insert)->Bind(2, *last + added + 1).BindStaticBlob(3, &address).BindStaticBlob(4, &vals);
        if (absl::Status r = (*insert)->Run(); !r.ok()) return r;
        sqlite3_reset((*insert)->get());
        added += sqlite3_changes(db_);
      }
      if (added == 0) return absl::OkStatus();
      auto count = Prepare(
          "UPDATE mail_lists SET row_count = row_count + ?2, updated_by = ?3, updated_us = ?4 WHERE name = ?1",
          what);
      if (!count.ok()) return count.status();
      (*count)->Bind(1, name).Bind(2, added).Bind(3, by).Bind(4, time_unix_micros);
      return (*count)->Run();
    });
    if (!s.ok()) return s;
    return added;
  }
  absl::StatusOr<std::vector<v1::MailList>> ListLists() override {
    std::vector<v1::MailList> out;
    if (!mail_list_tables_) return out;
    ReaderLock reader(this);
    // TEXT compares byte by byte (BINARY): the order of the other backends.
    auto st = reader.Prepare(
        "SELECT name, kind, column_names, row_count, updated_by, updated_us, description FROM mail_lists"
        " ORDER BY name",
        "table mail_lists: list");
    if (!st.ok()) return st.status();
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto list = MailListRow((*st)->get());
      if (!list.ok()) return list.status();
      out.push_back(std::move(*list));
    }
    return out;
  }
  absl::StatusOr<std::optional<v1::MailList>> GetList(std::string_view name) override {
    if (!mail_list_tables_) return std::optional<v1::MailList>();
    ReaderLock reader(this);
    auto st = reader.Prepare(
        "SELECT name, kind, column_names, row_count, updated_by, updated_us, description FROM mail_lists"
        " WHERE name = ?1",
        "table mail_lists: read");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, name);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<v1::MailList>();
    auto list = MailListRow((*st)->get());
    if (!list.ok()) return list.status();
    return std::optional<v1::MailList>(std::move(*list));
  }
  absl::Status ScanList(std::string_view name,
                        const std::function<absl::Status(std::span<const std::string>)>& on_row) override;
  absl::Status DeleteList(std::string_view name) override {
    const std::string what = Cat("list '", name, "': delete (table mail_lists)");
    absl::MutexLock lock(&mu_);
    return InTransaction(what, [&]() -> absl::Status {
      auto list = Prepare("DELETE FROM mail_lists WHERE name = ?1", what);
      if (!list.ok()) return list.status();
      (*list)->Bind(1, name);
      if (absl::Status s = (*list)->Run(); !s.ok()) return s;
      if (sqlite3_changes(db_) == 0) return MailListNotFound(name);
      auto rows = Prepare("DELETE FROM mail_list_rows WHERE list = ?1", what);
      if (!rows.ok()) return rows.status();
      (*rows)->Bind(1, name);
      return (*rows)->Run();
    });
  }

  // MailLedgerStore
  absl::Status AddRecipients(std::string_view job_id,
                             std::span<const std::string> recipients) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    for (const std::string& r : recipients) {
      if (r.empty()) {
        return absl::InvalidArgumentError(Cat("mail job \"", job_id, "\": empty recipient"));
      }
    }
    absl::MutexLock lock(&mu_);
    return InTransaction("add recipients", [&]() -> absl::Status {
      if (absl::Status s = EnsureJobLocked(job_id); !s.ok()) return s;
      auto st = Prepare(
          "INSERT OR IGNORE INTO mail_recipients(job_id, recipient, state) VALUES(?, ?, 0)");
      if (!st.ok()) return st.status();
      for (const std::string& r : recipients) {
        (*st)->Bind(1, job_id).Bind(2, r);
        if (absl::Status s = (*st)->Run(); !s.ok()) return s;
        sqlite3_reset((*st)->get());
      }
      return absl::OkStatus();
    });
  }
  absl::StatusOr<std::vector<std::string>> ClaimPending(std::string_view job_id,
                                                        std::string_view worker,
                                                        int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ClaimPending: limit must be positive");
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    absl::Status s = InTransaction("claim recipients", [&]() -> absl::Status {
      auto st = Prepare(
          "UPDATE mail_recipients SET state = 1, attempts = attempts + 1, worker = ?1,"
          " claimed_us = ?4"
          " WHERE id IN (SELECT id FROM mail_recipients WHERE job_id = ?2 AND state = 0"
          " ORDER BY id LIMIT ?3) RETURNING id, recipient");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, worker).Bind(2, job_id).Bind(3, static_cast<int64_t>(limit))
          .Bind(4, absl::ToUnixMicros(absl::Now()));
      std::vector<std::pair<int64_t, std::string>> rows;
      while (true) {
        auto row = (*st)->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        rows.emplace_back(sqlite3_column_int64((*st)->get(), 0),
                          std::string(ColumnText((*st)->get(), 1)));
      }
      std::sort(rows.begin(), rows.end());
      for (auto& [id, r] : rows) out.push_back(std::move(r));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  absl::Status MarkRecipients(std::string_view job_id,
                              std::span<const LedgerEntry> entries) override {
    for (const LedgerEntry& e : entries) {
      if (!IsValidRecipientState(static_cast<int>(e.state))) {
        return absl::InvalidArgumentError(Cat("mail job \"", job_id, "\": recipient \"",
                                                       e.recipient, "\": invalid state"));
      }
    }
    absl::MutexLock lock(&mu_);
    return InTransaction("mark recipients", [&]() -> absl::Status {
      auto st = Prepare(
          "UPDATE mail_recipients SET state = ?1, detail = ?2 WHERE job_id = ?3 AND recipient = ?4");
      if (!st.ok()) return st.status();
      for (const LedgerEntry& e : entries) {
        (*st)->Bind(1, static_cast<int64_t>(e.state)).Bind(2, e.detail).Bind(3, job_id).Bind(4,
                                                                                         e.recipient);
        if (absl::Status s = (*st)->Run(); !s.ok()) return s;
        sqlite3_reset((*st)->get());
        if (sqlite3_changes(db_) == 0) {
          return absl::NotFoundError(Cat("mail job \"", job_id, "\": recipient \"",
                                                  e.recipient, "\" is not in the job"));
        }
      }
      return absl::OkStatus();
    });
  }
  absl::StatusOr<std::vector<LedgerEntry>> InFlight(std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    auto st = Prepare(
        "SELECT recipient, state, detail, attempts, worker, claimed_us FROM mail_recipients"
        " WHERE job_id = ? AND state = 1 ORDER BY id");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, job_id);
    return ReadLedgerEntries(**st);
  }
  absl::StatusOr<std::vector<LedgerEntry>> RequeueClaims(std::string_view job_id,
                                                         const ClaimRequeue& which,
                                                         std::string_view detail) override {
    // Claims made before `cutoff` (0 = none by age; version-1 claims have 0 and
    // are only requeued by age).
    const int64_t cutoff = which.older_than == absl::InfiniteDuration()
                               ? std::numeric_limits<int64_t>::min()
                               : absl::ToUnixMicros(absl::Now() - which.older_than);
    absl::MutexLock lock(&mu_);
    std::vector<LedgerEntry> out;
    absl::Status s = InTransaction("requeue claims", [&]() -> absl::Status {
      // Inside BEGIN IMMEDIATE: nobody claims or marks between the read and the update.
      auto st = Prepare(
          "SELECT recipient, state, detail, attempts, worker, claimed_us FROM mail_recipients"
          " WHERE job_id = ? AND state = 1 ORDER BY id");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, job_id);
      auto in_flight = ReadLedgerEntries(**st);
      if (!in_flight.ok()) return in_flight.status();
      auto up = Prepare(
          "UPDATE mail_recipients SET state = 0, detail = ?1 WHERE job_id = ?2 AND recipient = ?3"
          " AND state = 1");
      if (!up.ok()) return up.status();
      for (LedgerEntry& e : *in_flight) {
        bool requeue = e.claimed_at == absl::InfinitePast()
                           ? cutoff != std::numeric_limits<int64_t>::min()
                           : absl::ToUnixMicros(e.claimed_at) < cutoff;
        for (const std::string& owner : which.owners) requeue = requeue || ClaimOwnedBy(e.worker, owner);
        if (!requeue) continue;
        (*up)->Bind(1, detail).Bind(2, job_id).Bind(3, e.recipient);
        if (absl::Status r = (*up)->Run(); !r.ok()) return r;
        sqlite3_reset((*up)->get());
        e.state = RecipientState::kPending;
        e.detail = std::string(detail);
        out.push_back(std::move(e));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  absl::StatusOr<std::vector<std::pair<RecipientState, int64_t>>> CountStates(
      std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    auto st = Prepare(
        "SELECT state, COUNT(*) FROM mail_recipients WHERE job_id = ? GROUP BY state ORDER BY state");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, job_id);
    std::vector<std::pair<RecipientState, int64_t>> out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.emplace_back(static_cast<RecipientState>(sqlite3_column_int((*st)->get(), 0)),
                       sqlite3_column_int64((*st)->get(), 1));
    }
    return out;
  }
  absl::Status SetJobState(std::string_view job_id, std::string_view state) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    absl::MutexLock lock(&mu_);
    return InTransaction("set job state", [&]() -> absl::Status {
      auto st = Prepare(
          "INSERT INTO mail_jobs(job_id, state) VALUES(?1, ?2)"
          " ON CONFLICT(job_id) DO UPDATE SET state = excluded.state");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, job_id).Bind(2, state);
      return (*st)->Run();
    });
  }
  absl::StatusOr<std::string> GetJobState(std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    auto st = Prepare("SELECT state FROM mail_jobs WHERE job_id = ?");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, job_id);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      return absl::NotFoundError(Cat("mail job \"", job_id, "\" is not in the ledger (",
                                              path_, ")"));
    }
    return std::string(ColumnText((*st)->get(), 0));
  }

  // RecipientTableStore
  absl::Status ScanTable(
      std::string_view table,
      const std::function<absl::Status(std::span<const std::string>)>& on_columns,
      const std::function<absl::Status(std::span<const std::string>)>& on_row) override {
    if (absl::Status s = ValidateStoreTableName(table); !s.ok()) return s;
    // The name is an identifier (checked above) and quoted as one besides.
    // Tables with a rowid are read in rowid pages; views and WITHOUT ROWID
    // tables in OFFSET pages.
    const std::string quoted = Cat("\"", table, "\"");
    bool by_rowid = true;
    {
      absl::MutexLock lock(&mu_);
      auto exists = Prepare(
          "SELECT type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1"
          " COLLATE NOCASE");
      if (!exists.ok()) return exists.status();
      (*exists)->Bind(1, table);
      auto row = (*exists)->Step();
      if (!row.ok()) return row.status();
      if (!*row) return StoreTableNotFound(table, Describe());
      std::string type(ColumnText((*exists)->get(), 0)), sql(ColumnText((*exists)->get(), 1));
      for (char& c : sql) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      by_rowid = type == "table" && sql.find("WITHOUT ROWID") == std::string::npos;
    }
    const std::string sql =
        by_rowid ? Cat("SELECT _rowid_, * FROM ", quoted, " WHERE _rowid_ > ?1 ORDER BY _rowid_ LIMIT ?2")
                 : Cat("SELECT 0, * FROM ", quoted, " LIMIT ?2 OFFSET ?1");
    constexpr int64_t kPage = 1000;
    int64_t after = by_rowid ? std::numeric_limits<int64_t>::min() : 0;
    bool first_page = true;
    while (true) {
      std::vector<std::string> columns;
      std::vector<std::vector<std::string>> page;
      {
        absl::MutexLock lock(&mu_);
        sqlite3_stmt* st = nullptr;
        int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
        if (rc != SQLITE_OK) return Error(Cat("store table '", table, "': read"), rc);
        absl::Cleanup finalize = [st] { sqlite3_finalize(st); };
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, kPage);
        const int n = sqlite3_column_count(st);
        if (first_page) {
          for (int i = 1; i < n; ++i) columns.emplace_back(sqlite3_column_name(st, i));
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
          auto& values = page.emplace_back();
          values.reserve(n - 1);
          for (int i = 1; i < n; ++i) values.emplace_back(ColumnText(st, i));
          after = by_rowid ? sqlite3_column_int64(st, 0) : after + 1;
        }
        if (rc != SQLITE_DONE) return Error(Cat("store table '", table, "': read"), rc);
      }
      if (first_page) {
        first_page = false;
        if (absl::Status s = on_columns(columns); !s.ok()) return s;
      }
      for (const auto& values : page) {
        if (absl::Status s = on_row(values); !s.ok()) return s;
      }
      if (static_cast<int64_t>(page.size()) < kPage) break;
    }
    return absl::OkStatus();
  }

  // WatermarkStore
  absl::StatusOr<int64_t> GetWatermark(std::string_view destination) override {
    absl::MutexLock lock(&mu_);
    return GetWatermarkLocked(destination);
  }
  absl::Status SetWatermark(std::string_view destination, int64_t value) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("set watermark", [&]() -> absl::Status {
      auto current = GetWatermarkLocked(destination);
      if (!current.ok()) return current.status();
      if (value < *current) {
        return absl::FailedPreconditionError(Cat("watermark of \"", destination,
                                                          "\" is at ", *current,
                                                          "; it cannot move back to ", value));
      }
      auto st = Prepare(
          "INSERT INTO watermarks(destination, value) VALUES(?1, ?2)"
          " ON CONFLICT(destination) DO UPDATE SET value = excluded.value");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, destination).Bind(2, value);
      return (*st)->Run();
    });
  }
  absl::StatusOr<bool> TryLease(std::string_view name, std::string_view owner,
                                absl::Duration ttl) override {
    if (absl::Status s = ValidateLease(name, owner, ttl); !s.ok()) return s;
    const int64_t now = absl::ToUnixMicros(absl::Now());
    const int64_t until = absl::ToUnixMicros(absl::Now() + ttl);
    absl::MutexLock lock(&mu_);
    bool held = false;
    absl::Status s = InTransaction("take lease", [&]() -> absl::Status {
      auto st = Prepare(
          "INSERT INTO leases(name, owner, expires_us) VALUES(?1, ?2, ?3)"
          " ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_us = excluded.expires_us"
          " WHERE leases.owner = excluded.owner OR leases.expires_us <= ?4");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, name).Bind(2, owner).Bind(3, until).Bind(4, now);
      if (absl::Status r = (*st)->Run(); !r.ok()) return r;
      held = sqlite3_changes(db_) > 0;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return held;
  }
  absl::Status ReleaseLease(std::string_view name, std::string_view owner) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("release lease", [&]() -> absl::Status {
      auto st = Prepare("DELETE FROM leases WHERE name = ? AND owner = ?");
      if (!st.ok()) return st.status();
      (*st)->Bind(1, name).Bind(2, owner);
      return (*st)->Run();
    });
  }
  absl::StatusOr<std::string> LeaseHolder(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto st = Prepare("SELECT owner FROM leases WHERE name = ?1 AND expires_us > ?2");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, name).Bind(2, absl::ToUnixMicros(absl::Now()));
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::string();
    const unsigned char* text = sqlite3_column_text((*st)->get(), 0);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
  }
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ListWatermarks() override {
    ReaderLock reader(this);
    // TEXT compares byte by byte (BINARY): the order of the other backends.
    auto st = reader.Prepare("SELECT destination, value FROM watermarks ORDER BY destination",
                             "table watermarks: list");
    if (!st.ok()) return st.status();
    std::vector<std::pair<std::string, int64_t>> out;
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.emplace_back(std::string(ColumnText((*st)->get(), 0)), sqlite3_column_int64((*st)->get(), 1));
    }
    return out;
  }

  // CouponStore. Every write is one BEGIN IMMEDIATE transaction: it takes
  // the database's write lock first, so that what it reads (an order seen,
  // the counts behind a limit) cannot change before its inserts commit, in
  // any process.
  absl::Status RedeemCoupons(std::string_view order_id, std::string_view customer_id,
                             std::span<const CouponUse> uses) override {
    auto normalized = NormalizeCouponUses(order_id, uses);
    if (!normalized.ok()) return normalized.status();
    if (normalized->empty()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    return InTransaction("redeem coupons", [&]() -> absl::Status {
      auto seen = OrderSeenLocked(order_id);
      if (!seen.ok()) return seen.status();
      if (*seen) return absl::OkStatus();  // this order was already committed
      return RedeemLocked(order_id, customer_id, *normalized);
    });
  }
  absl::Status CommitOrder(const CommittedOrder& order) override {
    if (absl::Status s = store_backend::ValidateOrder(order); !s.ok()) return s;
    auto coupons = NormalizeCouponUses(order.order_id, order.coupons);
    if (!coupons.ok()) return coupons.status();
    const std::string what = Cat("order \"", order.order_id, "\": commit (table committed_orders)");
    absl::MutexLock lock(&mu_);
    return InTransaction(what, [&]() -> absl::Status {
      auto seen = OrderSeenLocked(order.order_id);
      if (!seen.ok()) return seen.status();
      if (*seen) return absl::OkStatus();  // committed before, whatever it carries now
      if (absl::Status s = RedeemLocked(order.order_id, order.customer_id, *coupons); !s.ok()) return s;
      return InsertOrderLocked(order, what);
    });
  }
  absl::Status ScanOrderDiscounts(absl::Time from, absl::Time to,
                                  const std::function<absl::Status(const OrderDiscountRow&)>& fn) override;
  absl::StatusOr<std::vector<OrderTotals>> CountOrders(absl::Time from, absl::Time to) override {
    std::vector<OrderTotals> out;
    if (!order_tables_) return out;  // a read-only store from before committed orders
    ReaderLock reader(this);
    // TEXT compares byte by byte (BINARY): the order of the other backends.
    auto st = reader.Prepare(
        "SELECT currency, COUNT(*), SUM(subtotal_minor), SUM(total_minor) FROM committed_orders"
        " WHERE time_us >= ?1 AND time_us < ?2 GROUP BY currency ORDER BY currency",
        "table committed_orders: count orders");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, TimeMicros(from)).Bind(2, TimeMicros(to));
    while (true) {
      auto row = (*st)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sqlite3_stmt* r = (*st)->get();
      out.push_back(OrderTotals{std::string(ColumnText(r, 0)), sqlite3_column_int64(r, 1),
                                sqlite3_column_int64(r, 2), sqlite3_column_int64(r, 3)});
    }
    return out;
  }
  absl::StatusOr<int64_t> CouponUses(std::string_view code, std::string_view customer_id) override {
    absl::MutexLock lock(&mu_);
    return CountUsesLocked(code, customer_id);
  }

  // Used by Stmt.
  absl::Status StepError(int rc, sqlite3* db, std::string_view what) { return ErrorOn(db, what, rc); }

 private:
  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const char* sql, std::string_view what = "statement")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* st = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
      if (rc != SQLITE_OK) return Error(Cat("prepare \"", sql, "\""), rc);
      it = cache_.emplace(sql, st).first;
    }
    return std::make_unique<Stmt>(this, it->second, what);
  }

  // Connections for the hot reads (histories, event scans, interactions,
  // counter totals). In WAL mode their read transactions see the last commit
  // and never wait for the writer's transaction, so a request thread loading
  // a history is not held up by the event writer's batch, and two scans (a
  // report's halves) run side by side. Their statements are always reset
  // after use, so no read transaction stays open (which would hold
  // checkpoints back).
  struct Reader {
    absl::Mutex mu;
    sqlite3* db = nullptr;
    absl::flat_hash_map<const char*, sqlite3_stmt*> cache ABSL_GUARDED_BY(mu);
  };
  static constexpr int kReaders = 2;

  // Holds an idle reader (or waits for the first one).
  class ReaderLock {
   public:
    explicit ReaderLock(SqliteStore* store) ABSL_NO_THREAD_SAFETY_ANALYSIS : store_(store) {
      for (Reader& r : store->readers_) {
        if (r.mu.TryLock()) {
          reader_ = &r;
          return;
        }
      }
      reader_ = &store->readers_[0];
      reader_->mu.Lock();
    }
    ~ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS { reader_->mu.Unlock(); }
    ReaderLock(const ReaderLock&) = delete;
    ReaderLock& operator=(const ReaderLock&) = delete;

    absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const char* sql, std::string_view what = "statement")
        ABSL_NO_THREAD_SAFETY_ANALYSIS {
      auto it = reader_->cache.find(sql);
      if (it == reader_->cache.end()) {
        sqlite3_stmt* st = nullptr;
        int rc = sqlite3_prepare_v3(reader_->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
        if (rc != SQLITE_OK) return store_->ErrorOn(reader_->db, Cat("prepare \"", sql, "\""), rc);
        it = reader_->cache.emplace(sql, st).first;
      }
      return std::make_unique<Stmt>(store_, it->second, what);
    }

   private:
    SqliteStore* store_;
    Reader* reader_;
  };

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc != SQLITE_OK) return Error(sql, rc);
    return absl::OkStatus();
  }

  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back on any error.
  template <typename Fn>
  absl::Status InTransaction(std::string_view what, Fn fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (read_only_) {
      return absl::FailedPreconditionError(
          Cat("sqlite store ", path_, ": ", what, ": the store was opened read-only"));
    }
    auto begin = Prepare("BEGIN IMMEDIATE");
    if (!begin.ok()) return begin.status();
    if (absl::Status s = (*begin)->Run(); !s.ok()) {
      return absl::Status(s.code(), Cat(what, ": ", s.message()));
    }
    absl::Status s = fn();
    if (s.ok()) {
      auto commit = Prepare("COMMIT");
      if (!commit.ok()) {
        s = commit.status();
      } else {
        s = (*commit)->Run();
      }
    }
    if (!s.ok() && !sqlite3_get_autocommit(db_)) {
      auto rollback = Prepare("ROLLBACK");
      if (rollback.ok()) (void)(*rollback)->Run();
    }
    return s;
  }

  absl::Status AddDeltasLocked(const std::vector<CounterDelta>& merged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (merged.empty()) return absl::OkStatus();
    auto st = Prepare(
        "INSERT INTO counters(item_id, requests, clicks) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(item_id) DO UPDATE SET requests = requests + excluded.requests,"
        " clicks = clicks + excluded.clicks");
    if (!st.ok()) return st.status();
    for (const CounterDelta& d : merged) {
      (*st)->Bind(1, d.item_id).Bind(2, d.requests).Bind(3, d.clicks);
      if (absl::Status s = (*st)->Run(); !s.ok()) return s;
      sqlite3_reset((*st)->get());
    }
    return absl::OkStatus();
  }

  absl::Status EnsureJobLocked(std::string_view job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto st = Prepare("INSERT OR IGNORE INTO mail_jobs(job_id, state) VALUES(?, 'created')");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, job_id);
    return (*st)->Run();
  }

  absl::StatusOr<int64_t> CurrentCatalogVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!catalog_table_) return 0;  // a read-only store from before catalog versions
    auto st = Prepare("SELECT COALESCE(MAX(version), 0) FROM catalog_versions");
    if (!st.ok()) return st.status();
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    return *row ? sqlite3_column_int64((*st)->get(), 0) : 0;
  }
  // Columns 0-4 of a catalog_versions row: everything but the catalog.
  static v1::CatalogVersion CatalogVersionRow(sqlite3_stmt* st) {
    v1::CatalogVersion v;
    v.set_version(sqlite3_column_int64(st, 0));
    v.set_time_unix_micros(sqlite3_column_int64(st, 1));
    v.set_author(std::string(ColumnText(st, 2)));
    v.set_summary(std::string(ColumnText(st, 3)));
    v.set_rollback_of(sqlite3_column_int64(st, 4));
    return v;
  }

  // Runs one statement on a desk table (`bind` binds its parameters) in its
  // own transaction; returns the rows it changed. Errors name `what`.
  template <typename Bind>
  absl::StatusOr<int64_t> WriteDesk(const char* what, const char* sql, Bind bind) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    int64_t changed = 0;
    absl::Status s = InTransaction(what, [&]() -> absl::Status {
      auto st = Prepare(sql, what);
      if (!st.ok()) return st.status();
      bind(**st);
      if (absl::Status r = (*st)->Run(); !r.ok()) return r;
      changed = sqlite3_changes(db_);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return changed;
  }
  // Parameters 1-6 of the desk_users statements: name, role, password_hash,
  // created_us, password_changed_us, disabled.
  static void BindUser(Stmt& st, const v1::DeskUser& user) {
    st.Bind(1, user.name()).Bind(2, user.role()).Bind(3, user.password_hash());
    st.Bind(4, user.created_unix_micros()).Bind(5, user.password_changed_unix_micros());
    st.Bind(6, static_cast<int64_t>(user.disabled() ? 1 : 0));
  }
  // A desk_users row read in BindUser's column order.
  static v1::DeskUser UserRow(sqlite3_stmt* st) {
    v1::DeskUser user;
    user.set_name(std::string(ColumnText(st, 0)));
    user.set_role(std::string(ColumnText(st, 1)));
    user.set_password_hash(std::string(ColumnText(st, 2)));
    user.set_created_unix_micros(sqlite3_column_int64(st, 3));
    user.set_password_changed_unix_micros(sqlite3_column_int64(st, 4));
    user.set_disabled(sqlite3_column_int64(st, 5) != 0);
    return user;
  }

  // AddOptOuts, in its transaction: the last row number of the opt-out list
  // `name`; FailedPrecondition when it is a recipient list.
  absl::StatusOr<int64_t> OptOutListEndLocked(std::string_view name, const std::string& what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto st = Prepare(
        "SELECT kind, (SELECT COALESCE(MAX(seq), 0) FROM mail_list_rows WHERE list = ?1) FROM mail_lists"
        " WHERE name = ?1",
        what);
    if (!st.ok()) return st.status();
    (*st)->Bind(1, name);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return MailListNotFound(name);  // created just before, in this transaction
    if (sqlite3_column_int64((*st)->get(), 0) != v1::MAIL_LIST_KIND_OPT_OUT) return MailListNotOptOut(name);
    return sqlite3_column_int64((*st)->get(), 1);
  }
  // A mail_lists row: name, kind, column_names, row_count, updated_by, updated_us, description.
  absl::StatusOr<v1::MailList> MailListRow(sqlite3_stmt* st) const {
    v1::MailList list;
    list.set_name(std::string(ColumnText(st, 0)));
    list.set_kind(static_cast<v1::MailListKind>(sqlite3_column_int64(st, 1)));
    std::vector<std::string> columns;
    if (!DecodeMailListValues(ColumnBlob(st, 2), &columns)) {
      return absl::DataLossError(
          Cat("sqlite store ", path_, ": table mail_lists: the columns of list '", list.name(), "' are corrupt"));
    }
    for (std::string& c : columns) list.add_columns(std::move(c));
    list.set_rows(sqlite3_column_int64(st, 3));
    list.set_updated_by(std::string(ColumnText(st, 4)));
    list.set_updated_unix_micros(sqlite3_column_int64(st, 5));
    list.set_description(std::string(ColumnText(st, 6)));
    return list;
  }
  // herald forget, inside its transaction: the rows of recipient lists whose
  // address is one of `recipients` (opt-out lists keep theirs), and the
  // lists' row counts with them.
  absl::Status EraseListRowsLocked(const std::set<std::string, std::less<>>& recipients, v1::ForgetLogEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    constexpr const char* kWhat = "forget (table mail_list_rows)";
    auto count = Prepare(
        "UPDATE mail_lists SET row_count = row_count - (SELECT COUNT(*) FROM mail_list_rows r"
        " WHERE r.list = mail_lists.name AND r.opt_out = 0 AND r.address = ?1)"
        " WHERE name IN (SELECT list FROM mail_list_rows WHERE opt_out = 0 AND address = ?1)",
        kWhat);
    if (!count.ok()) return count.status();
    auto erase = Prepare("DELETE FROM mail_list_rows WHERE opt_out = 0 AND address = ?1", kWhat);
    if (!erase.ok()) return erase.status();
    for (const std::string& address : recipients) {
      (*count)->BindStaticBlob(1, &address);
      if (absl::Status s = (*count)->Run(); !s.ok()) return s;
      sqlite3_reset((*count)->get());
      (*erase)->BindStaticBlob(1, &address);
      if (absl::Status s = (*erase)->Run(); !s.ok()) return s;
      sqlite3_reset((*erase)->get());
      entry.set_table_rows(entry.table_rows() + sqlite3_changes(db_));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> GetWatermarkLocked(std::string_view destination)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto st = Prepare("SELECT value FROM watermarks WHERE destination = ?");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, destination);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    return *row ? sqlite3_column_int64((*st)->get(), 0) : 0;
  }

  absl::StatusOr<int64_t> CountUsesLocked(std::string_view code, std::string_view customer_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto st = Prepare(
        "SELECT COUNT(*) FROM coupon_redemptions WHERE code = ?1 AND (?2 = '' OR customer_id = ?2)");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, code).Bind(2, customer_id);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    return sqlite3_column_int64((*st)->get(), 0);
  }

  // Whether `order_id` was committed already, by RedeemCoupons (its coupons)
  // or by CommitOrder (the order): either makes both a no-op for that id.
  absl::StatusOr<bool> OrderSeenLocked(std::string_view order_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto st = Prepare(
        "SELECT EXISTS(SELECT 1 FROM coupon_redemptions WHERE order_id = ?1)"
        " OR EXISTS(SELECT 1 FROM committed_orders WHERE order_id = ?1)",
        "table committed_orders: find order");
    if (!st.ok()) return st.status();
    (*st)->Bind(1, order_id);
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    return *row && sqlite3_column_int64((*st)->get(), 0) != 0;
  }

  // Inside the caller's transaction: checks every code's limits, then
  // records one use of each, all or none (ResourceExhausted names the first
  // code at its limit; the caller's rollback drops nothing written yet).
  absl::Status RedeemLocked(std::string_view order_id, std::string_view customer_id,
                            const std::vector<CouponUse>& uses) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const CouponUse& use : uses) {
      auto total = CountUsesLocked(use.code, {});
      if (!total.ok()) return total.status();
      if (use.max_uses > 0 && *total + 1 > use.max_uses) {
        return CouponLimitError(use, customer_id, false, *total);
      }
      if (use.max_uses_per_customer > 0) {
        auto mine = CountUsesLocked(use.code, customer_id);
        if (!mine.ok()) return mine.status();
        if (*mine + 1 > use.max_uses_per_customer) {
          return CouponLimitError(use, customer_id, true, *mine);
        }
      }
    }
    if (uses.empty()) return absl::OkStatus();
    auto ins = Prepare("INSERT INTO coupon_redemptions(order_id, code, customer_id) VALUES(?, ?, ?)",
                       "table coupon_redemptions: redeem");
    if (!ins.ok()) return ins.status();
    for (const CouponUse& use : uses) {
      (*ins)->Bind(1, order_id).Bind(2, use.code).Bind(3, customer_id);
      if (absl::Status s = (*ins)->Run(); !s.ok()) return s;
      sqlite3_reset((*ins)->get());
    }
    return absl::OkStatus();
  }

  // CommitOrder, inside its transaction: the order's row and one row per
  // discount (the statement is prepared once and stepped per discount;
  // bindings persist across resets).
  absl::Status InsertOrderLocked(const CommittedOrder& order, const std::string& what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t time_us = TimeMicros(order.time);
    auto ins = Prepare(
        "INSERT INTO committed_orders(order_id, time_us, currency, subtotal_minor, total_minor)"
        " VALUES(?1, ?2, ?3, ?4, ?5)",
        what);
    if (!ins.ok()) return ins.status();
    (*ins)->Bind(1, order.order_id).Bind(2, time_us).Bind(3, order.currency);
    (*ins)->Bind(4, order.subtotal_minor).Bind(5, order.total_minor);
    if (absl::Status s = (*ins)->Run(); !s.ok()) return s;
    if (order.discounts.empty()) return absl::OkStatus();
    auto discount = Prepare(
        "INSERT INTO order_discounts(order_id, discount_id, campaign_id, time_us, currency, units,"
        " amount_minor) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        what);
    if (!discount.ok()) return discount.status();
    (*discount)->Bind(1, order.order_id).Bind(4, time_us).Bind(5, order.currency);
    for (const OrderDiscountUse& use : order.discounts) {
      (*discount)->Bind(2, use.discount_id).Bind(3, use.campaign_id).Bind(6, use.units).Bind(7, use.amount_minor);
      if (absl::Status s = (*discount)->Run(); !s.ok()) return s;
      sqlite3_reset((*discount)->get());
    }
    return absl::OkStatus();
  }

  // A connection of its own for a scan whose callback may take its time
  // (ScanList, ScanOrderDiscounts): it holds one read transaction, one
  // snapshot, from the first page to the last, without taking a reader the
  // hot paths need (nor one the callback's own reads of this store would
  // wait for). BEGIN is deferred: the first SELECT takes the snapshot.
  // Closing the connection ends the transaction.
  using ScanConnection = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;
  absl::StatusOr<ScanConnection> OpenScanConnection(std::string_view what);

  absl::StatusOr<int64_t> PragmaInt(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error(sql, rc);
    absl::Cleanup finalize = [st] { sqlite3_finalize(st); };
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return sqlite3_column_int64(st, 0);
    if (rc == SQLITE_DONE) return 0;
    return Error(sql, rc);
  }

  absl::StatusOr<std::string> PragmaText(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error(sql, rc);
    absl::Cleanup finalize = [st] { sqlite3_finalize(st); };
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return std::string(ColumnText(st, 0));
    if (rc == SQLITE_DONE) return std::string();
    return Error(sql, rc);
  }

  // Runs a statement made at run time (not cached: the cache is keyed by
  // the SQL's address) with text parameters; returns the rows it changed.
  absl::StatusOr<int64_t> RunDynamic(const std::string& sql, std::span<const std::string> params,
                                     std::vector<std::string>* first_column = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error(Cat("prepare \"", sql, "\""), rc);
    absl::Cleanup finalize = [st] { sqlite3_finalize(st); };
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].c_str(), static_cast<int>(params[i].size()),
                        SQLITE_TRANSIENT);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (first_column != nullptr) first_column->emplace_back(ColumnText(st, 0));
    }
    if (rc != SQLITE_DONE) return Error(sql, rc);
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  // EraseSubject's statements, inside its transaction. The arguments are JSON arrays.
  absl::Status EraseLocked(const std::string& sequences, const std::string& recipients,
                           const std::set<std::string, std::less<>>& lowered, const std::string& users,
                           v1::ForgetLogEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    constexpr char kTrim[] = "lower(trim(%s, ' ' || char(9) || char(10) || char(13)))";
    struct Step {
      std::string sql;
      const std::string* param;
      void (v1::ForgetLogEntry::*add)(int64_t);
      int64_t (v1::ForgetLogEntry::*get)() const;
    };
    const Step steps[] = {
        {"DELETE FROM interactions WHERE seq IN (SELECT value FROM json_each(?1))", &sequences,
         &v1::ForgetLogEntry::set_interactions, &v1::ForgetLogEntry::interactions},
        {Cat("DELETE FROM mail_recipients WHERE ", absl::StrReplaceAll(kTrim, {{"%s", "recipient"}}),
             " IN (SELECT value FROM json_each(?1))"),
         &recipients, &v1::ForgetLogEntry::set_mail_recipients, &v1::ForgetLogEntry::mail_recipients},
        {"DELETE FROM histories WHERE user_id IN (SELECT value FROM json_each(?1))", &users,
         &v1::ForgetLogEntry::set_histories, &v1::ForgetLogEntry::histories},
        {"UPDATE events SET user_id = '', session_id = '' WHERE user_id <> '' AND user_id IN"
         " (SELECT value FROM json_each(?1))",
         &users, &v1::ForgetLogEntry::set_events_anonymized, &v1::ForgetLogEntry::events_anonymized},
        {"UPDATE coupon_redemptions SET customer_id = '' WHERE customer_id <> '' AND customer_id IN"
         " (SELECT value FROM json_each(?1))",
         &users, &v1::ForgetLogEntry::set_coupon_redemptions_anonymized,
         &v1::ForgetLogEntry::coupon_redemptions_anonymized},
    };
    for (const Step& step : steps) {
      auto n = RunDynamic(step.sql, std::span<const std::string>(step.param, 1));
      if (!n.ok()) return n.status();
      (entry.*step.add)((entry.*step.get)() + *n);
    }
    // Recipient tables: every table that is not Herald's, every column.
    std::vector<std::string> tables;
    if (auto s = RunDynamic("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", {},
                            &tables);
        !s.ok()) {
      return s.status();
    }
    for (const std::string& table : tables) {
      if (std::find(std::begin(kHeraldTables), std::end(kHeraldTables), table) != std::end(kHeraldTables)) continue;
      std::vector<std::string> columns;
      const std::string name[] = {table};
      if (auto s = RunDynamic("SELECT name FROM pragma_table_info(?1)", name, &columns); !s.ok()) return s.status();
      if (columns.empty()) continue;
      std::string where;
      for (const std::string& c : columns) {
        CatTo(where, where.empty() ? "" : " OR ", absl::StrReplaceAll(kTrim, {{"%s", QuoteIdentifier(c)}}),
              " IN (SELECT value FROM json_each(?1))");
      }
      auto n = RunDynamic(Cat("DELETE FROM ", QuoteIdentifier(table), " WHERE ", where),
                          std::span<const std::string>(&recipients, 1));
      if (!n.ok()) return n.status();
      entry.set_table_rows(entry.table_rows() + *n);
    }
    if (absl::Status s = EraseListRowsLocked(lowered, entry); !s.ok()) return s;
    const int64_t now = absl::ToUnixMicros(absl::Now());
    auto st = Prepare("INSERT INTO forget_log(time_us, entry) VALUES(?1, ?2)");
    if (!st.ok()) return st.status();
    entry.set_time_unix_micros(now);
    (*st)->Bind(1, now).BindBlob(2, entry.SerializeAsString());
    if (absl::Status s = (*st)->Run(); !s.ok()) return s;
    entry.set_id(sqlite3_last_insert_rowid(db_));
    return absl::OkStatus();
  }

  absl::Status CreateSchemaLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> ReadSchemaVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FindOptionalTablesLocked(int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PrepareWritableLocked(int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetPragmasLocked(const v1::SqliteStoreConfig& config) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenReaderLocked(const v1::SqliteStoreConfig& config) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // recipient, state, detail, attempts, worker, claimed_us rows.
  absl::StatusOr<std::vector<LedgerEntry>> ReadLedgerEntries(Stmt& st) {
    std::vector<LedgerEntry> out;
    while (true) {
      auto row = st.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      sqlite3_stmt* s = st.get();
      LedgerEntry& e = out.emplace_back();
      e.recipient = std::string(ColumnText(s, 0));
      e.state = static_cast<RecipientState>(sqlite3_column_int(s, 1));
      e.detail = std::string(ColumnText(s, 2));
      e.attempts = sqlite3_column_int(s, 3);
      e.worker = std::string(ColumnText(s, 4));
      const int64_t us = sqlite3_column_int64(s, 5);
      e.claimed_at = us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us);
    }
    return out;
  }

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  bool catalog_table_ = true;  // false: opened read-only, table not there yet
  bool desk_tables_ = true;    // likewise for kDeskTables; set by Open, then only read
  bool mail_list_tables_ = true;  // likewise for kMailListTables
  bool order_tables_ = true;      // likewise for kOrderTables
  int busy_timeout_ms_ = 5000;     // config.busy_timeout_ms, for ScanList's connections
  absl::flat_hash_map<const char*, sqlite3_stmt*> cache_ ABSL_GUARDED_BY(mu_);
  std::array<Reader, kReaders> readers_;  // see Reader
};

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return store_->StepError(rc, sqlite3_db_handle(st_), what_);
}

absl::Status SqliteStore::CreateSchemaLocked() {
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  // Another process may have created the schema while we waited for the lock.
  auto version = PragmaInt("PRAGMA user_version");
  absl::Status s = version.status();
  if (s.ok() && *version == 0) {
    for (const char* sql : kSchemaV1) {
      s = Exec(sql);
      if (!s.ok()) break;
    }
    if (s.ok()) s = Exec(Cat("PRAGMA application_id = ", kSqliteApplicationId).c_str());
  }
  // Migrations, in the same transaction: all or nothing.
  if (s.ok() && *version < 2) {
    for (const char* sql : kMigrationV2) {
      s = Exec(sql);
      if (!s.ok()) break;
    }
  }
  if (s.ok() && *version < kSqliteSchemaVersion) {
    s = Exec(Cat("PRAGMA user_version = ", kSqliteSchemaVersion).c_str());
  }
  if (s.ok()) return Exec("COMMIT");
  (void)Exec("ROLLBACK");
  return s;
}

absl::Status SqliteStore::Open(const v1::SqliteStoreConfig& config) {
  absl::MutexLock lock(&mu_);
  read_only_ = config.read_only();
  struct stat info;
  const bool exists = ::stat(path_.c_str(), &info) == 0;
  if (read_only_ && !exists) {
    return absl::NotFoundError(Cat("sqlite store ", path_, ": no such file"));
  }
  if (exists && S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        Cat("sqlite store ", path_, ": is a directory, not a database file"));
  }
  int flags = (read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) return Error("open", rc);
  sqlite3_extended_result_codes(db_, 1);
  busy_timeout_ms_ = config.busy_timeout_ms() > 0 ? config.busy_timeout_ms() : 5000;
  sqlite3_busy_timeout(db_, busy_timeout_ms_);

  auto version = ReadSchemaVersionLocked();
  if (!version.ok()) return version.status();
  if (read_only_) {
    if (absl::Status s = FindOptionalTablesLocked(*version); !s.ok()) return s;
  } else {
    if (absl::Status s = PrepareWritableLocked(*version); !s.ok()) return s;
  }
  if (absl::Status s = SetPragmasLocked(config); !s.ok()) return s;
  return OpenReaderLocked(config);
}

// The file's schema version (0 for a new file), once its header shows a
// Herald store, or nothing yet, written by a Herald no newer than this one.
absl::StatusOr<int64_t> SqliteStore::ReadSchemaVersionLocked() {
  // Reading the header tells a database from random bytes (SQLITE_NOTADB).
  auto app_id = PragmaInt("PRAGMA application_id");
  if (!app_id.ok()) return app_id.status();
  auto version = PragmaInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  auto tables = PragmaInt("SELECT COUNT(*) FROM sqlite_master");
  if (!tables.ok()) return tables.status();

  if (*app_id != kSqliteApplicationId && (*tables > 0 || *app_id != 0 || *version != 0)) {
    return absl::FailedPreconditionError(Cat(
        "sqlite store ", path_,
        ": the file is a SQLite database of another application (application_id ", *app_id,
        ", ", *tables, " schema objects), not a Herald store; it was left untouched"));
  }
  if (*version > kSqliteSchemaVersion) {
    return absl::FailedPreconditionError(Cat(
        "sqlite store ", path_, ": schema version ", *version,
        " was written by a newer Herald; this build reads up to version ", kSqliteSchemaVersion));
  }
  return *version;
}

// Read-only: nothing may be created, so the tables added after version 1
// without a version bump are looked for, and their features off without them.
absl::Status SqliteStore::FindOptionalTablesLocked(int64_t version) {
  if (version == 0) {
    return absl::FailedPreconditionError(
        Cat("sqlite store ", path_, ": the file is empty, not a Herald store"));
  }
  auto has_catalogs = PragmaInt(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'catalog_versions'");
  if (!has_catalogs.ok()) return has_catalogs.status();
  catalog_table_ = *has_catalogs > 0;
  auto has_desk = PragmaInt(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('desk_users', 'desk_sessions',"
      " 'desk_sign_in_failures', 'desk_audit')");
  if (!has_desk.ok()) return has_desk.status();
  desk_tables_ = *has_desk == 4;
  auto has_lists = PragmaInt(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('mail_lists', 'mail_list_rows')");
  if (!has_lists.ok()) return has_lists.status();
  mail_list_tables_ = *has_lists == 2;
  auto has_orders = PragmaInt(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('committed_orders', 'order_discounts')");
  if (!has_orders.ok()) return has_orders.status();
  order_tables_ = *has_orders == 2;
  return absl::OkStatus();
}

// Read-write: WAL mode, the schema created or migrated to this build's
// version, and the tables added since.
absl::Status SqliteStore::PrepareWritableLocked(int64_t version) {
  auto mode = PragmaText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return absl::FailedPreconditionError(Cat(
        "sqlite store ", path_, ": cannot switch to WAL mode (journal_mode is ", *mode, ")"));
  }
  if (version < kSqliteSchemaVersion) {
    // Version 0 is a new file; older versions are migrated (CreateSchemaLocked).
    if (absl::Status s = CreateSchemaLocked(); !s.ok()) return s;
  }
  // Added after version 1 without a version bump: a table older builds ignore.
  if (absl::Status s = Exec(kQuotaLeasesTable); !s.ok()) return s;
  if (absl::Status s = Exec(kForgetLogTable); !s.ok()) return s;
  if (absl::Status s = Exec(kCatalogVersionsTable); !s.ok()) return s;
  for (const char* sql : kDeskTables) {
    if (absl::Status s = Exec(sql); !s.ok()) return s;
  }
  for (const char* sql : kMailListTables) {
    if (absl::Status s = Exec(sql); !s.ok()) return s;
  }
  for (const char* sql : kOrderTables) {
    if (absl::Status s = Exec(sql); !s.ok()) return s;
  }
  return Exec(kDropUnusedIndexes);
}

// Durability as configured, and the writer's cache and checkpoint sizes.
absl::Status SqliteStore::SetPragmasLocked(const v1::SqliteStoreConfig& config) {
  const bool normal = config.synchronous() == v1::SQLITE_SYNCHRONOUS_NORMAL;
  if (absl::Status s = Exec(normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
      !s.ok()) {
    return s;
  }
  // Bulk event batches: a 16 MiB page cache keeps the tables' and indexes'
  // hot pages, and checkpoints every 4000 pages (16 MiB of WAL) instead of
  // 1000 copy and sync less often. Neither changes what a commit guarantees.
  if (!read_only_) {
    if (absl::Status s = Exec("PRAGMA cache_size = -16384"); !s.ok()) return s;
    // Freed space in a page is zeroed when that costs no extra I/O, so
    // updates and deletes leave no stale copies of personal data behind
    // (herald forget turns it fully on for its own deletes).
    if (absl::Status s = Exec("PRAGMA secure_delete = FAST"); !s.ok()) return s;
    if (absl::Status s = Exec("PRAGMA wal_autocheckpoint = 4000"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::OpenReaderLocked(const v1::SqliteStoreConfig& config) {
  const int flags = (read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  for (Reader& r : readers_) {
    absl::MutexLock lock(&r.mu);
    int rc = sqlite3_open_v2(path_.c_str(), &r.db, flags, nullptr);
    if (rc != SQLITE_OK) return ErrorOn(r.db, "open reader", rc);
    sqlite3_extended_result_codes(r.db, 1);
    sqlite3_busy_timeout(r.db, config.busy_timeout_ms() > 0 ? config.busy_timeout_ms() : 5000);
    char* err = nullptr;
    // Scans read the file through a 1 GiB memory map (no read() and copy per page).
    rc = sqlite3_exec(r.db, "PRAGMA query_only = 1; PRAGMA cache_size = -8192; PRAGMA mmap_size = 1073741824",
                      nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc != SQLITE_OK) return ErrorOn(r.db, "open reader", rc);
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStore::ScanConnection> SqliteStore::OpenScanConnection(std::string_view what) {
  sqlite3* raw = nullptr;
  const int flags = (read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, nullptr);
  ScanConnection db(raw, &sqlite3_close_v2);
  if (rc == SQLITE_OK) {
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, busy_timeout_ms_);
    rc = sqlite3_exec(raw, "PRAGMA query_only = 1; BEGIN", nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) return ErrorOn(raw, what, rc);
  return db;
}

absl::Status SqliteStore::ScanList(std::string_view name,
                                  const std::function<absl::Status(std::span<const std::string>)>& on_row) {
  if (!mail_list_tables_) return MailListNotFound(name);
  const std::string what = Cat("list '", name, "': scan (table mail_list_rows)");
  auto connection = OpenScanConnection(what);
  if (!connection.ok()) return connection.status();
  sqlite3* db = connection->get();
  sqlite3_stmt* exists = nullptr;
  sqlite3_stmt* page = nullptr;
  absl::Cleanup finalize = [&exists, &page] {
    sqlite3_finalize(exists);
    sqlite3_finalize(page);
  };
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM mail_lists WHERE name = ?1", -1, &exists, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db,
                            "SELECT seq, vals FROM mail_list_rows WHERE list = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                            -1, &page, nullptr);
  }
  if (rc != SQLITE_OK) return ErrorOn(db, what, rc);
  sqlite3_bind_text(exists, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  rc = sqlite3_step(exists);
  if (rc == SQLITE_DONE) return MailListNotFound(name);
  if (rc != SQLITE_ROW) return ErrorOn(db, what, rc);
  constexpr int64_t kPage = 1000;
  sqlite3_bind_text(page, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(page, 3, kPage);
  std::vector<std::vector<std::string>> rows;
  for (int64_t after = 0;;) {
    rows.clear();
    sqlite3_reset(page);
    sqlite3_bind_int64(page, 2, after);
    while ((rc = sqlite3_step(page)) == SQLITE_ROW) {
      after = sqlite3_column_int64(page, 0);
      if (!DecodeMailListValues(ColumnBlob(page, 1), &rows.emplace_back())) {
        return absl::DataLossError(Cat("sqlite store ", path_, ": table mail_list_rows: list '", name, "': row ",
                                       after, " is corrupt"));
      }
    }
    if (rc != SQLITE_DONE) return ErrorOn(db, what, rc);
    for (const std::vector<std::string>& values : rows) {
      if (absl::Status s = on_row(values); !s.ok()) return s;
    }
    if (static_cast<int64_t>(rows.size()) < kPage) return absl::OkStatus();
  }
}

absl::Status SqliteStore::ScanOrderDiscounts(absl::Time from, absl::Time to,
                                            const std::function<absl::Status(const OrderDiscountRow&)>& fn) {
  if (!order_tables_) return absl::OkStatus();  // a read-only store from before committed orders
  const char* what = "scan order discounts (table order_discounts)";
  auto connection = OpenScanConnection(what);
  if (!connection.ok()) return connection.status();
  sqlite3* db = connection->get();
  sqlite3_stmt* page = nullptr;
  absl::Cleanup finalize = [&page] { sqlite3_finalize(page); };
  // Keyset pages along order_discounts_time: each starts after the last
  // (time, order, discount) read. The first starts after (from, '', ''),
  // before every row at `from`: order ids are never empty.
  int rc = sqlite3_prepare_v2(
      db,
      "SELECT time_us, order_id, discount_id, campaign_id, currency, units, amount_minor FROM order_discounts"
      " WHERE time_us >= ?1 AND time_us < ?4 AND (time_us, order_id, discount_id) > (?1, ?2, ?3)"
      " ORDER BY time_us, order_id, discount_id LIMIT ?5",
      -1, &page, nullptr);
  if (rc != SQLITE_OK) return ErrorOn(db, what, rc);
  constexpr int64_t kPage = 1000;
  sqlite3_bind_int64(page, 4, TimeMicros(to));
  sqlite3_bind_int64(page, 5, kPage);
  int64_t after_time = TimeMicros(from);
  std::string after_order, after_discount;
  std::vector<OrderDiscountRow> rows;
  while (true) {
    rows.clear();
    sqlite3_reset(page);
    sqlite3_bind_int64(page, 1, after_time);
    sqlite3_bind_text(page, 2, after_order.data(), static_cast<int>(after_order.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(page, 3, after_discount.data(), static_cast<int>(after_discount.size()), SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(page)) == SQLITE_ROW) {
      OrderDiscountRow& row = rows.emplace_back();
      after_time = sqlite3_column_int64(page, 0);
      row.time = absl::FromUnixMicros(after_time);
      row.order_id = ColumnText(page, 1);
      row.use.discount_id = ColumnText(page, 2);
      row.use.campaign_id = ColumnText(page, 3);
      row.currency = ColumnText(page, 4);
      row.use.units = sqlite3_column_int64(page, 5);
      row.use.amount_minor = sqlite3_column_int64(page, 6);
    }
    if (rc != SQLITE_DONE) return ErrorOn(db, what, rc);
    if (!rows.empty()) {
      after_order = rows.back().order_id;
      after_discount = rows.back().use.discount_id;
    }
    for (const OrderDiscountRow& row : rows) {
      if (absl::Status s = fn(row); !s.ok()) return s;
    }
    if (static_cast<int64_t>(rows.size()) < kPage) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const v1::SqliteStoreConfig& config) {
  if (config.path().empty()) {
    return absl::InvalidArgumentError("sqlite store: config needs a path");
  }
  auto store = std::make_unique<SqliteStore>(config.path());
  if (absl::Status s = store->Open(config); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace herald::store_backend
