// The click signer's HMAC-SHA256 (precomputed pad states) against OpenSSL's
// own one-shot HMAC(), for keys shorter than, equal to and longer than the
// SHA-256 block; and its refusal of every spelling but the canonical one.
#include "server/click_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"

namespace herald::server_internal {
namespace {

std::string OpenSslHmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

v1::ClickClaim Claim(const std::string& item) {
  v1::ClickClaim claim;
  claim.set_item_id(item);
  claim.set_user_id("u1");
  claim.set_page_group("Home");
  claim.set_expires_unix(absl::ToUnixSeconds(absl::Now()) + 3600);
  return claim;
}

TEST_CASE("click links are HMAC-SHA256 as OpenSSL computes it, for every key length") {
  for (size_t key_size : {16, 31, 63, 64, 65, 128, 300}) {
    std::string secret;
    for (size_t i = 0; i < key_size; ++i) secret.push_back(static_cast<char>((i * 131 + key_size) & 0xff));
    auto signer = ClickSigner::Create({{"k", secret}});
    REQUIRE(signer.ok());
    for (const std::string& item : {std::string("a"), std::string("northwind-primer"), std::string(500, 'x')}) {
      INFO("key " << key_size << " bytes, item " << item.size() << " bytes");
      const std::string token = signer->Sign(Claim(item));
      const size_t mac_at = token.rfind('.');
      REQUIRE(mac_at != std::string::npos);
      CHECK(token.substr(mac_at + 1) == absl::WebSafeBase64Escape(OpenSslHmac(secret, token.substr(0, mac_at))));
      auto claim = signer->Verify(token, absl::Now());
      REQUIRE(claim.ok());
      CHECK(claim->item_id() == item);
    }
  }
}

TEST_CASE("click links are accepted only in their canonical spelling") {
  auto signer = ClickSigner::Create({{"k", "0123456789abcdef-secret"}});
  REQUIRE(signer.ok());
  const std::string token = signer->Sign(Claim("northwind-primer"));
  REQUIRE(signer->Verify(token, absl::Now()).ok());
  // A 32-byte MAC is 43 base64 characters: the last one carries two unused
  // bits, so three other characters decode to the same bytes.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = alphabet.find(token.back());
  for (size_t unused = 1; unused < 4; ++unused) {
    std::string respelled = token;
    respelled.back() = alphabet[last ^ unused];
    INFO(respelled);
    CHECK(signer->Verify(respelled, absl::Now()).status().code() == absl::StatusCode::kNotFound);
  }
  CHECK_FALSE(signer->Verify(token + "=", absl::Now()).ok());
  CHECK_FALSE(signer->Verify(token.substr(0, token.rfind('.') + 1), absl::Now()).ok());
}

}  // namespace
}  // namespace herald::server_internal
