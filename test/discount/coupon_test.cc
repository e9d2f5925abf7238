// Coupons: a discount that needs a code; usage limits enforced atomically
// when orders are committed, by many threads at once.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "discount_test_util.h"
#include "herald/discount.h"
#include "herald/store.h"

namespace herald {
namespace {

using testing::AddLine;
using testing::CompileText;
using testing::DiscountCatalogText;
using testing::Noon;

constexpr char kCoupons[] = R"(
  items { id: "save10" discount { coupon_codes: "SAVE10" coupon_codes: "SAVE10B"
    coupon_limits { max_uses: 10 }
    offer { kind: OFFER_KIND_ORDER_AMOUNT_OFF amount_minor: 1000 currency: "USD" } } }
  items { id: "once" discount { coupon_codes: "ONCE"
    coupon_limits { max_uses_per_customer: 1 }
    award { expression: "product.category == 'x'" }
    offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } })";

v1::Basket Order(const std::string& order, const std::string& customer, const std::string& code) {
  v1::Basket basket;
  basket.set_currency("USD");
  basket.set_order_id(order);
  basket.set_customer_id(customer);
  basket.add_coupon_codes(code);
  AddLine(&basket, "x", "x", 5000, 1);
  return basket;
}

TEST_CASE("Usage limits per code hold under concurrent checkouts", "[discount][coupon]") {
  auto catalog = CompileText(DiscountCatalogText(kCoupons));
  REQUIRE(catalog.ok());
  auto store = NewMemoryStore();
  PricerConfig config;
  config.store = store.get();
  auto pricer = NewBasketPricer(*catalog, config);
  REQUIRE(pricer.ok());
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        v1::Basket basket = Order("order-" + id, "customer-" + id, (i % 2) ? "SAVE10" : "SAVE10B");
        PriceOptions options;
        options.now = Noon();
        options.explain = false;
        auto priced = (*pricer)->Price(basket, options);
        if (!priced.ok() || priced->coupons_size() != 1 || priced->order_discount_minor() != 1000) {
          ++other;
          continue;
        }
        absl::Status s = (*pricer)->Commit(basket, *priced);
        if (s.ok()) {
          ++ok;
        } else if (s.code() == absl::StatusCode::kResourceExhausted) {
          ++exhausted;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(other == 0);
  // SAVE10 and SAVE10B are separate codes, each limited to 10 uses.
  CHECK(ok == 20);
  CHECK(exhausted == 60);
  CHECK(*store->coupons().CouponUses("SAVE10") == 10);
  CHECK(*store->coupons().CouponUses("SAVE10B") == 10);
}

TEST_CASE("Per-customer limits - idempotent commits and the advisory check", "[discount][coupon]") {
  auto catalog = CompileText(DiscountCatalogText(kCoupons));
  REQUIRE(catalog.ok());
  auto store = NewMemoryStore();
  PricerConfig config;
  config.store = store.get();
  auto pricer = NewBasketPricer(*catalog, config);
  REQUIRE(pricer.ok());
  PriceOptions options;
  options.now = Noon();
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      v1::Basket basket = Order("o" + std::to_string(t), "alice", "ONCE");
      auto priced = (*pricer)->Price(basket, options);
      if (!priced.ok()) return;
      absl::Status s = (*pricer)->Commit(basket, *priced);
      (s.ok() ? ok : exhausted)++;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 1);
  CHECK(exhausted == 11);
  // The same order committed again is a no-op.
  v1::Basket again = Order("o-again", "bob", "ONCE");
  auto priced = (*pricer)->Price(again, options);
  REQUIRE(priced.ok());
  CHECK(priced->lines(0).units(0).discounts(0).coupon_code() == "ONCE");
  CHECK((*pricer)->Commit(again, *priced).ok());
  CHECK((*pricer)->Commit(again, *priced).ok());
  CHECK(*store->coupons().CouponUses("ONCE", "bob") == 1);
  // Without a customer id a per-customer code cannot be committed.
  v1::Basket anonymous = Order("o-anon", "", "ONCE");
  priced = (*pricer)->Price(anonymous, options);
  REQUIRE(priced.ok());
  CHECK((*pricer)->Commit(anonymous, *priced).code() == absl::StatusCode::kInvalidArgument);

  SECTION("CheckEligibility can skip codes the store shows as used up") {
    auto def = DefaultBasketPipeline();
    def.mutable_stages(0)->mutable_components(0)->set_json_config(R"({"checkCouponLimits": true})");
    PricerConfig c2 = config;
    c2.pipeline = &def;
    auto checking = NewBasketPricer(*catalog, c2);
    REQUIRE(checking.ok());
    auto p = (*checking)->Price(Order("o-late", "alice", "ONCE"), options);
    REQUIRE(p.ok());
    CHECK(p->item_discount_minor() == 0);
    bool traced = false;
    for (const auto& t : p->trace()) traced |= t.subject() == "once" && t.reason().find("already used by this customer") != std::string::npos;
    CHECK(traced);
  }
  SECTION("without a store Commit fails") {
    auto storeless = NewBasketPricer(*catalog);
    REQUIRE(storeless.ok());
    v1::Basket b = Order("o-x", "carol", "ONCE");
    auto p = (*storeless)->Price(b, options);
    REQUIRE(p.ok());
    CHECK((*storeless)->Commit(b, *p).code() == absl::StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace herald
