// ForgetPerson (herald forget), ExpireRawIdentifiers and ResealInteractions.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/privacy.h"
#include "herald/store.h"

namespace herald {

namespace {

constexpr int kPage = 1000;
// Files larger than this are not searched (Herald writes messages and export
// files far smaller); they are listed as skipped in the report's text.
constexpr uintmax_t kMaxFileBytes = 256u << 20;

using StringSet = std::set<std::string, std::less<>>;

// Everything a person is found by, growing as their rows reveal more.
struct Person {
  std::string region;
  const PersonalDataKeyRing* keys = nullptr;
  StringSet lookup_keys;   // PersonLookupKeys forms: plaintext rows
  StringSet blind;         // blind indexes under every key of the ring
  StringSet hashes;        // HASH_ONLY forms: hashed rows
  StringSet emails, phones, customers;

  // The selector: every identifier it holds is looked up.
  void AddSelector(const v1::Subject& s) {
    AddLookups(s);
    if (!s.email().empty()) emails.insert(s.email());
    if (!s.phone().empty()) phones.insert(s.phone());
    if (!s.customer_id().empty()) customers.insert(s.customer_id());
  }

  // A row found: its customer id widens the search to the person's other
  // rows, and its e-mail address is erased from mail ledgers and recipient
  // tables. Its phone number widens nothing: households share numbers, and
  // forgetting one person must not erase another. True when the customer id
  // was new.
  bool AddRow(const v1::Subject& s) {
    if (!s.email().empty() && !IsSha256Hex(s.email())) emails.insert(s.email());
    if (s.customer_id().empty() || IsSha256Hex(s.customer_id()) || !customers.insert(s.customer_id()).second) {
      return false;
    }
    v1::Subject customer;
    customer.set_customer_id(s.customer_id());
    AddLookups(customer);
    return true;
  }

  void AddLookups(const v1::Subject& s) {
    for (const std::string& k : PersonLookupKeys(s, region)) {
      if (!lookup_keys.insert(k).second || keys == nullptr) continue;
      for (const std::string& id : keys->key_ids()) blind.insert(*keys->BlindIndexWith(id, k));
    }
    const v1::Subject h = HashSubject(s, region);
    for (const std::string* v : {&h.email(), &h.phone(), &h.email_sha256_google(), &h.phone_sha256_google(),
                                 &h.customer_id()}) {
      if (!v->empty()) hashes.insert(*v);
    }
  }

  bool Matches(const v1::InteractionRecord& r) const {
    for (const std::string& b : r.personal_data().blind_index()) {
      if (blind.contains(b)) return true;
    }
    const v1::Subject& s = r.subject();
    for (const std::string* v : {&s.email(), &s.phone(), &s.email_sha256_google(), &s.phone_sha256_google(),
                                 &s.customer_id()}) {
      if (!v->empty() && hashes.contains(absl::AsciiStrToLower(*v))) return true;
    }
    if (r.personal_data().sealed_subject().empty()) {
      for (const std::string& k : PersonLookupKeys(s, region)) {
        if (lookup_keys.contains(k)) return true;
      }
    }
    return false;
  }

  // The forms a mail ledger or a recipient table may hold the person's
  // address or number in (compared trimmed and lowercased by the store).
  std::vector<std::string> Recipients() const {
    StringSet out;
    for (const std::string& e : emails) {
      out.insert(e);
      out.insert(NormalizeEmail(e));
    }
    for (const std::string& p : phones) {
      out.insert(p);
      std::string e164 = NormalizePhone(p, PhoneFormat::kE164, {}, region);
      if (!e164.empty()) {
        out.insert(e164);
        out.insert(e164.substr(1));
      }
    }
    out.erase("");
    return {out.begin(), out.end()};
  }
};

// Finds the person's interactions; the customer ids of the rows found widen
// the search until a pass finds nothing new.
absl::StatusOr<std::vector<int64_t>> FindInteractions(PersonalDataStore& pds, Person& person) {
  std::set<int64_t> found;
  for (int pass = 0; pass < 4; ++pass) {
    bool widened = false;
    int64_t after = 0;
    while (true) {
      auto page = pds.ReadStoredInteractions(after, kPage);
      if (!page.ok()) return page.status();
      for (const v1::InteractionRecord& r : *page) {
        after = r.sequence();
        if (!person.Matches(r)) continue;
        found.insert(r.sequence());
        // Only the matched rows are opened.
        auto opened = FromStoredForm(r, person.keys);
        if (opened.ok() && person.AddRow(opened->subject())) widened = true;
      }
      if (static_cast<int>(page->size()) < kPage) break;
    }
    if (!widened) break;
  }
  return std::vector<int64_t>(found.begin(), found.end());
}

// Files under `dir` naming the person: a message file (one per person: in a
// maildir's cur/new/tmp, or *.eml) is removed; any other file is rewritten
// without the lines that name them.
absl::Status ForgetInFiles(const std::string& dir, const Person& person, ForgetReport& report) {
  std::vector<std::string> needles;
  for (const std::string& e : person.emails) needles.push_back(absl::AsciiStrToLower(e));
  for (const std::string& p : person.phones) needles.push_back(p);
  if (needles.empty()) return absl::OkStatus();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(Cat("herald forget --files ", dir, ": not a directory"));
  }
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->file_size() > kMaxFileBytes) continue;
    const std::filesystem::path path = it->path();
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    const std::string lower = absl::AsciiStrToLower(text);
    auto names = [&](std::string_view s) {
      for (const std::string& n : needles) {
        if (s.find(n) != std::string_view::npos) return true;
      }
      return false;
    };
    if (!names(lower)) continue;
    const std::string parent = path.parent_path().filename().string();
    if (path.extension() == ".eml" || parent == "cur" || parent == "new" || parent == "tmp") {
      if (!std::filesystem::remove(path, ec)) return absl::InternalError(Cat("herald forget: cannot remove ", path.string()));
      report.files_removed.push_back(path.string());
      continue;
    }
    std::string kept;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      end = end == std::string::npos ? text.size() : end + 1;
      if (!names(std::string_view(lower).substr(start, end - start))) kept.append(text, start, end - start);
      start = end;
    }
    const std::string tmp = path.string() + ".herald-forget";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << kept;
      if (!out.flush()) return absl::InternalError(Cat("herald forget: cannot write ", tmp));
    }
    std::filesystem::permissions(tmp, std::filesystem::status(path).permissions(), ec);
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(Cat("herald forget: cannot replace ", path.string(), ": ", ec.message()));
    report.files_rewritten.push_back(path.string());
  }
  if (ec) return absl::InternalError(Cat("herald forget --files ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

PersonalDataStore* ErasureOf(Store& store) {
  return store.personal_data();
}

}  // namespace

std::string ForgetReport::ToText() const {
  std::string out;
  CatTo(out, "forgot one person (", log.selector(), "); forget log entry ", log.id(), "\n");
  CatTo(out, "  interactions deleted           ", log.interactions(), "\n");
  CatTo(out, "  mail ledger rows deleted       ", log.mail_recipients(), "\n");
  CatTo(out, "  recipient table rows deleted   ", log.table_rows(), "\n");
  CatTo(out, "  histories deleted              ", log.histories(), "\n");
  CatTo(out, "  events anonymized              ", log.events_anonymized(), "\n");
  CatTo(out, "  coupon redemptions anonymized  ", log.coupon_redemptions_anonymized(), "\n");
  CatTo(out, "  files                          ", log.files(), "\n");
  for (const std::string& f : files_removed) CatTo(out, "    removed   ", f, "\n");
  for (const std::string& f : files_rewritten) CatTo(out, "    rewritten ", f, "\n");
  return out;
}

std::string ForgetReport::ToJson() const {
  nlohmann::json j;
  j["forget_log_id"] = log.id();
  j["selector"] = log.selector();
  j["interactions"] = log.interactions();
  j["mail_recipients"] = log.mail_recipients();
  j["table_rows"] = log.table_rows();
  j["histories"] = log.histories();
  j["events_anonymized"] = log.events_anonymized();
  j["coupon_redemptions_anonymized"] = log.coupon_redemptions_anonymized();
  j["files_removed"] = files_removed;
  j["files_rewritten"] = files_rewritten;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<ForgetReport> ForgetPerson(Store& store, const PersonalDataOptions& options,
                                          const ForgetRequest& request) {
  const int given = !request.customer_id.empty() + !request.email.empty() + !request.phone.empty();
  if (given != 1) {
    return absl::InvalidArgumentError("herald forget: give exactly one of --customer, --email, --phone");
  }
  PersonalDataStore* pds = ErasureOf(store);
  if (pds == nullptr) {
    return absl::FailedPreconditionError(Cat("herald forget: store ", store.Describe(), " cannot erase personal data"));
  }
  Person person;
  person.region = request.default_region.empty() ? options.config.default_region() : request.default_region;
  person.keys = options.keys.get();
  v1::Subject selector;
  selector.set_customer_id(request.customer_id);
  selector.set_email(request.email);
  selector.set_phone(request.phone);
  person.AddSelector(selector);
  if (person.lookup_keys.empty()) {
    return absl::InvalidArgumentError("herald forget: the e-mail address or phone number has nothing to look up");
  }
  auto sequences = FindInteractions(*pds, person);
  if (!sequences.ok()) return sequences.status();

  ForgetReport report;
  for (const std::string& dir : request.file_dirs) {
    if (absl::Status s = ForgetInFiles(dir, person, report); !s.ok()) return s;
  }
  SubjectErasure erasure;
  erasure.selector = !request.email.empty() ? "email" : !request.phone.empty() ? "phone" : "customer";
  erasure.interactions = std::move(*sequences);
  erasure.recipients = person.Recipients();
  erasure.user_ids.assign(person.customers.begin(), person.customers.end());
  v1::ForgetLogEntry log;
  log.set_selector(erasure.selector);
  log.set_files(static_cast<int64_t>(report.files_removed.size() + report.files_rewritten.size()));
  auto entry = pds->EraseSubject(erasure, log);
  if (!entry.ok()) return entry.status();
  report.log = std::move(*entry);
  return report;
}

absl::StatusOr<int64_t> ExpireRawIdentifiers(Store& store, const PersonalDataOptions& options,
                                             int64_t exported_through, absl::Time now) {
  if (options.config.raw_retention_days() < 0) return 0;
  PersonalDataStore* pds = ErasureOf(store);
  if (pds == nullptr) return absl::FailedPreconditionError(Cat("store ", store.Describe(), " has no retention"));
  const int64_t cutoff = absl::ToUnixSeconds(now - absl::Hours(24) * options.config.raw_retention_days());
  int64_t changed = 0, after = 0;
  while (after < exported_through) {
    auto page = pds->ReadStoredInteractions(after, kPage);
    if (!page.ok()) return page.status();
    std::vector<v1::InteractionRecord> rewritten;
    for (const v1::InteractionRecord& r : *page) {
      after = r.sequence();
      if (r.sequence() > exported_through) break;
      if (r.personal_data().hashes_only() || r.time().seconds() >= cutoff) continue;
      auto opened = FromStoredForm(r, options.keys.get());
      if (!opened.ok()) return opened.status();
      v1::InteractionRecord& e = rewritten.emplace_back(r);
      *e.mutable_subject() = HashSubject(opened->subject(), options.config.default_region());
      e.mutable_personal_data()->clear_sealed_subject();
      e.mutable_personal_data()->set_hashes_only(true);
      // Plaintext rows get the blind indexes they lacked, so forget still finds them.
      if (options.keys != nullptr && r.personal_data().blind_index().empty()) {
        for (const std::string& k : PersonLookupKeys(opened->subject(), options.config.default_region())) {
          e.mutable_personal_data()->add_blind_index(options.keys->BlindIndex(k));
        }
        e.mutable_personal_data()->set_index_key_id(options.keys->newest_key_id());
      }
    }
    if (!rewritten.empty()) {
      auto n = pds->RewriteInteractions(rewritten);
      if (!n.ok()) return n.status();
      changed += *n;
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }
  return changed;
}

absl::StatusOr<int64_t> ResealInteractions(Store& store, const PersonalDataOptions& options) {
  if (options.keys == nullptr) {
    return absl::FailedPreconditionError(Cat("reseal: no key ring (", kPersonalDataKeysFileEnv, ")"));
  }
  PersonalDataStore* pds = ErasureOf(store);
  if (pds == nullptr) return absl::FailedPreconditionError(Cat("store ", store.Describe(), " cannot reseal"));
  const PersonalDataKeyRing& keys = *options.keys;
  const std::string& newest = keys.newest_key_id();
  int64_t changed = 0, after = 0;
  while (true) {
    auto page = pds->ReadStoredInteractions(after, kPage);
    if (!page.ok()) return page.status();
    std::vector<v1::InteractionRecord> rewritten;
    for (const v1::InteractionRecord& r : *page) {
      after = r.sequence();
      const std::string& sealed = r.personal_data().sealed_subject();
      if (sealed.empty() ||
          (PersonalDataKeyRing::SealingKeyId(sealed) == newest && r.personal_data().index_key_id() == newest)) {
        continue;
      }
      auto opened = FromStoredForm(r, &keys);
      if (!opened.ok()) return opened.status();
      v1::InteractionRecord& e = rewritten.emplace_back(r);
      v1::PersonalData* pd = e.mutable_personal_data();
      pd->set_sealed_subject(keys.Seal(opened->subject().SerializeAsString(), r.interaction_id()));
      pd->clear_blind_index();
      for (const std::string& k : PersonLookupKeys(opened->subject(), options.config.default_region())) {
        pd->add_blind_index(keys.BlindIndex(k));
      }
      pd->set_index_key_id(newest);
    }
    if (!rewritten.empty()) {
      auto n = pds->RewriteInteractions(rewritten);
      if (!n.ok()) return n.status();
      changed += *n;
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }
  return changed;
}

}  // namespace herald
