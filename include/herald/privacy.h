// herald/privacy.h: personal identifiers at rest in interaction history, and
// erasing a person (`herald forget`).
//
// A PersonalDataKeyRing holds the operator's keys (32 random bytes each, with
// a short id). The newest key seals; every key opens, so a new key is added
// without downtime (old rows stay readable) and ResealInteractions moves old
// rows to it before an old key is retired. Sealing is libsodium's
// XChaCha20-Poly1305 (random 24-byte nonce, the interaction id as associated
// data, so a sealed subject moved to another row does not open). Keyed blind
// indexes (BLAKE2b under a key derived from each ring key) of the normalized
// e-mail, phone and customer id let ForgetPerson find a person's rows without
// opening every row.
//
// ProtectPersonalData wraps a Store: interactions().AppendInteraction stores
// the subject sealed (ENCRYPT), as the hashes the destinations send
// (HASH_ONLY) or raw (PLAINTEXT, explicit only); ReadInteractions hands back
// the subject opened, so capture and export need not know. Everything else
// is forwarded. OpenStore applies it to SQLite and PostgreSQL stores with
// PersonalDataOptionsFromEnvironment().
//
// Lifetime: a protected store owns the wrapped one and shares the key ring.
// Thread-safety: a key ring is immutable and safe to share; a protected store
// is as thread-safe as the store it wraps; ForgetPerson, ExpireRawIdentifiers
// and ResealInteractions may run while servers capture (each row is rewritten
// or erased in the backend's transaction).
#ifndef HERALD_PRIVACY_H_
#define HERALD_PRIVACY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/store.pb.h"

namespace herald {

class Store;

// Environment variables of the key ring: the keys themselves, or a file
// holding them (mode 0600 or 0400; anything else is refused).
inline constexpr char kPersonalDataKeysEnv[] = "HERALD_PERSONAL_DATA_KEYS";
inline constexpr char kPersonalDataKeysFileEnv[] = "HERALD_PERSONAL_DATA_KEYS_FILE";
// PERSONAL_DATA_MODE as a word ("encrypt", "hash_only", "plaintext"), when
// the program's config does not set one.
inline constexpr char kPersonalDataModeEnv[] = "HERALD_PERSONAL_DATA_MODE";

class PersonalDataKeyRing {
 public:
  // Keys, one per line or comma-separated, "ID:BASE64" (ID: 1 to 32 letters,
  // digits, '-' or '_'; BASE64: 32 bytes, standard alphabet); blank lines and
  // '#' comments are skipped. The last key is the newest (it seals). Errors
  // name `where` and the line, never a key's bytes.
  static absl::StatusOr<std::shared_ptr<const PersonalDataKeyRing>> Parse(std::string_view text,
                                                                         std::string_view where);
  // From HERALD_PERSONAL_DATA_KEYS, else the file HERALD_PERSONAL_DATA_KEYS_FILE
  // names (refused with PermissionDenied when its group or others may read
  // it); nullptr when neither is set.
  static absl::StatusOr<std::shared_ptr<const PersonalDataKeyRing>> FromEnvironment();
  // A new key line "ID:BASE64" from the system's random source.
  static std::string NewKeyLine(std::string_view id);

  ~PersonalDataKeyRing();

  const std::string& newest_key_id() const;
  std::vector<std::string> key_ids() const;

  // Seals `plaintext` under the newest key, bound to `context`.
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  // Opens a sealed value with the key its id names. NotFound names a key id
  // missing from the ring; DataLoss when the value was altered or moved.
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view context) const;
  // The id of the key that sealed `sealed` ("" when it is not a sealed value).
  static std::string SealingKeyId(std::string_view sealed);

  // The blind index of a normalized identifier ("email:a@b.c") under the
  // newest key, and under key `key_id` (NotFound when missing).
  std::string BlindIndex(std::string_view normalized) const;
  absl::StatusOr<std::string> BlindIndexWith(std::string_view key_id, std::string_view normalized) const;

 private:
  struct Key;
  PersonalDataKeyRing();
  const Key* Find(std::string_view id) const;
  std::vector<Key> keys_;
};

struct PersonalDataOptions {
  v1::PersonalDataConfig config;                      // mode resolved (never UNSPECIFIED once Resolve'd)
  std::shared_ptr<const PersonalDataKeyRing> keys;    // null = no key ring
};

// `base` completed from the environment: the key ring, and the mode from
// HERALD_PERSONAL_DATA_MODE when `base` has none; then resolved (ENCRYPT with
// keys, HASH_ONLY without). FailedPrecondition for ENCRYPT without keys,
// naming the variables to set; InvalidArgument for an unknown mode word.
absl::StatusOr<PersonalDataOptions> PersonalDataOptionsFromEnvironment(const v1::PersonalDataConfig& base = {});

// A loud warning for the operator ("" when there is nothing to warn about):
// PLAINTEXT, or HASH_ONLY chosen only because no key ring is set.
std::string PersonalDataWarning(const PersonalDataOptions& options, const v1::PersonalDataConfig& asked);

// The normalized identifiers a person is found by (blind indexes and
// HASH_ONLY rows): "email:<NormalizeEmail with gmail rule>", "phone:<E.164
// digits>" (the subject's country or `default_region`, else the digits as
// given), "customer:<id>". Empty parts are left out.
std::vector<std::string> PersonLookupKeys(const v1::Subject& subject, std::string_view default_region);

// `subject` in HASH_ONLY form: each identifier the destinations send replaced
// by its normalized SHA-256 (Meta's rules; Google's e-mail and phone in
// email_sha256_google / phone_sha256_google where they differ), the customer
// id by its SHA-256, click ids (gclid, gbraid, wbraid, fbc, fbp) kept (the
// platforms need them as issued). Values already 64 hex digits are kept.
v1::Subject HashSubject(const v1::Subject& subject, std::string_view default_region);

// The stored form of `record` under `options` (what AppendInteraction
// writes), and the readable form of a stored record (subject opened; hashes
// for expired or HASH_ONLY rows).
absl::StatusOr<v1::InteractionRecord> ToStoredForm(const v1::InteractionRecord& record,
                                                   const PersonalDataOptions& options);
absl::StatusOr<v1::InteractionRecord> FromStoredForm(v1::InteractionRecord stored,
                                                     const PersonalDataKeyRing* keys);

// Wraps `store` (see the file comment).
std::unique_ptr<Store> ProtectPersonalData(std::unique_ptr<Store> store, PersonalDataOptions options);

// ---------------------------------------------------------------- erasure and retention

struct ForgetRequest {
  std::string customer_id;     // exactly one of the three
  std::string email;
  std::string phone;
  std::string default_region;  // phones without a country code; "" = PersonalDataConfig's
  std::vector<std::string> file_dirs;  // files Herald wrote (maildirs, export files): erased too
};

struct ForgetReport {
  v1::ForgetLogEntry log;               // the counts, as recorded in the store's forget log
  std::vector<std::string> files_removed;   // whole files (one message per file)
  std::vector<std::string> files_rewritten; // lines naming the person removed
  std::string ToText() const;
  std::string ToJson() const;
};

// Erases the person from every table that holds them: interactions (found by
// blind index, hash or plaintext; the customer ids of the rows found widen
// the search to the person's other rows, their e-mail addresses are erased
// too; phone numbers never widen it, households share them), mail ledgers,
// recipient tables, histories; events and coupon redemptions keep
// their counts with the person's ids blanked. Then the backend scrubs freed
// pages (SQLite: secure_delete and a WAL checkpoint; PostgreSQL: VACUUM FULL)
// and records a ForgetLogEntry (the selector's kind and the counts). Files
// under request.file_dirs that mention the person are removed (one message a
// file) or rewritten without those lines. InvalidArgument unless exactly one
// selector is given; FailedPrecondition for a store without erasure.
absl::StatusOr<ForgetReport> ForgetPerson(Store& store, const PersonalDataOptions& options,
                                          const ForgetRequest& request);

// Replaces the sealed subject of records captured before `now` - retention
// with sequence <= exported_through (the lowest watermark of every
// destination) by its HASH_ONLY form. Returns how many records changed.
absl::StatusOr<int64_t> ExpireRawIdentifiers(Store& store, const PersonalDataOptions& options,
                                             int64_t exported_through, absl::Time now = absl::Now());

// Seals every record not sealed (and indexed) under the newest key again
// under it. Returns how many records changed. Run after adding a key and
// before removing an old one.
absl::StatusOr<int64_t> ResealInteractions(Store& store, const PersonalDataOptions& options);

}  // namespace herald

#endif  // HERALD_PRIVACY_H_
