// herald/store_postgres.h: the PostgreSQL store, for several storefront
// servers sharing one set of campaigns.
//
// Lives in its own library, herald_store_postgres (links libpq), so that the
// core has no libpq dependency. A program that wants it links the library and
// calls RegisterPostgresStore(); OpenStore("postgresql://...") then works.
//
// The store keeps `pool_size` connections (herald.v1.PostgresStoreConfig),
// prepares every statement once per connection, and creates or migrates its
// tables in `schema` at open under an advisory lock, so several servers may
// start at once. A schema with a newer Herald version, or one holding tables
// that are not Herald's, is FailedPrecondition. Errors name the table or the
// statement; the connection string's password never appears in messages or
// in Describe().
//
// Writes: events, counter deltas and histories go in by binary COPY, in one
// transaction per call (deltas and histories through the connection's own
// temporary staging tables, then one upsert statement each); a refused COPY
// leaves nothing written, so an EventRecorder keeps the batch for its next
// flush.
//
// Atomicity across servers: counter deltas are upserts (all deltas of a call
// in one statement); coupon redemptions lock each code's row (SELECT ... FOR
// UPDATE, in code order) before counting; ClaimPending uses FOR UPDATE SKIP
// LOCKED; leases are a row with an expiry on the database server's clock;
// interaction sequence numbers are taken from a locked counter row so that
// they commit in order (an exporter's watermark never skips a record that
// commits late).
//
// Thread-safety: the store is safe to use from any number of threads; each
// call borrows a connection from the pool (waiting when all are busy).
#ifndef HERALD_STORE_POSTGRES_H_
#define HERALD_STORE_POSTGRES_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/model/store.pb.h"
#include "herald/registry.h"
#include "herald/store.h"

namespace herald {

// Registers "postgresql" (config herald.v1.PostgresStoreConfig) in the "store"
// family. Idempotent.
absl::Status RegisterPostgresStore(Registry* registry);

// Opens (and creates or migrates) the store directly, without a registry.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const v1::PostgresStoreConfig& config);

}  // namespace herald

#endif  // HERALD_STORE_POSTGRES_H_
