// Internal to the desk: password hashing, sessions and sign-in throttling
// over the store's AccountStore (herald/desk.h's contract).
#ifndef HERALD_LIB_DESK_ACCOUNTS_H_
#define HERALD_LIB_DESK_ACCOUNTS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "herald/desk.h"
#include "herald/store.h"

namespace herald::desk_internal {

// Debian's abseil has its own absl::string_view (not std::string_view), so
// views cross between the two explicitly.
inline absl::string_view AV(std::string_view v) { return absl::string_view(v.data(), v.size()); }
inline std::string_view SV(absl::string_view v) { return std::string_view(v.data(), v.size()); }

// InvalidArgument naming the field when the name, role or password breaks the rules.
absl::Status CheckUserName(std::string_view name);
absl::Status CheckRole(std::string_view role);
absl::Status CheckPassword(std::string_view password);

// libsodium's crypto_pwhash_str (Argon2id, interactive limits).
absl::StatusOr<std::string> HashPassword(std::string_view password);

// Whether `role` may do what needs `needed` (admin > editor > viewer).
bool RoleAtLeast(std::string_view role, std::string_view needed);

// A new session for `user`: the cookie value (shown once, never stored) and
// the stored record.
struct NewSession {
  std::string cookie_value;
  v1::DeskSession record;
};
absl::StatusOr<NewSession> StartSession(AccountStore& accounts, const v1::DeskUser& user,
                                        absl::Duration ttl, absl::Time now);

// The session a cookie value opens, when it exists, has not expired and its
// user exists and is enabled; nullopt otherwise.
struct SignedIn {
  v1::DeskSession session;
  v1::DeskUser user;
};
absl::StatusOr<std::optional<SignedIn>> FindSession(AccountStore& accounts, std::string_view cookie_value,
                                                   absl::Time now);
std::string SessionIdHash(std::string_view cookie_value);

// Sign-in throttling: how long `key` must still wait before another try
// (zero: it may try now).
absl::StatusOr<absl::Duration> ThrottleWait(AccountStore& accounts, std::string_view key,
                                            const DeskOptions& options, absl::Time now);

// Appends an audit entry; `detail` lines joined by '\n'.
absl::Status Audit(AccountStore& accounts, std::string_view user, std::string_view action,
                   std::string_view object, std::string_view detail, absl::Time now);

// Constant-time comparison of two tokens.
bool SameToken(std::string_view a, std::string_view b);

}  // namespace herald::desk_internal

#endif  // HERALD_LIB_DESK_ACCOUNTS_H_
