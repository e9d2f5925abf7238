// OrderDiscount: the spec's worked examples, offers and rounding, bad input,
// the built-in pipeline and a custom order-level component.
#include <catch2/catch.hpp>

#include <google/protobuf/util/message_differencer.h>

#include "discount/work.h"
#include "discount_test_util.h"
#include "herald/discount.h"
#include "herald/model/discount_config.pb.h"
#include "herald/pipeline.h"

namespace herald {
namespace {

using testing::AddLine;
using testing::CompileText;
using testing::DiscountCatalogText;
using testing::Noon;
using testing::UnitSummary;
using V = std::vector<std::string>;

std::shared_ptr<const CompiledCatalog> Storefront() {
  static auto catalog = CompiledCatalog::Load(std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto");
  REQUIRE(catalog.ok());
  return *catalog;
}

absl::Time LosAngeles(int y, int m, int d, int hh, int mm) {
  absl::TimeZone la;
  REQUIRE(absl::LoadTimeZone("America/Los_Angeles", &la));
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), la);
}

std::unique_ptr<BasketPricer> Pricer(std::shared_ptr<const CompiledCatalog> catalog, PricerConfig config = {}) {
  auto pricer = NewBasketPricer(std::move(catalog), config);
  INFO(pricer.status().ToString());
  REQUIRE(pricer.ok());
  return std::move(*pricer);
}

v1::PricedBasket PriceAt(const BasketPricer& pricer, const v1::Basket& basket, absl::Time at) {
  PriceOptions options;
  options.now = at;
  auto priced = pricer.Price(basket, options);
  INFO(priced.status().ToString());
  REQUIRE(priced.ok());
  return *priced;
}

bool TraceHas(const v1::PricedBasket& priced, const std::string& subject, const std::string& verdict,
              const std::string& reason_part = "") {
  for (const auto& t : priced.trace()) {
    if (t.subject() == subject && t.verdict() == verdict && t.reason().find(reason_part) != std::string::npos) return true;
  }
  return false;
}

// ------------------------------------------------------------------ the spec's examples

TEST_CASE("Telephone example: priorities 10 - 20 - 30 for a premier user", "[discount][spec]") {
  auto pricer = Pricer(Storefront());
  v1::Basket basket;
  basket.set_currency("USD");
  basket.set_shipping_minor(800);
  AddLine(&basket, "phone", "telephone", 10000, 1);
  AddLine(&basket, "radio", "radio", 3000, 1);
  AddLine(&basket, "book", "book", 2500, 1);
  (*basket.mutable_user()->mutable_values())["premier"].set_bool_value(true);
  auto priced = PriceAt(*pricer, basket, LosAngeles(2026, 6, 1, 12, 0));
  INFO(FormatPricedBasket(priced));
  // Only the 10% discount applies to the telephone; the premier 30% goes to the radio.
  CHECK(UnitSummary(priced.lines(0)) == V{"award:phones-10:1000"});
  CHECK(UnitSummary(priced.lines(1)) == V{"award:premier-30:900"});
  // Free shipping (priority 30) needs $50 of units no other discount uses: only the book is left.
  CHECK(UnitSummary(priced.lines(2)) == V{"none"});
  CHECK(priced.shipping_minor() == 800);
  CHECK(TraceHas(priced, "free-shipping", "skipped", "condition not met"));
  CHECK(priced.subtotal_minor() == 15500);
  CHECK(priced.item_discount_minor() == 1900);
  CHECK(priced.total_minor() == 15500 - 1900 + 800);

  SECTION("a user who is not premier: the radio and the book buy free shipping") {
    basket.mutable_user()->mutable_values()->clear();
    auto p = PriceAt(*pricer, basket, LosAngeles(2026, 6, 1, 12, 0));
    INFO(FormatPricedBasket(p));
    CHECK(UnitSummary(p.lines(0)) == V{"award:phones-10:1000"});
    CHECK(UnitSummary(p.lines(1)) == V{"condition:free-shipping"});
    CHECK(UnitSummary(p.lines(2)) == V{"condition:free-shipping"});
    CHECK(TraceHas(p, "premier-30", "skipped", "not eligible"));
    CHECK(p.shipping_minor() == 0);
    REQUIRE(p.order_adjustments_size() == 1);
    CHECK(p.order_adjustments(0).target() == "shipping");
    CHECK(p.order_adjustments(0).amount_minor() == 800);
    CHECK(p.total_minor() == 15500 - 1000);
  }
}

// The spec's "four cases of juice" table reads none, 50%, 10%, 50% without a
// limit. That table is self-contradictory: cases 1 and 3 play identical roles
// (each is the condition of one application of the priority-10 offer; case 4
// can only get 50% from a second application, whose condition must be case
// 3), so no rule that treats equal units alike can give case 1 nothing and
// case 3 10%. Herald follows the rule the spec states, one discount per unit
// ("You can apply one discount per quantity or value"): none, 50%, none, 50%
// without a limit and none, 50%, 10%, 10% with basket_limit 1.
// docs/discounts.md, "Decision: the juice table".
TEST_CASE("Juice example follows the one-discount-per-unit rule - the spec table is self-contradictory",
          "[discount][spec]") {
  auto at = LosAngeles(2026, 11, 16, 12, 0);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "juice", "juice", 1000, 4);
  auto unit_prices = [](const v1::PricedLine& line) {
    std::vector<int64_t> out;
    for (const auto& unit : line.units()) out.push_back(unit.price_minor());
    return out;
  };

  SECTION("unlimited: none - 50% - none - 50% (not the table's 10% for case 3)") {
    auto pricer = Pricer(Storefront());
    auto priced = PriceAt(*pricer, basket, at);
    INFO(FormatPricedBasket(priced));
    const auto& line = priced.lines(0);
    REQUIRE(line.units_size() == 4);
    // Case 1 buys case 2 at 50%, case 3 buys case 4 at 50%: every case serves
    // juice-bogo, so beverage-10 finds nothing left (one discount per unit).
    CHECK(UnitSummary(line) ==
          V{"condition:juice-bogo", "award:juice-bogo:500", "condition:juice-bogo", "award:juice-bogo:500"});
    CHECK(unit_prices(line) == std::vector<int64_t>{1000, 500, 1000, 500});
    // Cases 1 and 3 are alike: the condition of one application each, no discount.
    CHECK(UnitSummary(line)[0] == UnitSummary(line)[2]);
    CHECK(line.units(0).price_minor() == line.units(2).price_minor());
    CHECK(line.units(2).price_minor() != 900);  // the table's 10% on case 3 is not applied
    CHECK(line.discount_total_minor() == 1000);
    CHECK(TraceHas(priced, "juice-bogo", "applied", "2 applications"));
    CHECK(TraceHas(priced, "beverage-10", "skipped", "higher priority"));
  }
  SECTION("basket limit 1: none - 50% - 10% - 10%") {
    v1::Catalog catalog = Storefront()->catalog();
    for (auto& c : *catalog.mutable_campaigns()) {
      for (auto& item : *c.mutable_items()) {
        if (item.id() == "juice-bogo") item.mutable_discount()->set_basket_limit(1);
      }
    }
    auto compiled = CompiledCatalog::Compile(catalog);
    REQUIRE(compiled.ok());
    auto pricer = Pricer(*compiled);
    auto priced = PriceAt(*pricer, basket, at);
    INFO(FormatPricedBasket(priced));
    const auto& line = priced.lines(0);
    REQUIRE(line.units_size() == 4);
    CHECK(UnitSummary(line) ==
          V{"condition:juice-bogo", "award:juice-bogo:500", "award:beverage-10:100", "award:beverage-10:100"});
    CHECK(unit_prices(line) == std::vector<int64_t>{1000, 500, 900, 900});
    CHECK(line.discount_total_minor() == 700);
    CHECK(TraceHas(priced, "juice-bogo", "applied", "basket limit reached"));
  }
}

TEST_CASE("10% on the items of one manufacturer - click required", "[discount][spec]") {
  auto pricer = Pricer(Storefront());
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "blue", "paint", 2999, 2, "Fabrikam");
  AddLine(&basket, "primer", "paint", 1999, 1, "Northwind");
  auto at = LosAngeles(2026, 6, 1, 12, 0);
  auto priced = PriceAt(*pricer, basket, at);
  CHECK(priced.item_discount_minor() == 0);
  CHECK(TraceHas(priced, "fabrikam-10", "skipped", "click required"));
  basket.add_clicked_items("fabrikam-10");
  priced = PriceAt(*pricer, basket, at);
  INFO(FormatPricedBasket(priced));
  // 10% of 2 x 29.99 = 5.998 -> 6.00, split 3.00 + 3.00.
  CHECK(UnitSummary(priced.lines(0)) == V{"award:fabrikam-10:300", "award:fabrikam-10:300"});
  CHECK(UnitSummary(priced.lines(1)) == V{"none"});
  CHECK(priced.lines(0).adjusted_total_minor() == 5998 - 600);
}

TEST_CASE("Happy hour through an expression on the time", "[discount][spec]") {
  auto pricer = Pricer(Storefront());
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "tent", "outdoor", 12000, 1);
  AddLine(&basket, "socks", "outdoor", 1500, 1);
  auto noon = PriceAt(*pricer, basket, LosAngeles(2026, 6, 1, 12, 0));
  CHECK(noon.item_discount_minor() == 0);
  CHECK(TraceHas(noon, "happy-hour", "skipped", "not eligible"));
  auto evening = PriceAt(*pricer, basket, LosAngeles(2026, 6, 1, 18, 30));
  INFO(FormatPricedBasket(evening));
  CHECK(UnitSummary(evening.lines(0)) == V{"award:happy-hour:1200"});
  CHECK(UnitSummary(evening.lines(1)) == V{"none"});  // only items over $20
}

TEST_CASE("WELCOME5: a coupon order discount on the discounted subtotal - spread over the lines",
          "[discount][spec]") {
  auto pricer = Pricer(Storefront());
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "a", "outdoor", 1500, 1);
  AddLine(&basket, "b", "outdoor", 1500, 1);
  AddLine(&basket, "c", "outdoor", 1500, 1);
  auto at = LosAngeles(2026, 6, 1, 12, 0);
  auto priced = PriceAt(*pricer, basket, at);
  CHECK(priced.order_discount_minor() == 0);
  CHECK(TraceHas(priced, "welcome-coupon", "skipped", "coupon"));
  basket.add_coupon_codes("WELCOME5");
  basket.add_coupon_codes("NOSUCH");
  priced = PriceAt(*pricer, basket, at);
  INFO(FormatPricedBasket(priced));
  // free-shipping (priority 30) has nothing to discount (no shipping), so
  // WELCOME5's $40 condition takes the three lines.
  REQUIRE(priced.order_adjustments_size() == 1);
  const auto& adj = priced.order_adjustments(0);
  CHECK(adj.discount_id() == "welcome-coupon");
  CHECK(adj.amount_minor() == 500);
  CHECK(adj.coupon_code() == "WELCOME5");
  // 500 over 1500/1500/1500: 166.67 each -> 167, 167, 166 (largest remainder, earlier line first).
  CHECK(priced.lines(0).order_discount_minor() == 167);
  CHECK(priced.lines(1).order_discount_minor() == 167);
  CHECK(priced.lines(2).order_discount_minor() == 166);
  CHECK(priced.total_minor() == 4500 - 500);
  REQUIRE(priced.coupons_size() == 1);
  CHECK(priced.coupons(0).code() == "WELCOME5");
  CHECK(priced.coupons(0).max_uses() == 1000);
  CHECK(priced.coupons(0).max_uses_per_customer() == 1);
  CHECK(TraceHas(priced, "coupon NOSUCH", "skipped", "matches no discount"));
}

// ------------------------------------------------------------------ semantics

TEST_CASE("Equal priorities are broken by discount id - not catalog order", "[discount]") {
  for (bool swapped : {false, true}) {
    std::string a = R"(items { id: "zeta" discount { priority: 5 offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } })";
    std::string b = R"(items { id: "alpha" discount { priority: 5 offer { kind: OFFER_KIND_PERCENT_OFF percent: 20 } } })";
    auto catalog = CompileText(DiscountCatalogText(swapped ? b + a : a + b));
    INFO(catalog.status().ToString());
    REQUIRE(catalog.ok());
    auto pricer = Pricer(*catalog);
    v1::Basket basket;
    basket.set_currency("USD");
    AddLine(&basket, "x", "any", 1000, 1);
    auto priced = PriceAt(*pricer, basket, Noon());
    CHECK(UnitSummary(priced.lines(0)) == V{"award:alpha:200"});
  }
}

TEST_CASE("Awards go to the most expensive units first - or the least expensive", "[discount]") {
  for (auto order : {"AWARD_ORDER_MOST_EXPENSIVE_FIRST", "AWARD_ORDER_LEAST_EXPENSIVE_FIRST"}) {
    auto catalog = CompileText(DiscountCatalogText(std::string(R"(items { id: "two" discount {
        award { max_units: 2 } basket_limit: 1 award_order: )") + order + R"(
        offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 100 currency: "USD" } } })"));
    REQUIRE(catalog.ok());
    auto pricer = Pricer(*catalog);
    v1::Basket basket;
    basket.set_currency("USD");
    AddLine(&basket, "mid", "x", 500, 1);
    AddLine(&basket, "cheap", "x", 300, 1);
    AddLine(&basket, "dear", "x", 900, 1);
    auto priced = PriceAt(*pricer, basket, Noon());
    bool most = std::string(order).find("MOST") != std::string::npos;
    CHECK(priced.lines(2).discount_total_minor() == (most ? 100 : 0));
    CHECK(priced.lines(0).discount_total_minor() == 100);
    CHECK(priced.lines(1).discount_total_minor() == (most ? 0 : 100));
  }
}

TEST_CASE("A value condition consumes units - 'buy anything' consumes nothing", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "spend20" discount { priority: 1
      condition { basis: CONDITION_BASIS_VALUE min_value_minor: 2000 expression: "product.category == 'food'" }
      award { expression: "product.category == 'wine'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } }
    items { id: "any-food" discount { priority: 2
      condition { min_quantity: 0 expression: "product.category == 'food'" }
      award { expression: "product.category == 'food'" }
      offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 50 currency: "USD" } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "bread", "food", 700, 4);
  AddLine(&basket, "wine", "wine", 1500, 2);
  auto priced = PriceAt(*pricer, basket, Noon());
  INFO(FormatPricedBasket(priced));
  // Each application consumes 3 loaves (21.00 >= 20.00): one application, one bottle.
  CHECK(UnitSummary(priced.lines(0)) ==
        V{"condition:spend20", "condition:spend20", "condition:spend20", "award:any-food:50"});
  CHECK(UnitSummary(priced.lines(1)) == V{"award:spend20:750", "none"});
}

TEST_CASE("Fixed price never raises a price - amount off never goes below zero", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "fixed" discount { priority: 1 award { expression: "product.category == 'a'" }
      offer { kind: OFFER_KIND_FIXED_PRICE amount_minor: 500 currency: "USD" } } }
    items { id: "off" discount { priority: 2 award { expression: "product.category == 'b'" }
      offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 800 currency: "USD" } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "a-dear", "a", 900, 1);
  AddLine(&basket, "a-cheap", "a", 400, 1);
  AddLine(&basket, "b", "b", 300, 2);
  auto priced = PriceAt(*pricer, basket, Noon());
  INFO(FormatPricedBasket(priced));
  CHECK(UnitSummary(priced.lines(0)) == V{"award:fixed:400"});
  CHECK(UnitSummary(priced.lines(1)) == V{"none"});
  CHECK(UnitSummary(priced.lines(2)) == V{"award:off:300", "award:off:300"});
  CHECK(priced.lines(2).adjusted_total_minor() == 0);
}

TEST_CASE("Percent rounding: half up once per discount and line - units add up", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "p" discount { offer { kind: OFFER_KIND_PERCENT_OFF percent: 12.5 } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "nickel", "x", 4, 3);   // 12.5% of 12 = 1.5 -> 2 cents over 3 units: 1, 1, 0
  AddLine(&basket, "odd", "x", 999, 1);    // 124.875 -> 125
  auto priced = PriceAt(*pricer, basket, Noon());
  CHECK(UnitSummary(priced.lines(0)) == V{"award:p:1", "award:p:1", "award:p:0"});
  CHECK(priced.lines(0).discount_total_minor() == 2);
  CHECK(priced.lines(1).discount_total_minor() == 125);

  SECTION("currencies with 0 and 3 decimals") {
    auto yen = CompileText(DiscountCatalogText(R"(
      items { id: "p" discount { offer { kind: OFFER_KIND_PERCENT_OFF percent: 33.33 } } })", "JPY"));
    REQUIRE(yen.ok());
    auto p = Pricer(*yen);
    v1::Basket b;
    b.set_currency("JPY");
    AddLine(&b, "tea", "x", 1000, 1);  // 333.3 yen -> 333
    auto r = PriceAt(*p, b, Noon());
    CHECK(r.lines(0).discount_total_minor() == 333);
    CHECK(FormatPricedBasket(r).find("1000 JPY") != std::string::npos);
    b.set_currency("KWD");
    r = PriceAt(*p, b, Noon());
    CHECK(FormatPricedBasket(r).find("1.000 KWD") != std::string::npos);
  }
}

TEST_CASE("Order percent off on the discounted subtotal - shipping percent", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "items-50" discount { priority: 1 award { expression: "product.category == 'a'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } }
    items { id: "order-10" discount { priority: 2 offer { kind: OFFER_KIND_ORDER_PERCENT_OFF percent: 10 } } }
    items { id: "order-90" discount { priority: 3 offer { kind: OFFER_KIND_ORDER_PERCENT_OFF percent: 90 } } }
    items { id: "ship-25" discount { priority: 4 offer { kind: OFFER_KIND_SHIPPING_PERCENT_OFF percent: 25 } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  basket.set_shipping_minor(999);
  AddLine(&basket, "a", "a", 2000, 1);
  AddLine(&basket, "b", "b", 333, 3);
  auto priced = PriceAt(*pricer, basket, Noon());
  INFO(FormatPricedBasket(priced));
  // Items: 1000 off line a. Discounted subtotal 1000 + 999 = 1999.
  // order-10: 199.9 -> 200; then order-90 on 1799: 1619.1 -> 1619. Never below zero.
  REQUIRE(priced.order_adjustments_size() == 3);
  CHECK(priced.order_adjustments(0).amount_minor() == 200);
  CHECK(priced.order_adjustments(1).amount_minor() == 1619);
  CHECK(priced.order_adjustments(2).target() == "shipping");
  CHECK(priced.order_adjustments(2).amount_minor() == 250);  // 249.75 -> 250
  CHECK(priced.shipping_minor() == 749);
  int64_t shares = 0;
  for (const auto& line : priced.lines()) {
    shares += line.order_discount_minor();
    CHECK(line.adjusted_total_minor() >= 0);
  }
  CHECK(shares == 200 + 1619);
  CHECK(priced.total_minor() == 2999 - 1000 - 1819 + 749);
}

TEST_CASE("Basket limit counts applications - award maximum per application", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "b2g1" discount { basket_limit: 2
      condition { min_quantity: 2 expression: "product.category == 'shirt'" }
      award { max_units: 1 expression: "product.category == 'shirt'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 100 } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "shirt", "shirt", 1000, 10);
  auto priced = PriceAt(*pricer, basket, Noon());
  INFO(FormatPricedBasket(priced));
  CHECK(priced.lines(0).discount_total_minor() == 2000);
  CHECK(UnitSummary(priced.lines(0))[2] == "award:b2g1:1000");
  CHECK(UnitSummary(priced.lines(0))[6] == "none");
}

// ------------------------------------------------------------------ bad input

TEST_CASE("Bad input gives a clear error and applies nothing", "[discount]") {
  auto pricer = Pricer(Storefront());
  v1::Basket good;
  good.set_currency("USD");
  AddLine(&good, "phone", "telephone", 10000, 1);
  auto expect = [&](v1::Basket basket, const std::string& part) {
    PriceOptions o;
    o.now = Noon();
    auto priced = pricer->Price(basket, o);
    INFO(part);
    REQUIRE_FALSE(priced.ok());
    CHECK(priced.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(priced.status().message()).find(part) != std::string::npos);
  };
  { auto b = good; b.set_currency("XYZ"); expect(b, "currency \"XYZ\" is not an ISO 4217 code"); }
  { auto b = good; b.mutable_items(0)->set_unit_price_minor(-1); expect(b, "line 1 (\"phone\"): unit_price_minor must be >= 0"); }
  { auto b = good; b.mutable_items(0)->set_quantity(-2); expect(b, "quantity must be >= 0"); }
  { auto b = good; AddLine(&b, "e", "x", 100, 1)->set_currency("EUR"); expect(b, "line 2 (\"e\"): currency EUR differs from the basket's USD"); }
  { auto b = good; AddLine(&b, "phone", "x", 100, 1); expect(b, "duplicate line id"); }
  { auto b = good; (*b.mutable_items(0)->mutable_properties())["manufacturer"].set_int_value(3); expect(b, "property \"manufacturer\" must be string"); }
  { auto b = good; b.set_shipping_minor(-5); expect(b, "shipping_minor must be >= 0"); }
  { auto b = good; b.mutable_items(0)->set_quantity(1000000); expect(b, "units"); }

  SECTION("an expression naming an unknown product field") {
    std::string text = DiscountCatalogText(R"(
      items { id: "heavy" discount { award { expression: "product.weight > 10" }
        offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } })");
    auto checked = CompileText(text, true);
    CHECK_FALSE(checked.ok());
    auto unchecked = CompileText(text, false);
    REQUIRE(unchecked.ok());
    auto p = NewBasketPricer(*unchecked);
    REQUIRE_FALSE(p.ok());
    CHECK(std::string(p.status().message()).find("discount \"heavy\": award: ") != std::string::npos);
    CHECK(std::string(p.status().message()).find("weight") != std::string::npos);
  }
}

// ------------------------------------------------------------------ pipeline

TEST_CASE("pipelines/basket.textproto is the built-in basket pipeline", "[discount][pipeline]") {
  auto file = LoadPipelineDefinition(std::string(HERALD_SOURCE_DIR) + "/pipelines/basket.textproto");
  REQUIRE(file.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*file, DefaultBasketPipeline()));
  Registry registry;
  RegisterDiscountComponents(&registry);
  RegisterDiscountComponents(&registry);  // idempotent
  auto p = Pipeline<BasketContext>::Create(DefaultBasketPipeline(), CreateContext{&registry});
  REQUIRE(p.ok());
  CHECK((*p)->Components().size() == 5);
}

// The spec's "10 percent discount for preferred users": an order-level
// discount written as a site's own component.
class PreferredTenPercent final : public BasketComponent {
 public:
  absl::Status Run(BasketContext& ctx) const override {
    auto it = ctx.basket->user().values().find("preferred");
    if (it == ctx.basket->user().values().end() || !it->second.bool_value()) {
      ctx.Note("preferred-10", "skipped", "not a preferred user");
      return absl::OkStatus();
    }
    int64_t amount = discount_internal::MulDivRoundHalfUp(ctx.DiscountedSubtotal(), 1000, 10000);
    auto applied = ctx.AddSubtotalDiscount("preferred-10", "10 percent for preferred users",
                                           v1::OFFER_KIND_ORDER_PERCENT_OFF, amount);
    if (!applied.ok()) return applied.status();
    ctx.Note("preferred-10", "applied", "preferred user", static_cast<double>(*applied));
    return absl::OkStatus();
  }
};

TEST_CASE("A custom order-level component: 10 percent for preferred users", "[discount][pipeline]") {
  Registry registry;
  REQUIRE(registry.Register(MakeFactory<BasketComponent, v1::OrderLevelDiscountsConfig>(
      "PreferredTenPercent", "10% off the order for preferred users",
      [](const v1::OrderLevelDiscountsConfig&, const CreateContext&)
          -> absl::StatusOr<std::unique_ptr<BasketComponent>> {
        return std::unique_ptr<BasketComponent>(std::make_unique<PreferredTenPercent>());
      })).ok());
  auto def = ParsePipelineDefinition(R"pb(
    name: "basket-preferred" family: "basket"
    stages { name: "eligibility" components { name: "CheckEligibility" } }
    stages { name: "conditions" components { name: "EvaluateConditions" } }
    stages { name: "awards" components { name: "ApplyDiscounts" } }
    stages { name: "order_level" components { name: "OrderLevelDiscounts" } components { name: "PreferredTenPercent" } }
    stages { name: "totals" components { name: "ComputeTotals" } }
  )pb", "test");
  REQUIRE(def.ok());
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "a-half" discount { award { expression: "product.category == 'a'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } })"));
  REQUIRE(catalog.ok());
  PricerConfig config;
  config.registry = &registry;
  config.pipeline = &*def;
  auto pricer = Pricer(*catalog, config);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "a", "a", 2001, 1);
  AddLine(&basket, "b", "b", 1000, 2);
  (*basket.mutable_user()->mutable_values())["preferred"].set_bool_value(true);
  auto priced = PriceAt(*pricer, basket, Noon());
  INFO(FormatPricedBasket(priced));
  // Discounted subtotal: 2001 - 1001 + 2000 = 3000; 10% = 300, spread 100 / 200.
  REQUIRE(priced.order_adjustments_size() == 1);
  CHECK(priced.order_adjustments(0).discount_id() == "preferred-10");
  CHECK(priced.order_adjustments(0).amount_minor() == 300);
  CHECK(priced.lines(0).order_discount_minor() == 100);
  CHECK(priced.lines(1).order_discount_minor() == 200);
  CHECK(priced.total_minor() == 2700);
  CHECK(TraceHas(priced, "preferred-10", "applied"));
  basket.mutable_user()->mutable_values()->clear();
  priced = PriceAt(*pricer, basket, Noon());
  CHECK(priced.order_adjustments_size() == 0);
  CHECK(TraceHas(priced, "preferred-10", "skipped", "not a preferred user"));
}

TEST_CASE("A basket pipeline missing a stage the next one reads is refused when the pricer is built",
          "[discount][pipeline][contract]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "a-half" discount { award { expression: "product.category == 'a'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } })"));
  REQUIRE(catalog.ok());
  auto def = ParsePipelineDefinition(R"pb(
    name: "no-conditions" family: "basket"
    stages { name: "eligibility" components { name: "CheckEligibility" } }
    stages { name: "conditions" components { name: "EvaluateConditions" disabled: true } }
    stages { name: "awards" components { name: "ApplyDiscounts" } }
    stages { name: "totals" components { name: "ComputeTotals" } }
  )pb", "no-conditions.textproto");
  REQUIRE(def.ok());
  PricerConfig config;
  config.pipeline = &*def;
  auto pricer = NewBasketPricer(*catalog, config);
  REQUIRE(pricer.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(pricer.status().message()),
             Catch::Contains("stage \"awards\" component \"ApplyDiscounts\": reads \"line_matches\", "
                             "which no earlier component writes"));
  // Without the order-level stage's reader the rest is fine; without
  // CheckEligibility, EvaluateConditions has no candidates to read.
  def->mutable_stages(1)->mutable_components(0)->set_disabled(false);
  def->mutable_stages(0)->mutable_components(0)->set_disabled(true);
  pricer = NewBasketPricer(*catalog, config);
  REQUIRE_FALSE(pricer.ok());
  CHECK_THAT(std::string(pricer.status().message()),
             Catch::Contains("component \"EvaluateConditions\": reads \"candidates\", which no earlier component writes"));
  def->mutable_stages(0)->mutable_components(0)->set_disabled(false);
  CHECK(NewBasketPricer(*catalog, config).ok());
}

TEST_CASE("The equality index gives the same answers as evaluating everything", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "d1" discount { priority: 1 award { expression: "product.category in ['a', 'b'] && product.price > 5.00" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } }
    items { id: "d2" discount { priority: 2 award { expression: "product.manufacturer == 'M' && product.quantity >= 2" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 20 } } }
    items { id: "d3" discount { priority: 3 award { expression: "'c' == product.category || product.id == 'z'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 30 } } })"));
  REQUIRE(catalog.ok());
  auto def = DefaultBasketPipeline();
  v1::EvaluateConditionsConfig off;
  off.set_disable_index(true);
  def.mutable_stages(1)->mutable_components(0)->mutable_config()->PackFrom(off);
  PricerConfig config;
  config.pipeline = &def;
  auto indexed = Pricer(*catalog);
  auto plain = Pricer(*catalog, config);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "x", "a", 400, 1);
  AddLine(&basket, "y", "b", 900, 1);
  AddLine(&basket, "m", "q", 900, 3, "M");
  AddLine(&basket, "n", "q", 900, 1, "M");
  AddLine(&basket, "c", "c", 100, 1);
  AddLine(&basket, "z", "q", 100, 1);
  auto a = PriceAt(*indexed, basket, Noon());
  auto b = PriceAt(*plain, basket, Noon());
  a.clear_trace();
  b.clear_trace();
  CHECK(google::protobuf::util::MessageDifferencer::Equals(a, b));
  CHECK(a.lines(0).discount_total_minor() == 0);
  CHECK(a.lines(1).discount_total_minor() == 90);
  CHECK(a.lines(2).discount_total_minor() == 540);
  CHECK(a.lines(3).discount_total_minor() == 0);
  CHECK(a.lines(4).discount_total_minor() == 30);
  CHECK(a.lines(5).discount_total_minor() == 30);
}

// Past 64 lines the pricer's line sets take more than one word: discounts
// on lines 3, 64, 70 and 121..129 (the second and third words), a condition
// consumed on the last line, a discount left nothing because its line is
// taken, and a reused result going from 130 lines to 2 and back.
TEST_CASE("A basket of 130 lines: each discount lands on its lines, in every word of the line sets", "[discount]") {
  auto catalog = CompileText(DiscountCatalogText(R"(
    items { id: "a" discount { priority: 1 award { expression: "product.category == 'c70'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } }
    items { id: "b" discount { priority: 2 condition { expression: "product.category == 'c129'" min_quantity: 1 }
      award { expression: "product.category == 'c3'" } offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } }
    items { id: "c" discount { priority: 3 award { expression: "product.price > 22.00" }
      offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 100 currency: "USD" } } }
    items { id: "d" discount { priority: 4 award { expression: "product.category == 'c128'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 90 } } }
    items { id: "e" discount { priority: 5 award { expression: "product.category == 'c64'" }
      offer { kind: OFFER_KIND_PERCENT_OFF percent: 20 } } })"));
  REQUIRE(catalog.ok());
  auto pricer = Pricer(*catalog);
  v1::Basket wide, narrow;
  wide.set_currency("USD");
  narrow.set_currency("USD");
  for (int l = 0; l < 130; ++l) AddLine(&wide, "l" + std::to_string(l), "c" + std::to_string(l), 1000 + 10 * l, 2);
  AddLine(&narrow, "x", "c70", 500, 1);
  AddLine(&narrow, "y", "c129", 900, 3);
  auto priced = PriceAt(*pricer, wide, Noon());
  std::map<int, int64_t> expected = {{70, 2 * 170}, {3, 2 * 515}, {64, 2 * 328}};
  for (int l = 121; l <= 128; ++l) expected[l] = 2 * 100;  // price > 22.00; line 129 serves b's condition
  REQUIRE(priced.lines_size() == 130);
  for (int l = 0; l < 130; ++l) {
    INFO("line " << l);
    CHECK(priced.lines(l).discount_total_minor() == (expected.count(l) ? expected[l] : 0));
  }
  CHECK(UnitSummary(priced.lines(129)) == std::vector<std::string>{"condition:b", "condition:b"});
  CHECK(UnitSummary(priced.lines(128)) == std::vector<std::string>{"award:c:100", "award:c:100"});
  CHECK(UnitSummary(priced.lines(64)) == std::vector<std::string>{"award:e:328", "award:e:328"});
  // One result reused: wide, narrow, wide again, each equal to a new one.
  PriceOptions options;
  options.now = Noon();
  options.explain = false;
  v1::PricedBasket reused;
  for (const v1::Basket* basket : {&wide, &narrow, &wide}) {
    REQUIRE(pricer->PriceInto(*basket, options, &reused).ok());
    auto fresh = pricer->Price(*basket, options);
    REQUIRE(fresh.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(reused, *fresh));
  }
  CHECK(reused.lines(70).discount_total_minor() == 340);
}

// One pricer remembers which discounts are in schedule until the next start
// or end: priced back and forth across the ends of two campaigns, it gives
// what a new pricer gives at each time.
TEST_CASE("A pricer crossing a campaign's end and another's start prices as a new one does", "[discount]") {
  std::string text =
      "name: \"t\" time_zone: \"UTC\" currency: \"USD\"\n"
      "customers { id: \"c\" }\n"
      "campaigns { id: \"old\" customer_id: \"c\" start: \"2026-01-01\" end: \"2026-05-31\"\n"
      "  items { id: \"spring\" name: \"spring\" discount { priority: 1 award { expression: \"product.category == 'a'\" }\n"
      "    offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } } }\n"
      "campaigns { id: \"new\" customer_id: \"c\" start: \"2026-06-01\" end: \"2026-12-31\"\n"
      "  items { id: \"summer\" name: \"summer\" discount { priority: 1 award { expression: \"product.category == 'a'\" }\n"
      "    offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 300 currency: \"USD\" } } }\n"
      "  items { id: \"euro\" name: \"euro\" discount { priority: 0 award { expression: \"product.category == 'a'\" }\n"
      "    offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 700 currency: \"EUR\" } } } }\n";
  auto catalog = CompileText(text);
  REQUIRE(catalog.ok());
  auto kept = Pricer(*catalog);
  v1::Basket basket;
  basket.set_currency("USD");
  AddLine(&basket, "x", "a", 2000, 1);
  v1::Basket euros = basket;
  euros.set_currency("EUR");
  auto at = [](int month, int day, int hour, int minute) {
    return absl::FromCivil(absl::CivilSecond(2026, month, day, hour, minute, 0), absl::UTCTimeZone());
  };
  struct Step {
    absl::Time time;
    const v1::Basket* basket;
    int64_t discount;
  };
  const std::vector<Step> steps = {
      {at(5, 31, 12, 0), &basket, 200}, {at(5, 31, 23, 59), &basket, 200}, {at(6, 1, 0, 1), &basket, 300},
      {at(5, 31, 23, 0), &basket, 200}, {at(6, 1, 0, 1), &euros, 700},   {at(6, 1, 0, 2), &basket, 300},
      {at(1, 1, 0, 0) - absl::Seconds(1), &basket, 0}, {at(3, 1, 0, 0), &basket, 200}};
  // Without the explanation the kept pricer reuses what it found in
  // schedule; with it, every discount is checked anew.
  PriceOptions options;
  options.explain = false;
  for (const Step& step : steps) {
    INFO(absl::FormatTime(step.time) << " " << step.basket->currency());
    options.now = step.time;
    auto priced = kept->Price(*step.basket, options);
    auto fresh = Pricer(*catalog)->Price(*step.basket, options);
    REQUIRE(priced.ok());
    REQUIRE(fresh.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*priced, *fresh));
    auto explained = PriceAt(*kept, *step.basket, step.time);
    explained.clear_trace();
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*priced, explained));
    CHECK(priced->item_discount_minor() == step.discount);
  }
}

}  // namespace
}  // namespace herald
