// Normalization and hashing vectors (Meta's customer-information parameters,
// Google's enhanced-conversion rules) and CaptureResponse.
#include <catch2/catch.hpp>

#include "herald/conversion.h"
#include "herald/store.h"

namespace herald {
namespace {

std::string Sha(std::string_view s) {
  IdentifierHasher h;
  return h.Hash(s);
}

TEST_CASE("SHA-256 of normalized identifiers matches the documented vectors", "[conversion][hash]") {
  // Meta's documentation example: john_smith@gmail.com.
  CHECK(Sha(NormalizeEmail("  John_Smith@Gmail.com ")) ==
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
  CHECK(Sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha(NormalizePhone("+1 (650) 555-1212")) ==
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
  CHECK(Sha(NormalizePhone("+1 (650) 555-1212", /*e164_plus=*/true)) ==
        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
  CHECK(Sha(NormalizeEmail("Jane.Doe+promo@GMAIL.com", /*gmail_rule=*/true)) ==
        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
  CHECK(Sha(NormalizeCity("New York")) == "350c754ba4d38897693aa077ef43072a859d23f613443133fecbbd90a3512ca5");
  CHECK(Sha(NormalizeState(" CA ")) == "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126");
  CHECK(Sha(NormalizeCountry("US")) == "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621");
  CHECK(Sha(NormalizeDateOfBirth("1997-02-14")) == "8d68d4ce7648189ebcaeed472c5b84767131f3ff193f68cec4075936fcc4f9c0");
  CHECK(Sha(NormalizeGender("Female")) == "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111");
  CHECK(Sha(NormalizeName(" Mary. ")) == "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec");
  CHECK(Sha(NormalizeZip("37221-3312")) == "4c8aef49c98ac36122e884c4bb76b30384118053921db0ffd3ec31c4f1d93a40");
  CHECK(Sha(NormalizeName("Valéry")) == "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c");
  CHECK(Sha(NormalizeZip("SW1A 1AA", "GB")) == "830e1d4b9838bab1f5c2acdb23e0b502ff13a9832c4632e8d67a1d43d3b7f614");
}

TEST_CASE("Normalization follows each platform's rules", "[conversion][normalize]") {
  CHECK(NormalizeEmail(" Ann@Example.ORG\t") == "ann@example.org");
  // Google's gmail rule only applies to gmail.com / googlemail.com, and only with the flag.
  CHECK(NormalizeEmail("Jane.Doe+promo@gmail.com") == "jane.doe+promo@gmail.com");
  CHECK(NormalizeEmail("jane.doe+promo@googlemail.com", true) == "janedoe@googlemail.com");
  CHECK(NormalizeEmail("jane.doe+promo@example.com", true) == "jane.doe+promo@example.com");
  CHECK(NormalizePhone("0044 20 7946 0958") == "442079460958");
  CHECK(NormalizePhone("(650) 555-1212", false, "1") == "16505551212");
  CHECK(NormalizePhone("+44 20 7946 0958", true, "1") == "+442079460958");
  CHECK(NormalizePhone("call me") == "");
  CHECK(NormalizeName("O'Brien-Smith") == "obriensmith");
  CHECK(NormalizeCity("St. Louis") == "stlouis");
  CHECK(NormalizeState("ny") == "ny");
  CHECK(NormalizeZip("94025-1234", "US") == "94025");
  CHECK(NormalizeZip("94025 ", "us") == "94025");
  CHECK(NormalizeCountry(" gb ") == "gb");
  CHECK(NormalizeCountry("United States") == "");
  CHECK(NormalizeDateOfBirth("19970214") == "19970214");
  CHECK(NormalizeDateOfBirth("1997-02-30") == "");
  CHECK(NormalizeDateOfBirth("2001-02-29") == "");
  CHECK(NormalizeDateOfBirth("2000-02-29") == "20000229");
  CHECK(NormalizeGender("M") == "m");
  CHECK(NormalizeGender("x") == "");
  CHECK(NormalizeExternalId("  cust-42 ") == "cust-42");
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
