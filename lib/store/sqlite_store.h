// Internal: the SQLite store ("sqlite" in the "store" family).
//
// One database file in WAL mode. At open the file is created with the
// current schema when it is new, migrated when its schema is older, and
// refused with FailedPrecondition when it belongs to another application
// (PRAGMA application_id) or has a newer schema (PRAGMA user_version); a
// file that is not a SQLite database (random bytes, a truncated header) is
// DataLoss naming the file. Nothing is ever recreated over an existing file.
//
// One connection per store behind a mutex; every statement is prepared once
// and cached. Write transactions are BEGIN IMMEDIATE, so several processes
// sharing the file wait for each other (busy_timeout_ms) instead of failing
// on a lock upgrade. Durability: synchronous=FULL by default (see
// herald/model/store.proto).
#ifndef HERALD_LIB_STORE_SQLITE_STORE_H_
#define HERALD_LIB_STORE_SQLITE_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "herald/model/store.pb.h"
#include "herald/store.h"

namespace herald::store_backend {

// The schema version this build writes and reads.
// 2: mail_recipients.claimed_us (in-flight claims carry their time).
inline constexpr int kSqliteSchemaVersion = 2;
// PRAGMA application_id of a Herald store: "HRLD".
inline constexpr int kSqliteApplicationId = 0x48524C44;

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const v1::SqliteStoreConfig& config);

}  // namespace herald::store_backend

#endif  // HERALD_LIB_STORE_SQLITE_STORE_H_
