// Accounts of the Business Desk: Argon2id password hashes (libsodium),
// sessions whose cookie value is never stored (only its SHA-256), and
// sign-in throttling kept in the store so that it holds on every server.
#include "desk/accounts.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald {
namespace desk_internal {
namespace {

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out;
  absl::WebSafeBase64Escape(raw, &out);  // no padding; safe in cookies and headers
  return out;
}

}  // namespace

absl::Status CheckUserName(std::string_view name) {
  const bool shape_ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
  });
  if (shape_ok) return absl::OkStatus();
  return absl::InvalidArgumentError("name: expected 1 to 64 of the characters A-Z a-z 0-9 . _ @ -");
}

absl::Status CheckRole(std::string_view role) {
  for (std::string_view known : kDeskRoles) {
    if (role == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role: expected admin, editor or viewer, got \"", absl::CEscape(AV(role.substr(0, 40))), "\""));
}

absl::Status CheckPassword(std::string_view password) {
  if (password.size() < 10) return absl::InvalidArgumentError("password: at least 10 characters");
  if (password.size() > 1024) return absl::InvalidArgumentError("password: at most 1024 characters");
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashPassword(std::string_view password) {
  if (!SodiumReady()) return absl::InternalError("libsodium failed to initialize");
  char hash[crypto_pwhash_STRBYTES];
  // Interactive limits (2 passes, 64 MiB): about 0.1 s here; what libsodium
  // recommends for online sign-ins.
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return absl::ResourceExhaustedError("hashing the password: out of memory");
  }
  return std::string(hash);
}

bool RoleAtLeast(std::string_view role, std::string_view needed) {
  auto rank = [](std::string_view r) { return r == "admin" ? 3 : r == "editor" ? 2 : r == "viewer" ? 1 : 0; };
  return rank(role) > 0 && rank(role) >= rank(needed);
}

std::string SessionIdHash(std::string_view cookie_value) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(cookie_value.data()), cookie_value.size());
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<NewSession> StartSession(AccountStore& accounts, const v1::DeskUser& user, absl::Duration ttl,
                                        absl::Time now) {
  if (!SodiumReady()) return absl::InternalError("libsodium failed to initialize");
  NewSession out;
  out.cookie_value = RandomToken(32);
  out.record.set_id_hash(SessionIdHash(out.cookie_value));
  out.record.set_user(user.name());
  out.record.set_csrf_token(RandomToken(32));
  out.record.set_created_unix_micros(absl::ToUnixMicros(now));
  out.record.set_expires_unix_micros(absl::ToUnixMicros(now + ttl));
  if (absl::Status s = accounts.CreateSession(out.record); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<SignedIn>> FindSession(AccountStore& accounts, std::string_view cookie_value,
                                                   absl::Time now) {
  if (cookie_value.empty() || cookie_value.size() > 128) return std::nullopt;
  auto session = accounts.GetSession(SessionIdHash(cookie_value));
  if (!session.ok()) return session.status();
  if (!session->has_value()) return std::nullopt;
  if ((*session)->expires_unix_micros() <= absl::ToUnixMicros(now)) {
    (void)accounts.DeleteSession((*session)->id_hash());  // best effort: it is refused either way
    return std::nullopt;
  }
  auto user = accounts.GetUser((*session)->user());
  if (!user.ok()) return user.status();
  if (!user->has_value() || (*user)->disabled()) return std::nullopt;
  return SignedIn{**session, **user};
}

absl::StatusOr<absl::Duration> ThrottleWait(AccountStore& accounts, std::string_view key,
                                            const DeskOptions& options, absl::Time now) {
  auto failures = accounts.FailedSignIns(key);
  if (!failures.ok()) return failures.status();
  const auto [count, last_us] = *failures;
  if (count < options.free_failures) return absl::ZeroDuration();
  const int64_t doublings = std::min<int64_t>(count - options.free_failures, 20);
  const absl::Duration wait = std::min(absl::Seconds(int64_t{1} << doublings), options.max_lockout);
  const absl::Time allowed = absl::FromUnixMicros(last_us) + wait;
  return allowed > now ? allowed - now : absl::ZeroDuration();
}

absl::Status Audit(AccountStore& accounts, std::string_view user, std::string_view action,
                   std::string_view object, std::string_view detail, absl::Time now) {
  v1::AuditEntry entry;
  entry.set_time_unix_micros(absl::ToUnixMicros(now));
  entry.set_user(std::string(user));
  entry.set_action(std::string(action));
  entry.set_object(std::string(object));
  entry.set_detail(std::string(detail));
  auto appended = accounts.AppendAudit(entry);
  return appended.ok() ? absl::OkStatus() : appended.status();
}

}  // namespace desk_internal

absl::Status CreateDeskUser(AccountStore& accounts, std::string_view name, std::string_view role,
                            std::string_view password, std::string_view by) {
  using namespace desk_internal;
  for (absl::Status s : {CheckUserName(name), CheckRole(role), CheckPassword(password)}) {
    if (!s.ok()) return s;
  }
  auto hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  const absl::Time now = absl::Now();
  v1::DeskUser user;
  user.set_name(std::string(name));
  user.set_role(std::string(role));
  user.set_password_hash(*hash);
  user.set_created_unix_micros(absl::ToUnixMicros(now));
  user.set_password_changed_unix_micros(absl::ToUnixMicros(now));
  if (absl::Status s = accounts.CreateUser(user); !s.ok()) return s;
  return Audit(accounts, by, "user.create", absl::StrCat("user \"", AV(name), "\""), absl::StrCat("role ", AV(role)), now);
}

bool CheckDeskPassword(const v1::DeskUser& user, std::string_view password) {
  if (!desk_internal::SodiumReady() || user.password_hash().empty()) return false;
  return crypto_pwhash_str_verify(user.password_hash().c_str(), password.data(), password.size()) == 0;
}

}  // namespace herald
