// herald/spelling.h: did-you-mean and the enum spellings of flags and JSON.
#include <catch2/catch.hpp>

#include "core/proto_io.h"
#include "herald/model/events.pb.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/mail_config.pb.h"
#include "herald/spelling.h"

namespace herald {
namespace {

TEST_CASE("an enum is spelled by its full name or its short name in any case", "[core][spelling]") {
  CHECK(*ParseEnum<v1::Outcome>("OUTCOME_ACCEPTED") == v1::OUTCOME_ACCEPTED);
  CHECK(*ParseEnum<v1::Outcome>("accepted") == v1::OUTCOME_ACCEPTED);
  CHECK(*ParseEnum<v1::Outcome>("Clicked") == v1::OUTCOME_CLICKED);
  CHECK(*ParseEnum<v1::SmtpTls>("starttls") == v1::SMTP_TLS_STARTTLS);
  CHECK(ShortEnumName(*v1::Outcome_descriptor()->FindValueByName("OUTCOME_IMPRESSION")) == "impression");
  CHECK(EnumSpellings(*v1::Outcome_descriptor()) == "unspecified, accepted, rejected, impression, clicked, custom");
}

TEST_CASE("a misspelled enum names the nearest spelling and every valid one", "[core][spelling]") {
  auto bad = ParseEnum<v1::Outcome>("acepted");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.status().message()) ==
        "unknown outcome \"acepted\"; did you mean \"accepted\"? "
        "(one of: unspecified, accepted, rejected, impression, clicked, custom)");
  CHECK_FALSE(ParseEnum<v1::Outcome>("").ok());
}

TEST_CASE("JSON input takes the short enum spellings too", "[core][spelling]") {
  v1::InteractionRecord record;
  REQUIRE(ParseJsonProto(R"({"outcome": "accepted", "action": {"issue": "i"}})", "record.json", &record).ok());
  CHECK(record.outcome() == v1::OUTCOME_ACCEPTED);
  REQUIRE(ParseJsonProto(R"({"outcome": "OUTCOME_CLICKED"})", "record.json", &record).ok());
  CHECK(record.outcome() == v1::OUTCOME_CLICKED);
  // A value that names nothing is still the parser's error, naming the file.
  absl::Status bad = ParseJsonProto(R"({"outcome": "maybe"})", "record.json", &record);
  CHECK_FALSE(bad.ok());
  CHECK(std::string(bad.message()).find("record.json") != std::string::npos);
  // Nothing to rewrite: the text is returned as it was.
  CHECK(NormalizeJsonEnums(R"({"outcome":  "OUTCOME_CLICKED"})", *v1::InteractionRecord::descriptor()) ==
        R"({"outcome":  "OUTCOME_CLICKED"})");
  CHECK(NormalizeJsonEnums("not json", *v1::InteractionRecord::descriptor()) == "not json");
}

TEST_CASE("did you mean: the nearest name when it is close enough", "[core][spelling]") {
  std::vector<std::string> groups = {"Home", "Search", "Checkout"};
  CHECK(DidYouMean("Hme", groups) == "; did you mean \"Home\"?");
  CHECK(DidYouMean("Xyzzy", groups).empty());
  CHECK(CheckKnownName("page group", "Home", groups).ok());
  absl::Status unknown = CheckKnownName("page group", "Serch", groups);
  CHECK(std::string(unknown.message()) ==
        "unknown page group \"Serch\"; did you mean \"Search\"? (known: Home, Search, Checkout)");
  CHECK(EditDistance("kitten", "sitting", 5) == 3);
  CHECK(EditDistance("kitten", "sitting", 1) == 2);  // capped: above 1 reads 2
}

}  // namespace
}  // namespace herald
