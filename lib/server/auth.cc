#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "herald/server.h"
#include "server/absl_view.h"

namespace herald::server_internal {

namespace {

constexpr std::string_view kKeyPrefix = "hk_";
constexpr size_t kIdHexDigits = 8;
constexpr size_t kSecretBytes = 32;

std::string Hex(const unsigned char* data, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += absl::StrFormat("%02x", data[i]);
  return out;
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return Hex(digest, sizeof digest);
}

bool IsScope(std::string_view scope) { return scope == "decisions" || scope == "reports" || scope == "admin"; }

// The scope a route needs; empty = public.
std::string_view RequiredScope(std::string_view route, bool public_metrics) {
  if (route == "/healthz" || route == "/readyz" || route == "/v1/openapi.json" || route == "/v1/clicks/{token}") {
    return "";
  }
  if (route == "/metrics") return public_metrics ? "" : "admin";
  if (route == "/v1/reports/{name}") return "reports";
  if (route == "unmatched") return "any";
  return "decisions";
}

// A token bucket: `rate` tokens a second up to `burst`.
struct TokenBucket {
  std::mutex mu;
  double tokens = -1;  // -1: full at first use
  absl::Time last;
};

}  // namespace

struct Authorizer::KeySet {
  struct Key {
    ApiKeyEntry entry;
    mutable TokenBucket bucket;
  };
  std::vector<std::unique_ptr<Key>> keys;
  absl::flat_hash_map<std::string, const Key*> by_id;
};

absl::StatusOr<std::vector<ApiKeyEntry>> ReadKeyFile(const std::string& path) {
  std::vector<ApiKeyEntry> keys;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return keys;
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(absl::StrCat(path, ": cannot read the API key file"));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 5 || fields[0].size() != kIdHexDigits || !IsScope(fields[1]) || fields[2].size() != 64) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": expected id, scope, sha256, created and name separated by tabs"));
    }
    keys.push_back({fields[0], fields[1], fields[2], fields[3], fields[4]});
  }
  return keys;
}

absl::Status WriteKeyFile(const std::string& path, const std::vector<ApiKeyEntry>& keys) {
  // Written beside and renamed over: a server reading it sees the old file or the new one.
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!out) return absl::UnavailableError(absl::StrCat(temp, ": cannot write the API key file"));
    out << "# herald serve API keys (docs/server.md): id, scope, SHA-256 of the key, created, name\n";
    for (const ApiKeyEntry& k : keys) {
      out << k.id << '\t' << k.scope << '\t' << k.sha256 << '\t' << k.created << '\t' << k.name << '\n';
    }
    if (!out.flush()) return absl::UnavailableError(absl::StrCat(temp, ": write failed"));
  }
  std::filesystem::permissions(temp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::pair<ApiKeyEntry, std::string>> NewApiKey(std::string_view scope, std::string_view name,
                                                              absl::Time now) {
  if (!IsScope(scope)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scope: expected decisions, reports or admin, got \"", AbslView(scope), "\""));
  }
  if (name.empty() || name.size() > 100) return absl::InvalidArgumentError("--name: 1 to 100 characters");
  for (char c : name) {
    if (c < 0x20 || c >= 0x7f) return absl::InvalidArgumentError("--name: printable ASCII only");
  }
  unsigned char random[kIdHexDigits / 2 + kSecretBytes];
  if (RAND_bytes(random, sizeof random) != 1) return absl::InternalError("OpenSSL RAND_bytes failed");
  ApiKeyEntry entry;
  entry.id = Hex(random, kIdHexDigits / 2);
  std::string key = absl::StrCat(AbslView(kKeyPrefix), entry.id, "_", Hex(random + kIdHexDigits / 2, kSecretBytes));
  OPENSSL_cleanse(random, sizeof random);
  entry.scope = std::string(scope);
  entry.sha256 = Sha256Hex(key);
  entry.created = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone());
  entry.name = std::string(name);
  return std::make_pair(std::move(entry), std::move(key));
}

Authorizer::Authorizer(const v1::ServerConfig& config) : config_(config) {}
Authorizer::~Authorizer() = default;

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(const v1::ServerConfig& config) {
  std::unique_ptr<Authorizer> authorizer(new Authorizer(config));
  if (absl::Status s = authorizer->Reload(); !s.ok()) return s;
  return authorizer;
}

absl::Status Authorizer::Reload() {
  auto set = std::make_shared<KeySet>();
  if (!config_.api_keys_file().empty()) {
    auto entries = ReadKeyFile(config_.api_keys_file());
    if (!entries.ok()) return entries.status();
    for (ApiKeyEntry& e : *entries) {
      auto key = std::make_unique<KeySet::Key>();
      key->entry = std::move(e);
      set->by_id[key->entry.id] = key.get();
      set->keys.push_back(std::move(key));
    }
  }
  const bool any = !set->keys.empty();
  std::atomic_store(&keys_, std::shared_ptr<const KeySet>(std::move(set)));
  any_keys_.store(any, std::memory_order_release);
  return absl::OkStatus();
}

bool Authorizer::enabled() const {
  return config_.require_api_keys() || any_keys_.load(std::memory_order_acquire);
}

Admission Authorizer::Authorize(std::string_view route, std::string_view authorization, absl::Time now) const {
  Admission admission;
  const std::string_view scope = RequiredScope(route, config_.public_metrics());
  if (scope.empty() || !enabled()) return admission;
  std::shared_ptr<const KeySet> keys = std::atomic_load(&keys_);
  absl::string_view header = absl::StripAsciiWhitespace(AbslView(authorization));
  if (!absl::StartsWithIgnoreCase(header, "bearer ")) {
    admission.status = absl::UnauthenticatedError("Authorization: expected \"Bearer KEY\" (an API key)");
    return admission;
  }
  absl::string_view key = absl::StripAsciiWhitespace(header.substr(7));
  const KeySet::Key* found = nullptr;
  if (absl::StartsWith(key, AbslView(kKeyPrefix)) && key.size() > kKeyPrefix.size() + kIdHexDigits) {
    auto it = keys->by_id.find(key.substr(kKeyPrefix.size(), kIdHexDigits));
    if (it != keys->by_id.end()) {
      const std::string hash = Sha256Hex(StdView(key));
      if (CRYPTO_memcmp(hash.data(), it->second->entry.sha256.data(), hash.size()) == 0) found = it->second;
    }
  }
  if (found == nullptr) {
    // Never echo the key: the message names only the header.
    admission.status = absl::UnauthenticatedError("Authorization: unknown or revoked API key");
    return admission;
  }
  admission.key_name = found->entry.name;
  if (found->entry.scope != "admin" && scope != "any" && found->entry.scope != scope) {
    admission.status = absl::PermissionDeniedError(absl::StrCat("API key \"", found->entry.name, "\" has scope ",
                                                                found->entry.scope, "; ", AbslView(route),
                                                                " needs ", AbslView(scope)));
    return admission;
  }
  const double rate = config_.limits().requests_per_second_per_key();
  if (rate > 0) {
    const double burst = config_.limits().burst_per_key() > 0 ? config_.limits().burst_per_key()
                                                              : std::max(1.0, rate);
    TokenBucket& b = found->bucket;
    std::lock_guard<std::mutex> lock(b.mu);
    b.tokens = b.tokens < 0 ? burst
                            : std::min(burst, b.tokens + rate * absl::ToDoubleSeconds(now - b.last));
    b.last = now;
    if (b.tokens < 1) {
      admission.retry_after_seconds = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate)));
      admission.status = absl::ResourceExhaustedError(
          absl::StrCat("API key \"", found->entry.name, "\": over ", rate, " requests per second; retry after ",
                       admission.retry_after_seconds, " s"));
      return admission;
    }
    b.tokens -= 1;
  }
  return admission;
}

}  // namespace herald::server_internal

namespace herald {

absl::StatusOr<std::string> CreateApiKey(const std::string& key_file, std::string_view scope,
                                         std::string_view name) {
  using namespace server_internal;
  auto keys = ReadKeyFile(key_file);
  if (!keys.ok()) return keys.status();
  auto made = NewApiKey(scope, name, absl::Now());
  if (!made.ok()) return made.status();
  keys->push_back(made->first);
  if (absl::Status s = WriteKeyFile(key_file, *keys); !s.ok()) return s;
  return std::move(made->second);
}

absl::StatusOr<std::vector<ApiKeyInfo>> ListApiKeys(const std::string& key_file) {
  auto keys = server_internal::ReadKeyFile(key_file);
  if (!keys.ok()) return keys.status();
  std::vector<ApiKeyInfo> out;
  for (const auto& k : *keys) out.push_back({k.id, k.scope, k.name, k.created});
  return out;
}

absl::Status RevokeApiKey(const std::string& key_file, std::string_view id) {
  auto keys = server_internal::ReadKeyFile(key_file);
  if (!keys.ok()) return keys.status();
  auto it = std::find_if(keys->begin(), keys->end(), [&](const auto& k) { return k.id == id; });
  if (it == keys->end()) {
    return absl::NotFoundError(absl::StrCat(key_file, ": no API key with id \"",
                                            server_internal::AbslView(id), "\""));
  }
  keys->erase(it);
  return server_internal::WriteKeyFile(key_file, *keys);
}

}  // namespace herald
