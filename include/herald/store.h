// herald/store.h: what Herald remembers, behind interfaces with several backends.
//
// A Store is one backend (in-memory for tests, SQLite by default, PostgreSQL
// for several servers sharing one campaign) that implements every facet:
//   CounterStore      delivery counters behind Need of Delivery
//   EventStore        campaign events (request, click, custom, sold) for reports
//   HistoryStore      per-user ad history (exposure limits, history penalty)
//   InteractionStore  captured responses (interaction history)
//   MailLedgerStore   per-job recipient states of direct-mail jobs
//   WatermarkStore    export positions per destination, and named leases
//   CouponStore       coupon redemptions with atomic usage limits
//   RecipientTableStore  recipient lists as tables (direct-mail recipients.store_table)
//   PersonalDataStore    erasure of a person, retention and key rotation (herald/privacy.h)
//   CatalogStore      the site's catalog as numbered versions (herald/catalog.h's SaveCatalog)
//   AccountStore      Business Desk users, sessions, sign-in throttling and the audit log
//   MailListStore     the List Manager's recipient and opt-out lists (Business Desk, direct mail)
//
// Hot paths never call a Store: the selector keeps counters and histories in
// memory and a background flusher hands batches to the store (see
// herald/counters.h and docs/operations.md). Every write method that returns
// OK has made its data durable ("acknowledged"): after a crash it is still
// there (SQLite's SYNCHRONOUS_NORMAL weakens this to "after a process crash";
// see herald/model/store.proto).
//
// Backends: "memory" (NewMemoryStore), "sqlite" (built in; one file, WAL,
// created and migrated at open, schema version checked) and "postgresql"
// (the herald_store_postgres library, herald/store_postgres.h). All three
// pass one conformance suite (test/store/store_conformance.h): the atomicity
// promises below hold across threads for every backend and across processes
// for the SQLite and PostgreSQL ones.
//
// Errors: Unavailable for a lost connection or a busy database (retry later),
// FailedPrecondition for a database that is not a Herald store or has a newer
// schema, DataLoss for a corrupt file; messages name the file or the table.
//
// Lifetime: created by a factory of the "store" family (herald/registry.h) or
// OpenStore(); owned by the caller; must outlive whatever borrowed it.
// Thread-safety: every method of every facet may be called concurrently.
#ifndef HERALD_STORE_H_
#define HERALD_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/events.pb.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/store.pb.h"
#include "herald/registry.h"

namespace herald {

// Delivery of one campaign item: requests (served) and clicks.
struct CounterDelta {
  std::string item_id;
  int64_t requests = 0;
  int64_t clicks = 0;
};
using CounterTotal = CounterDelta;

class CounterStore {
 public:
  virtual ~CounterStore() = default;
  // Adds the deltas atomically (all or none) and durably. The same item may
  // appear several times; deltas are summed. Negative deltas are refused
  // (InvalidArgument), as are empty item ids.
  virtual absl::Status AddCounterDeltas(std::span<const CounterDelta> deltas) = 0;
  // The global totals of every item with any delivery.
  virtual absl::StatusOr<std::vector<CounterTotal>> LoadCounterTotals() = 0;
  // Request quota leased to servers (docs/operations.md, "Quota leases").
  // Atomically, across every process sharing the store: a positive `delta`
  // grants min(delta, max(0, limit - leased)) units and adds them to the
  // item's leased total; a negative `delta` gives unused units back (the total
  // never drops below zero). Returns the change made (0..delta for a grant,
  // delta..0 for a return). The first lease of an item starts its total at the
  // item's stored request count, so deliveries counted before leasing began
  // are not leased again. InvalidArgument for an empty item id or a negative
  // limit. Durable when it returns.
  virtual absl::StatusOr<int64_t> LeaseQuota(std::string_view item_id, int64_t limit,
                                             int64_t delta) = 0;
};

struct EventQuery {
  absl::Time from = absl::InfinitePast();   // inclusive
  absl::Time to = absl::InfiniteFuture();   // exclusive
  std::string campaign_id;                  // empty = all
  std::string item_id;                      // empty = all
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  // Appends a batch in one transaction.
  absl::Status AppendEvents(std::span<const v1::Event> events) { return RecordBatch(events, {}); }
  // Appends `events` and adds `deltas` to the counters (as
  // CounterStore::AddCounterDeltas) in one transaction: both or neither. The
  // EventRecorder uses it so that stored counters always equal stored events,
  // even across a crash.
  virtual absl::Status RecordBatch(std::span<const v1::Event> events,
                                   std::span<const CounterDelta> deltas) = 0;
  // Calls `fn` for each matching event in time order (ties in append order);
  // stops at the first non-OK and returns it. Events are read in pages, so
  // `fn` may take its time; events appended during the scan may or may not
  // be seen. `fn` must not call this store's write methods on the same thread
  // for the memory backend.
  virtual absl::Status ScanEvents(const EventQuery& query,
                                  const std::function<absl::Status(const v1::Event&)>& fn) = 0;
};

// Recent items shown to a user, most recent first, with per-item exposure counts.
// The counts behind exposure limits and frequency caps (docs/pacing.md,
// "Exposure limits and frequency caps").
struct UserHistory {
  std::vector<std::string> recent;                         // most recent first
  std::vector<std::pair<std::string, int32_t>> exposures;  // item id, times shown to the user in all
  enum class Scope : int32_t {
    kSession = 1,   // `scope`: the session (a stable 64-bit hash of its id)
    kDay = 2,       // `scope`: the local day (days since 1970-01-01, catalog zone)
    kWeek = 3,      // `scope`: the local day of the week's Monday
    kOverflow = 4,  // live sessions evicted from a full list (the largest count)
  };
  struct Count {
    std::string item_id;
    Scope kind = Scope::kSession;
    int64_t scope = 0;
    int32_t count = 0;
    bool operator==(const Count&) const = default;
  };
  std::vector<Count> counts;
  std::vector<std::pair<int64_t, int64_t>> sessions;  // session hash, last seen (Unix seconds)
  int64_t overflow_until = 0;  // kOverflow counts apply to unknown sessions until then (Unix seconds)
};

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;
  // The stored history, or nullopt for a user never saved.
  virtual absl::StatusOr<std::optional<UserHistory>> LoadHistory(std::string_view user_id) = 0;
  // Replaces the stored histories of these users in one transaction.
  virtual absl::Status SaveHistories(
      std::span<const std::pair<std::string, UserHistory>> histories) = 0;
};

class InteractionStore {
 public:
  virtual ~InteractionStore() = default;
  // Appends one record; assigns and returns its sequence number (> every
  // earlier one). The record is stored whole or not at all.
  virtual absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& record) = 0;
  // Records with sequence > after, in sequence order, at most `limit`.
  virtual absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after,
                                                                              int limit) = 0;
  // How many records have sequence > after: the work left for a reader at
  // `after` (an export's progress line gives its share done and time left).
  // A store that cannot tell cheaply returns Unimplemented (the default);
  // progress is then shown without a total.
  virtual absl::StatusOr<int64_t> CountInteractions(int64_t after) {
    (void)after;
    return absl::UnimplementedError("this store does not count interactions");
  }
};

enum class RecipientState { kPending = 0, kSending = 1, kSent = 2, kFailed = 3, kSkipped = 4 };

struct LedgerEntry {
  std::string recipient;      // the recipient's key (normalized address)
  RecipientState state = RecipientState::kPending;
  std::string detail;         // failure reason, skip reason, or transport id
  int32_t attempts = 0;
  // The last claim (ClaimPending): its owner (the worker id) and when it was
  // made (the store's clock; InfinitePast for claims made before the ledger
  // recorded claim times). Read by InFlight; ignored by MarkRecipients.
  std::string worker;
  absl::Time claimed_at = absl::InfinitePast();
};

// Which in-flight (kSending) claims RequeueClaims gives back to kPending.
struct ClaimRequeue {
  // Claims made longer ago than this (the store's clock); infinite = none by age.
  absl::Duration older_than = absl::InfiniteDuration();
  // Claims owned by these workers, whatever their age: an owner matches its
  // exact id and its threads' ids ("<owner>/<n>").
  std::vector<std::string> owners;
};

class MailLedgerStore {
 public:
  virtual ~MailLedgerStore() = default;
  // Adds recipients in kPending state; ones already in the job are left as they are.
  virtual absl::Status AddRecipients(std::string_view job_id,
                                     std::span<const std::string> recipients) = 0;
  // Atomically moves up to `limit` kPending recipients to kSending for
  // `worker` and returns them, oldest added first (several workers, threads
  // or processes, never claim the same one). Each claim adds one to the
  // recipient's `attempts` and records `worker` as its owner and the claim
  // time (LedgerEntry::worker, claimed_at).
  virtual absl::StatusOr<std::vector<std::string>> ClaimPending(std::string_view job_id,
                                                               std::string_view worker,
                                                               int limit) = 0;
  // Records the outcome of recipients (kSent / kFailed / kSkipped / kPending
  // to retry): state and detail are stored, `attempts` of the entries is
  // ignored (claims count them). All or none: NotFound names the first
  // recipient that is not in the job.
  virtual absl::Status MarkRecipients(std::string_view job_id,
                                      std::span<const LedgerEntry> entries) = 0;
  // Recipients left in kSending (by a crashed worker): returned for the
  // documented in-flight policy.
  virtual absl::StatusOr<std::vector<LedgerEntry>> InFlight(std::string_view job_id) = 0;
  // Atomically moves the kSending recipients that `which` selects back to
  // kPending with `detail`, and returns them (with the owner and time of the
  // claim they had). A claim taken again in the meantime by another worker is
  // a new claim and is judged by its own owner and age, so several processes
  // may requeue at once without requeuing each other's live claims.
  virtual absl::StatusOr<std::vector<LedgerEntry>> RequeueClaims(std::string_view job_id,
                                                                 const ClaimRequeue& which,
                                                                 std::string_view detail) = 0;
  // Counts per state, states with no recipient left out, in state order.
  virtual absl::StatusOr<std::vector<std::pair<RecipientState, int64_t>>> CountStates(
      std::string_view job_id) = 0;
  // Job-level state ("created", "running", "paused", ...), stored with the
  // job. AddRecipients creates an unknown job in state "created"; SetJobState
  // creates it too. GetJobState of an unknown job is NotFound naming it.
  virtual absl::Status SetJobState(std::string_view job_id, std::string_view state) = 0;
  virtual absl::StatusOr<std::string> GetJobState(std::string_view job_id) = 0;
};

class WatermarkStore {
 public:
  virtual ~WatermarkStore() = default;
  // 0 when the destination never advanced.
  virtual absl::StatusOr<int64_t> GetWatermark(std::string_view destination) = 0;
  // Sets the watermark; refuses to move it backwards (FailedPrecondition).
  virtual absl::Status SetWatermark(std::string_view destination, int64_t value) = 0;
  // A named lease: true when `owner` holds `name` until now + ttl (acquired or
  // renewed), false when another live owner holds it. Exclusive across every
  // process sharing the store; "now" is the store's clock (the database
  // server's for PostgreSQL). ttl must be positive.
  virtual absl::StatusOr<bool> TryLease(std::string_view name, std::string_view owner,
                                        absl::Duration ttl) = 0;
  // Gives the lease up if `owner` holds it; a no-op otherwise.
  virtual absl::Status ReleaseLease(std::string_view name, std::string_view owner) = 0;
  // The owner of `name`'s unexpired lease, "" when nobody holds it. Lets a
  // run see that the holder is a process that died and take the lease over
  // (ReleaseLease with the dead owner, then TryLease) without waiting for
  // the ttl.
  virtual absl::StatusOr<std::string> LeaseHolder(std::string_view name) = 0;
  // Every destination whose watermark was ever set, with its value, sorted
  // by name (the conversions report shows each destination's progress).
  virtual absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ListWatermarks() = 0;
};

struct CouponUse {
  std::string code;
  int64_t max_uses = 0;               // 0 = unlimited
  int64_t max_uses_per_customer = 0;  // 0 = unlimited
};

// One discount's part in a committed order: what the discounts report
// counts. Units are the units it discounted (its awards); an order-level
// discount (shipping, subtotal) has none.
struct OrderDiscountUse {
  std::string discount_id;   // the discount campaign item
  std::string campaign_id;   // its campaign when the order was priced
  int64_t units = 0;
  int64_t amount_minor = 0;  // what it took off, in the order's currency
};

// An order as BasketPricer::Commit records it: the coupon codes to redeem
// and the discounts that applied. No customer data beyond the id that
// per-customer coupon limits need (kept with the redemptions only).
struct CommittedOrder {
  std::string order_id;      // required: recognises a commit made twice
  std::string customer_id;   // per-customer coupon limits
  std::string currency;      // ISO 4217, of every amount
  absl::Time time;           // when the order was placed (the basket's time)
  int64_t subtotal_minor = 0;  // before discounts
  int64_t total_minor = 0;     // what the customer paid
  std::vector<CouponUse> coupons;
  std::vector<OrderDiscountUse> discounts;  // at most one entry per discount id
};

// A committed order's discount, as ScanOrderDiscounts reads it.
struct OrderDiscountRow {
  std::string order_id;
  absl::Time time;
  std::string currency;
  OrderDiscountUse use;
};

class CouponStore {
 public:
  virtual ~CouponStore() = default;
  // Records the use of every code by `customer_id` for `order_id` atomically:
  // all or none. ResourceExhausted names the first code whose limit would be
  // exceeded. Committing the same order again is a no-op (idempotent): the
  // order is recognised by order_id alone. A code listed twice counts once.
  // Concurrent checkouts, in any number of processes, never exceed a limit.
  virtual absl::Status RedeemCoupons(std::string_view order_id, std::string_view customer_id,
                                     std::span<const CouponUse> uses) = 0;
  // Uses of `code`, by `customer_id` when it is not empty.
  virtual absl::StatusOr<int64_t> CouponUses(std::string_view code,
                                             std::string_view customer_id = {}) = 0;
  // Commits an order: redeems its coupons (as RedeemCoupons) and records the
  // order and its discounts, all in one transaction: all or none.
  // Committing the same order_id again is a no-op (idempotent), whatever it
  // carries then; ResourceExhausted as RedeemCoupons, and nothing is
  // recorded; InvalidArgument without an order_id or with a discount listed
  // twice.
  virtual absl::Status CommitOrder(const CommittedOrder& order) = 0;
  // Calls `fn` for each discount of the orders committed in [from, to), in
  // order time (ties by order id, then discount id); stops at the first
  // non-OK and returns it. Read in pages from one snapshot. `fn` must not
  // write to this store on the same thread (memory backend).
  virtual absl::Status ScanOrderDiscounts(absl::Time from, absl::Time to,
                                          const std::function<absl::Status(const OrderDiscountRow&)>& fn) = 0;
  // Orders committed in [from, to), per currency, sorted by currency: how
  // many, and the sum of their subtotals and totals.
  struct OrderTotals {
    std::string currency;
    int64_t orders = 0;
    int64_t subtotal_minor = 0;
    int64_t total_minor = 0;
  };
  virtual absl::StatusOr<std::vector<OrderTotals>> CountOrders(absl::Time from, absl::Time to) = 0;
};

// Recipient lists kept as tables in the store, for direct-mail jobs
// (DirectMail recipients.store_table): a table the site fills with SQL
// (SQLite, PostgreSQL: in the store's schema) or with PutTable (the memory
// store), read as column names and text values.
class RecipientTableStore {
 public:
  virtual ~RecipientTableStore() = default;
  // Calls `on_columns` once with the column names in table order, then
  // `on_row` once per row in the table's order (insertion / rowid order where
  // the backend has one) with one text value per column (NULL reads as "").
  // Rows are read in pages, never the whole table at once; stops at the first
  // non-OK from a callback and returns it. `table` must be an SQL identifier
  // (letters, digits and _, not starting with a digit, at most 63
  // characters): InvalidArgument otherwise; NotFound "store table 'x' not
  // found" when there is no such table. Callbacks must not write to this
  // store on the same thread (memory backend).
  virtual absl::Status ScanTable(
      std::string_view table,
      const std::function<absl::Status(std::span<const std::string> columns)>& on_columns,
      const std::function<absl::Status(std::span<const std::string> values)>& on_row) = 0;
  // Creates or replaces `table` (each row has columns.size() values). The
  // memory store implements it (tests, dry runs); the database backends
  // return Unimplemented: create their tables with SQL.
  virtual absl::Status PutTable(std::string_view table, std::span<const std::string> columns,
                                std::span<const std::vector<std::string>> rows) {
    (void)columns;
    (void)rows;
    return absl::UnimplementedError(std::string("store table '") + std::string(table) +
                                    "': this backend's tables are created with SQL, not PutTable");
  }
};

// The List Manager's lists (docs/business-desk.md, "List Manager"): recipient
// lists (columns and rows, DirectMail recipients.store_list) and opt-out lists
// (one column, "email": DirectMail opt_out_store_list, Catalog
// site_opt_out_store_list), kept in the store so that every server and every
// mail job on it sees the same lists. The store keeps rows as given; the
// desk parses, maps and normalizes them before PutList.
class MailListStore {
 public:
  virtual ~MailListStore() = default;
  // Creates or replaces the list `list.name` (its kind, columns,
  // description, updated_by and updated_unix_micros; `rows` is set by the
  // store) with `rows`, each of list.columns_size() values (InvalidArgument
  // naming the row otherwise), in one transaction: a reader sees the old
  // list or the new one, never a mix. An opt-out list must have the one
  // column "email" (InvalidArgument otherwise); its addresses are kept once
  // each, compared as given (the caller normalizes them). InvalidArgument
  // for a malformed name (1-64 of [A-Za-z0-9._-]).
  virtual absl::Status PutList(const v1::MailList& list, std::span<const std::vector<std::string>> rows) = 0;
  // Adds `addresses` to the opt-out list `name`, creating it (with `by` and
  // `time_unix_micros` as its updated_by / updated_unix_micros) when absent;
  // addresses already on it are left alone. Returns how many were new.
  // Atomic, and safe from any number of processes at once (a one-click
  // unsubscribe and an import racing lose nothing). FailedPrecondition when
  // `name` is a recipient list.
  virtual absl::StatusOr<int64_t> AddOptOuts(std::string_view name, std::span<const std::string> addresses,
                                             std::string_view by, int64_t time_unix_micros) = 0;
  // Every list (without rows), by name.
  virtual absl::StatusOr<std::vector<v1::MailList>> ListLists() = 0;
  // The list `name`, or nullopt.
  virtual absl::StatusOr<std::optional<v1::MailList>> GetList(std::string_view name) = 0;
  // Calls `on_row` once per row of list `name`, in the order PutList gave
  // them (opt-out additions after), with one value per column. Rows are read
  // in pages, never the whole list at once, from one snapshot; stops at the
  // first non-OK from the callback and returns it. NotFound "list 'x' not
  // found". The callback must not write to this store on the same thread.
  virtual absl::Status ScanList(std::string_view name,
                                const std::function<absl::Status(std::span<const std::string> values)>& on_row) = 0;
  // Removes the list and its rows; NotFound naming it when absent.
  virtual absl::Status DeleteList(std::string_view name) = 0;
};

// What ForgetPerson (herald/privacy.h) erases in one transaction.
struct SubjectErasure {
  std::string selector;                      // "email", "phone", "customer": recorded, not the value
  std::vector<int64_t> interactions;         // sequences of the person's interactions: deleted
  std::vector<std::string> recipients;       // mail ledger recipients, recipient-table values and
                                             // the address ("email" column) of recipient-list
                                             // rows (compared trimmed and lowercased): rows
                                             // deleted. Opt-out lists keep the address: it
                                             // must never be mailed again

  std::vector<std::string> user_ids;         // histories deleted; events' user and session ids and
                                             // coupon redemptions' customer ids blanked
};

// Erasure, retention and key rotation of personal data (herald/privacy.h).
// Backends work on stored records as they are (sealed or hashed); the
// privacy layer decides what to erase or rewrite.
class PersonalDataStore {
 public:
  virtual ~PersonalDataStore() = default;
  // Records with sequence > after, in sequence order, at most `limit`, in
  // their stored form (a protected store's interactions() opens them).
  virtual absl::StatusOr<std::vector<v1::InteractionRecord>> ReadStoredInteractions(int64_t after,
                                                                                    int limit) = 0;
  // Replaces the stored data of records (matched by sequence; records gone
  // meanwhile are skipped) in one transaction. Returns how many were replaced.
  virtual absl::StatusOr<int64_t> RewriteInteractions(std::span<const v1::InteractionRecord> records) = 0;
  // Erases what `erasure` lists in one transaction and appends a forget-log
  // entry with the counts (`log.files` as given); then scrubs the freed space
  // so the erased bytes are gone from the database files (SQLite:
  // secure_delete during the erasure, then a WAL checkpoint(TRUNCATE);
  // PostgreSQL: VACUUM FULL of the touched tables; WAL archives and backups
  // keep old pages until they age out: docs/operations.md). Returns the entry.
  virtual absl::StatusOr<v1::ForgetLogEntry> EraseSubject(const SubjectErasure& erasure,
                                                         const v1::ForgetLogEntry& log) = 0;
  // Every forget-log entry, oldest first.
  virtual absl::StatusOr<std::vector<v1::ForgetLogEntry>> ReadForgetLog() = 0;
};

// The site's catalog kept in the store as numbered versions, so that every
// process sharing the store runs the same campaigns and a change reaches
// them without a restart (docs/business-desk.md). Versions are never changed
// or deleted: a rollback appends an old catalog again. The store keeps bytes;
// validation and the change summary belong to herald/catalog.h's
// SaveCatalog, the one writer callers should use.
class CatalogStore {
 public:
  virtual ~CatalogStore() = default;
  // Appends `entry` (its catalog, author, summary and rollback_of; the store
  // sets version and time) as version current + 1, atomically across every
  // process sharing the store, but only when the current version is
  // `expected_current` (0: none yet); otherwise Aborted naming both numbers,
  // so that an editor working on an old version never overwrites a newer
  // one unseen. Returns the new version's number.
  virtual absl::StatusOr<int64_t> AppendCatalogVersion(int64_t expected_current,
                                                       const v1::CatalogVersion& entry) = 0;
  // The newest version's number; 0 when no catalog was ever saved. Cheap:
  // processes poll it to see a new version (CatalogWatcher).
  virtual absl::StatusOr<int64_t> CurrentCatalogVersion() = 0;
  // One version with its catalog; `version` 0 is the current one. NotFound
  // names a version that does not exist (or says the store holds none).
  virtual absl::StatusOr<v1::CatalogVersion> LoadCatalogVersion(int64_t version) = 0;
  // Every version, oldest first, without their catalogs.
  virtual absl::StatusOr<std::vector<v1::CatalogVersion>> ListCatalogVersions() = 0;
};

// The Business Desk's accounts (herald/desk.h): users, signed-in sessions,
// failed sign-in counts and the audit log, shared by every server on the
// store so that a session or a lockout holds whichever server answers. The
// store keeps records; passwords are hashed, roles checked and sessions
// expired by herald/desk.h, the one writer callers should use.
class AccountStore {
 public:
  virtual ~AccountStore() = default;
  // Adds a user; AlreadyExists naming it when the name is taken.
  virtual absl::Status CreateUser(const v1::DeskUser& user) = 0;
  // Replaces the user of the same name; NotFound naming it when absent.
  virtual absl::Status UpdateUser(const v1::DeskUser& user) = 0;
  // The user, or nullopt.
  virtual absl::StatusOr<std::optional<v1::DeskUser>> GetUser(std::string_view name) = 0;
  // Every user, by name.
  virtual absl::StatusOr<std::vector<v1::DeskUser>> ListUsers() = 0;
  // Removes the user and its sessions; NotFound naming it when absent.
  virtual absl::Status DeleteUser(std::string_view name) = 0;

  // Sign-in throttling: counts one more failed sign-in under `key` ("user:ann",
  // "address:192.0.2.1"; any text) at `time_unix_micros` and returns the
  // count, atomically across processes.
  virtual absl::StatusOr<int64_t> AddFailedSignIn(std::string_view key, int64_t time_unix_micros) = 0;
  // The count under `key` and the time of its last failure; {0, 0} when none.
  virtual absl::StatusOr<std::pair<int64_t, int64_t>> FailedSignIns(std::string_view key) = 0;
  // Forgets the failures under `key` (a successful sign-in).
  virtual absl::Status ClearFailedSignIns(std::string_view key) = 0;

  // Adds a session (AlreadyExists when its id_hash is taken).
  virtual absl::Status CreateSession(const v1::DeskSession& session) = 0;
  // The session with `id_hash`, or nullopt (expired ones too: the caller checks).
  virtual absl::StatusOr<std::optional<v1::DeskSession>> GetSession(std::string_view id_hash) = 0;
  // Removes one session; OK when absent.
  virtual absl::Status DeleteSession(std::string_view id_hash) = 0;
  // Removes every session of `user` (its password, role or state changed);
  // returns how many.
  virtual absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user) = 0;
  // Removes the sessions that expired before `now_unix_micros`; returns how many.
  virtual absl::StatusOr<int64_t> DeleteExpiredSessions(int64_t now_unix_micros) = 0;

  // Appends `entry` (the store sets its sequence) and returns the sequence.
  virtual absl::StatusOr<int64_t> AppendAudit(const v1::AuditEntry& entry) = 0;
  // At most `limit` entries with a sequence below `before` (0: from the
  // newest), newest first.
  virtual absl::StatusOr<std::vector<v1::AuditEntry>> ReadAudit(int64_t before, int limit) = 0;
};

class Store : public Extension {
 public:
  virtual CounterStore& counters() = 0;
  virtual EventStore& events() = 0;
  virtual HistoryStore& history() = 0;
  virtual InteractionStore& interactions() = 0;
  virtual MailLedgerStore& mail_ledgers() = 0;
  virtual WatermarkStore& watermarks() = 0;
  virtual CouponStore& coupons() = 0;
  // Recipient tables (DirectMail recipients.store_table); null when the
  // backend has none (every built-in backend has them).
  virtual RecipientTableStore* recipient_tables() { return nullptr; }
  // Erasure and retention (herald/privacy.h); null when the backend has none
  // (every built-in backend has it).
  virtual PersonalDataStore* personal_data() { return nullptr; }
  // Catalog versions; null when the backend has none (every built-in
  // backend has them).
  virtual CatalogStore* catalogs() { return nullptr; }
  // Business Desk accounts; null when the backend has none (every built-in
  // backend has them).
  virtual AccountStore* accounts() { return nullptr; }
  // The List Manager's lists; null when the backend has none (every
  // built-in backend has them).
  virtual MailListStore* mail_lists() { return nullptr; }
  // Makes every acknowledged write durable (a no-op for stores that write through).
  virtual absl::Status Flush() = 0;
  // "memory", "sqlite:/path/to/file", "postgresql://..." (credentials elided).
  virtual std::string Describe() const = 0;
};

template <>
struct ExtensionTraits<Store> {
  static constexpr std::string_view kFamily = "store";
};

// A new in-memory store (tests, benchmarks, dry runs).
std::unique_ptr<Store> NewMemoryStore();

// Registers the built-in backends "memory" (herald.v1.MemoryStoreConfig) and
// "sqlite" (herald.v1.SqliteStoreConfig) in the "store" family. Idempotent.
// "postgresql" lives in its own library: RegisterPostgresStore().
absl::Status RegisterStoreBackends(Registry* registry);

struct OpenStoreOptions {
  bool read_only = false;  // SQLite: open an existing file for reading, never create or migrate
  std::string base_dir;    // relative SQLite paths resolve against it; empty = the working directory
  // Personal identifiers at rest (herald/privacy.h): completed from the
  // environment (key ring, HERALD_PERSONAL_DATA_MODE) and applied to SQLite
  // and PostgreSQL stores; the memory store is returned unwrapped.
  v1::PersonalDataConfig personal_data;
};

// Opens a store by URI through the registry's "store" family:
//   "memory"                      NewMemoryStore()
//   "sqlite:PATH" or a plain PATH  the SQLite store (created and migrated)
//   "postgresql://..." / "postgres://..."  the PostgreSQL store (when registered)
// "memory" and "sqlite" work even when the registry lacks them (the built-in
// factories are used). A PostgreSQL URI with no "postgresql" factory
// registered is FailedPrecondition saying to link herald_store_postgres and
// call RegisterPostgresStore(). SQLite and PostgreSQL stores come back
// wrapped by ProtectPersonalData (herald/privacy.h); ENCRYPT without a key
// ring is FailedPrecondition.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view uri, const Registry& registry,
                                                 const OpenStoreOptions& options = {});

}  // namespace herald

#endif  // HERALD_STORE_H_
