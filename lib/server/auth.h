// API keys of `herald serve` (docs/server.md, "API keys"): which requests
// need a key, which scope each route needs, and the per-key rate limit.
//
// A key is "hk_<id>_<secret>": the id (8 hex digits) finds the entry, the
// whole key is hashed with SHA-256 and compared in constant time with the
// stored hash. The secret is 32 random bytes (64 hex digits), so one SHA-256
// is enough: there is nothing to guess from the hash. Only hashes are
// stored, in a key file (one key a line: id, scope, hash, creation time,
// name, tab-separated), which every server sharing a store reads (the
// same file deployed to each, like the click-key secrets); SIGHUP reloads it.
//
// Scopes: "decisions" (ads, baskets, orders, responses), "reports"
// (/v1/reports/*), "admin" (everything, /metrics included). /healthz,
// /readyz, /v1/openapi.json and the signed click links never need a key.
//
// Thread-safety: Authorize() may be called from any thread; Reload() swaps
// the key set atomically (requests see the old set or the new one).
#ifndef HERALD_LIB_SERVER_AUTH_H_
#define HERALD_LIB_SERVER_AUTH_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/server.pb.h"

namespace herald::server_internal {

struct ApiKeyEntry {
  std::string id;         // 8 hex digits, also the key's second part
  std::string scope;      // decisions, reports or admin
  std::string sha256;     // of the whole key, 64 hex digits
  std::string created;    // RFC 3339
  std::string name;       // who it is for (printable, no tabs)
};

// The key file: read, add, remove. Errors name the file and line.
absl::StatusOr<std::vector<ApiKeyEntry>> ReadKeyFile(const std::string& path);  // missing file: no keys
absl::Status WriteKeyFile(const std::string& path, const std::vector<ApiKeyEntry>& keys);
// A new random key for `scope` and `name`: the entry to store and the key
// to show once. InvalidArgument for an unknown scope or a bad name.
absl::StatusOr<std::pair<ApiKeyEntry, std::string>> NewApiKey(std::string_view scope, std::string_view name,
                                                              absl::Time now);

// What a request may do, decided before it is routed.
struct Admission {
  absl::Status status;          // OK, or Unauthenticated (401), PermissionDenied (403), ResourceExhausted (429)
  std::string key_name;         // the key used (for the access log), empty without one
  int retry_after_seconds = 0;  // with 429
};

class Authorizer {
 public:
  // Reads config.api_keys_file (when set).
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(const v1::ServerConfig& config);
  ~Authorizer();

  // Whether keys are required now (a key exists or require_api_keys).
  bool enabled() const;
  // The decision for a request on `route` (a route template) carrying the
  // Authorization header `authorization` (empty when absent).
  Admission Authorize(std::string_view route, std::string_view authorization, absl::Time now) const;
  // Reads the key file again; on error the current keys stay.
  absl::Status Reload();

 private:
  struct KeySet;
  explicit Authorizer(const v1::ServerConfig& config);
  v1::ServerConfig config_;
  std::shared_ptr<const KeySet> keys_;  // read with std::atomic_load
  // Whether keys_ holds any key: lets an open server skip loading keys_
  // (std::atomic_load of a shared_ptr takes a lock) on every request.
  std::atomic<bool> any_keys_{false};
};

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_AUTH_H_
