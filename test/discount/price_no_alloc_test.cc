// PriceInto allocates nothing once warm: this executable replaces the global
// operator new and counts calls while baskets are priced into a reused
// PricedBasket (without the explanation), after two warm-up calls per basket
// shape that size the pooled working state and the result's lines, units
// and strings. The catalog uses every kind of offer the pricer knows, so
// that every stage (conditions, awards, order level, shipping, coupons)
// runs on the counted calls.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "alloc_counter.h"
#include "discount_test_util.h"
#include "herald/discount.h"

using herald::testing::g_allocations;
using herald::testing::g_counting;

namespace herald {
namespace {

using testing::AddLine;
using testing::CompileText;
using testing::DiscountCatalogText;
using testing::Noon;

constexpr char kItems[] = R"(
items { id: "shoes10" discount { priority: 1 award { expression: "product.category == 'shoes'" }
        offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } }
items { id: "acme2off" discount { priority: 2 award { expression: "product.manufacturer == 'Acme' && product.price > 5.00" max_units: 2 }
        offer { kind: OFFER_KIND_AMOUNT_OFF amount_minor: 200 currency: "USD" } } }
items { id: "buy2hats" discount { priority: 3 condition { expression: "product.category == 'hats'" min_quantity: 2 }
        award { expression: "product.category == 'socks'" } basket_limit: 2
        offer { kind: OFFER_KIND_FIXED_PRICE amount_minor: 100 currency: "USD" } } }
items { id: "value" discount { priority: 4 condition { expression: "product.category in ['socks', 'hats']" basis: CONDITION_BASIS_VALUE min_value_minor: 1000 }
        award { expression: "product.price < 50.00" } offer { kind: OFFER_KIND_PERCENT_OFF percent: 25 } } }
items { id: "premier" discount { priority: 5 offer { kind: OFFER_KIND_ORDER_PERCENT_OFF percent: 5 }
        eligibility: "user.premier == true" } }
items { id: "ship" discount { priority: 6 condition { expression: "product.category == 'shoes'" }
        offer { kind: OFFER_KIND_FREE_SHIPPING } } }
items { id: "code5" discount { priority: 7 coupon_codes: "SAVE5" offer { kind: OFFER_KIND_ORDER_AMOUNT_OFF amount_minor: 500 currency: "USD" } } }
)";

v1::Basket Basket(int variant) {
  v1::Basket b;
  b.set_currency("USD");
  b.set_shipping_minor(700 + variant);
  b.set_order_id("order-" + std::to_string(variant));
  AddLine(&b, "a", "shoes", 8999 + variant, 1 + variant % 2, "Acme");
  AddLine(&b, "b", "hats", 1500, 3, "Zed");
  AddLine(&b, "c", "socks", 499 + variant, 4, "Acme");
  AddLine(&b, "d", "shirts", 2500, 2);
  (*b.mutable_user()->mutable_values())["premier"].set_bool_value(true);
  b.add_coupon_codes("SAVE5");
  return b;
}

TEST_CASE("PriceInto a reused result allocates nothing once warm", "[discount][alloc]") {
  auto catalog = CompileText(DiscountCatalogText(kItems));
  REQUIRE(catalog.ok());
  auto pricer = NewBasketPricer(*catalog);
  REQUIRE(pricer.ok());
  std::vector<v1::Basket> baskets = {Basket(0), Basket(1), Basket(2)};
  PriceOptions options;
  options.now = Noon();
  options.explain = false;
  v1::PricedBasket priced;
  for (int warm = 0; warm < 2; ++warm) {
    for (const v1::Basket& b : baskets) REQUIRE((*pricer)->PriceInto(b, options, &priced).ok());
  }
  // Every stage ran: item, condition, order-level, shipping and coupon discounts.
  REQUIRE((*pricer)->PriceInto(baskets[0], options, &priced).ok());
  CHECK(priced.item_discount_minor() > 0);
  REQUIRE(priced.order_adjustments_size() == 3);  // premier, ship, code5
  CHECK(priced.order_adjustments(0).discount_id() == "premier");
  CHECK(priced.order_adjustments(1).discount_id() == "ship");
  CHECK(priced.order_adjustments(2).coupon_code() == "SAVE5");
  bool condition_unit = false;
  for (const auto& line : priced.lines()) {
    for (const auto& unit : line.units()) {
      for (const auto& d : unit.discounts()) condition_unit |= d.role() == "condition";
    }
  }
  CHECK(condition_unit);

  g_allocations = 0;
  g_counting = true;
  int64_t total = 0;
  bool all_ok = true;
  for (int i = 0; i < 300; ++i) {
    all_ok &= (*pricer)->PriceInto(baskets[static_cast<size_t>(i % 3)], options, &priced).ok();
    total += priced.total_minor();
  }
  g_counting = false;
  CHECK(all_ok);
  CHECK(total > 0);
  CHECK(g_allocations.load() == 0);
}

}  // namespace
}  // namespace herald
