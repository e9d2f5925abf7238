// Personal data at rest (herald/privacy.h): the key ring, the stored forms,
// rotation, forget (every table; the bytes gone from the SQLite file and its
// WAL, and from PostgreSQL's table files) and export from protected rows.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "conversion/standin_servers.h"
#include "herald/conversion.h"
#include "herald/privacy.h"
#include "herald/store.h"
#include "herald/store_postgres.h"
#include "pg_test.h"

namespace herald {
namespace {

using testing::GoogleStandIn;
using testing::MetaStandIn;

constexpr char kEmail[] = "Zelda.Quist-7f3a@Example.org";
constexpr char kEmailLower[] = "zelda.quist-7f3a@example.org";
constexpr char kPhone[] = "+49 30 901820";
constexpr char kCustomer[] = "cust-zq-5521";

// Sets an environment variable for a scope (and restores it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) old_ = old;
    if (value.empty()) {
      unsetenv(name);
    } else {
      setenv(name, value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/herald-privacy-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string File(const std::string& name) const { return path + "/" + name; }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::unique_ptr<Store> MustOpen(absl::StatusOr<std::unique_ptr<Store>> store) {
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(*store);
}

PersonalDataOptions Options(v1::PersonalDataMode mode, std::shared_ptr<const PersonalDataKeyRing> keys = nullptr) {
  PersonalDataOptions o;
  o.config.set_mode(mode);
  o.config.set_raw_retention_days(30);
  o.keys = std::move(keys);
  return o;
}

std::shared_ptr<const PersonalDataKeyRing> Ring(const std::string& text) {
  auto ring = PersonalDataKeyRing::Parse(text, "test keys");
  INFO(ring.status().ToString());
  REQUIRE(ring.ok());
  return *ring;
}

v1::InteractionRecord Response(const std::string& email, const std::string& phone, const std::string& customer,
                               int i, absl::Time at = absl::Now() - absl::Hours(1)) {
  v1::InteractionRecord r;
  v1::Subject* s = r.mutable_subject();
  s->set_customer_id(customer);
  s->set_email(email);
  s->set_phone(phone);
  s->set_first_name("Zelda");
  s->set_last_name("Quist");
  s->set_country("DE");
  s->set_gclid("gclid-" + std::to_string(i));
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name("PlatinumCreditCard");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  r.set_channel("Web");
  // Asked and granted, so that Google's default consent policy sends them (docs/conversions.md, "Consent").
  r.mutable_consent()->set_ad_user_data(v1::CONSENT_STATUS_GRANTED);
  r.mutable_consent()->set_ad_personalization(v1::CONSENT_STATUS_GRANTED);
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(at));
  r.mutable_value()->set_minor_units(1000 + i);
  r.mutable_value()->set_currency("EUR");
  r.set_order_id("order-" + std::to_string(i));
  return r;
}

void CaptureMany(Store& store, int n, const std::string& email, const std::string& phone, const std::string& customer,
                 int first = 0) {
  for (int i = first; i < first + n; ++i) {
    auto captured = CaptureResponse(store, Response(email, phone, customer, i));
    INFO(captured.status().ToString());
    REQUIRE(captured.ok());
  }
}

std::vector<v1::InteractionRecord> ReadAllInteractions(Store& store) {
  auto all = store.interactions().ReadInteractions(0, 1000000);
  INFO(all.status().ToString());
  REQUIRE(all.ok());
  return *all;
}

TEST_CASE("a sealed subject opens with its key and context only - any altered byte is refused", "[privacy]") {
  auto ring = Ring(PersonalDataKeyRing::NewKeyLine("k1"));
  const std::string sealed = ring->Seal("the subject", "interaction-1");
  CHECK_FALSE(Contains(sealed, "the subject"));
  CHECK(PersonalDataKeyRing::SealingKeyId(sealed) == "k1");
  auto opened = ring->Open(sealed, "interaction-1");
  REQUIRE(opened.ok());
  CHECK(*opened == "the subject");
  // Two seals of one value differ (random nonces).
  CHECK(ring->Seal("the subject", "interaction-1") != sealed);
  for (size_t i = 3 + 2; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    auto bad = ring->Open(tampered, "interaction-1");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == absl::StatusCode::kDataLoss);
  }
  // Moved to another record: refused.
  auto moved = ring->Open(sealed, "interaction-2");
  CHECK(moved.status().code() == absl::StatusCode::kDataLoss);
  // Another ring (same id, other key): refused.
  auto other = Ring(PersonalDataKeyRing::NewKeyLine("k1"));
  CHECK(other->Open(sealed, "interaction-1").status().code() == absl::StatusCode::kDataLoss);
  // Blind indexes: stable, keyed, 32 bytes.
  CHECK(ring->BlindIndex("email:a@b.org") == ring->BlindIndex("email:a@b.org"));
  CHECK(ring->BlindIndex("email:a@b.org") != other->BlindIndex("email:a@b.org"));
  CHECK(ring->BlindIndex("email:a@b.org").size() == 32);
}

TEST_CASE("key ring errors name the place and never the key", "[privacy]") {
  CHECK(PersonalDataKeyRing::Parse("", "keys.txt").status().message() == "keys.txt: no key");
  auto short_key = PersonalDataKeyRing::Parse("k1:c2VjcmV0", "keys.txt");
  REQUIRE_FALSE(short_key.ok());
  CHECK(Contains(std::string(short_key.status().message()), "keys.txt: key 1 (\"k1\"): the key must be 32 bytes"));
  CHECK_FALSE(Contains(std::string(short_key.status().message()), "c2VjcmV0"));
  const std::string line = PersonalDataKeyRing::NewKeyLine("k1");
  auto twice = PersonalDataKeyRing::Parse(line + "\n" + line, "keys.txt");
  CHECK(Contains(std::string(twice.status().message()), "key id \"k1\" twice"));
  CHECK(Contains(std::string(PersonalDataKeyRing::Parse("bad id:xx", "k").status().message()), "letters, digits"));
}

TEST_CASE("a key file the group or others may read is refused", "[privacy]") {
  TempDir dir;
  const std::string file = dir.File("keys");
  {
    std::ofstream out(file);
    out << "# rotated 2026-12\n" << PersonalDataKeyRing::NewKeyLine("old") << "\n"
        << PersonalDataKeyRing::NewKeyLine("new") << "\n";
  }
  ScopedEnv no_inline(kPersonalDataKeysEnv, "");
  ScopedEnv file_env(kPersonalDataKeysFileEnv, file);
  chmod(file.c_str(), 0640);
  auto refused = PersonalDataKeyRing::FromEnvironment();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(Contains(std::string(refused.status().message()), "mode 0640"));
  chmod(file.c_str(), 0600);
  auto ring = PersonalDataKeyRing::FromEnvironment();
  REQUIRE(ring.ok());
  REQUIRE(*ring != nullptr);
  CHECK((*ring)->newest_key_id() == "new");
  CHECK((*ring)->key_ids() == std::vector<std::string>{"old", "new"});
}

TEST_CASE("the mode: ENCRYPT with a key ring - HASH_ONLY without - ENCRYPT without keys refused", "[privacy]") {
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_mode(kPersonalDataModeEnv, "");
  {
    ScopedEnv keys(kPersonalDataKeysEnv, PersonalDataKeyRing::NewKeyLine("k1"));
    auto o = PersonalDataOptionsFromEnvironment();
    REQUIRE(o.ok());
    CHECK(o->config.mode() == v1::PERSONAL_DATA_MODE_ENCRYPT);
    CHECK(PersonalDataWarning(*o, {}).empty());
  }
  ScopedEnv no_keys(kPersonalDataKeysEnv, "");
  auto o = PersonalDataOptionsFromEnvironment();
  REQUIRE(o.ok());
  CHECK(o->config.mode() == v1::PERSONAL_DATA_MODE_HASH_ONLY);
  CHECK(Contains(PersonalDataWarning(*o, {}), "hashes only"));
  v1::PersonalDataConfig encrypt;
  encrypt.set_mode(v1::PERSONAL_DATA_MODE_ENCRYPT);
  auto refused = PersonalDataOptionsFromEnvironment(encrypt);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Contains(std::string(refused.status().message()), kPersonalDataKeysFileEnv));
  ScopedEnv plain(kPersonalDataModeEnv, "plaintext");
  auto p = PersonalDataOptionsFromEnvironment();
  REQUIRE(p.ok());
  CHECK(Contains(PersonalDataWarning(*p, {}), "WARNING"));
  ScopedEnv typo(kPersonalDataModeEnv, "hash_onyl");
  CHECK(Contains(std::string(PersonalDataOptionsFromEnvironment().status().message()), "did you mean \"hash_only\""));
}

TEST_CASE("sqlite: encrypted interactions keep no raw identifier bytes and read back whole", "[privacy][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  Registry registry;
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_mode(kPersonalDataModeEnv, "");
  ScopedEnv keys(kPersonalDataKeysEnv, PersonalDataKeyRing::NewKeyLine("k1"));
  auto store = MustOpen(OpenStore(path, registry));
  CaptureMany(*store, 5, kEmail, kPhone, kCustomer);
  auto all = ReadAllInteractions(*store);
  REQUIRE(all.size() == 5);
  CHECK(all[0].subject().email() == kEmail);
  CHECK(all[0].subject().phone() == kPhone);
  CHECK(all[0].subject().customer_id() == kCustomer);
  CHECK_FALSE(all[0].has_personal_data());
  const std::string bytes = ReadAll(path) + ReadAll(path + "-wal");
  CHECK_FALSE(Contains(bytes, kEmail));
  CHECK_FALSE(Contains(bytes, kEmailLower));
  CHECK_FALSE(Contains(bytes, kCustomer));
  CHECK_FALSE(Contains(bytes, "Quist"));
  // The raw backend's rows are sealed and indexed.
  auto stored = store->personal_data()->ReadStoredInteractions(0, 10);
  REQUIRE(stored.ok());
  CHECK((*stored)[0].subject().email().empty());
  CHECK_FALSE((*stored)[0].personal_data().sealed_subject().empty());
  CHECK((*stored)[0].personal_data().blind_index_size() == 3);
  // Without the key the rows do not open: a clear error, not garbage.
  ScopedEnv other(kPersonalDataKeysEnv, PersonalDataKeyRing::NewKeyLine("k2"));
  auto rekeyed = MustOpen(OpenStore(path, registry));
  auto unreadable = rekeyed->interactions().ReadInteractions(0, 10);
  REQUIRE_FALSE(unreadable.ok());
  CHECK(Contains(std::string(unreadable.status().message()), "key \"k1\" is not in the key ring"));
}

TEST_CASE("rotation: a new key seals while old rows still open - reseal moves them - the old key can go", "[privacy]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  Registry registry;
  const std::string old_key = PersonalDataKeyRing::NewKeyLine("2026a");
  const std::string new_key = PersonalDataKeyRing::NewKeyLine("2026b");
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_mode(kPersonalDataModeEnv, "");
  {
    ScopedEnv keys(kPersonalDataKeysEnv, old_key);
    auto store = MustOpen(OpenStore(path, registry));
    CaptureMany(*store, 3, kEmail, kPhone, kCustomer);
  }
  ScopedEnv both(kPersonalDataKeysEnv, old_key + "," + new_key);
  auto options = PersonalDataOptionsFromEnvironment();
  REQUIRE(options.ok());
  {
    auto store = MustOpen(OpenStore(path, registry));
    CaptureMany(*store, 2, "other@example.org", "+49 30 123456", "cust-other", 10);
    auto all = ReadAllInteractions(*store);
    REQUIRE(all.size() == 5);
    CHECK(all[0].subject().email() == kEmail);
    auto stored = store->personal_data()->ReadStoredInteractions(0, 10);
    REQUIRE(stored.ok());
    CHECK(PersonalDataKeyRing::SealingKeyId((*stored)[0].personal_data().sealed_subject()) == "2026a");
    CHECK(PersonalDataKeyRing::SealingKeyId((*stored)[4].personal_data().sealed_subject()) == "2026b");
    auto resealed = ResealInteractions(*store, *options);
    REQUIRE(resealed.ok());
    CHECK(*resealed == 3);
    auto again = ResealInteractions(*store, *options);
    REQUIRE(again.ok());
    CHECK(*again == 0);
  }
  ScopedEnv only_new(kPersonalDataKeysEnv, new_key);
  auto store = MustOpen(OpenStore(path, registry));
  auto all = ReadAllInteractions(*store);
  REQUIRE(all.size() == 5);
  CHECK(all[1].subject().phone() == kPhone);
  // Forget still finds the resealed rows (their blind indexes were remade).
  auto only_new_options = PersonalDataOptionsFromEnvironment();
  REQUIRE(only_new_options.ok());
  ForgetRequest request;
  request.email = "zelda.quist-7f3a@EXAMPLE.org";
  auto report = ForgetPerson(*store, *only_new_options, request);
  REQUIRE(report.ok());
  CHECK(report->log.interactions() == 3);
}

TEST_CASE("HASH_ONLY stores the destinations' hashes and no raw identifier", "[privacy]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  Registry registry;
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_keys(kPersonalDataKeysEnv, "");
  ScopedEnv no_mode(kPersonalDataModeEnv, "");  // no key ring: HASH_ONLY
  auto store = MustOpen(OpenStore(path, registry));
  CaptureMany(*store, 2, "First.Last@GMail.com", kPhone, kCustomer);
  const std::string bytes = ReadAll(path) + ReadAll(path + "-wal");
  CHECK_FALSE(Contains(bytes, "First.Last"));
  CHECK_FALSE(Contains(bytes, "first.last"));
  CHECK_FALSE(Contains(bytes, "901820"));
  CHECK_FALSE(Contains(bytes, kCustomer));
  auto all = ReadAllInteractions(*store);
  REQUIRE(all.size() == 2);
  IdentifierHasher h;
  const v1::Subject& s = all[0].subject();
  CHECK(s.email() == h.Hash("first.last@gmail.com"));              // Meta: dots kept
  CHECK(s.email_sha256_google() == h.Hash("firstlast@gmail.com"));  // Google: gmail dots removed
  CHECK(s.phone() == h.Hash("4930901820"));                          // Meta: digits
  CHECK(s.phone_sha256_google() == h.Hash("+4930901820"));           // Google: E.164
  CHECK(s.gclid() == "gclid-0");                                     // click ids as issued
  // Forget finds hashed rows without any key.
  auto options = PersonalDataOptionsFromEnvironment();
  REQUIRE(options.ok());
  ForgetRequest request;
  request.phone = "+49 (30) 901820";
  auto report = ForgetPerson(*store, *options, request);
  REQUIRE(report.ok());
  CHECK(report->log.interactions() == 2);
}

// A recipient table (the site's SQL) and the other tables that name the person.
void SeedOtherTables(Store& store, const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  const std::string sql = std::string(
                              "CREATE TABLE newsletter(email TEXT, first_name TEXT);"
                              "INSERT INTO newsletter VALUES ('") +
                          kEmail + "', 'Zelda'), ('someone@example.org', 'Sam');";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK);
  sqlite3_close(db);
  const std::vector<std::string> recipients = {"Zelda.Quist-7f3a@example.org", "someone@example.org"};
  REQUIRE(store.mail_ledgers().AddRecipients("spring-mail", recipients).ok());
  auto claimed = store.mail_ledgers().ClaimPending("spring-mail", "w1", 10);
  REQUIRE(claimed.ok());
  std::vector<LedgerEntry> sent;
  for (const std::string& r : *claimed) sent.push_back({r, RecipientState::kSent, "250 ok"});
  REQUIRE(store.mail_ledgers().MarkRecipients("spring-mail", sent).ok());
  UserHistory history;
  history.recent = {"ad-1"};
  REQUIRE(store.history().SaveHistories(std::vector<std::pair<std::string, UserHistory>>{{kCustomer, history}}).ok());
  v1::Event e;
  e.set_type(v1::EVENT_TYPE_REQUEST);
  e.set_user_id(kCustomer);
  e.set_session_id("sess-zq");
  e.set_item_id("ad-1");
  e.set_count(1);
  REQUIRE(store.events().AppendEvents(std::vector<v1::Event>{e}).ok());
  REQUIRE(store.coupons().RedeemCoupons("order-zq", kCustomer, std::vector<CouponUse>{{"SPRING10", 0, 1}}).ok());
}

TEST_CASE("sqlite: forget erases the person from every table - the bytes are gone from the file and the WAL",
          "[privacy][sqlite][forget]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  Registry registry;
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_keys(kPersonalDataKeysEnv, "");
  // PLAINTEXT: the address is in the file before, so its absence after is forget's doing.
  ScopedEnv plain(kPersonalDataModeEnv, "plaintext");
  auto store = MustOpen(OpenStore(path, registry));
  CaptureMany(*store, 40, kEmail, kPhone, kCustomer);
  CaptureMany(*store, 40, "someone@example.org", "+49 30 555555", "cust-sam", 100);
  SeedOtherTables(*store, path);
  // Files Herald wrote: a maildir message and an export file.
  std::filesystem::create_directories(dir.File("out/cur"));
  { std::ofstream(dir.File("out/cur/1.eml")) << "To: " << kEmail << "\r\n\r\nHello\r\n"; }
  { std::ofstream(dir.File("out/rejects.jsonl")) << "{\"em\":\"" << kEmailLower << "\"}\n{\"em\":\"someone@example.org\"}\n"; }
  const std::string before = ReadAll(path) + ReadAll(path + "-wal");
  REQUIRE(Contains(before, kEmail));
  REQUIRE(Contains(before, kCustomer));

  auto options = PersonalDataOptionsFromEnvironment();
  REQUIRE(options.ok());
  ForgetRequest request;
  request.email = kEmail;
  request.file_dirs = {dir.File("out")};
  auto report = ForgetPerson(*store, *options, request);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->log.selector() == "email");
  CHECK(report->log.interactions() == 40);
  CHECK(report->log.mail_recipients() == 1);
  CHECK(report->log.table_rows() == 1);
  CHECK(report->log.histories() == 1);  // found through the customer id of the person's interactions
  CHECK(report->log.events_anonymized() == 1);
  CHECK(report->log.coupon_redemptions_anonymized() == 1);
  CHECK(report->files_removed.size() == 1);
  CHECK(report->files_rewritten.size() == 1);
  CHECK_FALSE(std::filesystem::exists(dir.File("out/cur/1.eml")));
  CHECK(ReadAll(dir.File("out/rejects.jsonl")) == "{\"em\":\"someone@example.org\"}\n");

  // The raw files: nothing of the person, in any case, in the database or its WAL.
  const std::string after = ReadAll(path);
  const std::string wal = ReadAll(path + "-wal");
  CHECK(wal.empty());  // checkpointed and truncated
  for (const std::string& needle : {std::string(kEmail), std::string(kEmailLower), std::string(kCustomer),
                                    std::string("901820"), std::string("sess-zq")}) {
    INFO(needle);
    CHECK_FALSE(Contains(after, needle));
    CHECK_FALSE(Contains(wal, needle));
  }
  // Everyone else is untouched.
  CHECK(Contains(after, "someone@example.org"));
  auto rest = ReadAllInteractions(*store);
  CHECK(rest.size() == 40);
  auto states = store->mail_ledgers().CountStates("spring-mail");
  REQUIRE(states.ok());
  REQUIRE(states->size() == 1);
  CHECK(states->front().second == 1);
  auto uses = store->coupons().CouponUses("SPRING10");
  REQUIRE(uses.ok());
  CHECK(*uses == 1);  // the redemption still counts against the code's limit
  auto history = store->history().LoadHistory(kCustomer);
  REQUIRE(history.ok());
  CHECK_FALSE(history->has_value());
  // The forget log says when and how much, never who.
  auto log = store->personal_data()->ReadForgetLog();
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].interactions() == 40);
  CHECK((*log)[0].time_unix_micros() > 0);
  CHECK_FALSE(Contains((*log)[0].SerializeAsString(), "zelda"));
}

TEST_CASE("forget widens through the person's customer id - never through a phone number others share",
          "[privacy][forget]") {
  auto store = ProtectPersonalData(NewMemoryStore(), Options(v1::PERSONAL_DATA_MODE_PLAINTEXT));
  const std::string household_phone = "+49 30 777777";
  CaptureMany(*store, 2, "ann@example.org", household_phone, "cust-ann");
  CaptureMany(*store, 1, "", "", "cust-ann", 10);  // Ann's row without e-mail: found through her customer id
  CaptureMany(*store, 3, "ben@example.org", household_phone, "cust-ben", 20);
  ForgetRequest request;
  request.email = "ann@example.org";
  auto report = ForgetPerson(*store, Options(v1::PERSONAL_DATA_MODE_PLAINTEXT), request);
  REQUIRE(report.ok());
  CHECK(report->log.interactions() == 3);
  auto rest = ReadAllInteractions(*store);
  REQUIRE(rest.size() == 3);
  for (const auto& r : rest) CHECK(r.subject().customer_id() == "cust-ben");
}

TEST_CASE("retention: raw identifiers of exported records past the retention become hashes", "[privacy]") {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  Registry registry;
  ScopedEnv no_file(kPersonalDataKeysFileEnv, "");
  ScopedEnv no_mode(kPersonalDataModeEnv, "");
  ScopedEnv keys(kPersonalDataKeysEnv, PersonalDataKeyRing::NewKeyLine("k1"));
  auto options = PersonalDataOptionsFromEnvironment();
  REQUIRE(options.ok());
  auto store = MustOpen(OpenStore(path, registry));
  const absl::Time now = absl::Now();
  for (int i = 0; i < 4; ++i) {
    // Two old records, two recent ones.
    auto r = Response(kEmail, kPhone, kCustomer, i, i < 2 ? now - absl::Hours(24 * 40) : now - absl::Hours(1));
    REQUIRE(CaptureResponse(*store, r).ok());
  }
  // Only the first three were exported by every destination.
  auto expired = ExpireRawIdentifiers(*store, *options, 3, now);
  REQUIRE(expired.ok());
  CHECK(*expired == 2);
  auto all = ReadAllInteractions(*store);
  IdentifierHasher h;
  CHECK(all[0].subject().email() == h.Hash(kEmailLower));
  CHECK(all[1].subject().customer_id() == h.Hash(kCustomer));
  CHECK(all[2].subject().email() == kEmail);  // within the retention
  CHECK(all[3].subject().email() == kEmail);
  auto again = ExpireRawIdentifiers(*store, *options, 4, now + absl::Hours(24 * 60));
  REQUIRE(again.ok());
  CHECK(*again == 2);
  // Expired rows are still found by forget (their blind indexes stay).
  ForgetRequest request;
  request.customer_id = kCustomer;
  auto report = ForgetPerson(*store, *options, request);
  REQUIRE(report.ok());
  CHECK(report->log.interactions() == 4);
}

// The PostgreSQL file of `table` in `schema` (after a CHECKPOINT), or "" when
// the server's data directory is not readable from here.
std::string PgTableFile(const std::string& pg, const std::string& schema, const std::string& table) {
  const std::string cmd = "psql \"" + pg + "\" -Atq -c 'CHECKPOINT' -c \"SELECT current_setting('data_directory')"
                          " || '/' || pg_relation_filepath('" + schema + "." + table + "')\"";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[4096];
  std::string out;
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Whether another session of the database holds a snapshot.
bool SessionWithOldSnapshot(const std::string& pg) {
  const std::string cmd = "psql \"" + pg + "\" -Atq -c \"SELECT count(*) FROM pg_stat_activity WHERE pid <> "
                          "pg_backend_pid() AND datname = current_database() AND backend_xmin IS NOT NULL\"";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char buf[64] = {0};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  return got && std::atoi(buf) > 0;
}

TEST_CASE("postgresql: forget erases the person from every table - the bytes are gone from the table files",
          "[privacy][postgresql][forget]") {
  const char* pg = testing::PostgresOrSkip("forget on PostgreSQL");
  if (pg == nullptr) return;
  const std::string schema = "privacy_" + std::to_string(::getpid());
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(schema);
  auto raw = OpenPostgresStore(config);
  INFO(raw.status().ToString());
  REQUIRE(raw.ok());
  auto store = ProtectPersonalData(std::move(*raw), Options(v1::PERSONAL_DATA_MODE_PLAINTEXT));
  CaptureMany(*store, 20, kEmail, kPhone, kCustomer);
  CaptureMany(*store, 20, "someone@example.org", "+49 30 555555", "cust-sam", 100);
  const std::vector<std::string> recipients = {kEmail, "someone@example.org"};
  REQUIRE(store->mail_ledgers().AddRecipients("spring-mail", recipients).ok());
  UserHistory history;
  history.recent = {"ad-1"};
  REQUIRE(store->history().SaveHistories(std::vector<std::pair<std::string, UserHistory>>{{kCustomer, history}}).ok());
  REQUIRE(std::system(("psql \"" + std::string(pg) + "\" -q -c \"CREATE TABLE " + schema +
                       ".newsletter(email text, first_name text); INSERT INTO " + schema + ".newsletter VALUES ('" +
                       kEmail + "', 'Zelda'), ('someone@example.org', 'Sam')\" >/dev/null")
                          .c_str()) == 0);
  const std::string interactions_file = PgTableFile(pg, schema, "interactions");
  const bool files_readable = !interactions_file.empty() && std::filesystem::exists(interactions_file);
  if (files_readable) REQUIRE(Contains(ReadAll(interactions_file), kEmail));

  // A reader in another session whose snapshot predates the erasure (a busy
  // server always has one): VACUUM FULL would copy the dead rows it may still
  // see, so forget waits for it to end before scrubbing.
  REQUIRE(std::system(("printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\\nSELECT count(*) FROM " + schema +
                       ".interactions;\\nSELECT pg_sleep(2);\\nCOMMIT;\\n' | psql \"" + std::string(pg) +
                       "\" -q >/dev/null 2>&1 &").c_str()) == 0);
  for (int i = 0; i < 100 && !SessionWithOldSnapshot(pg); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ForgetRequest request;
  request.customer_id = kCustomer;
  auto report = ForgetPerson(*store, Options(v1::PERSONAL_DATA_MODE_PLAINTEXT), request);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  CHECK(report->log.interactions() == 20);
  CHECK(report->log.mail_recipients() == 1);  // found through the e-mail of the person's interactions
  CHECK(report->log.table_rows() == 1);
  CHECK(report->log.histories() == 1);
  CHECK(ReadAllInteractions(*store).size() == 20);
  auto log = store->personal_data()->ReadForgetLog();
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].selector() == "customer");

  // In SQL: nothing left anywhere in the schema.
  const std::string count_cmd =
      "psql \"" + std::string(pg) + "\" -Atq -c \"SELECT (SELECT count(*) FROM " + schema +
      ".interactions WHERE position('" + kEmail + "'::bytea in data) > 0) + (SELECT count(*) FROM " + schema +
      ".mail_recipients WHERE recipient ILIKE '%zelda%') + (SELECT count(*) FROM " + schema +
      ".newsletter WHERE email ILIKE '%zelda%')\"";
  FILE* p = popen(count_cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[64] = {0};
  REQUIRE(fgets(buf, sizeof buf, p) != nullptr);
  pclose(p);
  CHECK(std::string(buf) == "0\n");
  // In the table files (VACUUM FULL wrote them anew), when this process can read them.
  if (files_readable) {
    for (const char* table : {"interactions", "mail_recipients", "histories", "newsletter"}) {
      const std::string file = PgTableFile(pg, schema, table);
      INFO(table << " " << file);
      const std::string bytes = ReadAll(file);
      CHECK_FALSE(Contains(bytes, kEmail));
      CHECK_FALSE(Contains(bytes, kCustomer));
    }
    CHECK(Contains(ReadAll(PgTableFile(pg, schema, "interactions")), "someone@example.org"));
  } else {
    WARN("the PostgreSQL data directory is not readable here: checked through SQL only");
  }
  (void)std::system(("psql \"" + std::string(pg) + "\" -q -c 'DROP SCHEMA " + schema + " CASCADE' >/dev/null 2>&1").c_str());
}

TEST_CASE("export from encrypted and hash-only rows sends the hashes raw rows send (Meta and Google stand-ins)",
          "[privacy][export]") {
  Registry registry;
  RegisterConversionComponents(&registry);
  setenv("HERALD_TEST_META_TOKEN", "meta-token", 1);
  setenv("HERALD_TEST_GOOGLE_DEV", "google-dev", 1);
  setenv("HERALD_TEST_GOOGLE_ACCESS", "google-access", 1);
  const absl::Time now = absl::Now();
  v1::ConversionAction action;
  action.set_issue("Sales");
  action.set_group("Cards");
  action.set_name("PlatinumCreditCard");
  action.set_paid_sync_enabled(true);
  action.set_offline_conversion_enabled(true);
  action.set_meta_event_name("Purchase");
  action.set_google_conversion_action("customers/1234567890/conversionActions/1");

  // The user data each destination receives from records stored in `options`' form.
  auto exported = [&](const PersonalDataOptions& options) {
    auto store = ProtectPersonalData(NewMemoryStore(), options);
    for (int i = 0; i < 3; ++i) {
      auto r = Response(i == 0 ? "First.Last@GMail.com" : kEmail, kPhone, kCustomer, i);
      REQUIRE(CaptureResponse(*store, r).ok());
    }
    MetaStandIn meta_server("v21.0", "1234567", "meta-token", absl::ToUnixSeconds(now));
    GoogleStandIn google_server("v17", "1234567890", "google-dev", "google-access", absl::ToUnixSeconds(now));
    meta_server.Start();
    google_server.Start();
    std::vector<std::string> out;
    for (const std::string type : {"meta", "google_ads"}) {
      std::unique_ptr<Destination> destination;
      if (type == "meta") {
        v1::MetaDestinationConfig c;
        c.set_base_url(meta_server.url());
        c.set_api_version("v21.0");
        c.set_dataset_id("1234567");
        c.set_access_token_env("HERALD_TEST_META_TOKEN");
        auto d = registry.Create<Destination>("meta", c, CreateContext{&registry, "/tmp"});
        REQUIRE(d.ok());
        destination = std::move(*d);
      } else {
        v1::GoogleAdsDestinationConfig c;
        c.set_base_url(google_server.url());
        c.set_api_version("v17");
        c.set_customer_id("1234567890");
        c.set_developer_token_env("HERALD_TEST_GOOGLE_DEV");
        c.set_access_token_env("HERALD_TEST_GOOGLE_ACCESS");
        auto d = registry.Create<Destination>("google_ads", c, CreateContext{&registry, "/tmp"});
        INFO(d.status().ToString());
        REQUIRE(d.ok());
        destination = std::move(*d);
      }
      ExporterOptions o;
      o.registry = &registry;
      o.store = store.get();
      o.destination = destination.get();
      o.destination_name = type;
      o.actions = {action};
      o.sleep = [](absl::Duration) {};
      auto exporter = ConversionExporter::Create(std::move(o));
      REQUIRE(exporter.ok());
      auto report = exporter->get()->RunOnce();
      INFO(report.status().ToString());
      REQUIRE(report.ok());
      INFO(report->ToText());
      CHECK(report->delivered == 3);
    }
    CHECK(meta_server.violations().empty());
    CHECK(google_server.violations().empty());
    for (const auto& e : meta_server.events()) out.push_back(e["user_data"].dump());
    for (const auto& c : google_server.conversions()) out.push_back(c.contains("userIdentifiers") ? c["userIdentifiers"].dump() : "");
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto plain = exported(Options(v1::PERSONAL_DATA_MODE_PLAINTEXT));
  REQUIRE(plain.size() == 6);
  CHECK(Contains(plain[0] + plain[3], "\"em\""));
  CHECK(exported(Options(v1::PERSONAL_DATA_MODE_ENCRYPT, Ring(PersonalDataKeyRing::NewKeyLine("k1")))) == plain);
  // HASH_ONLY: the region the destinations would use for phones is the subject's country (DE) here.
  CHECK(exported(Options(v1::PERSONAL_DATA_MODE_HASH_ONLY)) == plain);
}

}  // namespace
}  // namespace herald
