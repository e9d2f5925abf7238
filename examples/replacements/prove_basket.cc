// Basket: the built-in basket pipeline with MemberOrderDiscount in the
// order_level stage prices three baskets: a premier user's above the
// minimum (5% off the subtotal after the 10% tent discount, spread over the
// lines), another user's (nothing), and a premier user's below the minimum
// (nothing). Adjustments, shares and totals are checked to the cent.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"

namespace site::driver {
namespace {

struct Line {
  const char* id;
  const char* category;
  int64_t unit_price_minor;
  int64_t quantity;
};

herald::v1::Basket MakeBasket(bool premier, const std::vector<Line>& lines) {
  herald::v1::Basket basket;
  basket.set_currency("USD");
  basket.set_shipping_minor(500);
  basket.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2026, 3, 10),
                                                                         absl::UTCTimeZone())));
  (*basket.mutable_user()->mutable_values())["premier"].set_bool_value(premier);
  for (const Line& l : lines) {
    herald::v1::LineItem* item = basket.add_items();
    item->set_id(l.id);
    item->set_product_id(l.id);
    item->set_category(l.category);
    item->set_unit_price_minor(l.unit_price_minor);
    item->set_quantity(l.quantity);
  }
  return basket;
}

// What a priced basket must show.
struct Expected {
  const char* who;
  int64_t item_discount, order_discount, total;
  std::vector<int64_t> shares;  // MemberOrderDiscount's share per line; empty = not applied
};

absl::Status Check(const herald::v1::PricedBasket& priced, const Expected& want, const std::string& component) {
  const std::string who = want.who;
  if (priced.item_discount_minor() != want.item_discount || priced.order_discount_minor() != want.order_discount ||
      priced.total_minor() != want.total) {
    return absl::FailedPreconditionError(absl::StrCat(
        who, ": item discount ", priced.item_discount_minor(), ", order discount ", priced.order_discount_minor(),
        ", total ", priced.total_minor(), "; expected ", want.item_discount, ", ", want.order_discount, ", ",
        want.total, "\n", herald::FormatPricedBasket(priced)));
  }
  const bool applied = !want.shares.empty();
  if (priced.order_adjustments_size() != (applied ? 1 : 0)) {
    return absl::FailedPreconditionError(absl::StrCat(who, ": ", priced.order_adjustments_size(),
                                                      " order adjustments, expected ", applied ? 1 : 0));
  }
  if (!applied) return absl::OkStatus();
  const herald::v1::OrderAdjustment& adjustment = priced.order_adjustments(0);
  bool shares_ok = adjustment.shares_size() == static_cast<int>(want.shares.size());
  for (int i = 0; shares_ok && i < adjustment.shares_size(); ++i) {
    shares_ok = adjustment.shares(i).amount_minor() == want.shares[static_cast<size_t>(i)];
  }
  if (adjustment.discount_id() != "premier-5" || adjustment.target() != "subtotal" ||
      adjustment.offer_kind() != herald::v1::OFFER_KIND_ORDER_PERCENT_OFF ||
      adjustment.amount_minor() != want.order_discount || !shares_ok) {
    return absl::FailedPreconditionError(
        absl::StrCat(who, ": unexpected order adjustment:\n", herald::FormatPricedBasket(priced)));
  }
  for (const herald::v1::TraceLine& line : priced.trace()) {
    if (line.component() == component && line.verdict() == "applied") return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(who, ": the explanation does not show ", component));
}

}  // namespace

absl::StatusOr<std::string> ProveBasket(const std::string& dir, const Variant& variant) {
  auto catalog = herald::CompiledCatalog::Load(dir + "/catalog.textproto");
  if (!catalog.ok()) return catalog.status();
  auto pipeline = herald::LoadPipelineDefinition(dir + "/pipelines/basket.textproto");
  if (!pipeline.ok()) return pipeline.status();
  *pipeline = variant.Renamed(*std::move(pipeline));
  const std::string component = variant.Name("MemberOrderDiscount");
  herald::Registry registry;
  if (absl::Status s = RegisterAll(&registry); !s.ok()) return s;
  herald::PricerConfig config;
  config.registry = &registry;
  config.pipeline = &*pipeline;
  auto pricer = herald::NewBasketPricer(*catalog, config);
  if (!pricer.ok()) return pricer.status();

  // A 200.00 tent (10% off: 180.00) and two 15.00 socks: 210.00 after item
  // discounts; 5% of it is 10.50, spread 9.00 / 1.50 by the lines' totals.
  const std::vector<Line> big = {{"tent", "tents", 20000, 1}, {"socks", "socks", 1500, 2}};
  const std::vector<Line> small = {{"socks", "socks", 1500, 2}};
  const std::pair<herald::v1::Basket, Expected> cases[] = {
      {MakeBasket(true, big), {"premier user, 230.00 basket", 2000, 1050, 20450, {900, 150}}},
      {MakeBasket(false, big), {"other user, 230.00 basket", 2000, 0, 21500, {}}},
      {MakeBasket(true, small), {"premier user, 30.00 basket", 0, 0, 3500, {}}}};
  for (const auto& [basket, want] : cases) {
    auto priced = (*pricer)->Price(basket);
    if (!priced.ok()) return priced.status();
    if (absl::Status s = Check(*priced, want, component); !s.ok()) return s;
  }
  return component + std::string(
      " takes 10.50 USD off a premier user's 210.00 USD order (total 204.50 USD), "
      "nothing for another user or below 100.00 USD");
}

}  // namespace site::driver
