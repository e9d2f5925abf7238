// herald/store_backend.h: what every Store backend shares (memory, SQLite,
// PostgreSQL, and a third party's): the checks of Store arguments, the
// errors with the same words in every backend, and the stored forms of
// histories and mail-list rows, so that a new backend behaves as the
// built-in ones do and reads their data.
//
// Free functions over plain values; nothing is kept between calls.
// Thread-safety: every function may be called from any thread.
#ifndef HERALD_STORE_BACKEND_H_
#define HERALD_STORE_BACKEND_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/events.pb.h"
#include "herald/model/store.pb.h"
#include "herald/store.h"

namespace herald::store_backend {

// Events are stored with microsecond precision.
int64_t EventMicros(const v1::Event& event);
void SetEventMicros(int64_t micros, v1::Event* event);
// absl::Time to microseconds, with the infinities clamped.
int64_t TimeMicros(absl::Time t);

// Validates deltas (non-empty ids, non-negative counts) and sums duplicates;
// the result is sorted by item id (a fixed lock order for databases).
absl::StatusOr<std::vector<CounterDelta>> MergeDeltas(std::span<const CounterDelta> deltas);

// CommitOrder's argument checks, the same in every backend (its coupons are
// NormalizeCouponUses'): an order id, and each discount once.
absl::Status ValidateOrder(const CommittedOrder& order);

// The coupon codes of a redemption, deduplicated and sorted, validated.
absl::StatusOr<std::vector<CouponUse>> NormalizeCouponUses(std::string_view order_id,
                                                           std::span<const CouponUse> uses);
// The ResourceExhausted error for a code at its limit.
absl::Status CouponLimitError(const CouponUse& use, std::string_view customer_id, bool per_customer,
                              int64_t used);

std::string EncodeHistory(const UserHistory& history);
absl::StatusOr<UserHistory> DecodeHistory(std::string_view bytes, std::string_view user_id);

absl::Status ValidateLease(std::string_view name, std::string_view owner, absl::Duration ttl);
// RecipientTableStore: the table name check (an SQL identifier) and the
// NotFound error naming the table and the store.
absl::Status ValidateStoreTableName(std::string_view table);
absl::Status StoreTableNotFound(std::string_view table, std::string_view store);
// ClaimRequeue::owners matching: `worker` is `owner` or one of its threads ("owner/n").
bool ClaimOwnedBy(std::string_view worker, std::string_view owner);
// CounterStore::LeaseQuota's argument checks.
absl::Status ValidateQuotaLease(std::string_view item_id, int64_t limit);
// The change LeaseQuota makes to a leased total of `leased` (see store.h).
int64_t QuotaChange(int64_t leased, int64_t limit, int64_t delta);
bool IsValidRecipientState(int state);
// CatalogStore: the message of a save that lost the race (Aborted), of a
// version that does not exist (NotFound), and the check of a new entry.
absl::Status CatalogVersionConflict(int64_t expected, int64_t current);
absl::Status CatalogVersionNotFound(int64_t version, int64_t current);
absl::Status ValidateCatalogEntry(int64_t expected_current, const v1::CatalogVersion& entry);
// AccountStore: the same messages from every backend, since the Business
// Desk shows them as they are: `user "ann" already exists` (AlreadyExists),
// `no user "ann"` (NotFound), and a taken session id (AlreadyExists; the id's
// hash is not repeated: it is as good as the cookie for finding the row).
absl::Status DeskUserExists(std::string_view name);
absl::Status DeskUserNotFound(std::string_view name);
absl::Status DeskSessionExists();
// ReadAudit's limit must be positive, as ReadInteractions's.
absl::Status ValidateAuditLimit(int limit);

// PersonalDataStore::EraseSubject compares recipients and table values
// trimmed (spaces, tabs, line ends) and ASCII-lowercased.
std::string LowerTrimmed(std::string_view value);
std::set<std::string, std::less<>> LowerTrimmedSet(std::span<const std::string> values);
std::string_view RecipientStateName(RecipientState state);

// MailListStore: the checks and messages every backend shares, so that the
// desk shows the same words whichever store it runs on.
// A list name: 1-64 of [A-Za-z0-9._-]; InvalidArgument naming it otherwise.
absl::Status ValidateMailListName(std::string_view name);
// PutList's arguments: the name, a kind (RECIPIENTS or OPT_OUT), the
// columns (an opt-out list has exactly {"email"}; a recipient list at least
// one) and every row's width (the error names the row, counted from 1).
absl::Status ValidateMailList(const v1::MailList& list, std::span<const std::vector<std::string>> rows);
// The rows PutList stores, as indexes into `rows`: every row of a recipient
// list; the first row of each address of an opt-out list (kept once each,
// compared as given).
std::vector<size_t> MailListRowsToStore(const v1::MailList& list,
                                        std::span<const std::vector<std::string>> rows);
// AddOptOuts' addresses once each, in their first order.
std::vector<std::string_view> UniqueAddresses(std::span<const std::string> addresses);
// The index of the column "email", or -1.
int MailListEmailColumn(std::span<const std::string> columns);
// A row's erasure key (SubjectErasure::recipients): its "email" value
// trimmed and lowercased; nullopt when the list has no such column.
std::optional<std::string> MailListRowAddress(int email_column, std::span<const std::string> values);
// NotFound "list 'x' not found"; FailedPrecondition for opt-outs added to a
// recipient list.
absl::Status MailListNotFound(std::string_view name);
absl::Status MailListNotOptOut(std::string_view name);
// The stored form of column names and of a row's values: the wire form of
// herald.v1.StoredMailListValues (any bytes, commas, quotes, newlines).
std::string EncodeMailListValues(std::span<const std::string> values);
// Appends to `out`; false for bytes that are not that form.
bool DecodeMailListValues(std::string_view bytes, std::vector<std::string>* out);

}  // namespace herald::store_backend

#endif  // HERALD_STORE_BACKEND_H_
