// Signed, expiring click tokens (docs/server.md, "Click links").
//
// A token is "<key id>.<claim>.<mac>": the claim a base64url herald.v1.ClickClaim
// (item, user, page group, expiry), the mac base64url HMAC-SHA256 over
// "<key id>.<claim>" with that key's secret. The first key signs; every key
// verifies, so keys rotate without breaking the links already served.
//
// Thread-safety: immutable after construction; Sign and Verify are const.
#ifndef HERALD_LIB_SERVER_CLICK_TOKEN_H_
#define HERALD_LIB_SERVER_CLICK_TOKEN_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/server.pb.h"

namespace herald::server_internal {

class ClickSigner {
 public:
  // keys: (id, secret) pairs, the signing key first. Ids must be non-empty,
  // URL-safe and unique; secrets at least 16 bytes.
  static absl::StatusOr<ClickSigner> Create(std::vector<std::pair<std::string, std::string>> keys);
  // Reads the secrets of config.click_keys (files, environment); with no key,
  // a random one for this process.
  static absl::StatusOr<ClickSigner> FromConfig(const v1::ServerConfig& config);

  std::string Sign(const v1::ClickClaim& claim) const;
  // NotFound naming what is wrong (malformed, unknown key, bad signature,
  // expired); the claim otherwise.
  absl::StatusOr<v1::ClickClaim> Verify(std::string_view token, absl::Time now) const;

  // A key's HMAC-SHA256 state, computed once (click_token.cc).
  struct MacKey;

 private:
  struct Key {
    std::string id;
    std::shared_ptr<const MacKey> mac;
  };
  std::vector<Key> keys_;
};

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_CLICK_TOKEN_H_
