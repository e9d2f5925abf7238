// Internal: helpers shared by the store backends (memory, SQLite, PostgreSQL).
#ifndef HERALD_LIB_STORE_STORE_COMMON_H_
#define HERALD_LIB_STORE_STORE_COMMON_H_

#include <cstdint>
#include <limits>
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
#include "core/strings.h"

namespace herald::store_internal {

// Events are stored with microsecond precision.
int64_t EventMicros(const v1::Event& event);
void SetEventMicros(int64_t micros, v1::Event* event);
// absl::Time to microseconds, with the infinities clamped.
int64_t TimeMicros(absl::Time t);

// Validates deltas (non-empty ids, non-negative counts) and sums duplicates;
// the result is sorted by item id (a fixed lock order for databases).
absl::StatusOr<std::vector<CounterDelta>> MergeDeltas(std::span<const CounterDelta> deltas);

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

}  // namespace herald::store_internal

#endif  // HERALD_LIB_STORE_STORE_COMMON_H_
