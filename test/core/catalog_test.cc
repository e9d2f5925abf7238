#include <catch2/catch.hpp>

#include <fstream>

#include "herald/campaign_cache.h"
#include "herald/catalog.h"

namespace herald {
namespace {

const std::string kExample = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";
const std::string kBroken = std::string(HERALD_TEST_DATA_DIR) + "/broken_catalog.textproto";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Replace(std::string* s, const std::string& from, const std::string& to) {
  auto at = s->find(from);
  REQUIRE(at != std::string::npos);
  s->replace(at, from.size(), to);
}

int LineOf(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

bool HasIssue(const std::vector<CatalogIssue>& issues, const std::string& text) {
  for (const auto& i : issues) {
    if (i.ToString().find(text) != std::string::npos) return true;
  }
  return false;
}

std::string All(const std::vector<CatalogIssue>& issues) {
  std::string out;
  for (const auto& i : issues) out += i.ToString() + "\n";
  return out;
}

TEST_CASE("The example catalog loads - validates and compiles", "[catalog]") {
  std::vector<CatalogIssue> issues;
  auto catalog = LoadCatalog(kExample, &issues);
  INFO(All(issues));
  REQUIRE(catalog.ok());
  CHECK(issues.empty());
  CHECK(catalog->time_zone() == "America/Los_Angeles");
  CHECK(catalog->reference_tables().content_sizes_size() >= 10);  // IAB defaults applied
  CHECK(catalog->campaigns(0).active());
  CHECK(catalog->actions(0).offline_conversion_enabled());    // defaults to paid sync
  CHECK_FALSE(catalog->actions(2).offline_conversion_enabled());
  auto compiled = CompiledCatalog::Compile(*catalog);
  REQUIRE(compiled.ok());
  CHECK(SummarizeCatalog(*catalog) ==
        "catalog \"Contoso Outdoor\": 5 customers, 6 campaigns, 9 ads (4 house), 8 discounts, "
        "1 direct mail, 3 target groups, 3 actions");
}

TEST_CASE("Campaign-level goaling splits the quantity by weight", "[catalog]") {
  auto compiled = CompiledCatalog::Load(kExample);
  REQUIRE(compiled.ok());
  // 80:20 of 40,000.
  CHECK((*compiled)->FindItem("blue-paint")->goal == 32000);
  CHECK((*compiled)->FindItem("green-paint")->goal == 8000);
  // Ad level: the ad's own quantity, goaled by clicks.
  CHECK((*compiled)->FindItem("coho-latte")->goal == 600);
  CHECK((*compiled)->FindItem("coho-latte")->goal_clicks);
  CHECK((*compiled)->FindItem("house-tents")->kind == ItemKind::kHouseAd);

  // 3:1 of 1,500 gives 1,125 and 375 (the spec's switch from ad to campaign level).
  v1::Catalog c;
  c.add_customers()->set_id("c");
  auto* camp = c.add_campaigns();
  camp->set_id("k");
  camp->set_name("k");
  camp->set_customer_id("c");
  camp->set_start("2026-01-01");
  camp->set_end("2026-01-31");
  camp->set_goaling(v1::GOALING_LEVEL_CAMPAIGN);
  camp->set_quantity_ordered(1500);
  for (auto [id, w] : {std::pair{"ad1", 3.0}, std::pair{"ad2", 1.0}}) {
    auto* item = camp->add_items();
    item->set_id(id);
    item->set_name(id);
    item->mutable_ad()->set_weight(w);
  }
  REQUIRE(ValidateCatalog(c).empty());
  auto k = CompiledCatalog::Compile(c);
  REQUIRE(k.ok());
  CHECK((*k)->FindItem("ad1")->goal == 1125);
  CHECK((*k)->FindItem("ad2")->goal == 375);
  // Weights that do not divide evenly still add up exactly.
  camp->set_quantity_ordered(1000);
  camp->mutable_items(0)->mutable_ad()->set_weight(1);
  camp->mutable_items(1)->mutable_ad()->set_weight(2);
  auto third = CompiledCatalog::Compile(c);
  REQUIRE(third.ok());
  CHECK((*third)->FindItem("ad1")->goal + (*third)->FindItem("ad2")->goal == 1000);
}

TEST_CASE("A broken catalog reports every error with file - line and object path", "[catalog]") {
  std::vector<CatalogIssue> issues;
  auto catalog = LoadCatalog(kBroken, &issues);
  REQUIRE(catalog.status().code() == absl::StatusCode::kInvalidArgument);
  INFO(All(issues));
  const std::string f = kBroken + ":";
  CHECK(HasIssue(issues, f + "3: unknown time zone \"Mars/Olympus\""));
  CHECK(HasIssue(issues, f + "6: reference tables: duplicate page group \"Home\""));
  CHECK(HasIssue(issues, f + "9: customer \"fabrikam\": unknown customer \"nobody\""));
  CHECK(HasIssue(issues, f + "10: target group \"tg\" / entry #1: expression is required"));
  CHECK(HasIssue(issues, f + "16: campaign \"Spring\": campaign ends before it starts"));
  CHECK(HasIssue(issues, f + "23: campaign \"Spring\" / ad \"Blue paint\": weight must be positive"));
  CHECK(HasIssue(issues, f + "24: campaign \"Spring\" / ad \"Blue paint\": unknown page group \"Sprots\""));
  CHECK(HasIssue(issues, f + "25: campaign \"Spring\" / ad \"Blue paint\": unknown industry \"paints\""));
  CHECK(HasIssue(issues, f + "26: campaign \"Spring\" / ad \"Blue paint\": unknown content size \"Huge\""));
  CHECK(HasIssue(issues, f + "27: campaign \"Spring\" / ad \"Blue paint\": unknown target group \"tg2\""));
  CHECK(HasIssue(issues, "ad \"Blue paint\": hours.from: \"25:00\" is not a time of day"));
  CHECK(HasIssue(issues, f + "31: campaign \"Spring\" / ad \"Blue again\": duplicate id \"blue\""));
  CHECK(HasIssue(issues, "discount \"Bad discount\": percent may have at most two decimals"));
  CHECK(HasIssue(issues, "discount \"Bad discount\": basket_limit must be >= 0"));
  CHECK(HasIssue(issues, "direct mail \"Mail\": from \"not an address\" is not an e-mail address"));
  CHECK(HasIssue(issues, "direct mail \"Mail\": recipients is required"));
  CHECK(HasIssue(issues, "action \"Sales--Card\": group is required"));
  CHECK(HasIssue(issues, "google_conversion_action must read customers/{cid}/conversionActions/{id}"));
  CHECK(HasIssue(issues, "campaign-level goaling needs quantity_ordered > 0"));
  // The status carries them all, and a count.
  CHECK_THAT(std::string(catalog.status().message()),
             Catch::EndsWith(std::to_string(issues.size()) + " errors in " + kBroken));
}

TEST_CASE("Syntax errors name the line and column - missing files are NotFound", "[catalog]") {
  std::vector<CatalogIssue> issues;
  auto bad = ParseCatalog("name: \"x\"\ncampaigns { id: \"a\" nme: \"b\" }\n", "syntax.textproto",
                          false, &issues);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::StartsWith("syntax.textproto:2:"));
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("nme"));
  auto missing = LoadCatalog("/nonexistent/catalog.textproto");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("/nonexistent/catalog.textproto"));
}

TEST_CASE("JSON catalogs load and validate with object paths", "[catalog]") {
  auto ok = ParseCatalog(R"({"name":"j","customers":[{"id":"c"}],
      "referenceTables":{"pageGroups":[{"name":"Home"}]},
      "campaigns":[{"id":"k","name":"K","customerId":"c","start":"2026-01-01","end":"2026-02-01",
        "items":[{"id":"a","name":"A","ad":{"type":"AD_TYPE_HOUSE","weight":2,"pageGroups":["Home"]}}]}]})",
                         "c.json", true);
  REQUIRE(ok.ok());
  std::vector<CatalogIssue> issues;
  auto bad = ParseCatalog(R"({"customers":[{"id":"c"}],"campaigns":[{"id":"k","name":"K","customerId":"zz"}]})",
                          "c.json", true, &issues);
  REQUIRE_FALSE(bad.ok());
  CHECK(HasIssue(issues, "c.json: campaign \"K\": unknown customer \"zz\""));
  auto unknown_field = ParseCatalog(R"({"nam":"x"})", "c.json", true);
  CHECK_THAT(std::string(unknown_field.status().message()), Catch::StartsWith("c.json: invalid JSON"));
}

TEST_CASE("Expressions are type-checked at validation - with line and position", "[catalog]") {
  auto text = ReadAll(kExample);
  std::string broken = text;
  Replace(&broken, "expression: \"user.age >= 21\"", "expression: \"user.agee >= 21\"");
  Replace(&broken, "award { expression: \"product.manufacturer == 'Fabrikam'\" }",
          "award { expression: \"product.manufacturer == 42\" }");
  std::vector<CatalogIssue> issues;
  auto parsed = ParseCatalog(broken, "shop.textproto", false, &issues);
  REQUIRE_FALSE(parsed.ok());
  INFO(All(issues));
  CHECK(HasIssue(issues, "shop.textproto:" + std::to_string(LineOf(text, "user.age >= 21")) +
                             ": target group \"adults-in-wa\" / entry #1: expression: 1:6: unknown "
                             "field user.agee; did you mean user.age?"));
  CHECK(HasIssue(issues, "discount \"10% off Fabrikam products\": expression: 1:"));

  auto catalog = LoadCatalog(kExample);
  REQUIRE(catalog.ok());
  v1::Catalog c = *catalog;
  c.mutable_target_groups(0)->mutable_entries(0)->set_expression("user.agee >= 21");
  auto compiled = CompiledCatalog::Compile(c);
  REQUIRE_FALSE(compiled.ok());
  CHECK_THAT(std::string(compiled.status().message()),
             Catch::Contains("target group \"adults-in-wa\" / entry #1: 1:6: unknown field user.agee; did you mean user.age?"));
}

TEST_CASE("Profile assignments are typed by the declared attributes", "[catalog]") {
  auto catalog = LoadCatalog(kExample);
  REQUIRE(catalog.ok());
  auto p = ParseProfileAssignments(*catalog, "user",
                                   {"age=30", "state=WA", "registered=true",
                                    "last_visit_spend=50.25", "interests=hiking,coffee"});
  REQUIRE(p.ok());
  CHECK(p->values().at("age").int_value() == 30);
  CHECK(p->values().at("registered").bool_value());
  CHECK(p->values().at("last_visit_spend").money_value().minor_units() == 5025);
  CHECK(p->values().at("interests").list_value().values_size() == 2);
  auto bad = ParseProfileAssignments(*catalog, "user", {"age=thirty"});
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("user.age: \"thirty\" is not an integer"));
  auto unknown = ParseProfileAssignments(*catalog, "user", {"agee=3"});
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("unknown user attribute \"agee\""));
  auto cents = ParseAttributeValue(v1::VALUE_TYPE_MONEY, "10.001 USD");
  CHECK_THAT(std::string(cents.status().message()), Catch::Contains("more decimals than USD allows (2)"));
  auto yen = ParseAttributeValue(v1::VALUE_TYPE_MONEY, "500 JPY");
  REQUIRE(yen.ok());
  CHECK(yen->money_value().minor_units() == 500);
}

}  // namespace
}  // namespace herald

#include "core/catalog_schemas.h"
#include "google/protobuf/text_format.h"
#include "herald/expr.h"

TEST_CASE("A map attribute: declared in the catalog - filled from a profile - used by expressions",
          "[catalog][expr]") {
  herald::v1::Catalog catalog;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(R"pb(
    user_attributes { name: "scores" type: VALUE_TYPE_MAP map_value_type: VALUE_TYPE_INT }
    user_attributes { name: "segments" type: VALUE_TYPE_STRING_LIST }
  )pb", &catalog));
  auto schema = herald::BuildTargetingSchema(catalog);
  REQUIRE(schema.ok());
  herald::v1::Profile profile;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(R"pb(
    values { key: "scores" value { map_value { values { key: "loyalty" value { int_value: 4 } } } } }
    values { key: "segments" value { list_value { values: "new" values: "vip" } } }
  )pb", &profile));
  herald::expr::Activation activation(schema->schema);
  std::vector<herald::AttributeStorage> storage;
  herald::FillProfileSlots(schema->user, &profile, &activation, &storage);
  auto eval = [&](std::string_view source) {
    auto program = herald::expr::Compile(source, schema->schema);
    INFO(source);
    REQUIRE(program.ok());
    return program->Evaluate(activation).DebugString();
  };
  CHECK(eval("user.scores['loyalty'] >= 3") == "true");
  CHECK(eval("user.scores.loyalty + 1") == "5");
  CHECK(eval("has(user.scores.churn)") == "false");
  CHECK(eval("user.segments.all(s, s != 'churned') && user.segments.exists(s, s == 'vip')") ==
        "true");
  // Statically typed against the declaration.
  auto wrong = herald::expr::Compile("user.scores['loyalty'] == 'high'", schema->schema);
  std::string message(wrong.status().message());
  CHECK(message.substr(0, message.find('\n')) == "1:24: cannot compare int with string");

  herald::v1::Catalog bad;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(R"pb(
    user_attributes { name: "scores" type: VALUE_TYPE_MAP }
  )pb", &bad));
  CHECK(std::string(herald::BuildTargetingSchema(bad).status().message()) ==
        "attribute user.scores: a map needs map_value_type VALUE_TYPE_STRING, _INT, _DOUBLE or "
        "_BOOL");
}
