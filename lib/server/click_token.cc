#include "server/click_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/absl_view.h"

namespace herald::server_internal {

namespace {

// HMAC-SHA256 (RFC 2104) with the key's padded inner and outer SHA-256
// states computed once: OpenSSL 3's one-shot HMAC() fetches the algorithm and
// builds a MAC context on every call, a tenth of a decision's cost when every
// served ad carries a signed link. click_token_test checks it against HMAC().
constexpr size_t kSha256Block = 64;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

MdCtx PaddedState(const unsigned char* key, unsigned char pad) {
  unsigned char block[kSha256Block];
  for (size_t i = 0; i < kSha256Block; ++i) block[i] = key[i] ^ pad;
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), block, sizeof block) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

struct ClickSigner::MacKey {
  MdCtx inner, outer;
};

namespace {

std::shared_ptr<const ClickSigner::MacKey> MakeMacKey(std::string_view secret) {
  unsigned char key[kSha256Block] = {0};
  if (secret.size() > kSha256Block) {  // longer keys are hashed first (RFC 2104)
    SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), key);
  } else {
    std::memcpy(key, secret.data(), secret.size());
  }
  auto mac = std::make_shared<ClickSigner::MacKey>();
  mac->inner = PaddedState(key, 0x36);
  mac->outer = PaddedState(key, 0x5c);
  OPENSSL_cleanse(key, sizeof key);
  if (mac->inner == nullptr || mac->outer == nullptr) return nullptr;
  return mac;
}

// Empty only if OpenSSL fails to allocate, which makes every link invalid.
std::string Mac(const ClickSigner::MacKey& key, std::string_view data) {
  static thread_local MdCtx ctx(EVP_MD_CTX_new());
  unsigned char inner[EVP_MAX_MD_SIZE], out[EVP_MAX_MD_SIZE];
  unsigned int inner_len = 0, len = 0;
  if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx.get(), key.inner.get()) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), inner, &inner_len) != 1 ||
      EVP_MD_CTX_copy_ex(ctx.get(), key.outer.get()) != 1 ||
      EVP_DigestUpdate(ctx.get(), inner, inner_len) != 1 || EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

bool UrlSafe(std::string_view id) {
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return !id.empty() && id.size() <= 32;
}

absl::StatusOr<std::string> ReadSecret(const v1::ClickKey& key) {
  std::string secret;
  if (!key.secret_file().empty()) {
    std::ifstream in(key.secret_file(), std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("click key \"", key.id(), "\": cannot read secret_file ", key.secret_file()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (!key.secret_env().empty()) {
    const char* value = std::getenv(key.secret_env().c_str());
    if (value == nullptr) {
      return absl::NotFoundError(absl::StrCat("click key \"", key.id(), "\": environment variable ",
                                              key.secret_env(), " is not set"));
    }
    secret = value;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("click key \"", key.id(), "\": set secret_file or secret_env"));
  }
  return secret;
}

}  // namespace

absl::StatusOr<ClickSigner> ClickSigner::Create(
    std::vector<std::pair<std::string, std::string>> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("click keys: at least one key is needed");
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [id, secret] = keys[i];
    if (!UrlSafe(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "click_keys[", i, "].id: \"", id, "\" must be 1-32 letters, digits, '-' or '_'"));
    }
    if (secret.size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("click key \"", id, "\": the secret must be at least 16 bytes"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (keys[j].first == id) {
        return absl::InvalidArgumentError(absl::StrCat("click key \"", id, "\" is listed twice"));
      }
    }
  }
  ClickSigner signer;
  for (const auto& [id, secret] : keys) {
    auto mac = MakeMacKey(secret);
    if (mac == nullptr) return absl::InternalError(absl::StrCat("click key \"", id, "\": OpenSSL could not set up HMAC-SHA256"));
    signer.keys_.push_back(Key{id, std::move(mac)});
  }
  return signer;
}

absl::StatusOr<ClickSigner> ClickSigner::FromConfig(const v1::ServerConfig& config) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const v1::ClickKey& key : config.click_keys()) {
    auto secret = ReadSecret(key);
    if (!secret.ok()) return secret.status();
    keys.emplace_back(key.id(), std::move(*secret));
  }
  if (keys.empty()) {
    // Links signed by a per-process key stop working at restart: fine for a
    // trial, documented as such; production configs list keys.
    std::string secret(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) {
      return absl::InternalError("click keys: OpenSSL could not generate a random key");
    }
    keys.emplace_back("p", std::move(secret));
  }
  return Create(std::move(keys));
}

std::string ClickSigner::Sign(const v1::ClickClaim& claim) const {
  const Key& key = keys_.front();
  std::string signed_part = absl::StrCat(key.id, ".", absl::WebSafeBase64Escape(claim.SerializeAsString()));
  std::string mac = absl::WebSafeBase64Escape(Mac(*key.mac, signed_part));
  return absl::StrCat(signed_part, ".", mac);
}

absl::StatusOr<v1::ClickClaim> ClickSigner::Verify(std::string_view token, absl::Time now) const {
  std::vector<absl::string_view> parts = absl::StrSplit(AbslView(token), '.');
  if (parts.size() != 3 || token.size() > 2048) {
    return absl::NotFoundError("click link: malformed token");
  }
  const MacKey* mac_key = nullptr;
  for (const Key& key : keys_) {
    if (key.id == StdView(parts[0])) mac_key = key.mac.get();
  }
  if (mac_key == nullptr) return absl::NotFoundError("click link: unknown signing key");
  // Compared as text, not decoded: the last base64 character of a 32-byte MAC
  // has two unused bits, so decoding would accept four spellings of one link.
  const std::string expected =
      absl::WebSafeBase64Escape(Mac(*mac_key, token.substr(0, parts[0].size() + 1 + parts[1].size())));
  if (expected.empty() || parts[2].size() != expected.size() || CRYPTO_memcmp(parts[2].data(), expected.data(), expected.size()) != 0) {
    return absl::NotFoundError("click link: bad signature");
  }
  std::string bytes;
  v1::ClickClaim claim;
  if (!absl::WebSafeBase64Unescape(parts[1], &bytes) || !claim.ParseFromString(bytes)) {
    return absl::NotFoundError("click link: malformed claim");
  }
  if (absl::FromUnixSeconds(claim.expires_unix()) <= now) {
    return absl::NotFoundError("click link: expired");
  }
  return claim;
}

}  // namespace herald::server_internal
