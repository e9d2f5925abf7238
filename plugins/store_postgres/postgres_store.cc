#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "herald/store_postgres.h"
#include "herald/store_backend.h"

namespace herald {
namespace {

// Cat/CatTo: absl::StrCat over std::string_view pieces too (Debian's abseil
// has its own string_view type, which std::string_view does not convert to).
template <typename T>
auto CatArg(const T& v) {
  if constexpr (std::is_same_v<T, char>) {
    return absl::string_view(&v, 1);
  } else if constexpr (std::is_same_v<T, bool>) {
    return absl::string_view(v ? "true" : "false");
  } else if constexpr (std::is_same_v<T, const char*> || std::is_same_v<T, char*>) {
    return absl::string_view(v == nullptr ? "(null)" : v);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    const std::string_view s = v;
    return absl::string_view(s.data(), s.size());
  } else {
    return v;
  }
}
template <typename... Args>
std::string Cat(const Args&... args) {
  return absl::StrCat(CatArg(args)...);
}
template <typename... Args>
void CatTo(std::string& out, const Args&... args) {
  absl::StrAppend(&out, CatArg(args)...);
}


// 2: mail_recipients.claimed_at (in-flight claims carry their time).
constexpr int kSchemaVersion = 2;
// pg_advisory_lock key guarding schema creation and migration ("HRLDSCHM").
constexpr const char* kMigrationLockKey = "5208469042744312653";

// Tables in the store's schema (search_path is set per connection).
constexpr const char* kSchemaV1[] = {
    "CREATE TABLE herald_meta(key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE counters(item_id text PRIMARY KEY, requests bigint NOT NULL DEFAULT 0,"
    " clicks bigint NOT NULL DEFAULT 0)",
    "CREATE TABLE events(seq bigserial PRIMARY KEY, time_us bigint NOT NULL, type int NOT NULL,"
    " custom_name text NOT NULL, user_id text NOT NULL, session_id text NOT NULL,"
    " item_id text NOT NULL, campaign_id text NOT NULL, page_group text NOT NULL,"
    " count bigint NOT NULL)",
    "CREATE INDEX events_time ON events(time_us, seq)",
    // (events_campaign_time(campaign_id, time_us, seq) is dropped at open:
    // every event paid for it; see CreateUnversionedTables.)
    "CREATE TABLE histories(user_id text PRIMARY KEY, data bytea NOT NULL)",
    "CREATE TABLE interaction_seq(id int PRIMARY KEY, value bigint NOT NULL)",
    "INSERT INTO interaction_seq VALUES(1, 0)",
    "CREATE TABLE interactions(seq bigint PRIMARY KEY, data bytea NOT NULL)",
    "CREATE TABLE mail_jobs(job_id text PRIMARY KEY, state text NOT NULL)",
    "CREATE TABLE mail_recipients(id bigserial PRIMARY KEY, job_id text NOT NULL,"
    " recipient text NOT NULL, state int NOT NULL, detail text NOT NULL DEFAULT '',"
    " attempts int NOT NULL DEFAULT 0, worker text NOT NULL DEFAULT '',"
    " UNIQUE(job_id, recipient))",
    "CREATE INDEX mail_recipients_state ON mail_recipients(job_id, state, id)",
    "CREATE TABLE watermarks(destination text PRIMARY KEY, value bigint NOT NULL)",
    "CREATE TABLE leases(name text PRIMARY KEY, owner text NOT NULL, expires timestamptz NOT NULL)",
    "CREATE TABLE coupon_codes(code text PRIMARY KEY)",
    "CREATE TABLE coupon_redemptions(order_id text NOT NULL, code text NOT NULL,"
    " customer_id text NOT NULL, PRIMARY KEY(order_id, code))",
    "CREATE INDEX coupon_redemptions_code ON coupon_redemptions(code, customer_id)",
    "INSERT INTO herald_meta VALUES('application', 'herald'), ('schema_version', '1')",
};

// Version 2: the time of each in-flight claim (the owner was already in
// `worker`), on the server's clock. NULL (claims of a version-1 build) reads
// as infinitely old.
constexpr const char* kMigrationV2[] = {
    "ALTER TABLE mail_recipients ADD COLUMN IF NOT EXISTS claimed_at timestamptz",
    "UPDATE herald_meta SET value = '2' WHERE key = 'schema_version'",
};

// AccountStore's tables: the Business Desk's users, signed-in sessions (the
// hash of the cookie, never the cookie), failed sign-in counts and audit log.
constexpr const char* kDeskTables[] = {
    "CREATE TABLE IF NOT EXISTS desk_users(name text PRIMARY KEY, role text NOT NULL,"
    " password_hash text NOT NULL, created_us bigint NOT NULL, password_changed_us bigint NOT NULL,"
    " disabled boolean NOT NULL)",
    "CREATE TABLE IF NOT EXISTS desk_sessions(id_hash text PRIMARY KEY, \"user\" text NOT NULL,"
    " csrf_token text NOT NULL, created_us bigint NOT NULL, expires_us bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS desk_sessions_user ON desk_sessions(\"user\")",
    "CREATE TABLE IF NOT EXISTS desk_sign_in_failures(key text PRIMARY KEY, count bigint NOT NULL,"
    " last_us bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS desk_audit(sequence bigserial PRIMARY KEY, time_us bigint NOT NULL,"
    " \"user\" text NOT NULL, action text NOT NULL, object text NOT NULL, detail text NOT NULL)",
};

// MailListStore's tables (the List Manager's lists). `column_names` and
// `vals` hold StoredMailListValues (any bytes); `address` (bytea, so that
// any bytes compare as given) is a row's erasure or uniqueness key: in a
// recipient list, the "email" value trimmed and lowercased (NULL without
// such a column), found by herald forget through mail_list_rows_address; in
// an opt-out list, the address as given, kept once per list by
// mail_list_opt_outs, so that AddOptOuts from any number of servers never
// adds one twice. `seq` orders the rows as given.
constexpr const char* kMailListTables[] = {
    "CREATE TABLE IF NOT EXISTS mail_lists(name text PRIMARY KEY, kind int NOT NULL,"
    " column_names bytea NOT NULL, row_count bigint NOT NULL, updated_by text NOT NULL,"
    " updated_us bigint NOT NULL, description text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mail_list_rows(list text NOT NULL, seq bigint NOT NULL, address bytea,"
    " opt_out boolean NOT NULL, vals bytea NOT NULL, PRIMARY KEY(list, seq))",
    "CREATE UNIQUE INDEX IF NOT EXISTS mail_list_opt_outs ON mail_list_rows(list, address) WHERE opt_out",
    "CREATE INDEX IF NOT EXISTS mail_list_rows_address ON mail_list_rows(address)"
    " WHERE NOT opt_out AND address IS NOT NULL",
};

// CouponStore's committed orders (CommitOrder) and their discounts, what
// the discounts report reads; created at open when missing, like the mail
// list tables. No customer id: the report needs none (coupon_redemptions
// keeps the one per-customer limits need). A discount row repeats its
// order's time and currency, so that a scan by time reads one index and
// joins nothing. The ids and currencies compare by bytes (COLLATE "C"), as
// the other backends order them, in the keys and indexes themselves.
constexpr const char* kOrderTables[] = {
    "CREATE TABLE IF NOT EXISTS committed_orders(order_id text COLLATE \"C\" PRIMARY KEY,"
    " time_us bigint NOT NULL, currency text COLLATE \"C\" NOT NULL, subtotal_minor bigint NOT NULL,"
    " total_minor bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS committed_orders_time ON committed_orders(time_us)",
    "CREATE TABLE IF NOT EXISTS order_discounts(order_id text COLLATE \"C\" NOT NULL,"
    " discount_id text COLLATE \"C\" NOT NULL, campaign_id text NOT NULL, time_us bigint NOT NULL,"
    " currency text NOT NULL, units bigint NOT NULL, amount_minor bigint NOT NULL,"
    " PRIMARY KEY(order_id, discount_id))",
    "CREATE INDEX IF NOT EXISTS order_discounts_time ON order_discounts(time_us, order_id, discount_id)",
};

struct Statement {
  const char* name;
  const char* sql;
};

// Each connection's own staging tables (temporary, emptied at every commit):
// the rows a batch upserts are copied in with COPY, then merged by one
// statement (COPY itself cannot update). Created before the statements that
// read them are prepared.
constexpr const char* kStagingTables[] = {
    "CREATE TEMP TABLE IF NOT EXISTS herald_staged_counter_deltas(item_id text NOT NULL,"
    " requests bigint NOT NULL, clicks bigint NOT NULL) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS herald_staged_histories(user_id text NOT NULL,"
    " data bytea NOT NULL) ON COMMIT DELETE ROWS",
};

// Every statement the store runs, prepared on each connection.
constexpr Statement kStatements[] = {
    // Counter deltas and histories arrive by COPY into the connection's
    // staging tables (kStagingTables), then merge in one statement each.
    // Each empties its staging table as it reads it, so a second batch in the
    // same transaction never merges the first's rows again.
    {"merge_counter_deltas",
     "WITH staged AS (DELETE FROM herald_staged_counter_deltas RETURNING *)"
     " INSERT INTO counters(item_id, requests, clicks)"
     " SELECT item_id, requests, clicks FROM staged ORDER BY item_id"
     " ON CONFLICT (item_id) DO UPDATE SET requests = counters.requests + EXCLUDED.requests,"
     " clicks = counters.clicks + EXCLUDED.clicks"},
    {"load_counters", "SELECT item_id, requests, clicks FROM counters ORDER BY item_id"},
    {"scan_events",
     "SELECT seq, time_us, type, custom_name, user_id, session_id, item_id, campaign_id,"
     " page_group, count FROM events WHERE time_us >= $1::bigint AND time_us < $2::bigint"
     " AND ($3::text = '' OR campaign_id = $3::text) AND ($4::text = '' OR item_id = $4::text)"
     " AND (time_us > $1::bigint OR seq > $5::bigint) ORDER BY time_us, seq LIMIT $6::bigint"},
    {"load_history", "SELECT data FROM histories WHERE user_id = $1"},
    {"merge_histories",
     "WITH staged AS (DELETE FROM herald_staged_histories RETURNING *)"
     " INSERT INTO histories(user_id, data) SELECT user_id, data FROM staged"
     " ORDER BY user_id ON CONFLICT (user_id) DO UPDATE SET data = EXCLUDED.data"},
    {"append_interaction",
     "WITH s AS (UPDATE interaction_seq SET value = value + 1 WHERE id = 1 RETURNING value)"
     " INSERT INTO interactions(seq, data) SELECT value, $1::bytea FROM s RETURNING seq"},
    {"read_interactions",
     "SELECT seq, data FROM interactions WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"},
    {"count_interactions", "SELECT count(*) FROM interactions WHERE seq > $1::bigint"},
    {"ensure_job",
     "INSERT INTO mail_jobs(job_id, state) VALUES($1, 'created') ON CONFLICT (job_id) DO NOTHING"},
    {"add_recipients",
     "INSERT INTO mail_recipients(job_id, recipient, state)"
     " SELECT $1::text, r, 0 FROM unnest($2::text[]) WITH ORDINALITY AS t(r, n) ORDER BY n"
     " ON CONFLICT (job_id, recipient) DO NOTHING"},
    {"claim_pending",
     "UPDATE mail_recipients SET state = 1, attempts = attempts + 1, worker = $3::text,"
     " claimed_at = clock_timestamp()"
     " WHERE id IN (SELECT id FROM mail_recipients WHERE job_id = $1::text AND state = 0"
     " ORDER BY id LIMIT $2::bigint FOR UPDATE SKIP LOCKED) RETURNING id, recipient"},
    {"mark_recipient",
     "UPDATE mail_recipients SET state = $3::int, detail = $4::text"
     " WHERE job_id = $1::text AND recipient = $2::text"},
    {"in_flight",
     "SELECT recipient, state, detail, attempts, worker,"
     " COALESCE((extract(epoch FROM claimed_at) * 1000000)::bigint, 0) FROM mail_recipients"
     " WHERE job_id = $1 AND state = 1 ORDER BY id"},
    // $2: age in microseconds (-1: none by age); $3: owners (exact or "owner/...").
    // One statement: a row claimed again meanwhile is re-checked (READ
    // COMMITTED re-evaluates the WHERE clause on the locked row).
    {"requeue_claims",
     "UPDATE mail_recipients SET state = 0, detail = $4::text"
     " WHERE job_id = $1::text AND state = 1 AND ("
     "($2::bigint >= 0 AND (claimed_at IS NULL"
     " OR claimed_at < clock_timestamp() - $2::bigint * interval '1 microsecond'))"
     " OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS o(owner) WHERE o.owner <> ''"
     " AND (worker = o.owner OR starts_with(worker, o.owner || '/'))))"
     " RETURNING id, recipient, attempts, worker,"
     " COALESCE((extract(epoch FROM claimed_at) * 1000000)::bigint, 0)"},
    {"count_states",
     "SELECT state, count(*) FROM mail_recipients WHERE job_id = $1 GROUP BY state ORDER BY state"},
    {"set_job_state",
     "INSERT INTO mail_jobs(job_id, state) VALUES($1, $2)"
     " ON CONFLICT (job_id) DO UPDATE SET state = EXCLUDED.state"},
    {"get_job_state", "SELECT state FROM mail_jobs WHERE job_id = $1"},
    {"get_watermark", "SELECT value FROM watermarks WHERE destination = $1"},
    {"list_watermarks", "SELECT destination, value FROM watermarks ORDER BY destination COLLATE \"C\""},
    {"set_watermark",
     "INSERT INTO watermarks(destination, value) VALUES($1, $2::bigint)"
     " ON CONFLICT (destination) DO UPDATE SET value = EXCLUDED.value"
     " WHERE watermarks.value <= EXCLUDED.value RETURNING value"},
    {"try_lease",
     "INSERT INTO leases(name, owner, expires)"
     " VALUES($1, $2, clock_timestamp() + $3::bigint * interval '1 microsecond')"
     " ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires"
     " WHERE leases.owner = EXCLUDED.owner OR leases.expires <= clock_timestamp()"
     " RETURNING owner"},
    {"release_lease", "DELETE FROM leases WHERE name = $1 AND owner = $2"},
    {"lease_holder", "SELECT owner FROM leases WHERE name = $1 AND expires > clock_timestamp()"},
    // Quota leases: the first lease starts from the stored deliveries; the
    // UPDATE computes the change from the row it locked (last_change carries
    // it out, since RETURNING sees only new values).
    {"init_quota",
     "INSERT INTO quota_leases(item_id, leased)"
     " VALUES($1, COALESCE((SELECT requests FROM counters WHERE item_id = $1), 0))"
     " ON CONFLICT (item_id) DO NOTHING"},
    {"lease_quota",
     "UPDATE quota_leases SET"
     " last_change = CASE WHEN $3::bigint >= 0 THEN LEAST($3::bigint, GREATEST(0, $2::bigint - leased))"
     " ELSE GREATEST($3::bigint, -leased) END,"
     " leased = leased + CASE WHEN $3::bigint >= 0 THEN LEAST($3::bigint, GREATEST(0, $2::bigint - leased))"
     " ELSE GREATEST($3::bigint, -leased) END"
     " WHERE item_id = $1 RETURNING last_change"},
    {"ensure_codes",
     "INSERT INTO coupon_codes(code) SELECT c FROM unnest($1::text[]) AS t(c) ORDER BY c"
     " ON CONFLICT (code) DO NOTHING"},
    {"lock_codes", "SELECT code FROM coupon_codes WHERE code = ANY($1::text[]) ORDER BY code FOR UPDATE"},
    // Commits of one order id (RedeemCoupons, CommitOrder) run one after the
    // other: a transaction-scoped advisory lock on the id's hash ('ORDR' and
    // the hash: two int4 keys, a key space apart from the migration lock's
    // bigint). Then an order committed either way is seen.
    {"lock_order", "SELECT pg_advisory_xact_lock(1330791506, hashtext($1::text))"},
    {"order_seen",
     "SELECT 1 FROM coupon_redemptions WHERE order_id = $1::text"
     " UNION ALL SELECT 1 FROM committed_orders WHERE order_id = $1::text LIMIT 1"},
    {"count_uses",
     "SELECT count(*) FROM coupon_redemptions WHERE code = $1::text"
     " AND ($2::text = '' OR customer_id = $2::text)"},
    {"insert_redemption",
     "INSERT INTO coupon_redemptions(order_id, code, customer_id) VALUES($1, $2, $3)"},
    {"insert_order",
     "INSERT INTO committed_orders(order_id, time_us, currency, subtotal_minor, total_minor)"
     " VALUES($1, $2::bigint, $3, $4::bigint, $5::bigint)"},
    {"insert_order_discounts",
     "INSERT INTO order_discounts(order_id, discount_id, campaign_id, time_us, currency, units, amount_minor)"
     " SELECT $1::text, d, c, $2::bigint, $3::text, u, a"
     " FROM unnest($4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS t(d, c, u, a)"},
    // Keyset pages along order_discounts_time: each starts after the last
    // (time, order, discount) read; the first after (from, '', ''), before
    // every row at `from` (order ids are never empty).
    {"scan_order_discounts",
     "SELECT time_us, order_id, discount_id, campaign_id, currency, units, amount_minor FROM order_discounts"
     " WHERE time_us >= $1::bigint AND time_us < $4::bigint"
     " AND (time_us, order_id, discount_id) > ($1::bigint, $2::text COLLATE \"C\", $3::text COLLATE \"C\")"
     " ORDER BY time_us, order_id, discount_id LIMIT $5::bigint"},
    {"count_orders",
     "SELECT currency, count(*), sum(subtotal_minor)::bigint, sum(total_minor)::bigint FROM committed_orders"
     " WHERE time_us >= $1::bigint AND time_us < $2::bigint GROUP BY currency ORDER BY currency COLLATE \"C\""},
    // AccountStore (the Business Desk). "user" is a reserved word in
    // PostgreSQL, hence quoted. COLLATE "C": names by bytes, as the other backends order them.
    {"desk_create_user",
     "INSERT INTO desk_users(name, role, password_hash, created_us, password_changed_us, disabled)"
     " VALUES($1, $2, $3, $4::bigint, $5::bigint, $6::boolean) ON CONFLICT (name) DO NOTHING"},
    {"desk_update_user",
     "UPDATE desk_users SET role = $2, password_hash = $3, created_us = $4::bigint,"
     " password_changed_us = $5::bigint, disabled = $6::boolean WHERE name = $1"},
    {"desk_get_user",
     "SELECT name, role, password_hash, created_us, password_changed_us, disabled FROM desk_users"
     " WHERE name = $1"},
    {"desk_list_users",
     "SELECT name, role, password_hash, created_us, password_changed_us, disabled FROM desk_users"
     " ORDER BY name COLLATE \"C\""},
    {"desk_delete_user", "DELETE FROM desk_users WHERE name = $1"},
    {"desk_delete_user_sessions", "DELETE FROM desk_sessions WHERE \"user\" = $1"},
    // One statement counts and returns the count, atomic across servers;
    // GREATEST: a server whose clock lags never moves the last failure back.
    {"desk_add_failure",
     "INSERT INTO desk_sign_in_failures(key, count, last_us) VALUES($1, 1, $2::bigint)"
     " ON CONFLICT (key) DO UPDATE SET count = desk_sign_in_failures.count + 1,"
     " last_us = GREATEST(desk_sign_in_failures.last_us, EXCLUDED.last_us) RETURNING count"},
    {"desk_failures", "SELECT count, last_us FROM desk_sign_in_failures WHERE key = $1"},
    {"desk_clear_failures", "DELETE FROM desk_sign_in_failures WHERE key = $1"},
    {"desk_create_session",
     "INSERT INTO desk_sessions(id_hash, \"user\", csrf_token, created_us, expires_us)"
     " VALUES($1, $2, $3, $4::bigint, $5::bigint) ON CONFLICT (id_hash) DO NOTHING"},
    {"desk_get_session",
     "SELECT id_hash, \"user\", csrf_token, created_us, expires_us FROM desk_sessions WHERE id_hash = $1"},
    {"desk_delete_session", "DELETE FROM desk_sessions WHERE id_hash = $1"},
    {"desk_delete_expired", "DELETE FROM desk_sessions WHERE expires_us < $1::bigint"},
    {"desk_append_audit",
     "INSERT INTO desk_audit(time_us, \"user\", action, object, detail)"
     " VALUES($1::bigint, $2, $3, $4, $5) RETURNING sequence"},
    {"desk_read_audit",
     "SELECT sequence, time_us, \"user\", action, object, detail FROM desk_audit"
     " WHERE $1::bigint = 0 OR sequence < $1::bigint ORDER BY sequence DESC LIMIT $2::bigint"},
    // MailListStore (the List Manager). Every writer locks the list's row
    // (the upsert, the delete or FOR UPDATE) before touching its rows: one
    // lock order, and AddOptOuts of one list run one after the other.
    {"ml_put_list",
     "INSERT INTO mail_lists(name, kind, column_names, row_count, updated_by, updated_us, description)"
     " VALUES($1, $2::int, $3::bytea, $4::bigint, $5, $6::bigint, $7) ON CONFLICT (name) DO UPDATE SET"
     " kind = EXCLUDED.kind, column_names = EXCLUDED.column_names, row_count = EXCLUDED.row_count,"
     " updated_by = EXCLUDED.updated_by, updated_us = EXCLUDED.updated_us, description = EXCLUDED.description"},
    {"ml_delete_rows", "DELETE FROM mail_list_rows WHERE list = $1"},
    {"ml_create_opt_out",
     "INSERT INTO mail_lists(name, kind, column_names, row_count, updated_by, updated_us, description)"
     " VALUES($1, 2, $2::bytea, 0, $3, $4::bigint, '') ON CONFLICT (name) DO NOTHING"},
    {"ml_lock_list", "SELECT kind FROM mail_lists WHERE name = $1 FOR UPDATE"},
    // New addresses after the list's last row, in the order given; an
    // address already on the list is skipped (mail_list_opt_outs).
    {"ml_add_opt_outs",
     "INSERT INTO mail_list_rows(list, seq, address, opt_out, vals)"
     " SELECT $1, last.seq + t.n, t.address, true, t.vals"
     " FROM (SELECT COALESCE(MAX(seq), 0) AS seq FROM mail_list_rows WHERE list = $1) AS last,"
     " unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(address, vals, n) ORDER BY t.n"
     " ON CONFLICT DO NOTHING"},
    {"ml_count_added",
     "UPDATE mail_lists SET row_count = row_count + $2::bigint, updated_by = $3, updated_us = $4::bigint"
     " WHERE name = $1"},
    {"ml_list_lists",
     "SELECT name, kind, column_names, row_count, updated_by, updated_us, description FROM mail_lists"
     " ORDER BY name COLLATE \"C\""},
    {"ml_get_list",
     "SELECT name, kind, column_names, row_count, updated_by, updated_us, description FROM mail_lists"
     " WHERE name = $1"},
    {"ml_page",
     "SELECT seq, vals FROM mail_list_rows WHERE list = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint"},
    {"ml_delete_list", "DELETE FROM mail_lists WHERE name = $1"},
};

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A text or binary parameter.
struct Param {
  std::string value;
  bool binary = false;
  Param(std::string v) : value(std::move(v)) {}                     // NOLINT
  Param(std::string_view v) : value(v) {}                           // NOLINT
  Param(const char* v) : value(v) {}                                // NOLINT
  Param(int64_t v) : value(std::to_string(v)) {}                    // NOLINT
  Param(int v) : value(std::to_string(v)) {}                        // NOLINT
  static Param Bytes(std::string v) {
    Param p(std::move(v));
    p.binary = true;
    return p;
  }
};

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// A PostgreSQL array literal of text values: {"a","b\"c"}.
std::string TextArray(const std::vector<std::string_view>& values) {
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

// A PostgreSQL array literal of bytea values in hex form: {"\\x6162"}.
template <typename Range>
std::string ByteaArray(const Range& values) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out.push_back(',');
    out += "\"\\\\x";
    for (unsigned char c : v) {
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// Binary COPY (PostgreSQL's "binary format" of COPY FROM STDIN): integers
// big-endian, a field as its length and its bytes, -1 for NULL.
void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutCopyField(std::string& out, std::string_view v) {
  PutBigEndian(out, static_cast<uint32_t>(v.size()), 4);
  out.append(v.data(), v.size());
}
void PutCopyNull(std::string& out) { PutBigEndian(out, 0xffffffffu, 4); }
// A bigint (8 bytes) or int (4 bytes) field.
void PutCopyInt(std::string& out, int64_t v, int bytes) {
  PutBigEndian(out, static_cast<uint32_t>(bytes), 4);
  PutBigEndian(out, static_cast<uint64_t>(v), bytes);
}
// The signature, no flags, no header extension.
constexpr std::string_view kCopyHeader("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);

std::string IntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(values[i]);
  }
  out.push_back('}');
  return out;
}

std::string_view Text(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

int64_t Int(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

std::string Bytea(const PGresult* r, int row, int col) {
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &n);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

// "postgresql://user@host:port/dbname", never the password.
std::string SafeDescription(PGconn* conn) {
  return Cat("postgresql://", PQuser(conn), "@", PQhost(conn), ":", PQport(conn), "/", PQdb(conn));
}

// The connection string without its password, for error messages.
std::string Redact(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (options == nullptr) return "(unparsable connection string)";
  std::string host, port, db, user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr") host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
    if (k == "user") user = o->val;
  }
  PQconninfoFree(options);
  return Cat("postgresql://", user, user.empty() ? "" : "@", host.empty() ? "localhost" : host,
             port.empty() ? "" : ":", port, "/", db);
}

absl::StatusCode CodeForSqlState(std::string_view state) {
  if (state.starts_with("08") || state.starts_with("57P") || state == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state.starts_with("23")) return absl::StatusCode::kFailedPrecondition;
  if (state.starts_with("42")) return absl::StatusCode::kInternal;
  if (state.starts_with("53")) return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kInternal;
}

void IgnoreNotice(void*, const char*) {}

class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {
    // NOTICEs ("schema already exists") would go to stderr; they carry nothing for us.
    if (conn_ != nullptr) PQsetNoticeProcessor(conn_, &IgnoreNotice, nullptr);
  }
  ~Connection() { PQfinish(conn_); }
  PGconn* get() const { return conn_; }
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

  // Runs a prepared statement. `what` names the operation in errors.
  absl::StatusOr<ResultPtr> Run(std::string_view what, const char* name,
                                const std::vector<Param>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params) {
      values.push_back(p.value.c_str());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    ResultPtr r(PQexecPrepared(conn_, name, static_cast<int>(params.size()), values.data(),
                               lengths.data(), formats.data(), 0),
                &PQclear);
    return Check(what, std::move(r));
  }

  // Runs a statement without parameters (schema set-up, transaction control).
  absl::StatusOr<ResultPtr> Exec(std::string_view what, const std::string& sql) {
    ResultPtr r(PQexec(conn_, sql.c_str()), &PQclear);
    return Check(what, std::move(r));
  }

  // Runs SQL with parameters without preparing it first (set-up only).
  absl::StatusOr<ResultPtr> ExecParams(std::string_view what, const char* sql,
                                       const std::vector<Param>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params) {
      values.push_back(p.value.c_str());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    ResultPtr r(PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, values.data(),
                             lengths.data(), formats.data(), 0),
                &PQclear);
    return Check(what, std::move(r));
  }

  // Runs `sql`, a COPY ... FROM STDIN: `next` appends the next chunk of the
  // data to its argument and returns false with the last one. The data goes
  // out in chunks as it is made, never whole.
  absl::Status CopyIn(std::string_view what, const std::string& sql, const std::function<bool(std::string*)>& next) {
    ResultPtr start(PQexec(conn_, sql.c_str()), &PQclear);
    if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN) {
      auto r = Check(what, std::move(start));
      if (!r.ok()) return r.status();
      return absl::InternalError(Cat("postgresql store: ", what, ": COPY did not start"));
    }
    std::string chunk;
    for (bool more = true; more;) {
      chunk.clear();
      more = next(&chunk);
      if (!chunk.empty() && PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) {
        return absl::UnavailableError(Cat("postgresql store: ", what, ": ", PQerrorMessage(conn_)));
      }
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) {
      return absl::UnavailableError(Cat("postgresql store: ", what, ": ", PQerrorMessage(conn_)));
    }
    // The COPY's outcome, then the end of the results (libpq needs both read).
    absl::Status s = Check(what, ResultPtr(PQgetResult(conn_), &PQclear)).status();
    while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
    return s;
  }

  // CopyIn of `rows` rows in COPY's binary format: `put_row(i, out)` appends
  // row i (its field count, then its fields). Chunks of about 1 MiB.
  absl::Status CopyBinary(std::string_view what, const std::string& sql, size_t rows,
                          const std::function<void(size_t, std::string&)>& put_row) {
    constexpr size_t kChunk = size_t{1} << 20;
    size_t n = 0;
    bool header = true;
    return CopyIn(what, sql, [&](std::string* chunk) {
      if (header) chunk->append(kCopyHeader);
      header = false;
      for (; n < rows && chunk->size() < kChunk; ++n) put_row(n, *chunk);
      if (n < rows) return true;
      PutBigEndian(*chunk, 0xffff, 2);  // the end of the data
      return false;
    });
  }

 private:
  absl::StatusOr<ResultPtr> Check(std::string_view what, ResultPtr r) {
    if (r == nullptr) {
      return absl::UnavailableError(
          Cat("postgresql store: ", what, ": ", PQerrorMessage(conn_)));
    }
    ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    std::string message = PQresultErrorMessage(r.get());
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    absl::StatusCode code = state == nullptr ? absl::StatusCode::kUnavailable : CodeForSqlState(state);
    if (!healthy()) code = absl::StatusCode::kUnavailable;
    return absl::Status(code, Cat("postgresql store: ", what, ": ", message,
                                  state == nullptr ? "" : " (SQLSTATE ", state == nullptr ? "" : state,
                                  state == nullptr ? "" : ")"));
  }

  PGconn* conn_;
};

class PostgresStore;

// A borrowed connection, given back to the pool (or dropped if broken) at scope exit.
class Borrowed {
 public:
  Borrowed(PostgresStore* store, std::unique_ptr<Connection> conn)
      : store_(store), conn_(std::move(conn)) {}
  Borrowed(Borrowed&&) = default;
  ~Borrowed();
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }

 private:
  PostgresStore* store_;
  std::unique_ptr<Connection> conn_;
};

class PostgresStore final : public Store,
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
  PostgresStore(std::string conninfo, std::string schema, int pool_size, int connect_timeout)
      : conninfo_(std::move(conninfo)),
        schema_(std::move(schema)),
        pool_size_(pool_size),
        connect_timeout_(connect_timeout) {}

  absl::Status Open();

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
  std::string Describe() const override { return Cat(description_, " schema ", schema_); }

  // CounterStore
  absl::Status AddCounterDeltas(std::span<const CounterDelta> deltas) override {
    auto merged = store_backend::MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    if (merged->empty()) return absl::OkStatus();
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, "add counter deltas (table counters)",
                           [&]() { return AddDeltas(**conn, *merged); });
    });
  }
  absl::StatusOr<std::vector<CounterTotal>> LoadCounterTotals() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("load counters (table counters)", "load_counters", {});
    if (!r.ok()) return r.status();
    std::vector<CounterTotal> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.push_back(CounterTotal{std::string(Text(r->get(), i, 0)), Int(r->get(), i, 1),
                                 Int(r->get(), i, 2)});
    }
    return out;
  }

  absl::StatusOr<int64_t> LeaseQuota(std::string_view item_id, int64_t limit, int64_t delta) override {
    if (absl::Status s = store_backend::ValidateQuotaLease(item_id, limit); !s.ok()) return s;
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    const std::string what = Cat("lease quota of \"", item_id, "\" (table quota_leases)");
    if (auto r = (*conn)->Run(what, "init_quota", {item_id}); !r.ok()) return r.status();
    auto r = (*conn)->Run(what, "lease_quota", {item_id, limit, delta});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1) {
      return absl::InternalError(Cat("postgresql store: ", what, ": the lease row is missing"));
    }
    return Int(r->get(), 0, 0);
  }

  // EventStore
  absl::Status RecordBatch(std::span<const v1::Event> events,
                           std::span<const CounterDelta> deltas) override {
    auto merged = store_backend::MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    if (events.empty() && merged->empty()) return absl::OkStatus();
    // One transaction: the events and the counters they move land together
    // or not at all (a failed COPY leaves the batch to the caller's retry).
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, "append events (table events)", [&]() -> absl::Status {
        if (absl::Status s = CopyEvents(**conn, events); !s.ok()) return s;
        return AddDeltas(**conn, *merged);
      });
    });
  }
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<absl::Status(const v1::Event&)>& fn) override {
    int64_t after_time = store_backend::TimeMicros(query.from), after_seq = -1;
    const int64_t to = store_backend::TimeMicros(query.to);
    constexpr int kPage = 5000;
    while (true) {
      std::vector<v1::Event> page;
      {
        auto conn = Acquire();
        if (!conn.ok()) return conn.status();
        auto r = (*conn)->Run("scan events (table events)", "scan_events",
                              {after_time, to, query.campaign_id, query.item_id, after_seq,
                               static_cast<int64_t>(kPage)});
        if (!r.ok()) return r.status();
        const PGresult* res = r->get();
        for (int i = 0; i < PQntuples(res); ++i) {
          v1::Event& e = page.emplace_back();
          after_seq = Int(res, i, 0);
          after_time = Int(res, i, 1);
          store_backend::SetEventMicros(after_time, &e);
          e.set_type(static_cast<v1::EventType>(Int(res, i, 2)));
          e.set_custom_name(std::string(Text(res, i, 3)));
          e.set_user_id(std::string(Text(res, i, 4)));
          e.set_session_id(std::string(Text(res, i, 5)));
          e.set_item_id(std::string(Text(res, i, 6)));
          e.set_campaign_id(std::string(Text(res, i, 7)));
          e.set_page_group(std::string(Text(res, i, 8)));
          e.set_count(Int(res, i, 9));
        }
      }
      for (const v1::Event& e : page) {
        if (absl::Status s = fn(e); !s.ok()) return s;
      }
      if (static_cast<int>(page.size()) < kPage) break;
    }
    return absl::OkStatus();
  }

  // HistoryStore
  absl::StatusOr<std::optional<UserHistory>> LoadHistory(std::string_view user_id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("load history (table histories)", "load_history", {user_id});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<UserHistory>();
    auto h = store_backend::DecodeHistory(Bytea(r->get(), 0, 0), user_id);
    if (!h.ok()) return h.status();
    return std::optional<UserHistory>(std::move(*h));
  }
  absl::Status SaveHistories(
      std::span<const std::pair<std::string, UserHistory>> histories) override {
    std::vector<const std::pair<std::string, UserHistory>*> sorted;
    for (const auto& h : histories) {
      if (h.first.empty()) return absl::InvalidArgumentError("history with an empty user id");
      sorted.push_back(&h);
    }
    if (sorted.empty()) return absl::OkStatus();
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto* a, const auto* b) { return a->first < b->first; });
    // A user named twice keeps the last history given (one row may not be
    // upserted twice by one statement).
    std::vector<const std::pair<std::string, UserHistory>*> last;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i + 1 == sorted.size() || sorted[i + 1]->first != sorted[i]->first) last.push_back(sorted[i]);
    }
    const char* what = "save histories (table histories)";
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        absl::Status copied = (*conn)->CopyBinary(
            what, "COPY herald_staged_histories(user_id, data) FROM STDIN (FORMAT binary)", last.size(),
            [&](size_t i, std::string& out) {
              PutBigEndian(out, 2, 2);  // fields
              PutCopyField(out, last[i]->first);
              PutCopyField(out, store_backend::EncodeHistory(last[i]->second));
            });
        if (!copied.ok()) return copied;
        return (*conn)->Run(what, "merge_histories", {}).status();
      });
    });
  }

  // InteractionStore
  absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& record) override {
    v1::InteractionRecord copy = record;
    copy.clear_sequence();
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("append interaction (table interactions)", "append_interaction",
                          {Param::Bytes(copy.SerializeAsString())});
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after,
                                                                      int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ReadInteractions: limit must be positive");
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("read interactions (table interactions)", "read_interactions",
                          {after, static_cast<int64_t>(limit)});
    if (!r.ok()) return r.status();
    std::vector<v1::InteractionRecord> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      v1::InteractionRecord& rec = out.emplace_back();
      if (!rec.ParseFromString(Bytea(r->get(), i, 1))) {
        return absl::DataLossError(Cat("postgresql store: table interactions: record ",
                                       Int(r->get(), i, 0), " is corrupt"));
      }
      rec.set_sequence(Int(r->get(), i, 0));
    }
    return out;
  }
  absl::StatusOr<int64_t> CountInteractions(int64_t after) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("count interactions (table interactions)", "count_interactions", {after});
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }

  // PersonalDataStore
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadStoredInteractions(int64_t after, int limit) override {
    return ReadInteractions(after, limit);
  }
  absl::StatusOr<int64_t> RewriteInteractions(std::span<const v1::InteractionRecord> records) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    int64_t n = 0;
    const char* what = "rewrite interactions (table interactions)";
    absl::Status s = InTransaction(**conn, what, [&]() -> absl::Status {
      for (const v1::InteractionRecord& r : records) {
        v1::InteractionRecord copy = r;
        copy.clear_sequence();
        auto u = (*conn)->ExecParams(what, "UPDATE interactions SET data = $2::bytea WHERE seq = $1::bigint",
                                     {r.sequence(), Param::Bytes(copy.SerializeAsString())});
        if (!u.ok()) return u.status();
        n += std::strtoll(PQcmdTuples(u->get()), nullptr, 10);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return n;
  }
  absl::StatusOr<v1::ForgetLogEntry> EraseSubject(const SubjectErasure& erasure,
                                                 const v1::ForgetLogEntry& log) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    v1::ForgetLogEntry entry = log;
    std::vector<std::string> touched;
    absl::Status s = InTransaction(**conn, "forget", [&]() -> absl::Status {
      return EraseInTransaction(**conn, erasure, entry, touched);
    });
    if (!s.ok()) return s;
    // Deleted and updated rows stay in the table files as dead tuples until
    // vacuumed; VACUUM FULL writes the touched tables anew without them, but
    // must copy the rows a transaction begun before the erasure may still see.
    // So it first waits (bounded) for those transactions to end. (WAL segments
    // and base backups keep old pages until they age out: docs/operations.md.)
    if (!touched.empty()) WaitForOlderSnapshots(**conn, absl::Seconds(30));
    for (const std::string& table : touched) {
      auto v = (*conn)->Exec(Cat("forget: VACUUM (FULL) ", table), Cat("VACUUM (FULL) ", table));
      if (!v.ok()) {
        return absl::Status(v.status().code(), Cat(v.status().message(), " (the person's rows are deleted: forget log entry ",
                                                   entry.id(), "; run herald forget again to vacuum)"));
      }
    }
    return entry;
  }
  // Waits until no other session of this database holds a snapshot taken
  // before now (pg_stat_activity.backend_xmin of a transaction that began
  // earlier), polling, for at most `limit`. Best effort: sessions of other
  // roles may hide their columns, and a wait that runs out only means some
  // erased rows stay as dead tuples until the next vacuum.
  void WaitForOlderSnapshots(Connection& conn, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    const std::string since = std::to_string(absl::ToUnixMicros(absl::Now()));
    while (true) {
      auto r = conn.ExecParams(
          "forget: wait for older transactions (pg_stat_activity)",
          "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()"
          " AND backend_xmin IS NOT NULL AND xact_start < to_timestamp($1::bigint / 1e6)",
          {Param(since)});
      if (!r.ok() || Int(r->get(), 0, 0) == 0 || absl::Now() >= deadline) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  absl::StatusOr<std::vector<v1::ForgetLogEntry>> ReadForgetLog() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Exec("read the forget log (table forget_log)",
                           "SELECT id, time_us, entry FROM forget_log ORDER BY id");
    if (!r.ok()) return r.status();
    std::vector<v1::ForgetLogEntry> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      v1::ForgetLogEntry& e = out.emplace_back();
      if (!e.ParseFromString(Bytea(r->get(), i, 2))) {
        return absl::DataLossError(Cat("postgresql store: table forget_log: entry ", Int(r->get(), i, 0), " is corrupt"));
      }
      e.set_id(Int(r->get(), i, 0));
      e.set_time_unix_micros(Int(r->get(), i, 1));
    }
    return out;
  }

  // CatalogStore
  absl::StatusOr<int64_t> AppendCatalogVersion(int64_t expected_current,
                                               const v1::CatalogVersion& entry) override {
    if (absl::Status s = store_backend::ValidateCatalogEntry(expected_current, entry); !s.ok()) return s;
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    const char* what = "save catalog version (table catalog_versions)";
    int64_t saved = 0;
    absl::Status s = InTransaction(**conn, what, [&]() -> absl::Status {
      // EXCLUSIVE mode lets readers on and serializes writers from the read
      // of the current version to the insert, across every server.
      auto lock = (*conn)->Exec(what, "LOCK TABLE catalog_versions IN EXCLUSIVE MODE");
      if (!lock.ok()) return lock.status();
      auto current = CurrentCatalogVersionOn(**conn);
      if (!current.ok()) return current.status();
      if (*current != expected_current) return store_backend::CatalogVersionConflict(expected_current, *current);
      saved = *current + 1;
      return (*conn)
          ->ExecParams(what,
                       "INSERT INTO catalog_versions(version, time_us, author, summary, rollback_of, catalog)"
                       " VALUES($1::bigint, $2::bigint, $3, $4, $5::bigint, $6::bytea)",
                       {saved, absl::ToUnixMicros(absl::Now()), entry.author(), entry.summary(),
                        entry.rollback_of(), Param::Bytes(entry.catalog().SerializeAsString())})
          .status();
    });
    if (!s.ok()) return s;
    return saved;
  }
  absl::StatusOr<int64_t> CurrentCatalogVersion() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    return CurrentCatalogVersionOn(**conn);
  }
  absl::StatusOr<v1::CatalogVersion> LoadCatalogVersion(int64_t version) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto current = CurrentCatalogVersionOn(**conn);
    if (!current.ok()) return current.status();
    if (version == 0) version = *current;
    if (version < 1 || version > *current) return store_backend::CatalogVersionNotFound(version, *current);
    auto r = (*conn)->ExecParams("load catalog version (table catalog_versions)",
                                 "SELECT version, time_us, author, summary, rollback_of, catalog"
                                 " FROM catalog_versions WHERE version = $1::bigint",
                                 {version});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return store_backend::CatalogVersionNotFound(version, *current);
    v1::CatalogVersion out = CatalogVersionRow(r->get(), 0);
    if (!out.mutable_catalog()->ParseFromString(Bytea(r->get(), 0, 5))) {
      return absl::DataLossError(Cat("postgresql store: table catalog_versions: version ", version, " is corrupt"));
    }
    return out;
  }
  absl::StatusOr<std::vector<v1::CatalogVersion>> ListCatalogVersions() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Exec("list catalog versions (table catalog_versions)",
                           "SELECT version, time_us, author, summary, rollback_of FROM catalog_versions"
                           " ORDER BY version");
    if (!r.ok()) return r.status();
    std::vector<v1::CatalogVersion> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(CatalogVersionRow(r->get(), i));
    return out;
  }
  absl::StatusOr<int64_t> CurrentCatalogVersionOn(Connection& conn) {
    auto r = conn.Exec("read the current catalog version (table catalog_versions)",
                       "SELECT COALESCE(MAX(version), 0) FROM catalog_versions");
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }
  // Columns 0-4 of a catalog_versions row: everything but the catalog.
  static v1::CatalogVersion CatalogVersionRow(const PGresult* r, int row) {
    v1::CatalogVersion v;
    v.set_version(Int(r, row, 0));
    v.set_time_unix_micros(Int(r, row, 1));
    v.set_author(std::string(Text(r, row, 2)));
    v.set_summary(std::string(Text(r, row, 3)));
    v.set_rollback_of(Int(r, row, 4));
    return v;
  }

  // AccountStore. Each write is one statement (atomic on its own) or, for
  // DeleteUser, one transaction; deadlock losers are retried (WithRetry).
  absl::Status CreateUser(const v1::DeskUser& user) override {
    auto added = WriteDesk("create user (table desk_users)", "desk_create_user", UserParams(user));
    if (!added.ok()) return added.status();
    return *added == 0 ? store_backend::DeskUserExists(user.name()) : absl::OkStatus();
  }
  absl::Status UpdateUser(const v1::DeskUser& user) override {
    auto updated = WriteDesk("update user (table desk_users)", "desk_update_user", UserParams(user));
    if (!updated.ok()) return updated.status();
    return *updated == 0 ? store_backend::DeskUserNotFound(user.name()) : absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskUser>> GetUser(std::string_view name) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("read user (table desk_users)", "desk_get_user", {name});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<v1::DeskUser>();
    return std::optional<v1::DeskUser>(UserRow(r->get(), 0));
  }
  absl::StatusOr<std::vector<v1::DeskUser>> ListUsers() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("list users (table desk_users)", "desk_list_users", {});
    if (!r.ok()) return r.status();
    std::vector<v1::DeskUser> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(UserRow(r->get(), i));
    return out;
  }
  absl::Status DeleteUser(std::string_view name) override {
    const char* what = "delete user (table desk_users)";
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      // One transaction: no moment where the user is gone but a session of it still opens.
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto user = (*conn)->Run(what, "desk_delete_user", {name});
        if (!user.ok()) return user.status();
        if (Changed(user->get()) == 0) return store_backend::DeskUserNotFound(name);
        return (*conn)->Run("delete user (table desk_sessions)", "desk_delete_user_sessions", {name}).status();
      });
    });
  }

  absl::StatusOr<int64_t> AddFailedSignIn(std::string_view key, int64_t time_unix_micros) override {
    const char* what = "count a failed sign-in (table desk_sign_in_failures)";
    int64_t count = 0;
    absl::Status s = WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      auto r = (*conn)->Run(what, "desk_add_failure", {key, time_unix_micros});
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) != 1) {
        return absl::InternalError(Cat("postgresql store: ", what, ": no count returned"));
      }
      count = Int(r->get(), 0, 0);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return count;
  }
  absl::StatusOr<std::pair<int64_t, int64_t>> FailedSignIns(std::string_view key) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("read failed sign-ins (table desk_sign_in_failures)", "desk_failures", {key});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::pair<int64_t, int64_t>(0, 0);
    return std::pair<int64_t, int64_t>(Int(r->get(), 0, 0), Int(r->get(), 0, 1));
  }
  absl::Status ClearFailedSignIns(std::string_view key) override {
    return WriteDesk("clear failed sign-ins (table desk_sign_in_failures)", "desk_clear_failures", {key}).status();
  }

  absl::Status CreateSession(const v1::DeskSession& session) override {
    auto added = WriteDesk("create session (table desk_sessions)", "desk_create_session",
                           {session.id_hash(), session.user(), session.csrf_token(), session.created_unix_micros(),
                            session.expires_unix_micros()});
    if (!added.ok()) return added.status();
    return *added == 0 ? store_backend::DeskSessionExists() : absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskSession>> GetSession(std::string_view id_hash) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("read session (table desk_sessions)", "desk_get_session", {id_hash});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<v1::DeskSession>();
    v1::DeskSession session;
    session.set_id_hash(std::string(Text(r->get(), 0, 0)));
    session.set_user(std::string(Text(r->get(), 0, 1)));
    session.set_csrf_token(std::string(Text(r->get(), 0, 2)));
    session.set_created_unix_micros(Int(r->get(), 0, 3));
    session.set_expires_unix_micros(Int(r->get(), 0, 4));
    return std::optional<v1::DeskSession>(std::move(session));
  }
  absl::Status DeleteSession(std::string_view id_hash) override {
    return WriteDesk("delete session (table desk_sessions)", "desk_delete_session", {id_hash}).status();
  }
  absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user) override {
    return WriteDesk("delete user sessions (table desk_sessions)", "desk_delete_user_sessions", {user});
  }
  absl::StatusOr<int64_t> DeleteExpiredSessions(int64_t now_unix_micros) override {
    return WriteDesk("delete expired sessions (table desk_sessions)", "desk_delete_expired", {now_unix_micros});
  }

  absl::StatusOr<int64_t> AppendAudit(const v1::AuditEntry& entry) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("append to the audit log (table desk_audit)", "desk_append_audit",
                          {entry.time_unix_micros(), entry.user(), entry.action(), entry.object(), entry.detail()});
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> ReadAudit(int64_t before, int limit) override {
    if (absl::Status s = store_backend::ValidateAuditLimit(limit); !s.ok()) return s;
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("read the audit log (table desk_audit)", "desk_read_audit",
                          {before, static_cast<int64_t>(limit)});
    if (!r.ok()) return r.status();
    std::vector<v1::AuditEntry> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      v1::AuditEntry& e = out.emplace_back();
      e.set_sequence(Int(r->get(), i, 0));
      e.set_time_unix_micros(Int(r->get(), i, 1));
      e.set_user(std::string(Text(r->get(), i, 2)));
      e.set_action(std::string(Text(r->get(), i, 3)));
      e.set_object(std::string(Text(r->get(), i, 4)));
      e.set_detail(std::string(Text(r->get(), i, 5)));
    }
    return out;
  }
  // Runs one prepared statement on a desk table; returns the rows it changed.
  absl::StatusOr<int64_t> WriteDesk(std::string_view what, const char* statement, const std::vector<Param>& params) {
    int64_t changed = 0;
    absl::Status s = WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      auto r = (*conn)->Run(what, statement, params);
      if (!r.ok()) return r.status();
      changed = Changed(r->get());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return changed;
  }
  static int64_t Changed(PGresult* r) { return std::strtoll(PQcmdTuples(r), nullptr, 10); }
  // Parameters 1-6 of desk_create_user and desk_update_user.
  static std::vector<Param> UserParams(const v1::DeskUser& user) {
    return {user.name(), user.role(), user.password_hash(), user.created_unix_micros(),
            user.password_changed_unix_micros(), user.disabled() ? "true" : "false"};
  }
  // A desk_users row in UserParams's column order.
  static v1::DeskUser UserRow(const PGresult* r, int row) {
    v1::DeskUser user;
    user.set_name(std::string(Text(r, row, 0)));
    user.set_role(std::string(Text(r, row, 1)));
    user.set_password_hash(std::string(Text(r, row, 2)));
    user.set_created_unix_micros(Int(r, row, 3));
    user.set_password_changed_unix_micros(Int(r, row, 4));
    user.set_disabled(Text(r, row, 5) == "t");
    return user;
  }

  // MailListStore. Each write is one transaction that locks the list's row
  // first; deadlock losers are retried (WithRetry). A scan reads every page
  // from one REPEATABLE READ snapshot.
  absl::Status PutList(const v1::MailList& list, std::span<const std::vector<std::string>> rows) override {
    if (absl::Status s = store_backend::ValidateMailList(list, rows); !s.ok()) return s;
    const std::vector<size_t> keep = store_backend::MailListRowsToStore(list, rows);
    const std::vector<std::string> columns(list.columns().begin(), list.columns().end());
    const bool opt_out = list.kind() == v1::MAIL_LIST_KIND_OPT_OUT;
    const int email = store_backend::MailListEmailColumn(columns);
    const std::string what = Cat("list '", list.name(), "': put (table mail_list_rows)");
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto info = (*conn)->Run(what, "ml_put_list",
                                 {list.name(), static_cast<int>(list.kind()),
                                  Param::Bytes(store_backend::EncodeMailListValues(columns)),
                                  static_cast<int64_t>(keep.size()), list.updated_by(), list.updated_unix_micros(),
                                  list.description()});
        if (!info.ok()) return info.status();
        auto old_rows = (*conn)->Run(what, "ml_delete_rows", {list.name()});
        if (!old_rows.ok()) return old_rows.status();
        return CopyListRows(**conn, what, list.name(), opt_out, email, rows, keep);
      });
    });
  }
  absl::StatusOr<int64_t> AddOptOuts(std::string_view name, std::span<const std::string> addresses,
                                     std::string_view by, int64_t time_unix_micros) override {
    if (absl::Status s = store_backend::ValidateMailListName(name); !s.ok()) return s;
    const std::vector<std::string_view> unique = store_backend::UniqueAddresses(addresses);
    std::vector<std::string> vals;
    for (std::string_view a : unique) {
      const std::string address(a);
      vals.push_back(store_backend::EncodeMailListValues(std::span<const std::string>(&address, 1)));
    }
    const std::string address_array = ByteaArray(unique), vals_array = ByteaArray(vals);
    const std::string what = Cat("list '", name, "': add opt-outs (table mail_list_rows)");
    int64_t added = 0;
    absl::Status s = WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        added = 0;
        auto create = (*conn)->Run(
            what, "ml_create_opt_out",
            {name, Param::Bytes(store_backend::EncodeMailListValues(std::vector<std::string>{"email"})), by,
             time_unix_micros});
        if (!create.ok()) return create.status();
        // Held to the commit: AddOptOuts, PutList and DeleteList of this list wait here.
        auto lock = (*conn)->Run(what, "ml_lock_list", {name});
        if (!lock.ok()) return lock.status();
        if (PQntuples(lock->get()) == 0) return absl::AbortedError(Cat(what, ": the list was deleted meanwhile"));
        if (Int(lock->get(), 0, 0) != v1::MAIL_LIST_KIND_OPT_OUT) return store_backend::MailListNotOptOut(name);
        if (unique.empty()) return absl::OkStatus();
        auto insert = (*conn)->Run(what, "ml_add_opt_outs", {name, address_array, vals_array});
        if (!insert.ok()) return insert.status();
        added = Changed(insert->get());
        if (added == 0) return absl::OkStatus();
        return (*conn)->Run(what, "ml_count_added", {name, added, by, time_unix_micros}).status();
      });
    });
    if (!s.ok()) return s;
    return added;
  }
  absl::StatusOr<std::vector<v1::MailList>> ListLists() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("list the lists (table mail_lists)", "ml_list_lists", {});
    if (!r.ok()) return r.status();
    std::vector<v1::MailList> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      auto list = MailListRow(r->get(), i);
      if (!list.ok()) return list.status();
      out.push_back(std::move(*list));
    }
    return out;
  }
  absl::StatusOr<std::optional<v1::MailList>> GetList(std::string_view name) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("list '", name, "' (table mail_lists)"), "ml_get_list", {name});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<v1::MailList>();
    auto list = MailListRow(r->get(), 0);
    if (!list.ok()) return list.status();
    return std::optional<v1::MailList>(std::move(*list));
  }
  absl::Status ScanList(std::string_view name,
                        const std::function<absl::Status(std::span<const std::string>)>& on_row) override {
    constexpr int64_t kPage = 1000;
    const std::string what = Cat("list '", name, "': scan (table mail_list_rows)");
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    // REPEATABLE READ: every page reads the snapshot the first statement took.
    return InTransaction(
        **conn, what,
        [&]() -> absl::Status {
          auto list = (*conn)->Run(what, "ml_get_list", {name});
          if (!list.ok()) return list.status();
          if (PQntuples(list->get()) == 0) return store_backend::MailListNotFound(name);
          std::vector<std::vector<std::string>> rows;
          for (int64_t after = 0;;) {
            auto page = (*conn)->Run(what, "ml_page", {name, after, kPage});
            if (!page.ok()) return page.status();
            rows.clear();
            for (int i = 0; i < PQntuples(page->get()); ++i) {
              after = Int(page->get(), i, 0);
              if (!store_backend::DecodeMailListValues(Bytea(page->get(), i, 1), &rows.emplace_back())) {
                return absl::DataLossError(
                    Cat("postgresql store: table mail_list_rows: list '", name, "': row ", after, " is corrupt"));
              }
            }
            for (const std::vector<std::string>& values : rows) {
              if (absl::Status s = on_row(values); !s.ok()) return s;
            }
            if (static_cast<int64_t>(rows.size()) < kPage) return absl::OkStatus();
          }
        },
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  absl::Status DeleteList(std::string_view name) override {
    const std::string what = Cat("list '", name, "': delete (table mail_lists)");
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto list = (*conn)->Run(what, "ml_delete_list", {name});
        if (!list.ok()) return list.status();
        if (Changed(list->get()) == 0) return store_backend::MailListNotFound(name);
        return (*conn)->Run(what, "ml_delete_rows", {name}).status();
      });
    });
  }

  // MailLedgerStore
  absl::Status AddRecipients(std::string_view job_id,
                             std::span<const std::string> recipients) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    std::vector<std::string_view> list;
    for (const std::string& r : recipients) {
      if (r.empty()) return absl::InvalidArgumentError(Cat("mail job \"", job_id, "\": empty recipient"));
      list.push_back(r);
    }
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      std::string what = Cat("mail job \"", job_id, "\": add recipients (table mail_recipients)");
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto r = (*conn)->Run(what, "ensure_job", {job_id});
        if (!r.ok()) return r.status();
        if (list.empty()) return absl::OkStatus();
        r = (*conn)->Run(what, "add_recipients", {job_id, TextArray(list)});
        return r.status();
      });
    });
  }
  absl::StatusOr<std::vector<std::string>> ClaimPending(std::string_view job_id,
                                                        std::string_view worker,
                                                        int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ClaimPending: limit must be positive");
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("mail job \"", job_id, "\": claim recipients"), "claim_pending",
                          {job_id, static_cast<int64_t>(limit), worker});
    if (!r.ok()) return r.status();
    std::vector<std::pair<int64_t, std::string>> rows;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      rows.emplace_back(Int(r->get(), i, 0), std::string(Text(r->get(), i, 1)));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& [id, rec] : rows) out.push_back(std::move(rec));
    return out;
  }
  absl::Status MarkRecipients(std::string_view job_id,
                              std::span<const LedgerEntry> entries) override {
    for (const LedgerEntry& e : entries) {
      if (!store_backend::IsValidRecipientState(static_cast<int>(e.state))) {
        return absl::InvalidArgumentError(
            Cat("mail job \"", job_id, "\": recipient \"", e.recipient, "\": invalid state"));
      }
    }
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      std::string what = Cat("mail job \"", job_id, "\": mark recipients");
      return InTransaction(**conn, what, [&]() -> absl::Status {
        for (const LedgerEntry& e : entries) {
          auto r = (*conn)->Run(what, "mark_recipient",
                                {job_id, e.recipient, static_cast<int>(e.state), e.detail});
          if (!r.ok()) return r.status();
          if (std::string_view(PQcmdTuples(r->get())) == "0") {
            return absl::NotFoundError(Cat("mail job \"", job_id, "\": recipient \"", e.recipient,
                                           "\" is not in the job"));
          }
        }
        return absl::OkStatus();
      });
    });
  }
  absl::StatusOr<std::vector<LedgerEntry>> InFlight(std::string_view job_id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("mail job \"", job_id, "\": in flight"), "in_flight", {job_id});
    if (!r.ok()) return r.status();
    std::vector<LedgerEntry> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      LedgerEntry& e = out.emplace_back();
      e.recipient = std::string(Text(r->get(), i, 0));
      e.state = static_cast<RecipientState>(Int(r->get(), i, 1));
      e.detail = std::string(Text(r->get(), i, 2));
      e.attempts = static_cast<int32_t>(Int(r->get(), i, 3));
      e.worker = std::string(Text(r->get(), i, 4));
      const int64_t us = Int(r->get(), i, 5);
      e.claimed_at = us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us);
    }
    return out;
  }
  absl::StatusOr<std::vector<LedgerEntry>> RequeueClaims(std::string_view job_id,
                                                         const ClaimRequeue& which,
                                                         std::string_view detail) override {
    int64_t age_us = -1;
    if (which.older_than != absl::InfiniteDuration()) {
      age_us = std::clamp<int64_t>(absl::ToInt64Microseconds(which.older_than), 0,
                                   int64_t{100} * 365 * 86400 * 1000000);
    }
    std::vector<std::string_view> owners(which.owners.begin(), which.owners.end());
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("mail job \"", job_id, "\": requeue claims (table mail_recipients)"),
                          "requeue_claims", {job_id, age_us, TextArray(owners), detail});
    if (!r.ok()) return r.status();
    std::vector<std::pair<int64_t, LedgerEntry>> rows;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      LedgerEntry e;
      e.recipient = std::string(Text(r->get(), i, 1));
      e.state = RecipientState::kPending;
      e.detail = std::string(detail);
      e.attempts = static_cast<int32_t>(Int(r->get(), i, 2));
      e.worker = std::string(Text(r->get(), i, 3));
      const int64_t us = Int(r->get(), i, 4);
      e.claimed_at = us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us);
      rows.emplace_back(Int(r->get(), i, 0), std::move(e));
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<LedgerEntry> out;
    for (auto& [id, e] : rows) out.push_back(std::move(e));
    return out;
  }
  absl::StatusOr<std::vector<std::pair<RecipientState, int64_t>>> CountStates(
      std::string_view job_id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("mail job \"", job_id, "\": count states"), "count_states", {job_id});
    if (!r.ok()) return r.status();
    std::vector<std::pair<RecipientState, int64_t>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.emplace_back(static_cast<RecipientState>(Int(r->get(), i, 0)), Int(r->get(), i, 1));
    }
    return out;
  }
  absl::Status SetJobState(std::string_view job_id, std::string_view state) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    return (*conn)->Run(Cat("mail job \"", job_id, "\": set state"), "set_job_state", {job_id, state})
        .status();
  }
  absl::StatusOr<std::string> GetJobState(std::string_view job_id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("mail job \"", job_id, "\": get state"), "get_job_state", {job_id});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) {
      return absl::NotFoundError(Cat("mail job \"", job_id, "\" is not in the ledger (", description_, ")"));
    }
    return std::string(Text(r->get(), 0, 0));
  }

  // RecipientTableStore
  absl::Status ScanTable(
      std::string_view table,
      const std::function<absl::Status(std::span<const std::string>)>& on_columns,
      const std::function<absl::Status(std::span<const std::string>)>& on_row) override {
    if (absl::Status s = store_backend::ValidateStoreTableName(table); !s.ok()) return s;
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    const std::string what = Cat("store table '", table, "' (schema ", schema_, ")");
    // A table, view or foreign table of the store's schema: the exact name,
    // else its lower-case form (what PostgreSQL makes of an unquoted name).
    auto found = (*conn)->ExecParams(
        what,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname::text = $1::text AND c.relname::text IN ($2::text, lower($2::text))"
        " AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY c.relname::text = $2::text DESC LIMIT 1",
        {schema_, table});
    if (!found.ok()) return found.status();
    if (PQntuples(found->get()) == 0) return store_backend::StoreTableNotFound(table, Describe());
    // Both names are validated identifiers; quoted besides.
    const std::string source =
        Cat("\"", schema_, "\".\"", Text(found->get(), 0, 0), "\"");
    // A cursor streams the rows in pages inside one read transaction.
    return InTransaction(**conn, what, [&]() -> absl::Status {
      auto declare = (*conn)->Exec(
          what, Cat("DECLARE herald_table_scan NO SCROLL CURSOR FOR SELECT * FROM ", source));
      if (!declare.ok()) return declare.status();
      bool first = true;
      std::vector<std::string> values;
      while (true) {
        auto page = (*conn)->Exec(what, "FETCH FORWARD 1000 FROM herald_table_scan");
        if (!page.ok()) return page.status();
        const PGresult* res = page->get();
        const int n = PQnfields(res);
        if (first) {
          first = false;
          std::vector<std::string> columns;
          for (int c = 0; c < n; ++c) columns.emplace_back(PQfname(res, c));
          if (absl::Status s = on_columns(columns); !s.ok()) return s;
        }
        const int rows = PQntuples(res);
        for (int i = 0; i < rows; ++i) {
          values.clear();
          for (int c = 0; c < n; ++c) values.emplace_back(Text(res, i, c));
          if (absl::Status s = on_row(values); !s.ok()) return s;
        }
        if (rows < 1000) break;
      }
      return (*conn)->Exec(what, "CLOSE herald_table_scan").status();
    });
  }

  // WatermarkStore
  absl::StatusOr<int64_t> GetWatermark(std::string_view destination) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("watermark of \"", destination, "\""), "get_watermark", {destination});
    if (!r.ok()) return r.status();
    return PQntuples(r->get()) == 0 ? 0 : Int(r->get(), 0, 0);
  }
  absl::Status SetWatermark(std::string_view destination, int64_t value) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("set watermark of \"", destination, "\""), "set_watermark",
                          {destination, value});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) {
      auto current = (*conn)->Run("get watermark", "get_watermark", {destination});
      std::string at = current.ok() && PQntuples(current->get()) > 0
                           ? std::string(Text(current->get(), 0, 0))
                           : std::string("a higher value");
      return absl::FailedPreconditionError(Cat("watermark of \"", destination, "\" is at ", at,
                                               "; it cannot move back to ", value));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<bool> TryLease(std::string_view name, std::string_view owner,
                                absl::Duration ttl) override {
    if (absl::Status s = store_backend::ValidateLease(name, owner, ttl); !s.ok()) return s;
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("lease \"", name, "\""), "try_lease",
                          {name, owner, absl::ToInt64Microseconds(ttl)});
    if (!r.ok()) return r.status();
    return PQntuples(r->get()) > 0;
  }
  absl::Status ReleaseLease(std::string_view name, std::string_view owner) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    return (*conn)->Run(Cat("release lease \"", name, "\""), "release_lease", {name, owner}).status();
  }
  absl::StatusOr<std::string> LeaseHolder(std::string_view name) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("lease \"", name, "\""), "lease_holder", {name});
    if (!r.ok()) return r.status();
    return PQntuples(r->get()) == 0 ? std::string() : std::string(Text(r->get(), 0, 0));
  }
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ListWatermarks() override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("list watermarks (table watermarks)", "list_watermarks", {});
    if (!r.ok()) return r.status();
    std::vector<std::pair<std::string, int64_t>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.emplace_back(std::string(Text(r->get(), i, 0)), Int(r->get(), i, 1));
    }
    return out;
  }

  // CouponStore
  absl::Status RedeemCoupons(std::string_view order_id, std::string_view customer_id,
                             std::span<const CouponUse> uses) override {
    auto normalized = store_backend::NormalizeCouponUses(order_id, uses);
    if (!normalized.ok()) return normalized.status();
    if (normalized->empty()) return absl::OkStatus();
    const std::string what = Cat("order \"", order_id, "\": redeem coupons (table coupon_redemptions)");
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto seen = LockOrder(**conn, what, order_id);
        if (!seen.ok()) return seen.status();
        if (*seen) return absl::OkStatus();  // already committed
        return Redeem(**conn, what, order_id, customer_id, *normalized);
      });
    });
  }
  absl::Status CommitOrder(const CommittedOrder& order) override {
    if (absl::Status s = store_backend::ValidateOrder(order); !s.ok()) return s;
    auto coupons = store_backend::NormalizeCouponUses(order.order_id, order.coupons);
    if (!coupons.ok()) return coupons.status();
    const int64_t time_us = store_backend::TimeMicros(order.time);
    std::vector<std::string_view> ids, campaigns;
    std::vector<int64_t> units, amounts;
    for (const OrderDiscountUse& use : order.discounts) {
      ids.push_back(use.discount_id);
      campaigns.push_back(use.campaign_id);
      units.push_back(use.units);
      amounts.push_back(use.amount_minor);
    }
    const std::vector<Param> discounts = {order.order_id, time_us, order.currency, TextArray(ids),
                                          TextArray(campaigns), IntArray(units), IntArray(amounts)};
    const std::string what = Cat("order \"", order.order_id, "\": commit (table committed_orders)");
    return WithRetry([&]() -> absl::Status {
      auto conn = Acquire();
      if (!conn.ok()) return conn.status();
      return InTransaction(**conn, what, [&]() -> absl::Status {
        auto seen = LockOrder(**conn, what, order.order_id);
        if (!seen.ok()) return seen.status();
        if (*seen) return absl::OkStatus();  // committed before, whatever it carries now
        if (absl::Status s = Redeem(**conn, what, order.order_id, order.customer_id, *coupons); !s.ok()) return s;
        auto r = (*conn)->Run(what, "insert_order",
                              {order.order_id, time_us, order.currency, order.subtotal_minor, order.total_minor});
        if (!r.ok()) return r.status();
        if (order.discounts.empty()) return absl::OkStatus();
        return (*conn)->Run(what, "insert_order_discounts", discounts).status();
      });
    });
  }
  absl::Status ScanOrderDiscounts(absl::Time from, absl::Time to,
                                  const std::function<absl::Status(const OrderDiscountRow&)>& fn) override {
    constexpr int64_t kPage = 1000;
    const char* what = "scan order discounts (table order_discounts)";
    const int64_t to_us = store_backend::TimeMicros(to);
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    // REPEATABLE READ: every page reads the snapshot the first statement took.
    return InTransaction(
        **conn, what,
        [&]() -> absl::Status {
          int64_t after_time = store_backend::TimeMicros(from);
          std::string after_order, after_discount;
          std::vector<OrderDiscountRow> rows;
          while (true) {
            auto page = (*conn)->Run(what, "scan_order_discounts",
                                     {after_time, after_order, after_discount, to_us, kPage});
            if (!page.ok()) return page.status();
            const PGresult* res = page->get();
            rows.clear();
            for (int i = 0; i < PQntuples(res); ++i) {
              OrderDiscountRow& row = rows.emplace_back();
              after_time = Int(res, i, 0);
              row.time = absl::FromUnixMicros(after_time);
              row.order_id = Text(res, i, 1);
              row.use.discount_id = Text(res, i, 2);
              row.use.campaign_id = Text(res, i, 3);
              row.currency = Text(res, i, 4);
              row.use.units = Int(res, i, 5);
              row.use.amount_minor = Int(res, i, 6);
            }
            if (!rows.empty()) {
              after_order = rows.back().order_id;
              after_discount = rows.back().use.discount_id;
            }
            for (const OrderDiscountRow& row : rows) {
              if (absl::Status s = fn(row); !s.ok()) return s;
            }
            if (static_cast<int64_t>(rows.size()) < kPage) return absl::OkStatus();
          }
        },
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  absl::StatusOr<std::vector<OrderTotals>> CountOrders(absl::Time from, absl::Time to) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run("count orders (table committed_orders)", "count_orders",
                          {store_backend::TimeMicros(from), store_backend::TimeMicros(to)});
    if (!r.ok()) return r.status();
    std::vector<OrderTotals> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.push_back(OrderTotals{std::string(Text(r->get(), i, 0)), Int(r->get(), i, 1), Int(r->get(), i, 2),
                                Int(r->get(), i, 3)});
    }
    return out;
  }
  absl::StatusOr<int64_t> CouponUses(std::string_view code, std::string_view customer_id) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    auto r = (*conn)->Run(Cat("coupon \"", code, "\": count uses"), "count_uses", {code, customer_id});
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }

  void Release(std::unique_ptr<Connection> conn) {
    absl::MutexLock lock(&mu_);
    if (conn != nullptr && conn->healthy() && PQtransactionStatus(conn->get()) == PQTRANS_IDLE) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;  // broken (or mid-transaction after an error): dropped; a new one is made on demand
    }
  }

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Connect();

  absl::StatusOr<Borrowed> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < pool_size_;
      };
      mu_.Await(absl::Condition(&available));
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return Borrowed(this, std::move(conn));
      }
      ++open_;
    }
    auto conn = Connect();
    if (!conn.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      return conn.status();
    }
    return Borrowed(this, std::move(*conn));
  }

  // Inside a commit's transaction (RedeemCoupons, CommitOrder): takes the
  // order id's lock, held to the end of the transaction, then tells whether
  // the order was committed before, either way. Concurrent commits of one
  // order, in any number of servers, run one after the other: the second
  // sees the first's rows and records nothing. The order's lock is taken
  // before any code's: nobody holding a code's lock ever waits for an
  // order's, so the two never deadlock.
  absl::StatusOr<bool> LockOrder(Connection& conn, const std::string& what, std::string_view order_id) {
    auto r = conn.Run(what, "lock_order", {order_id});
    if (!r.ok()) return r.status();
    r = conn.Run(what, "order_seen", {order_id});
    if (!r.ok()) return r.status();
    return PQntuples(r->get()) > 0;
  }

  // Inside a commit's transaction: checks every code's limits, then records
  // one use of each, all or none (ResourceExhausted names the first code at
  // its limit; the caller rolls back).
  absl::Status Redeem(Connection& conn, const std::string& what, std::string_view order_id,
                      std::string_view customer_id, const std::vector<CouponUse>& uses) {
    if (uses.empty()) return absl::OkStatus();
    std::vector<std::string_view> codes;
    for (const CouponUse& u : uses) codes.push_back(u.code);  // sorted: one lock order
    const std::string code_array = TextArray(codes);
    // Lock every code's row, in code order: concurrent redemptions of a
    // code wait here, so the counts below cannot change until we commit.
    auto r = conn.Run(what, "ensure_codes", {code_array});
    if (!r.ok()) return r.status();
    r = conn.Run(what, "lock_codes", {code_array});
    if (!r.ok()) return r.status();
    for (const CouponUse& use : uses) {
      r = conn.Run(what, "count_uses", {use.code, ""});
      if (!r.ok()) return r.status();
      const int64_t total = Int(r->get(), 0, 0);
      if (use.max_uses > 0 && total + 1 > use.max_uses) {
        return store_backend::CouponLimitError(use, customer_id, false, total);
      }
      if (use.max_uses_per_customer > 0) {
        r = conn.Run(what, "count_uses", {use.code, customer_id});
        if (!r.ok()) return r.status();
        const int64_t mine = Int(r->get(), 0, 0);
        if (mine + 1 > use.max_uses_per_customer) {
          return store_backend::CouponLimitError(use, customer_id, true, mine);
        }
      }
    }
    for (const CouponUse& use : uses) {
      r = conn.Run(what, "insert_redemption", {order_id, use.code, customer_id});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  // Inside a transaction: adds `merged` (one delta per item, sorted by id: a
  // fixed lock order) to the counters, copied into the staging table and
  // merged from there.
  absl::Status AddDeltas(Connection& conn, const std::vector<CounterDelta>& merged) {
    if (merged.empty()) return absl::OkStatus();
    const char* what = "add counter deltas (table counters)";
    absl::Status copied = conn.CopyBinary(
        what, "COPY herald_staged_counter_deltas(item_id, requests, clicks) FROM STDIN (FORMAT binary)",
        merged.size(), [&](size_t i, std::string& out) {
          PutBigEndian(out, 3, 2);  // fields
          PutCopyField(out, merged[i].item_id);
          PutCopyInt(out, merged[i].requests, 8);
          PutCopyInt(out, merged[i].clicks, 8);
        });
    if (!copied.ok()) return copied;
    return conn.Run(what, "merge_counter_deltas", {}).status();
  }

  // Inside a transaction: appends `events` with one COPY.
  static absl::Status CopyEvents(Connection& conn, std::span<const v1::Event> events) {
    if (events.empty()) return absl::OkStatus();
    return conn.CopyBinary(
        "append events (table events)",
        "COPY events(time_us, type, custom_name, user_id, session_id, item_id, campaign_id, page_group, count)"
        " FROM STDIN (FORMAT binary)",
        events.size(), [&](size_t i, std::string& out) {
          const v1::Event& e = events[i];
          PutBigEndian(out, 9, 2);  // fields
          PutCopyInt(out, store_backend::EventMicros(e), 8);
          PutCopyInt(out, static_cast<int64_t>(e.type()), 4);
          PutCopyField(out, e.custom_name());
          PutCopyField(out, e.user_id());
          PutCopyField(out, e.session_id());
          PutCopyField(out, e.item_id());
          PutCopyField(out, e.campaign_id());
          PutCopyField(out, e.page_group());
          PutCopyInt(out, e.count(), 8);
        });
  }

  // herald forget, inside its transaction: the rows of recipient lists whose
  // address is one of `recipients` (opt-out lists keep theirs), and the
  // lists' row counts with them. The lists are locked first, in name order,
  // as every writer of a list does before its rows.
  absl::Status EraseListRows(Connection& conn, const std::set<std::string, std::less<>>& recipients,
                             v1::ForgetLogEntry& entry, std::vector<std::string>& touched) {
    if (recipients.empty()) return absl::OkStatus();
    const std::string addresses = ByteaArray(recipients);
    const char* what = "forget (table mail_list_rows)";
    auto lock = conn.ExecParams(what,
                                "SELECT name FROM mail_lists WHERE name IN (SELECT list FROM mail_list_rows"
                                " WHERE NOT opt_out AND address = ANY($1::bytea[])) ORDER BY name FOR UPDATE",
                                {addresses});
    if (!lock.ok()) return lock.status();
    auto erased = conn.ExecParams(
        what,
        "WITH gone AS (DELETE FROM mail_list_rows WHERE NOT opt_out AND address = ANY($1::bytea[]) RETURNING list),"
        " counts AS (SELECT list, count(*) AS n FROM gone GROUP BY list)"
        " UPDATE mail_lists SET row_count = mail_lists.row_count - counts.n FROM counts"
        " WHERE mail_lists.name = counts.list RETURNING counts.n",
        {addresses});
    if (!erased.ok()) return erased.status();
    int64_t n = 0;
    for (int i = 0; i < PQntuples(erased->get()); ++i) n += Int(erased->get(), i, 0);
    entry.set_table_rows(entry.table_rows() + n);
    if (n > 0) touched.push_back("mail_list_rows");
    return absl::OkStatus();
  }

  // A mail_lists row: name, kind, column_names, row_count, updated_by, updated_us, description.
  static absl::StatusOr<v1::MailList> MailListRow(const PGresult* r, int row) {
    v1::MailList list;
    list.set_name(std::string(Text(r, row, 0)));
    list.set_kind(static_cast<v1::MailListKind>(Int(r, row, 1)));
    std::vector<std::string> columns;
    if (!store_backend::DecodeMailListValues(Bytea(r, row, 2), &columns)) {
      return absl::DataLossError(
          Cat("postgresql store: table mail_lists: the columns of list '", list.name(), "' are corrupt"));
    }
    for (std::string& c : columns) list.add_columns(std::move(c));
    list.set_rows(Int(r, row, 3));
    list.set_updated_by(std::string(Text(r, row, 4)));
    list.set_updated_unix_micros(Int(r, row, 5));
    list.set_description(std::string(Text(r, row, 6)));
    return list;
  }

  // PutList's rows, in one COPY (binary format) of chunks of about 1 MiB:
  // the rows `keep` names, numbered 1, 2, ... in that order.
  absl::Status CopyListRows(Connection& conn, const std::string& what, const std::string& name, bool opt_out,
                            int email, std::span<const std::vector<std::string>> rows, const std::vector<size_t>& keep) {
    return conn.CopyBinary(
        what, "COPY mail_list_rows(list, seq, address, opt_out, vals) FROM STDIN (FORMAT binary)", keep.size(),
        [&](size_t n, std::string& out) {
          const std::vector<std::string>& row = rows[keep[n]];
          PutBigEndian(out, 5, 2);  // fields
          PutCopyField(out, name);
          PutCopyInt(out, static_cast<int64_t>(n + 1), 8);
          std::optional<std::string> address =
              opt_out ? std::optional<std::string>(row[0]) : store_backend::MailListRowAddress(email, row);
          if (address) {
            PutCopyField(out, *address);
          } else {
            PutCopyNull(out);
          }
          PutCopyField(out, opt_out ? std::string_view("\1", 1) : std::string_view("\0", 1));
          PutCopyField(out, store_backend::EncodeMailListValues(row));
        });
  }

  // EraseSubject's statements, inside its transaction; `touched` gets the
  // (quoted) tables that changed, to vacuum.
  absl::Status EraseInTransaction(Connection& conn, const SubjectErasure& erasure, v1::ForgetLogEntry& entry,
                                  std::vector<std::string>& touched) {
    const auto lowered = store_backend::LowerTrimmedSet(erasure.recipients);
    const std::string recipients = TextArray(std::vector<std::string_view>(lowered.begin(), lowered.end()));
    const std::string users =
        TextArray(std::vector<std::string_view>(erasure.user_ids.begin(), erasure.user_ids.end()));
    constexpr char kTrimmed[] = "lower(btrim(%s::text, E' \\t\\r\\n'))";
    struct Step {
      const char* table;
      std::string sql;
      std::string param;
      void (v1::ForgetLogEntry::*add)(int64_t);
      int64_t (v1::ForgetLogEntry::*get)() const;
    };
    const Step steps[] = {
        {"interactions", "DELETE FROM interactions WHERE seq = ANY($1::bigint[])", IntArray(erasure.interactions),
         &v1::ForgetLogEntry::set_interactions, &v1::ForgetLogEntry::interactions},
        {"mail_recipients",
         Cat("DELETE FROM mail_recipients WHERE ", absl::StrReplaceAll(kTrimmed, {{"%s", "recipient"}}),
             " = ANY($1::text[])"),
         recipients, &v1::ForgetLogEntry::set_mail_recipients, &v1::ForgetLogEntry::mail_recipients},
        {"histories", "DELETE FROM histories WHERE user_id = ANY($1::text[])", users,
         &v1::ForgetLogEntry::set_histories, &v1::ForgetLogEntry::histories},
        {"events", "UPDATE events SET user_id = '', session_id = '' WHERE user_id <> '' AND user_id = ANY($1::text[])",
         users, &v1::ForgetLogEntry::set_events_anonymized, &v1::ForgetLogEntry::events_anonymized},
        {"coupon_redemptions",
         "UPDATE coupon_redemptions SET customer_id = '' WHERE customer_id <> '' AND customer_id = ANY($1::text[])",
         users, &v1::ForgetLogEntry::set_coupon_redemptions_anonymized,
         &v1::ForgetLogEntry::coupon_redemptions_anonymized},
    };
    for (const Step& step : steps) {
      auto r = conn.ExecParams(Cat("forget (table ", step.table, ")"), step.sql.c_str(), {step.param});
      if (!r.ok()) return r.status();
      const int64_t n = std::strtoll(PQcmdTuples(r->get()), nullptr, 10);
      (entry.*step.add)((entry.*step.get)() + n);
      if (n > 0) touched.push_back(step.table);
    }
    // Recipient tables: every other table of the schema, every column.
    auto columns = conn.ExecParams(
        "forget: list the recipient tables",
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = $1"
        " AND table_name::text IN (SELECT tablename::text FROM pg_tables WHERE schemaname = $1)"
        " AND table_name::text NOT IN ('herald_meta', 'counters', 'events', 'histories', 'interaction_seq',"
        " 'interactions', 'mail_jobs', 'mail_recipients', 'watermarks', 'leases', 'coupon_codes',"
        " 'coupon_redemptions', 'quota_leases', 'forget_log', 'catalog_versions', 'desk_users', 'desk_sessions',"
        " 'desk_sign_in_failures', 'desk_audit', 'mail_lists', 'mail_list_rows', 'committed_orders',"
        " 'order_discounts') ORDER BY table_name, ordinal_position",
        {schema_});
    if (!columns.ok()) return columns.status();
    std::map<std::string, std::string> where;  // quoted table -> condition
    for (int i = 0; i < PQntuples(columns->get()); ++i) {
      std::string table = QuoteIdentifier(Text(columns->get(), i, 0));
      std::string& w = where[table];
      CatTo(w, w.empty() ? "" : " OR ",
            absl::StrReplaceAll(kTrimmed, {{"%s", QuoteIdentifier(Text(columns->get(), i, 1))}}), " = ANY($1::text[])");
    }
    for (const auto& [table, condition] : where) {
      const std::string sql = Cat("DELETE FROM ", table, " WHERE ", condition);
      auto r = conn.ExecParams(Cat("forget (table ", table, ")"), sql.c_str(), {recipients});
      if (!r.ok()) return r.status();
      const int64_t n = std::strtoll(PQcmdTuples(r->get()), nullptr, 10);
      entry.set_table_rows(entry.table_rows() + n);
      if (n > 0) touched.push_back(table);
    }
    if (absl::Status s = EraseListRows(conn, lowered, entry, touched); !s.ok()) return s;
    const int64_t now = absl::ToUnixMicros(absl::Now());
    entry.set_time_unix_micros(now);
    auto r = conn.ExecParams("forget (table forget_log)",
                             "INSERT INTO forget_log(time_us, entry) VALUES($1::bigint, $2::bytea) RETURNING id",
                             {now, Param::Bytes(entry.SerializeAsString())});
    if (!r.ok()) return r.status();
    entry.set_id(Int(r->get(), 0, 0));
    return absl::OkStatus();
  }

  template <typename Fn>
  absl::Status InTransaction(Connection& conn, std::string_view what, Fn fn, const char* begin_sql = "BEGIN") {
    auto begin = conn.Exec(what, begin_sql);
    if (!begin.ok()) return begin.status();
    absl::Status s = fn();
    if (s.ok()) {
      auto commit = conn.Exec(what, "COMMIT");
      if (!commit.ok()) s = commit.status();
    }
    if (!s.ok() && conn.healthy() && PQtransactionStatus(conn.get()) != PQTRANS_IDLE) {
      (void)conn.Exec(what, "ROLLBACK");
    }
    return s;
  }

  // Retries a transaction that lost a deadlock or serialization race.
  template <typename Fn>
  absl::Status WithRetry(Fn fn) {
    absl::Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = fn();
      if (s.code() != absl::StatusCode::kAborted) return s;
    }
    return s;
  }

  const std::string conninfo_;
  const std::string schema_;
  const int pool_size_;
  const int connect_timeout_;
  std::string description_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

Borrowed::~Borrowed() {
  if (conn_ != nullptr) store_->Release(std::move(conn_));
}

absl::StatusOr<std::unique_ptr<Connection>> PostgresStore::Connect() {
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  std::string timeout = std::to_string(connect_timeout_);
  const char* values[] = {conninfo_.c_str(), timeout.c_str(), "herald", nullptr};
  // expand_dbname=1: "dbname" holds the whole connection string; later keys
  // fill what it leaves unset.
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  auto conn = std::make_unique<Connection>(raw);
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    std::string message = raw == nullptr ? "out of memory" : PQerrorMessage(raw);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return absl::UnavailableError(
        Cat("postgresql store ", Redact(conninfo_), ": cannot connect: ", message));
  }
  auto r = conn->ExecParams("set search_path", "SELECT set_config('search_path', $1, false)",
                            {Cat("\"", schema_, "\"")});
  if (!r.ok()) return r.status();
  for (const char* sql : kStagingTables) {
    if (auto staged = conn->Exec("create the staging tables", sql); !staged.ok()) return staged.status();
  }
  for (const Statement& st : kStatements) {
    ResultPtr prepared(PQprepare(raw, st.name, st.sql, 0, nullptr), &PQclear);
    if (prepared == nullptr || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return absl::InternalError(Cat("postgresql store ", description_, ": cannot prepare ",
                                     st.name, ": ",
                                     prepared == nullptr ? PQerrorMessage(raw)
                                                         : PQresultErrorMessage(prepared.get())));
    }
  }
  return conn;
}

// Runs `statements` in one transaction, rolled back at the first failure;
// `what` names the step in errors.
absl::Status ExecInTransaction(Connection& setup, std::string_view what,
                               std::span<const char* const> statements) {
  auto begin = setup.Exec(what, "BEGIN");
  if (!begin.ok()) return begin.status();
  for (const char* sql : statements) {
    auto r = setup.Exec(Cat(what, ": ", sql), sql);
    if (!r.ok()) {
      (void)setup.Exec("rollback", "ROLLBACK");
      return r.status();
    }
  }
  auto commit = setup.Exec(what, "COMMIT");
  if (!commit.ok()) return commit.status();
  return absl::OkStatus();
}

// Creates `schema` and makes it the search path; a new schema gets version 1's
// tables, an existing one must be a Herald store's.
absl::Status OpenSchema(Connection& setup, const std::string& schema, std::string_view where) {
  auto r = setup.Exec("create schema", Cat("CREATE SCHEMA IF NOT EXISTS \"", schema, "\""));
  if (!r.ok()) return r.status();
  r = setup.ExecParams("set search_path", "SELECT set_config('search_path', $1, false)",
                       {Cat("\"", schema, "\"")});
  if (!r.ok()) return r.status();
  r = setup.ExecParams("inspect schema",
                       "SELECT count(*), count(*) FILTER (WHERE tablename = 'herald_meta')"
                       " FROM pg_tables WHERE schemaname = $1",
                       {schema});
  if (!r.ok()) return r.status();
  const int64_t tables = Int(r->get(), 0, 0), meta = Int(r->get(), 0, 1);
  if (meta == 0 && tables > 0) {
    return absl::FailedPreconditionError(Cat(
        "postgresql store ", where, ": the schema holds ", tables,
        " table(s) but no herald_meta: it is not a Herald store; use another schema"));
  }
  if (meta == 0) return ExecInTransaction(setup, "create tables", kSchemaV1);
  return absl::OkStatus();
}

// herald_meta's schema_version, refused when a newer Herald wrote it.
absl::StatusOr<int64_t> ReadSchemaVersion(Connection& setup, std::string_view where) {
  auto r = setup.Exec("read the schema version",
                      "SELECT value FROM herald_meta WHERE key = 'schema_version'");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) {
    return absl::FailedPreconditionError(
        Cat("postgresql store ", where, ": table herald_meta has no schema_version"));
  }
  const int64_t version = Int(r->get(), 0, 0);
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        Cat("postgresql store ", where, ": schema version ", version,
            " was written by a newer Herald; this build reads up to version ", kSchemaVersion));
  }
  return version;
}

// Creates, when missing, the tables that came after schema version 1.
absl::Status CreateUnversionedTables(Connection& setup) {
  // Added after version 1 without a version bump: a table older builds ignore.
  auto quota = setup.Exec("create table quota_leases",
                          "CREATE TABLE IF NOT EXISTS quota_leases(item_id text PRIMARY KEY,"
                          " leased bigint NOT NULL, last_change bigint NOT NULL DEFAULT 0)");
  if (!quota.ok()) return quota.status();
  // herald forget's record (PersonalDataStore::EraseSubject), likewise.
  auto forget_log = setup.Exec("create table forget_log",
                               "CREATE TABLE IF NOT EXISTS forget_log(id bigserial PRIMARY KEY,"
                               " time_us bigint NOT NULL, entry bytea NOT NULL)");
  if (!forget_log.ok()) return forget_log.status();
  // CatalogStore's versions, likewise; `catalog` is a serialized herald.v1.Catalog.
  auto catalogs = setup.Exec("create table catalog_versions",
                             "CREATE TABLE IF NOT EXISTS catalog_versions(version bigint PRIMARY KEY,"
                             " time_us bigint NOT NULL, author text NOT NULL, summary text NOT NULL,"
                             " rollback_of bigint NOT NULL, catalog bytea NOT NULL)");
  if (!catalogs.ok()) return catalogs.status();
  // AccountStore's tables (the Business Desk), likewise; created before the
  // pooled connections prepare their statements.
  for (const char* sql : kDeskTables) {
    auto desk = setup.Exec(Cat("create the desk tables: ", sql), sql);
    if (!desk.ok()) return desk.status();
  }
  // MailListStore's tables (the List Manager), likewise.
  for (const char* sql : kMailListTables) {
    auto lists = setup.Exec(Cat("create the mail list tables: ", sql), sql);
    if (!lists.ok()) return lists.status();
  }
  // The events' campaign index of version 1: it cost every insert about as
  // much as the rest of the row (half of a COPY's time), while a campaign's
  // report walks the time index and filters, as in SQLite.
  auto dropped = setup.Exec("drop index events_campaign_time", "DROP INDEX IF EXISTS events_campaign_time");
  if (!dropped.ok()) return dropped.status();
  // CouponStore's committed orders and their discounts, likewise.
  for (const char* sql : kOrderTables) {
    auto orders = setup.Exec(Cat("create the order tables: ", sql), sql);
    if (!orders.ok()) return orders.status();
  }
  return absl::OkStatus();
}

// Everything Open does to the schema, under the migration lock: create or
// check it, then bring it up to this build's tables and version.
absl::Status MigrateSchema(Connection& setup, const std::string& schema, std::string_view where) {
  if (absl::Status s = OpenSchema(setup, schema, where); !s.ok()) return s;
  auto version = ReadSchemaVersion(setup, where);
  if (!version.ok()) return version.status();
  if (absl::Status s = CreateUnversionedTables(setup); !s.ok()) return s;
  // Migrations from older versions, each in one transaction (under the advisory lock).
  if (*version < 2) return ExecInTransaction(setup, "migrate to schema version 2", kMigrationV2);
  return absl::OkStatus();
}

absl::Status PostgresStore::Open() {
  // One set-up connection, without prepared statements (the tables may not exist yet).
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  std::string timeout = std::to_string(connect_timeout_);
  const char* values[] = {conninfo_.c_str(), timeout.c_str(), "herald", nullptr};
  Connection setup(PQconnectdbParams(keys, values, 1));
  if (setup.get() == nullptr || PQstatus(setup.get()) != CONNECTION_OK) {
    std::string message = setup.get() == nullptr ? "out of memory" : PQerrorMessage(setup.get());
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return absl::UnavailableError(
        Cat("postgresql store ", Redact(conninfo_), ": cannot connect: ", message));
  }
  description_ = SafeDescription(setup.get());
  const std::string where = Cat(description_, " schema ", schema_);
  auto lock = setup.Exec("take the migration lock", Cat("SELECT pg_advisory_lock(", kMigrationLockKey, ")"));
  if (!lock.ok()) return lock.status();
  absl::Status s = MigrateSchema(setup, schema_, where);
  (void)setup.Exec("release the migration lock",
                   Cat("SELECT pg_advisory_unlock(", kMigrationLockKey, ")"));
  if (!s.ok()) return s;
  // Open one pooled connection now, so that a bad schema or statement shows at open.
  auto first = Acquire();
  return first.status();
}

bool ValidSchemaName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(absl::ascii_islower(name[0]) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const v1::PostgresStoreConfig& config) {
  std::string conninfo = config.connection_string();
  if (conninfo.empty() && !config.connection_string_env().empty()) {
    const char* env = std::getenv(config.connection_string_env().c_str());
    if (env == nullptr || *env == '\0') {
      return absl::InvalidArgumentError(Cat("postgresql store: environment variable ",
                                            config.connection_string_env(), " is not set"));
    }
    conninfo = env;
  }
  if (conninfo.empty()) {
    return absl::InvalidArgumentError(
        "postgresql store: config needs connection_string or connection_string_env");
  }
  const std::string schema = config.schema().empty() ? "herald" : config.schema();
  if (!ValidSchemaName(schema)) {
    return absl::InvalidArgumentError(Cat("postgresql store: schema \"", schema,
                                          "\" must be lower-case letters, digits and _"));
  }
  if (config.pool_size() < 0 || config.connect_timeout_seconds() < 0) {
    return absl::InvalidArgumentError("postgresql store: pool_size and connect_timeout_seconds must not be negative");
  }
  auto store = std::make_unique<PostgresStore>(
      std::move(conninfo), schema, config.pool_size() > 0 ? config.pool_size() : 4,
      config.connect_timeout_seconds() > 0 ? config.connect_timeout_seconds() : 10);
  if (absl::Status s = store->Open(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

absl::Status RegisterPostgresStore(Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterPostgresStore: null registry");
  registry->RegisterIfAbsent(MakeFactory<Store, v1::PostgresStoreConfig>(
      "postgresql", "PostgreSQL, shared by several servers (herald_store_postgres)",
      [](const v1::PostgresStoreConfig& config,
         const CreateContext&) -> absl::StatusOr<std::unique_ptr<Store>> {
        return OpenPostgresStore(config);
      }));
  return absl::OkStatus();
}

}  // namespace herald
