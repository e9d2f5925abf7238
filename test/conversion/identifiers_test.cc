// Normalization and hashing vectors (Meta's customer-information parameters,
// Google's enhanced-conversion rules) and CaptureResponse.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/store.h"

namespace herald {
namespace {

std::string Sha(std::string_view s) {
  IdentifierHasher h;
  return h.Hash(s);
}

// Expected digests are computed outside Herald, with Python:
//   python3 -c "import hashlib,unicodedata,sys; print(hashlib.sha256(
//     unicodedata.normalize('NFC', sys.argv[1]).encode()).hexdigest())" 'zoë'
// The first three are the examples of Meta's customer information parameters page.
TEST_CASE("SHA-256 of normalized identifiers matches the documented vectors", "[conversion][hash]") {
  // Meta: em "John_Smith@gmail.com", ph "(650)555-1212" (US), fn "Mary", "Valéry".
  CHECK(Sha(NormalizeEmail("  John_Smith@gmail.com ")) ==
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
  CHECK(Sha(NormalizePhone("(650)555-1212", PhoneFormat::kDigits, "US")) ==
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
  CHECK(Sha(NormalizeName("Mary")) == "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec");
  CHECK(Sha(NormalizeName("Valéry")) == "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c");
  // Non-ASCII capitals, lowercased by ICU: sha256("zoë"), sha256("müller"), sha256("münchen").
  CHECK(Sha(NormalizeName("ZOË")) == "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450");
  CHECK(Sha(NormalizeName("MÜLLER")) == "2dbd218072117713f2d5996a726a9b216ed791ffd0783b6ba4ab6d61b8333192");
  CHECK(Sha(NormalizeCity("MÜNCHEN")) == "f75c175f552c8b2bf46ef4b282ee782c81cf8687f66a8fe8278cc56fa727503e");
  // NFC: "Zoe" + U+0308 COMBINING DIAERESIS is the same name as "Zoë".
  CHECK(Sha(NormalizeName("Zoe\xCC\x88")) == "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450");
  // Unicode punctuation (U+2019) removed: sha256("obrien").
  CHECK(Sha(NormalizeName("O\xE2\x80\x99" "Brien")) ==
        "b4cb6cb33fe4b865868de825023a1e2790dc12ac01ecc8d7c5afe8254071c8ba");
  // E-mail with a non-ASCII local part: sha256("zoë.müller@example.com").
  CHECK(Sha(NormalizeEmail("ZOË.Müller@Example.COM")) ==
        "630bc7b364766e0b2a2b515115213c1982f9999d84b82ca4fabb506d379fc79f");
  // Trunk prefix: sha256("442079460958") for Meta, sha256("+442079460958") for Google.
  CHECK(Sha(NormalizePhone("+44 (0)20 7946 0958", PhoneFormat::kDigits)) ==
        "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823");
  CHECK(Sha(NormalizePhone("+44 (0)20 7946 0958", PhoneFormat::kE164)) ==
        "f0bf0228144d9fe2bdf1da2d8ca698f17bf1410ee688b075c27062e47b6f0b6d");
  // No country code, the default region: sha256("+16505551212").
  CHECK(Sha(NormalizePhone("(650) 555-1212", PhoneFormat::kE164, "", "US")) ==
        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
  // An extension is dropped: sha256("16505551212").
  CHECK(Sha(NormalizePhone("+1 650 555 1212 ext. 123", PhoneFormat::kDigits)) ==
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
  // ISO 3166-2 state from its name: sha256("ca"), sha256("by").
  CHECK(Sha(NormalizeState("California", "US")) ==
        "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126");
  CHECK(Sha(NormalizeState("Bayern", "DE")) == "a7e2d26e8d15814dd9c6a1bdc90585c8d0a3170dfffeb21fc42986683113041b");
  CHECK(Sha(NormalizeCountry("US")) == "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621");
  // Zip: US first 5 digits sha256("94103"); UK area, district, sector sha256("sw1a1").
  CHECK(Sha(NormalizeZip("94103-1234", "US")) == "91dc2519ea98c5002cf2091e6a12b772eafdce9dca618e626d7d3b8275361789");
  CHECK(Sha(NormalizeZip("SW1A 1AA", "GB")) == "949af780a19e6f6d4b99d7044743348dbbb7ab2245fe146863573b23d02c5890");
  // Google's gmail rule (dots of the local part only): sha256("janedoe+promo@gmail.com").
  CHECK(Sha(NormalizeEmail("Jane.Doe+promo@GMAIL.com", /*gmail_rule=*/true)) ==
        "3a627126a4392d8cec5f5d4eaa26639d3cfe852ebf1f1b49c3ffa61667798637");
  CHECK(Sha(NormalizeDateOfBirth("1997-02-14")) == "8d68d4ce7648189ebcaeed472c5b84767131f3ff193f68cec4075936fcc4f9c0");
  CHECK(Sha(NormalizeGender("Female")) == "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111");
}

TEST_CASE("Normalization follows each platform's rules", "[conversion][hash]") {
  CHECK(NormalizeEmail(" Ann@Example.ORG\t") == "ann@example.org");
  CHECK(NormalizeEmail("Jane.Doe+promo@gmail.com") == "jane.doe+promo@gmail.com");  // Meta: no gmail rule
  CHECK(NormalizeEmail("jane.doe@googlemail.com", true) == "janedoe@googlemail.com");
  CHECK(NormalizeEmail("jane.doe@example.com", true) == "jane.doe@example.com");
  CHECK(NormalizeEmail("no-at-sign") == "");
  CHECK(NormalizeEmail("@example.com") == "");
  CHECK(NormalizeName("O'Brien-Smith") == "obriensmith");
  CHECK(NormalizeName("Ζωή") == "ζωή");  // Greek capitals
  CHECK(NormalizeName("정") == "정");
  CHECK(NormalizeCity("St. Louis") == "stlouis");
  CHECK(NormalizeCity("Saint-Étienne") == "saintétienne");
  CHECK(NormalizeZip("94025 ", "us") == "94025");
  CHECK(NormalizeZip("37221-3312") == "37221");     // ZIP+4 without a country
  CHECK(NormalizeZip("75008", "FR") == "75008");
  CHECK(NormalizeZip("M5V 3L9", "CA") == "m5v3l9");
  CHECK(NormalizeDateOfBirth("19970214") == "19970214");
  CHECK(NormalizeDateOfBirth("1997-02-30") == "");
  CHECK(NormalizeDateOfBirth("2001-02-29") == "");
  CHECK(NormalizeDateOfBirth("2000-02-29") == "20000229");
  CHECK(NormalizeGender("M") == "m");
  CHECK(NormalizeGender("x") == "");
  CHECK(NormalizeExternalId("  cust-42 ") == "cust-42");
}

TEST_CASE("Phone numbers are parsed by libphonenumber with the right region", "[conversion][phone]") {
  using F = PhoneFormat;
  // The number's own country code wins over the person's country.
  CHECK(NormalizePhone("+44 20 7946 0958", F::kE164, "US") == "+442079460958");
  CHECK(NormalizePhone("+44 (0)20 7946 0958", F::kDigits, "", "US") == "442079460958");
  // "00" international prefix, also where the region dials 011.
  CHECK(NormalizePhone("0044 20 7946 0958", F::kDigits, "US") == "442079460958");
  CHECK(NormalizePhone("0044 20 7946 0958", F::kDigits, "GB") == "442079460958");
  // A national number: the person's country, else the default region.
  CHECK(NormalizePhone("020 7946 0958", F::kDigits, "GB") == "442079460958");
  CHECK(NormalizePhone("020 7946 0958", F::kDigits, "", "GB") == "442079460958");
  CHECK(NormalizePhone("06 12 34 56 78", F::kE164, "fr", "US") == "+33612345678");
  CHECK(NormalizePhone("(650) 555-1212", F::kDigits, "US") == "16505551212");
  // No country code and no region: unusable.
  CHECK(NormalizePhone("(650) 555-1212", F::kDigits) == "");
  // Not valid numbers: dropped, never hashed.
  CHECK(NormalizePhone("12345", F::kDigits, "US") == "");
  CHECK(NormalizePhone("+1 123 456 7890", F::kDigits) == "");
  CHECK(NormalizePhone("+44 20 7946", F::kDigits) == "");
  CHECK(NormalizePhone("call me", F::kDigits, "US") == "");
  // libphonenumber calls this German number valid, but it has 16 digits and
  // E.164 allows at most 15: no platform would match it (found by fuzz_identifiers).
  CHECK(NormalizePhone("#22 (0)020 7946 0958", F::kE164, "DE") == "");
  CHECK(NormalizePhone("#22 (0)020 7946 0958", F::kDigits, "DE") == "");

  PhoneNormalizer phones(2);
  uint32_t drop = 0;
  CHECK(phones.Normalize("(650) 555-1212", F::kDigits, "", "US", &drop) == "16505551212");
  CHECK(drop == 0);
  CHECK(phones.Normalize("(650) 555-1212", F::kDigits, "", "", &drop) == "");
  CHECK(drop == kDropPhoneNoRegion);
  CHECK(phones.Normalize("12345", F::kDigits, "US", "", &drop) == "");
  CHECK(drop == kDropPhoneInvalid);
  CHECK(phones.Normalize("+1 123 456 7890", F::kDigits, "", "", &drop) == "");
  CHECK(drop == kDropPhoneInvalid);
  // The memo keeps the format and region apart (and starts over past its capacity).
  CHECK(phones.Normalize("(650) 555-1212", F::kE164, "", "US", &drop) == "+16505551212");
  CHECK(phones.Normalize("(650) 555-1212", F::kDigits, "", "US", &drop) == "16505551212");
  CHECK(phones.Normalize("(650) 555-1212", F::kDigits, "", "US", &drop) == "16505551212");
}

TEST_CASE("Countries and subdivisions are checked against ISO 3166", "[conversion][iso3166]") {
  CHECK(NormalizeCountry(" gb ") == "gb");
  CHECK(NormalizeCountry("DE") == "de");
  CHECK(NormalizeCountry("XX") == "");  // not assigned
  CHECK(NormalizeCountry("UK") == "");  // reserved, not ISO 3166-1 (GB is)
  CHECK(NormalizeCountry("USA") == "");
  CHECK(NormalizeCountry("United States") == "");
  CHECK(NormalizeState("CA", "US") == "ca");
  CHECK(NormalizeState(" ny ", "us") == "ny");
  CHECK(NormalizeState("US-TX", "US") == "tx");
  CHECK(NormalizeState("New York", "US") == "ny");
  CHECK(NormalizeState("Baden-Württemberg", "DE") == "bw");
  CHECK(NormalizeState("ON", "CA") == "on");
  CHECK(NormalizeState("75", "FR") == "75");     // FR-75 Paris
  CHECK(NormalizeState("ZZ", "US") == "");       // no such subdivision
  CHECK(NormalizeState("Bavaria", "US") == "");
  CHECK(NormalizeState("CA", "DE") == "");       // a US code is not German
  // No country to check against: Meta's text rule.
  CHECK(NormalizeState("New York", "") == "newyork");
}

TEST_CASE("A value that is already a SHA-256 hex is not hashed again", "[conversion][hash]") {
  IdentifierHasher h;
  const std::string hashed = "62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F";
  CHECK(IsSha256Hex(hashed));
  CHECK_FALSE(IsSha256Hex(hashed.substr(1)));
  CHECK_FALSE(IsSha256Hex(std::string(64, 'g')));
  CHECK(h.HashUnlessHashed(hashed, NormalizeEmail(hashed)) ==
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
  CHECK(h.HashUnlessHashed("john_smith@gmail.com", "john_smith@gmail.com") ==
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
  CHECK(h.HashUnlessHashed("", "") == "");
  // The reused context gives the same digest every time.
  for (int i = 0; i < 3; ++i) CHECK(h.Hash("mary") == Sha("mary"));
}

// One accepted conversion of `subject` for the PlatinumCreditCard action.
v1::InteractionRecord ConversionOf(const v1::Subject& subject, int i) {
  v1::InteractionRecord r;
  *r.mutable_subject() = subject;
  r.set_interaction_id("ia-" + std::to_string(i));
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name("PlatinumCreditCard");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 3600);
  r.set_order_id("o-" + std::to_string(i));
  return r;
}

TEST_CASE("Identifiers the rules refuse are left out of the event and counted in the run's report",
          "[conversion][hash][report]") {
  Registry registry;
  RegisterConversionComponents(&registry);
  char tmpl[] = "/tmp/herald-ident-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  v1::FileDestinationConfig c;
  c.set_path("events.jsonl");
  c.set_no_fsync(true);
  c.set_default_region("GB");
  auto file = registry.Create<Destination>("file", c, CreateContext{&registry, dir});
  REQUIRE(file.ok());
  auto store = NewMemoryStore();
  v1::Subject good;  // valid everything; the phone's region is the default GB
  good.set_email("ZOË@Example.org");
  good.set_phone("020 7946 0958");
  good.set_first_name("MÜLLER");
  good.set_state("England");
  good.set_zip("SW1A 1AA");
  v1::Subject bad;  // a number that is not valid, an unknown country, a hashed upper-case email
  bad.set_email("62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F");
  bad.set_phone("+44 20 7946");
  bad.set_country("XX");
  bad.set_external_id("x-1");
  v1::Subject us;  // the person's country, not the default region, reads the number; unknown state
  us.set_phone("(650) 555-1212");
  us.set_country("US");
  us.set_state("Bavaria");
  us.set_external_id("x-2");
  int i = 0;
  for (const v1::Subject* s : {&good, &bad, &us}) REQUIRE(store->interactions().AppendInteraction(ConversionOf(*s, i++)).ok());
  std::vector<v1::ConversionAction> actions(1);
  actions[0].set_issue("Sales");
  actions[0].set_group("Cards");
  actions[0].set_name("PlatinumCreditCard");
  actions[0].set_paid_sync_enabled(true);
  ExporterOptions o;
  o.registry = &registry;
  o.store = store.get();
  o.destination = file->get();
  o.destination_name = "file";
  o.actions = actions;
  auto exporter = ConversionExporter::Create(std::move(o));
  REQUIRE(exporter.ok());
  auto report = (*exporter)->RunOnce();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->delivered == 3);
  CHECK(report->identifiers_dropped == std::map<std::string, int64_t>{
                                           {"country_unknown", 1}, {"phone_invalid", 1}, {"state_unknown", 1}});
  auto json = nlohmann::json::parse(report->ToJson());
  CHECK(json["identifiers_dropped"]["phone_invalid"] == 1);
  CHECK(report->ToText().find("phone_invalid: 1") != std::string::npos);

  std::ifstream in(dir + "/events.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 3);
  const auto& u0 = lines[0]["user_data"];
  CHECK(u0["em"] == "24d758c0ea53eaa0f9c84e3b9622549f76b888bedd3f64b4199f04af117f2ac9");  // zoë@example.org
  CHECK(u0["ph"] == "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823");  // 442079460958
  CHECK(u0["fn"] == "2dbd218072117713f2d5996a726a9b216ed791ffd0783b6ba4ab6d61b8333192");  // müller
  CHECK(u0["zp"] == "830e1d4b9838bab1f5c2acdb23e0b502ff13a9832c4632e8d67a1d43d3b7f614");  // sw1a1aa: no country, no UK rule
  CHECK(u0["st"] == "d56d0ff69b62792a00a361fbf6e02e2a634a7a8da1c3e49d59e71e0f19c27875");  // England without a country: not checked, kept as text
  const auto& u1 = lines[1]["user_data"];
  CHECK(u1["em"] == "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");  // passed through, lowercased
  CHECK_FALSE(u1.contains("ph"));
  CHECK_FALSE(u1.contains("country"));
  const auto& u2 = lines[2]["user_data"];
  CHECK(u2["ph"] == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");  // 16505551212
  CHECK_FALSE(u2.contains("st"));
  (void)system(("rm -rf " + dir).c_str());
}

TEST_CASE("A destination's default_region must be an ISO 3166-1 code", "[conversion][config]") {
  Registry registry;
  RegisterConversionComponents(&registry);
  v1::FileDestinationConfig c;
  c.set_path("/tmp/never-written.jsonl");
  c.set_default_region("XX");
  auto file = registry.Create<Destination>("file", c, CreateContext{&registry, "/tmp"});
  REQUIRE_FALSE(file.ok());
  CHECK(std::string(file.status().message()).find("default_region \"XX\"") != std::string::npos);
}

v1::InteractionRecord Accepted() {
  v1::InteractionRecord r;
  r.mutable_subject()->set_customer_id("c-1");
  r.mutable_subject()->set_email("ann@example.org");
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name("PlatinumCreditCard");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  r.set_channel("Web");
  r.mutable_value()->set_minor_units(1999);
  r.mutable_value()->set_currency("USD");
  r.set_order_id("o-1");
  return r;
}

TEST_CASE("CaptureResponse records a valid response with an id - a time and a sequence", "[conversion][capture]") {
  auto store = NewMemoryStore();
  auto captured = CaptureResponse(*store, Accepted());
  REQUIRE(captured.ok());
  CHECK(captured->interaction_id().size() == 32);
  CHECK(captured->time().seconds() > 0);
  CHECK(captured->sequence() == 1);
  auto second = CaptureResponse(*store, Accepted());
  REQUIRE(second.ok());
  CHECK(second->interaction_id() != captured->interaction_id());
  auto read = store->interactions().ReadInteractions(0, 10);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 2);
  CHECK((*read)[0].interaction_id() == captured->interaction_id());
  CHECK((*read)[0].order_id() == "o-1");
}

TEST_CASE("CaptureResponse rejects a bad record with the reason and writes nothing", "[conversion][capture]") {
  auto store = NewMemoryStore();
  struct Case {
    const char* expect;
    std::function<void(v1::InteractionRecord&)> damage;
  };
  std::vector<Case> cases = {
      {"action.name", [](auto& r) { r.mutable_action()->clear_name(); }},
      {"outcome", [](auto& r) { r.set_outcome(v1::OUTCOME_UNSPECIFIED); }},
      {"custom_outcome", [](auto& r) { r.set_outcome(v1::OUTCOME_CUSTOM); }},
      {"subject.email", [](auto& r) { r.mutable_subject()->set_email("not-an-address"); }},
      {"subject.phone", [](auto& r) { r.mutable_subject()->set_phone("12"); }},
      {"subject.date_of_birth", [](auto& r) { r.mutable_subject()->set_date_of_birth("14/02/1997"); }},
      {"subject.country", [](auto& r) { r.mutable_subject()->set_country("USA"); }},
      {"subject", [](auto& r) { r.clear_subject(); }},
      {"value.currency", [](auto& r) { r.mutable_value()->set_currency("usd"); }},
      {"value", [](auto& r) { r.mutable_value()->set_minor_units(-5); }},
      {"time", [](auto& r) { r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 86400); }},
      {"sequence", [](auto& r) { r.set_sequence(7); }},
      {"interaction_id", [](auto& r) { r.set_interaction_id("has space"); }},
      {"channel", [](auto& r) { r.set_channel("Web\nX-Injected: 1"); }},
  };
  for (const Case& c : cases) {
    v1::InteractionRecord r = Accepted();
    c.damage(r);
    auto captured = CaptureResponse(*store, r);
    INFO(c.expect);
    REQUIRE_FALSE(captured.ok());
    CHECK(captured.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(captured.status().message()).find(c.expect) != std::string::npos);
  }
  auto read = store->interactions().ReadInteractions(0, 10);
  REQUIRE(read.ok());
  CHECK(read->empty());
}

TEST_CASE("CaptureResponse checks the action against the catalog when given", "[conversion][capture]") {
  auto store = NewMemoryStore();
  std::vector<v1::ConversionAction> actions(1);
  actions[0].set_issue("Sales");
  actions[0].set_group("Cards");
  actions[0].set_name("PlatinumCreditCard");
  CaptureOptions options;
  options.actions = &actions;
  CHECK(CaptureResponse(*store, Accepted(), options).ok());
  v1::InteractionRecord other = Accepted();
  other.mutable_action()->set_name("Gold");
  auto refused = CaptureResponse(*store, other, options);
  CHECK(refused.status().code() == absl::StatusCode::kNotFound);
  std::string custom;
  CHECK(ParseOutcome("accepted", &custom) == v1::OUTCOME_ACCEPTED);
  CHECK(ParseOutcome("Clicked", &custom) == v1::OUTCOME_CLICKED);
  CHECK(ParseOutcome("Subscribed", &custom) == v1::OUTCOME_CUSTOM);
  CHECK(custom == "Subscribed");
  CHECK(ConversionAudienceName(actions[0]) == "Sales-Cards-PlatinumCreditCard-C");
}

}  // namespace
}  // namespace herald
