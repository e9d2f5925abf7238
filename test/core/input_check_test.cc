// Bad input never crashes (issue 15, item 7): every string of a catalog,
// basket, response and recipient list must be UTF-8, reported with the
// file, line and object path; numbers whose arithmetic could overflow are
// bounded at validation with the field named; an empty catalog is an error.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <limits>

#include "core/input_check.h"
#include "herald/catalog.h"
#include "herald/conversion.h"
#include "herald/discount.h"
#include "herald/campaign_cache.h"
#include "herald/mail.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const std::string kExample = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Replaced(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  s.replace(at, from.size(), to);
  return s;
}

int LineOf(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  REQUIRE(at != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

TEST_CASE("UTF-8 validation follows RFC 3629", "[input]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  CHECK(FindInvalidUtf8("ab\xFF") == 2);
  CHECK(FindInvalidUtf8("\xC0\xAF") == 0);          // overlong '/'
  CHECK(FindInvalidUtf8("x\xED\xA0\x80") == 1);     // a surrogate (CESU-8)
  CHECK(FindInvalidUtf8("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(FindInvalidUtf8("\xE2\x82") == 0);          // truncated
  CHECK(EscapeInvalidUtf8("a\xFF\xC3\xA9") == "a\\xFF\xC3\xA9");
  // An escaped string is always printable as JSON.
  CHECK_NOTHROW(nlohmann::json(EscapeInvalidUtf8("id\xFF\xFE")).dump());
}

TEST_CASE("A catalog string that is not UTF-8 is rejected with its line and object path", "[input][catalog]") {
  std::string text = Replaced(ReadAll(kExample), "id: \"blue-paint\"", "id: \"blue\\xffpaint\"");
  std::vector<CatalogIssue> issues;
  auto parsed = ParseCatalog(text, "shop.textproto", false, &issues);
  REQUIRE_FALSE(parsed.ok());
  const std::string expected = "shop.textproto:" + std::to_string(LineOf(text, "blue\\xffpaint")) +
                               ": campaigns[0].items[0].id: not valid UTF-8 (byte 0xFF at offset 4)";
  CHECK(std::string(parsed.status().message()).find(expected) != std::string::npos);
  // Every issue (and the other checks quote that id) prints as JSON.
  for (const CatalogIssue& issue : issues) CHECK(IsValidUtf8(issue.ToString()));

  // A display text, a map-free nested string, and a raw (unescaped) byte.
  std::string alt = Replaced(ReadAll(kExample), "alt_text: \"Blue paint, 20% off\"", "alt_text: \"Blue \xFF\"");
  auto bad_alt = ParseCatalog(alt, "shop.textproto");
  REQUIRE_FALSE(bad_alt.ok());
  CHECK(std::string(bad_alt.status().message()).find("campaigns[0].items[0].ad.display.alt_text: not valid UTF-8") !=
        std::string::npos);
}

TEST_CASE("A JSON catalog is checked as text (line and column) and after its escapes", "[input][catalog]") {
  auto raw = ParseCatalog("{\"name\": \"shop\",\n \"customers\": [{\"id\": \"c\xFF\"}]}", "shop.json", true);
  INFO(raw.status().message());
  REQUIRE_FALSE(raw.ok());
  CHECK(std::string(raw.status().message()).find("shop.json:2:25: not valid UTF-8 (byte 0xFF)") != std::string::npos);
  // A lone surrogate escape would decode to bytes that are not UTF-8: the
  // JSON parser refuses it (kept here so that a protobuf upgrade cannot
  // silently let it through).
  auto escaped = ParseCatalog(R"({"name": "shop", "customers": [{"id": "c\udc00"}]})", "shop.json", true);
  INFO(escaped.status().message());
  REQUIRE_FALSE(escaped.ok());
  CHECK(absl::IsInvalidArgument(escaped.status()));
}

TEST_CASE("An empty catalog file is an error", "[input][catalog]") {
  for (const char* text : {"", "   \n", "# only a comment\n"}) {
    auto parsed = ParseCatalog(text, "empty.textproto");
    REQUIRE_FALSE(parsed.ok());
    CHECK(std::string(parsed.status().message()).find("empty.textproto: the catalog is empty") != std::string::npos);
  }
  CHECK_FALSE(ParseCatalog("{}", "empty.json", true).ok());
}

TEST_CASE("Numbers whose arithmetic could overflow are rejected with the field named", "[input][catalog]") {
  const std::string example = ReadAll(kExample);
  struct Case {
    std::string from, to, expected;
  };
  const Case cases[] = {
      {"weight: 80", "weight: 1e308", "weight must be at most 1000000"},
      {"quantity_ordered: 40000", "quantity_ordered: 9223372036854775807", "quantity_ordered must be at most"},
      {"quantity: 15000", "quantity: 9000000000000000000", "quantity must be at most"},
  };
  for (const Case& c : cases) {
    std::string text = Replaced(example, c.from, c.to);
    auto parsed = ParseCatalog(text, "shop.textproto");
    INFO(c.to);
    REQUIRE_FALSE(parsed.ok());
    std::string message(parsed.status().message());
    CHECK(message.find(c.expected) != std::string::npos);
    CHECK(message.find("shop.textproto:" + std::to_string(LineOf(text, c.to))) != std::string::npos);
  }
}

TEST_CASE("Compile refuses a weight that would overflow the goal split", "[input][catalog]") {
  auto catalog = LoadCatalog(kExample);
  REQUIRE(catalog.ok());
  for (auto& campaign : *catalog->mutable_campaigns()) {
    if (campaign.id() != "spring-paint") continue;
    campaign.mutable_items(0)->mutable_ad()->set_weight(1e308);
    campaign.mutable_items(1)->mutable_ad()->set_weight(1e308);
  }
  auto compiled = CompiledCatalog::Compile(*catalog);
  REQUIRE_FALSE(compiled.ok());
  CHECK(std::string(compiled.status().message()).find("spring-paint") != std::string::npos);
}

// Sets `path` (a chain of fields) in `m` to an invalid string, creating
// nested messages and map entries on the way; returns the expected path.
std::string SetInvalid(Message* m, const std::vector<const FieldDescriptor*>& chain) {
  std::string path;
  for (size_t k = 0; k < chain.size(); ++k) {
    const FieldDescriptor* f = chain[k];
    const auto* r = m->GetReflection();
    std::string name = f->name();
    path += (path.empty() ? "" : ".") + name;
    if (k + 1 == chain.size()) {
      if (k > 0 && chain[k - 1]->is_map()) {
        path.replace(path.rfind("[\"k\"]"), 5, "[?]");  // an entry named by a key that is not UTF-8
      }
      if (f->is_repeated()) {
        r->AddString(m, f, "bad\xFF");
        path += "[0]";
      } else {
        r->SetString(m, f, "bad\xFF");
      }
      break;
    }
    if (f->is_map()) {
      m = r->AddMessage(m, f);
      m->GetReflection()->SetString(m, f->message_type()->map_key(), "k");
      path += "[\"k\"]";
    } else if (f->is_repeated()) {
      m = r->AddMessage(m, f);
      path += "[0]";
    } else {
      m = r->MutableMessage(m, f);
    }
  }
  return path;
}

// Every chain of fields from `d` that ends in a string field.
void StringChains(const Descriptor* d, std::vector<const FieldDescriptor*>& prefix,
                  std::vector<std::vector<const FieldDescriptor*>>* out) {
  if (prefix.size() > 6) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    prefix.push_back(f);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      out->push_back(prefix);
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      StringChains(f->message_type(), prefix, out);
    }
    prefix.pop_back();
  }
}

TEST_CASE("Every string field of a basket is checked, by the walk and by the pricer's fast check", "[input][basket]") {
  std::vector<std::vector<const FieldDescriptor*>> chains;
  std::vector<const FieldDescriptor*> prefix;
  StringChains(v1::Basket::descriptor(), prefix, &chains);
  REQUIRE(chains.size() >= 12);  // currency, 4 line fields, 3 per Value map x3, codes, ids ...
  for (const auto& chain : chains) {
    v1::Basket basket;
    std::string path = SetInvalid(&basket, chain);
    INFO(path);
    std::vector<InvalidString> found = FindInvalidStrings(basket);
    REQUIRE(found.size() == 1);
    CHECK(found[0].path == path);
    absl::Status fast = CheckBasketStrings(basket);
    REQUIRE_FALSE(fast.ok());
    CHECK(std::string(fast.message()) == "basket: " + found[0].Message());
  }
  v1::Basket good;
  good.add_items()->set_product_id("caf\xC3\xA9");
  CHECK(CheckBasketStrings(good).ok());
}

TEST_CASE("Pricing refuses invalid UTF-8 and a shipping or price that would overflow", "[input][basket]") {
  auto compiled = CompiledCatalog::Load(kExample);
  REQUIRE(compiled.ok());
  PricerConfig config;
  auto pricer = NewBasketPricer(*compiled, config);
  REQUIRE(pricer.ok());
  v1::Basket basket;
  basket.set_currency("USD");
  auto* line = basket.add_items();
  line->set_product_id("sku-1");
  line->set_unit_price_minor(1000);
  line->set_quantity(1);
  REQUIRE((*pricer)->Price(basket, {}).ok());

  v1::Basket shipping = basket;
  shipping.set_shipping_minor(std::numeric_limits<int64_t>::max());
  auto priced = (*pricer)->Price(shipping, {});
  REQUIRE_FALSE(priced.ok());
  CHECK(absl::IsInvalidArgument(priced.status()));
  CHECK(std::string(priced.status().message()).find("shipping_minor must be at most 1000000000000000, got 9223372036854775807") !=
        std::string::npos);

  v1::Basket price = basket;
  price.mutable_items(0)->set_unit_price_minor(kMaxMinorUnits + 1);
  priced = (*pricer)->Price(price, {});
  REQUIRE_FALSE(priced.ok());
  CHECK(std::string(priced.status().message()).find("unit_price_minor must be at most") != std::string::npos);

  v1::Basket text = basket;
  (*text.mutable_items(0)->mutable_properties())["color"].set_string_value("bl\xFFue");
  priced = (*pricer)->Price(text, {});
  REQUIRE_FALSE(priced.ok());
  CHECK(std::string(priced.status().message()) ==
        "basket: items[0].properties[\"color\"].value.string_value: not valid UTF-8 (byte 0xFF at offset 2)");
}

TEST_CASE("CaptureResponse refuses a response with a string that is not UTF-8, naming the field", "[input][response]") {
  auto store = NewMemoryStore();
  v1::InteractionRecord r;
  r.mutable_action()->set_issue("Retail");
  r.mutable_action()->set_group("Web");
  r.mutable_action()->set_name("Purchase");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  r.mutable_subject()->set_customer_id("c-1");
  r.mutable_subject()->set_city("M\xFCnchen");  // Latin-1, not UTF-8
  auto stored = CaptureResponse(*store, r, {});
  REQUIRE_FALSE(stored.ok());
  CHECK(std::string(stored.status().message()) ==
        "CaptureResponse: subject.city: not valid UTF-8 (byte 0xFC at offset 1)");
  r.mutable_subject()->set_city("M\xC3\xBCnchen");
  r.mutable_value()->set_currency("USD");
  r.mutable_value()->set_minor_units(std::numeric_limits<int64_t>::max());
  stored = CaptureResponse(*store, r, {});
  REQUIRE_FALSE(stored.ok());
  CHECK(std::string(stored.status().message()).find("value: must be at most") != std::string::npos);
  r.mutable_value()->set_minor_units(1999);
  CHECK(CaptureResponse(*store, r, {}).ok());
}

TEST_CASE("A recipient CSV that is not UTF-8 is rejected with its line and column", "[input][mail]") {
  auto table = ParseRecipientCsv("email,name\na@example.com,Ann\nb@example.com,J\xF6rg\n", "list.csv", "email", "",
                                 ',');
  REQUIRE_FALSE(table.ok());
  CHECK(std::string(table.status().message()) == "list.csv:3:16: not valid UTF-8 (byte 0xF6)");
  CHECK(ParseRecipientCsv("email,name\nb@example.com,J\xC3\xB6rg\n", "list.csv", "email", "", ',').ok());
}

}  // namespace
}  // namespace herald
