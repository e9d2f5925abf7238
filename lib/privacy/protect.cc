// The stored forms of a subject (sealed, hashed, raw) and the store wrapper
// that writes and reads them (ProtectPersonalData).
#include <cstdlib>

#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/privacy.h"
#include "herald/spelling.h"
#include "herald/store.h"

namespace herald {

namespace {

IdentifierHasher& ThreadHasher() {
  thread_local IdentifierHasher hasher;
  return hasher;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<PersonalDataOptions> PersonalDataOptionsFromEnvironment(const v1::PersonalDataConfig& base) {
  PersonalDataOptions options;
  options.config = base;
  auto keys = PersonalDataKeyRing::FromEnvironment();
  if (!keys.ok()) return keys.status();
  options.keys = *keys;
  if (options.config.mode() == v1::PERSONAL_DATA_MODE_UNSPECIFIED) {
    if (const char* word = std::getenv(kPersonalDataModeEnv); word != nullptr && *word != '\0') {
      auto mode = ParseEnum<v1::PersonalDataMode>(word);
      if (!mode.ok()) return absl::InvalidArgumentError(Cat(kPersonalDataModeEnv, ": ", mode.status().message()));
      if (*mode == v1::PERSONAL_DATA_MODE_UNSPECIFIED) {
        return absl::InvalidArgumentError(Cat(kPersonalDataModeEnv, ": say encrypt, hash_only or plaintext"));
      }
      options.config.set_mode(*mode);
    }
  }
  if (options.config.mode() == v1::PERSONAL_DATA_MODE_UNSPECIFIED) {
    options.config.set_mode(options.keys ? v1::PERSONAL_DATA_MODE_ENCRYPT : v1::PERSONAL_DATA_MODE_HASH_ONLY);
  }
  if (options.config.mode() == v1::PERSONAL_DATA_MODE_ENCRYPT && !options.keys) {
    return absl::FailedPreconditionError(Cat(
        "personal data mode ENCRYPT needs a key ring: set ", kPersonalDataKeysFileEnv,
        " to a file (mode 0600) holding a line made by `herald personal-data new-key`, or ", kPersonalDataKeysEnv));
  }
  if (options.config.raw_retention_days() == 0) options.config.set_raw_retention_days(30);
  return options;
}

std::string PersonalDataWarning(const PersonalDataOptions& options, const v1::PersonalDataConfig& asked) {
  if (options.config.mode() == v1::PERSONAL_DATA_MODE_PLAINTEXT) {
    return "WARNING: personal data mode PLAINTEXT: e-mail addresses, phone numbers and names are stored "
           "unencrypted in interaction history; set a key ring and mode ENCRYPT (docs/operations.md)";
  }
  const bool implicit = asked.mode() == v1::PERSONAL_DATA_MODE_UNSPECIFIED && std::getenv(kPersonalDataModeEnv) == nullptr;
  if (options.config.mode() == v1::PERSONAL_DATA_MODE_HASH_ONLY && implicit) {
    return Cat("note: no personal data key ring (", kPersonalDataKeysFileEnv,
               "): interaction history keeps identifiers as SHA-256 hashes only (docs/operations.md)");
  }
  return "";
}

std::vector<std::string> PersonLookupKeys(const v1::Subject& s, std::string_view default_region) {
  std::vector<std::string> keys;
  if (!s.email().empty() && !IsSha256Hex(s.email())) {
    std::string e = NormalizeEmail(s.email(), /*gmail_rule=*/true);
    if (!e.empty()) keys.push_back(Cat("email:", e));
  }
  if (!s.phone().empty() && !IsSha256Hex(s.phone())) {
    std::string country = NormalizeCountry(s.country()).empty() ? "" : s.country();
    std::string p = NormalizePhone(s.phone(), PhoneFormat::kDigits, country, default_region);
    if (p.empty()) {
      for (char c : s.phone()) {
        if (IsDigit(c)) p.push_back(c);
      }
    }
    if (!p.empty()) keys.push_back(Cat("phone:", p));
  }
  if (!s.customer_id().empty()) keys.push_back(Cat("customer:", s.customer_id()));
  return keys;
}

v1::Subject HashSubject(const v1::Subject& s, std::string_view default_region) {
  IdentifierHasher& h = ThreadHasher();
  IdentityRules meta = kMetaIdentityRules, google = kGoogleIdentityRules;
  meta.default_region = google.default_region = default_region;
  HashedIdentity m, g;
  PrepareIdentity(s, meta, m, h);
  PrepareIdentity(s, google, g, h);
  v1::Subject out;
  if (!s.customer_id().empty()) out.set_customer_id(h.HashUnlessHashed(s.customer_id(), s.customer_id()));
  out.set_email(m.em);
  out.set_phone(m.ph);
  if (g.em != m.em) out.set_email_sha256_google(g.em);
  if (g.ph != m.ph) out.set_phone_sha256_google(g.ph);
  out.set_first_name(m.fn);
  out.set_last_name(m.ln);
  out.set_city(m.ct);
  out.set_state(m.st);
  out.set_zip(m.zp);
  out.set_country(m.country);
  out.set_date_of_birth(m.db);
  out.set_gender(m.ge);
  out.set_external_id(m.external_id);
  // Click ids are the platforms' own, sent as issued.
  out.set_gclid(s.gclid());
  out.set_gbraid(s.gbraid());
  out.set_wbraid(s.wbraid());
  out.set_fbc(s.fbc());
  out.set_fbp(s.fbp());
  return out;
}

absl::StatusOr<v1::InteractionRecord> ToStoredForm(const v1::InteractionRecord& record,
                                                   const PersonalDataOptions& options) {
  if (record.has_personal_data()) {
    return absl::InvalidArgumentError("interaction record: personal_data is the store's own field; leave it unset");
  }
  v1::InteractionRecord stored = record;
  const std::string& region = options.config.default_region();
  const PersonalDataKeyRing* keys = options.keys.get();
  if (keys != nullptr && options.config.mode() != v1::PERSONAL_DATA_MODE_PLAINTEXT) {
    v1::PersonalData* pd = stored.mutable_personal_data();
    for (const std::string& k : PersonLookupKeys(record.subject(), region)) pd->add_blind_index(keys->BlindIndex(k));
    pd->set_index_key_id(keys->newest_key_id());
  }
  switch (options.config.mode()) {
    case v1::PERSONAL_DATA_MODE_ENCRYPT:
      if (keys == nullptr) return absl::FailedPreconditionError("personal data mode ENCRYPT without a key ring");
      stored.mutable_personal_data()->set_sealed_subject(
          keys->Seal(record.subject().SerializeAsString(), record.interaction_id()));
      stored.clear_subject();
      break;
    case v1::PERSONAL_DATA_MODE_HASH_ONLY:
      *stored.mutable_subject() = HashSubject(record.subject(), region);
      stored.mutable_personal_data()->set_hashes_only(true);
      break;
    case v1::PERSONAL_DATA_MODE_PLAINTEXT:
      break;
    default:
      return absl::FailedPreconditionError("personal data mode is not resolved (PersonalDataOptionsFromEnvironment)");
  }
  return stored;
}

absl::StatusOr<v1::InteractionRecord> FromStoredForm(v1::InteractionRecord stored, const PersonalDataKeyRing* keys) {
  if (!stored.has_personal_data()) return stored;
  const std::string& sealed = stored.personal_data().sealed_subject();
  if (!sealed.empty()) {
    if (keys == nullptr) {
      return absl::FailedPreconditionError(Cat("interaction ", stored.sequence(),
                                               ": its subject is sealed and no key ring is set (",
                                               kPersonalDataKeysFileEnv, ")"));
    }
    auto opened = keys->Open(sealed, stored.interaction_id());
    if (!opened.ok()) return absl::Status(opened.status().code(), Cat("interaction ", stored.sequence(), ": ", opened.status().message()));
    if (!stored.mutable_subject()->ParseFromString(*opened)) {
      return absl::DataLossError(Cat("interaction ", stored.sequence(), ": sealed subject does not parse"));
    }
  }
  stored.clear_personal_data();
  return stored;
}

namespace {

// The protected store: interactions sealed or hashed on the way in, opened
// on the way out; every other facet is the wrapped store's.
class ProtectedStore final : public Store, InteractionStore {
 public:
  ProtectedStore(std::unique_ptr<Store> inner, PersonalDataOptions options)
      : inner_(std::move(inner)), options_(std::move(options)) {}

  CounterStore& counters() override { return inner_->counters(); }
  EventStore& events() override { return inner_->events(); }
  HistoryStore& history() override { return inner_->history(); }
  InteractionStore& interactions() override { return *this; }
  MailLedgerStore& mail_ledgers() override { return inner_->mail_ledgers(); }
  WatermarkStore& watermarks() override { return inner_->watermarks(); }
  CouponStore& coupons() override { return inner_->coupons(); }
  RecipientTableStore* recipient_tables() override { return inner_->recipient_tables(); }
  PersonalDataStore* personal_data() override { return inner_->personal_data(); }
  CatalogStore* catalogs() override { return inner_->catalogs(); }
  AccountStore* accounts() override { return inner_->accounts(); }
  MailListStore* mail_lists() override { return inner_->mail_lists(); }
  absl::Status Flush() override { return inner_->Flush(); }
  std::string Describe() const override { return inner_->Describe(); }

  absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& record) override {
    auto stored = ToStoredForm(record, options_);
    if (!stored.ok()) return stored.status();
    return inner_->interactions().AppendInteraction(*stored);
  }
  absl::StatusOr<int64_t> CountInteractions(int64_t after) override {
    return inner_->interactions().CountInteractions(after);
  }
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after, int limit) override {
    auto page = inner_->interactions().ReadInteractions(after, limit);
    if (!page.ok()) return page.status();
    for (v1::InteractionRecord& r : *page) {
      auto opened = FromStoredForm(std::move(r), options_.keys.get());
      if (!opened.ok()) return absl::Status(opened.status().code(), Cat(Describe(), ": ", opened.status().message()));
      r = std::move(*opened);
    }
    return page;
  }

 private:
  std::unique_ptr<Store> inner_;
  const PersonalDataOptions options_;
};

}  // namespace

std::unique_ptr<Store> ProtectPersonalData(std::unique_ptr<Store> store, PersonalDataOptions options) {
  return std::make_unique<ProtectedStore>(std::move(store), std::move(options));
}

}  // namespace herald
