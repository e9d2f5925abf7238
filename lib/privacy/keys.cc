// PersonalDataKeyRing: the operator's keys, sealing and blind indexes (libsodium).
#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "core/strings.h"
#include "herald/privacy.h"

namespace herald {

namespace {

constexpr char kSealMagic[] = "H1";
constexpr size_t kMaxKeyId = 32;
// libsodium's KDF contexts (8 bytes each): the sealing and index keys are
// derived from the operator's key, so neither is the key itself and a blind
// index never reveals anything about the sealing key.
constexpr char kSealContext[] = "HrldSeal";
constexpr char kIndexContext[] = "HrldIndx";

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

bool ValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyId) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(Cat(kPersonalDataKeysFileEnv, ": cannot read ", path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(Cat(kPersonalDataKeysFileEnv, ": ", path, " is not a regular file"));
  }
  // The keys open every person's data: the file must be its owner's alone.
  if ((info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: %s is accessible by group or others (mode %04o); make it the owner's only (chmod 600)",
        kPersonalDataKeysFileEnv, path, static_cast<unsigned>(info.st_mode & 07777)));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(Cat(kPersonalDataKeysFileEnv, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

struct PersonalDataKeyRing::Key {
  std::string id;
  unsigned char seal[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  unsigned char index[crypto_generichash_KEYBYTES];
};

PersonalDataKeyRing::PersonalDataKeyRing() = default;

PersonalDataKeyRing::~PersonalDataKeyRing() {
  for (Key& k : keys_) {
    sodium_memzero(k.seal, sizeof k.seal);
    sodium_memzero(k.index, sizeof k.index);
  }
}

absl::StatusOr<std::shared_ptr<const PersonalDataKeyRing>> PersonalDataKeyRing::Parse(std::string_view text,
                                                                                     std::string_view where) {
  if (!SodiumReady()) return absl::InternalError("libsodium failed to initialize");
  std::shared_ptr<PersonalDataKeyRing> ring(new PersonalDataKeyRing());
  int line_no = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of("\n,", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view entry = TrimSpace(text.substr(start, end - start));
    ++line_no;  // entries are counted, blank ones too, so the number matches what the operator sees
    start = end + 1;
    if (entry.empty() || entry.front() == '#') continue;
    const std::string place = Cat(where, ": key ", line_no);
    size_t colon = entry.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(Cat(place, ": expected ID:BASE64 (a new key: herald personal-data new-key)"));
    }
    std::string_view id = entry.substr(0, colon), b64 = TrimSpace(entry.substr(colon + 1));
    if (!ValidKeyId(id)) {
      return absl::InvalidArgumentError(Cat(place, ": the id must be 1 to 32 letters, digits, '-' or '_'"));
    }
    if (ring->Find(id) != nullptr) return absl::InvalidArgumentError(Cat(place, ": key id \"", id, "\" twice"));
    unsigned char master[32];
    size_t len = 0;
    if (sodium_base642bin(master, sizeof master, b64.data(), b64.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != sizeof master) {
      sodium_memzero(master, sizeof master);
      return absl::InvalidArgumentError(Cat(place, " (\"", id, "\"): the key must be 32 bytes in base64"));
    }
    Key& key = ring->keys_.emplace_back();
    key.id.assign(id);
    crypto_kdf_derive_from_key(key.seal, sizeof key.seal, 1, kSealContext, master);
    crypto_kdf_derive_from_key(key.index, sizeof key.index, 2, kIndexContext, master);
    sodium_memzero(master, sizeof master);
  }
  if (ring->keys_.empty()) return absl::InvalidArgumentError(Cat(where, ": no key"));
  return std::shared_ptr<const PersonalDataKeyRing>(std::move(ring));
}

absl::StatusOr<std::shared_ptr<const PersonalDataKeyRing>> PersonalDataKeyRing::FromEnvironment() {
  if (const char* keys = std::getenv(kPersonalDataKeysEnv); keys != nullptr && *keys != '\0') {
    return Parse(keys, kPersonalDataKeysEnv);
  }
  if (const char* file = std::getenv(kPersonalDataKeysFileEnv); file != nullptr && *file != '\0') {
    auto text = ReadKeyFile(file);
    if (!text.ok()) return text.status();
    return Parse(*text, file);
  }
  return std::shared_ptr<const PersonalDataKeyRing>();
}

std::string PersonalDataKeyRing::NewKeyLine(std::string_view id) {
  (void)SodiumReady();
  unsigned char key[32];
  randombytes_buf(key, sizeof key);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key, sizeof key);
  std::string line = Cat(id, ":", b64);
  sodium_memzero(b64, sizeof b64);
  return line;
}

const std::string& PersonalDataKeyRing::newest_key_id() const { return keys_.back().id; }

std::vector<std::string> PersonalDataKeyRing::key_ids() const {
  std::vector<std::string> ids;
  for (const Key& k : keys_) ids.push_back(k.id);
  return ids;
}

const PersonalDataKeyRing::Key* PersonalDataKeyRing::Find(std::string_view id) const {
  for (const Key& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

std::string PersonalDataKeyRing::Seal(std::string_view plaintext, std::string_view context) const {
  const Key& key = keys_.back();
  std::string out(kSealMagic);
  out.push_back(static_cast<char>(key.id.size()));
  out += key.id;
  const size_t header = out.size();
  out.resize(header + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() +
             crypto_aead_xchacha20poly1305_ietf_ABYTES);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + header);
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &written,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr, nonce, key.seal);
  out.resize(header + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + written);
  return out;
}

std::string PersonalDataKeyRing::SealingKeyId(std::string_view sealed) {
  if (sealed.size() < 3 || !sealed.starts_with(kSealMagic)) return "";
  size_t len = static_cast<unsigned char>(sealed[2]);
  if (sealed.size() < 3 + len) return "";
  return std::string(sealed.substr(3, len));
}

absl::StatusOr<std::string> PersonalDataKeyRing::Open(std::string_view sealed, std::string_view context) const {
  const std::string id = SealingKeyId(sealed);
  if (id.empty()) return absl::DataLossError("sealed personal data: not a sealed value");
  const Key* key = Find(id);
  if (key == nullptr) {
    return absl::NotFoundError(Cat("sealed personal data: key \"", id,
                                   "\" is not in the key ring (add it back, or reseal before retiring it)"));
  }
  const size_t header = 3 + id.size();
  if (sealed.size() < header + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return absl::DataLossError("sealed personal data: truncated");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + header);
  const auto* cipher = nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  const size_t cipher_len = sealed.size() - header - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(cipher_len - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
                                                 cipher, cipher_len,
                                                 reinterpret_cast<const unsigned char*>(context.data()),
                                                 context.size(), nonce, key->seal) != 0) {
    return absl::DataLossError(Cat("sealed personal data (key \"", id,
                                   "\"): authentication failed (altered, or moved from another record)"));
  }
  out.resize(written);
  return out;
}

absl::StatusOr<std::string> PersonalDataKeyRing::BlindIndexWith(std::string_view key_id,
                                                                std::string_view normalized) const {
  const Key* key = Find(key_id);
  if (key == nullptr) return absl::NotFoundError(Cat("blind index: key \"", key_id, "\" is not in the key ring"));
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(normalized.data()), normalized.size(), key->index,
                     sizeof key->index);
  return out;
}

std::string PersonalDataKeyRing::BlindIndex(std::string_view normalized) const {
  return *BlindIndexWith(keys_.back().id, normalized);
}

}  // namespace herald
