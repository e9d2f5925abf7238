// Property test: thousands of random small baskets and discount sets priced
// by BasketPricer and by an exhaustive reference written here, unit by unit,
// that searches every subset of units for each application (it shares no code
// with lib/discount). The results must be equal and the invariants hold.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include "discount_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "herald/discount.h"

namespace herald {
namespace {

using testing::CompileText;
using testing::DiscountCatalogText;
using testing::Noon;

struct RLine {
  std::string category, manufacturer;
  int64_t price = 0, quantity = 0;
};

struct RDiscount {
  std::string id;
  int priority = 0;
  v1::OfferKind kind = v1::OFFER_KIND_PERCENT_OFF;
  int64_t bp = 0, amount = 0;
  std::string cond_expr, award_expr;
  bool value_basis = false;
  int64_t min_quantity = 0, min_value = 0, max_units = 0, basket_limit = 0;
  int award_order = 0;  // 0, 1 most expensive first, 2 least expensive first
  bool premier_only = false, click = false;
  std::string coupon;
};

// The expressions the generator uses, evaluated by hand.
const std::vector<std::string> kExprs = {
    "", "product.category == 'a'", "product.category in ['a', 'b']", "product.manufacturer == 'M'",
    "product.price > 2.00", "product.category == 'b' && product.quantity >= 2",
    "product.manufacturer == 'M' || product.category == 'c'"};

bool Eval(const std::string& e, const RLine& l) {
  if (e.empty()) return true;
  if (e == kExprs[1]) return l.category == "a";
  if (e == kExprs[2]) return l.category == "a" || l.category == "b";
  if (e == kExprs[3]) return l.manufacturer == "M";
  if (e == kExprs[4]) return l.price > 200;
  if (e == kExprs[5]) return l.category == "b" && l.quantity >= 2;
  if (e == kExprs[6]) return l.manufacturer == "M" || l.category == "c";
  FAIL("unknown expression " << e);
  return false;
}

int64_t RoundHalfUp(int64_t num, int64_t den) { return (2 * num + den) / (2 * den); }

struct RUnit {
  int line = 0, index = 0;
  int64_t price = 0;
  std::string discount, role;
  int64_t amount = 0;
};

struct RAdjustment {
  std::string id, target;
  int64_t amount = 0;
  std::vector<int64_t> shares;
};

struct RResult {
  std::vector<RUnit> units;
  std::vector<int64_t> order_share;  // per line
  std::vector<RAdjustment> adjustments;
  int64_t shipping = 0;
};

bool Free(const RUnit& u) { return u.role.empty(); }

// Lexicographic order of rank sequences; a proper prefix is smaller.
bool LexLess(const std::vector<int>& a, const std::vector<int>& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

// The lexicographically smallest subset (by rank) of `candidates` accepted by
// `valid`, preferring larger subsets when `largest`. Empty when none.
std::vector<int> BestSubset(const std::vector<int>& candidates, const std::function<int(int)>& rank,
                            const std::function<bool(const std::vector<int>&)>& valid, bool largest) {
  std::vector<int> best;
  bool found = false;
  size_t n = candidates.size();
  for (uint32_t mask = 1; mask < (1u << n); ++mask) {
    std::vector<int> s;
    for (size_t i = 0; i < n; ++i) {
      if (mask & (1u << i)) s.push_back(candidates[i]);
    }
    if (!valid(s)) continue;
    std::sort(s.begin(), s.end(), [&](int a, int b) { return rank(a) < rank(b); });
    std::vector<int> rs, rb;
    for (int u : s) rs.push_back(rank(u));
    for (int u : best) rb.push_back(rank(u));
    bool better = !found || (largest && s.size() != best.size() ? s.size() > best.size() : LexLess(rs, rb));
    if (better) {
      best = s;
      found = true;
    }
  }
  return best;
}

RResult Reference(const std::vector<RLine>& lines, std::vector<RDiscount> discounts, bool premier,
                  const std::vector<std::string>& clicked, const std::vector<std::string>& coupons,
                  int64_t shipping) {
  RResult r;
  for (int l = 0; l < static_cast<int>(lines.size()); ++l) {
    for (int i = 0; i < lines[l].quantity; ++i) r.units.push_back(RUnit{l, i, lines[l].price, "", "", 0});
  }
  std::sort(discounts.begin(), discounts.end(), [](const RDiscount& a, const RDiscount& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  std::vector<const RDiscount*> reserved;
  bool shipping_free = false;
  int nunits = static_cast<int>(r.units.size());
  for (const RDiscount& d : discounts) {
    if (d.premier_only && !premier) continue;
    if (d.click && std::find(clicked.begin(), clicked.end(), d.id) == clicked.end()) continue;
    if (!d.coupon.empty() && std::find(coupons.begin(), coupons.end(), d.coupon) == coupons.end()) continue;
    bool order_level = d.kind == v1::OFFER_KIND_FREE_SHIPPING || d.kind == v1::OFFER_KIND_SHIPPING_PERCENT_OFF ||
                       d.kind == v1::OFFER_KIND_ORDER_PERCENT_OFF || d.kind == v1::OFFER_KIND_ORDER_AMOUNT_OFF;
    bool ship = d.kind == v1::OFFER_KIND_FREE_SHIPPING || d.kind == v1::OFFER_KIND_SHIPPING_PERCENT_OFF;
    bool least = d.award_order == 2;
    auto awardable = [&](int u) {
      const RUnit& unit = r.units[u];
      if (order_level || !Eval(d.award_expr, lines[unit.line])) return false;
      if (unit.price <= 0) return false;
      return d.kind != v1::OFFER_KIND_FIXED_PRICE || unit.price > d.amount;
    };
    // Ranks: awards by price (desc, or asc), then line, then unit; conditions
    // first the units the award cannot use, then the reverse price order.
    auto award_rank = [&](int u) {
      const RUnit& x = r.units[u];
      int64_t p = least ? x.price : -x.price;
      int rank = 0;
      for (int v = 0; v < nunits; ++v) {
        const RUnit& y = r.units[v];
        int64_t q = least ? y.price : -y.price;
        if (std::tie(q, y.line, y.index) < std::tie(p, x.line, x.index)) ++rank;
      }
      return rank;
    };
    auto cond_rank = [&](int u) {
      const RUnit& x = r.units[u];
      int a = awardable(u);
      int64_t p = least ? -x.price : x.price;
      int rank = 0;
      for (int v = 0; v < nunits; ++v) {
        const RUnit& y = r.units[v];
        int b = awardable(v);
        int64_t q = least ? -y.price : y.price;
        if (std::tie(b, q, y.line, y.index) < std::tie(a, p, x.line, x.index)) ++rank;
      }
      return rank;
    };
    bool consuming = d.value_basis || d.min_quantity > 0;
    auto satisfy = [&]() -> std::vector<int> {
      std::vector<int> cands;
      for (int u = 0; u < nunits; ++u) {
        if (!Free(r.units[u]) || !Eval(d.cond_expr, lines[r.units[u].line])) continue;
        if (d.value_basis && r.units[u].price <= 0) continue;
        cands.push_back(u);
      }
      return BestSubset(cands, cond_rank, [&](const std::vector<int>& s) {
        if (!d.value_basis) return static_cast<int64_t>(s.size()) == d.min_quantity;
        int64_t sum = 0;
        for (int u : s) sum += r.units[u].price;
        return sum >= d.min_value;
      }, false);
    };
    if (!consuming && !d.cond_expr.empty()) {
      bool present = false;
      for (const RLine& l : lines) present |= l.quantity > 0 && Eval(d.cond_expr, l);
      if (!present) continue;
    }
    if (order_level) {
      if (ship && (shipping == 0 || shipping_free)) continue;
      if (consuming) {
        auto c = satisfy();
        if (c.empty()) continue;
        for (int u : c) r.units[u].discount = d.id, r.units[u].role = "condition";
      }
      if (d.kind == v1::OFFER_KIND_FREE_SHIPPING) shipping_free = true;
      reserved.push_back(&d);
      continue;
    }
    int64_t max_units = d.max_units <= 0 ? 1 : d.max_units;
    int64_t apps = 0;
    while (d.basket_limit == 0 || apps < d.basket_limit) {
      std::vector<int> c;
      if (consuming) {
        c = satisfy();
        if (c.empty()) break;
        for (int u : c) r.units[u].discount = d.id, r.units[u].role = "condition";
      }
      std::vector<int> cands;
      for (int u = 0; u < nunits; ++u) {
        if (Free(r.units[u]) && awardable(u)) cands.push_back(u);
      }
      auto a = BestSubset(cands, award_rank, [&](const std::vector<int>& s) {
        return static_cast<int64_t>(s.size()) <= max_units;
      }, true);
      if (a.empty()) {
        for (int u : c) r.units[u].discount.clear(), r.units[u].role.clear();
        break;
      }
      for (int u : a) r.units[u].discount = d.id, r.units[u].role = "award";
      ++apps;
    }
    // Amounts, per line.
    for (int l = 0; l < static_cast<int>(lines.size()); ++l) {
      std::vector<int> mine;
      for (int u = 0; u < nunits; ++u) {
        if (r.units[u].line == l && r.units[u].discount == d.id && r.units[u].role == "award") mine.push_back(u);
      }
      if (mine.empty()) continue;
      int64_t n = static_cast<int64_t>(mine.size()), price = lines[l].price;
      if (d.kind == v1::OFFER_KIND_PERCENT_OFF) {
        int64_t total = RoundHalfUp(price * n * d.bp, 10000);
        for (int64_t k = 0; k < n; ++k) r.units[mine[k]].amount = total / n + (k < total % n ? 1 : 0);
      } else {
        for (int u : mine) {
          r.units[u].amount = d.kind == v1::OFFER_KIND_AMOUNT_OFF ? std::min(d.amount, price) : price - d.amount;
        }
      }
    }
  }
  // Order level.
  r.order_share.assign(lines.size(), 0);
  r.shipping = shipping;
  for (const RDiscount* d : reserved) {
    std::vector<int64_t> weights(lines.size(), 0);
    int64_t subtotal = 0;
    for (const RUnit& u : r.units) weights[u.line] += u.price - u.amount;
    for (size_t l = 0; l < lines.size(); ++l) {
      weights[l] -= r.order_share[l];
      subtotal += weights[l];
    }
    RAdjustment adj;
    adj.id = d->id;
    if (d->kind == v1::OFFER_KIND_FREE_SHIPPING || d->kind == v1::OFFER_KIND_SHIPPING_PERCENT_OFF) {
      adj.target = "shipping";
      adj.amount = d->kind == v1::OFFER_KIND_FREE_SHIPPING ? r.shipping : RoundHalfUp(r.shipping * d->bp, 10000);
      if (adj.amount == 0) continue;
      r.shipping -= adj.amount;
    } else {
      adj.target = "subtotal";
      adj.amount = d->kind == v1::OFFER_KIND_ORDER_PERCENT_OFF ? RoundHalfUp(subtotal * d->bp, 10000)
                                                               : std::min(d->amount, subtotal);
      if (adj.amount == 0) continue;
      // Largest remainder, ties to the earlier line.
      adj.shares.assign(lines.size(), 0);
      std::vector<std::pair<int64_t, size_t>> rem;
      int64_t given = 0;
      for (size_t l = 0; l < lines.size(); ++l) {
        adj.shares[l] = adj.amount * weights[l] / subtotal;
        given += adj.shares[l];
        rem.emplace_back(adj.amount * weights[l] % subtotal, l);
      }
      std::stable_sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
      for (size_t k = 0; given < adj.amount; ++k, ++given) ++adj.shares[rem[k].second];
      for (size_t l = 0; l < lines.size(); ++l) r.order_share[l] += adj.shares[l];
    }
    r.adjustments.push_back(adj);
  }
  return r;
}

std::string Describe(const std::vector<RLine>& lines, const std::vector<RDiscount>& ds) {
  std::string s;
  for (const RLine& l : lines) {
    s += "line " + l.category + "/" + l.manufacturer + " " + std::to_string(l.price) + " x" + std::to_string(l.quantity) + "\n";
  }
  for (const RDiscount& d : ds) {
    s += d.id + " p" + std::to_string(d.priority) + " kind " + std::to_string(d.kind) + " bp " + std::to_string(d.bp) +
         " amt " + std::to_string(d.amount) + " cond[" + d.cond_expr + "] " + (d.value_basis ? "value " : "qty ") +
         std::to_string(d.value_basis ? d.min_value : d.min_quantity) + " award[" + d.award_expr + "] max " +
         std::to_string(d.max_units) + " limit " + std::to_string(d.basket_limit) + " order " +
         std::to_string(d.award_order) + (d.premier_only ? " premier" : "") + (d.click ? " click" : "") +
         (d.coupon.empty() ? "" : " coupon " + d.coupon) + "\n";
  }
  return s;
}

std::string ToText(const RDiscount& d) {
  std::string s = "items { id: \"" + d.id + "\" discount { priority: " + std::to_string(d.priority);
  if (d.value_basis || d.min_quantity > 0 || !d.cond_expr.empty()) {
    s += " condition { expression: \"" + d.cond_expr + "\"";
    if (d.value_basis) {
      s += " basis: CONDITION_BASIS_VALUE min_value_minor: " + std::to_string(d.min_value);
    } else {
      s += " min_quantity: " + std::to_string(d.min_quantity);
    }
    s += " }";
  }
  s += " award { expression: \"" + d.award_expr + "\" max_units: " + std::to_string(d.max_units) + " }";
  s += " basket_limit: " + std::to_string(d.basket_limit);
  s += " award_order: " + std::to_string(d.award_order);
  s += " offer { kind: " + std::to_string(d.kind);
  if (d.bp > 0 && d.kind != v1::OFFER_KIND_FREE_SHIPPING) s += " percent: " + std::to_string(d.bp / 100.0);
  if (d.amount > 0 || d.kind == v1::OFFER_KIND_FIXED_PRICE) s += " amount_minor: " + std::to_string(d.amount) + " currency: \"USD\"";
  s += " }";
  if (d.premier_only) s += " eligibility: \"has(user.premier) && user.premier\"";
  if (d.click) s += " click_required: true";
  if (!d.coupon.empty()) s += " coupon_codes: \"" + d.coupon + "\"";
  return s + " } }\n";
}

TEST_CASE("Random baskets: BasketPricer equals the exhaustive reference", "[discount][property]") {
  std::mt19937_64 rng(20260601);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<int64_t> prices = {0, 100, 250, 300, 999, 1500};
  const std::vector<int64_t> bps = {1000, 1250, 3333, 5000, 10000};
  const std::vector<int64_t> amounts = {50, 200, 1000};
  int compared = 0, with_items = 0, with_order = 0, with_conditions = 0;
  // One long-lived pricer whose snapshot is swapped every iteration: its
  // pooled per-call state (line storage, condition matrix, currency cache)
  // must never leak from one basket or snapshot into the next.
  std::unique_ptr<BasketPricer> shared;
  v1::PricedBasket reused;
  // The same pipeline with both indexes off: every discount checked for
  // eligibility, every expression evaluated on every line.
  v1::PipelineDefinition unindexed = DefaultBasketPipeline();
  for (auto& stage : *unindexed.mutable_stages()) {
    for (auto& component : *stage.mutable_components()) {
      if (component.name() == "CheckEligibility" || component.name() == "EvaluateConditions") {
        component.set_json_config(R"({"disableIndex": true})");
      }
    }
  }
  PricerConfig unindexed_config;
  unindexed_config.pipeline = &unindexed;
  for (int iter = 0; iter < 3000; ++iter) {
    // The basket: 1-3 lines, at most 7 units.
    std::vector<RLine> lines;
    int nlines = 1 + pick(3);
    int units = 0;
    for (int l = 0; l < nlines; ++l) {
      RLine line;
      line.category = std::string(1, static_cast<char>('a' + pick(3)));
      line.manufacturer = pick(3) == 0 ? "" : (pick(2) ? "M" : "N");
      line.price = prices[static_cast<size_t>(pick(static_cast<int>(prices.size())))];
      line.quantity = std::min(1 + pick(3), 7 - units);
      units += static_cast<int>(line.quantity);
      lines.push_back(line);
    }
    // The discounts: 1-4.
    std::vector<RDiscount> ds;
    int nd = 1 + pick(4);
    for (int k = 0; k < nd; ++k) {
      RDiscount d;
      d.id = std::string(1, static_cast<char>('p' + pick(8))) + std::to_string(k);
      d.priority = 1 + pick(3);
      d.kind = static_cast<v1::OfferKind>(1 + pick(7));
      if (pick(3) != 0 && d.kind != v1::OFFER_KIND_FREE_SHIPPING) d.kind = static_cast<v1::OfferKind>(1 + pick(3));
      switch (d.kind) {
        case v1::OFFER_KIND_PERCENT_OFF:
        case v1::OFFER_KIND_SHIPPING_PERCENT_OFF:
        case v1::OFFER_KIND_ORDER_PERCENT_OFF:
          d.bp = bps[static_cast<size_t>(pick(static_cast<int>(bps.size())))];
          break;
        case v1::OFFER_KIND_FREE_SHIPPING:
          break;
        default:
          d.amount = amounts[static_cast<size_t>(pick(static_cast<int>(amounts.size())))];
      }
      int c = pick(5);
      if (c == 1) {
        d.cond_expr = kExprs[static_cast<size_t>(1 + pick(6))];  // presence only
      } else if (c == 2 || c == 3) {
        d.cond_expr = kExprs[static_cast<size_t>(pick(7))];
        d.min_quantity = 1 + pick(2);
      } else if (c == 4) {
        d.cond_expr = kExprs[static_cast<size_t>(pick(7))];
        d.value_basis = true;
        d.min_value = pick(2) ? 200 : 500;
      }
      d.award_expr = kExprs[static_cast<size_t>(pick(7))];
      d.max_units = pick(3);
      d.basket_limit = pick(3);
      d.award_order = pick(3);
      d.premier_only = pick(5) == 0;
      d.click = pick(6) == 0;
      if (pick(6) == 0) d.coupon = "C" + std::to_string(k);
      ds.push_back(d);
    }
    std::sort(ds.begin(), ds.end(), [](auto& a, auto& b) { return a.id < b.id; });
    ds.erase(std::unique(ds.begin(), ds.end(), [](auto& a, auto& b) { return a.id == b.id; }), ds.end());
    std::shuffle(ds.begin(), ds.end(), rng);
    bool premier = pick(2);
    std::vector<std::string> clicked, coupons;
    for (const auto& d : ds) {
      if (pick(2)) clicked.push_back(d.id);
      if (!d.coupon.empty() && pick(2)) coupons.push_back(d.coupon);
    }
    int64_t shipping = pick(2) ? 500 : 0;

    std::string items;
    for (const auto& d : ds) items += ToText(d);
    auto catalog = CompileText(DiscountCatalogText(items));
    INFO(Describe(lines, ds));
    INFO(items);
    REQUIRE(catalog.ok());
    auto pricer = NewBasketPricer(*catalog);
    REQUIRE(pricer.ok());
    v1::Basket basket;
    basket.set_currency("USD");
    basket.set_shipping_minor(shipping);
    for (size_t l = 0; l < lines.size(); ++l) {
      v1::LineItem* item = testing::AddLine(&basket, "l" + std::to_string(l), lines[l].category, lines[l].price,
                                            lines[l].quantity, lines[l].manufacturer);
      (void)item;
    }
    if (premier) (*basket.mutable_user()->mutable_values())["premier"].set_bool_value(true);
    for (const auto& c : clicked) basket.add_clicked_items(c);
    for (const auto& c : coupons) basket.add_coupon_codes(c);
    PriceOptions options;
    options.now = Noon();
    options.explain = false;
    auto priced = (*pricer)->Price(basket, options);
    REQUIRE(priced.ok());
    if (shared == nullptr) {
      auto made = NewBasketPricer(*catalog);
      REQUIRE(made.ok());
      shared = std::move(*made);
    } else {
      REQUIRE(shared->SetCatalog(*catalog).ok());
    }
    REQUIRE(shared->PriceInto(basket, options, &reused).ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(reused, *priced));
    auto again = shared->Price(basket, options);
    REQUIRE(again.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*again, *priced));
    // With the explanation on, eligibility walks every discount instead of
    // those the relevance index picks for the lines: the prices are equal.
    PriceOptions explained = options;
    explained.explain = true;
    auto traced = (*pricer)->Price(basket, explained);
    REQUIRE(traced.ok());
    CHECK(traced->trace_size() > 0);
    traced->clear_trace();
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*traced, *priced));
    auto plain_pricer = NewBasketPricer(*catalog, unindexed_config);
    REQUIRE(plain_pricer.ok());
    auto plain = (*plain_pricer)->Price(basket, options);
    REQUIRE(plain.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*plain, *priced));
    RResult ref = Reference(lines, ds, premier, clicked, coupons, shipping);

    // Unit by unit.
    size_t u = 0;
    int64_t item_total = 0;
    for (size_t l = 0; l < lines.size(); ++l) {
      const v1::PricedLine& pl = priced->lines(static_cast<int>(l));
      REQUIRE(pl.units_size() == lines[l].quantity);
      int64_t line_sum = 0;
      for (const auto& unit : pl.units()) {
        const RUnit& ru = ref.units[u++];
        INFO("line " << l << " unit " << ru.index);
        REQUIRE(unit.discounts_size() <= 1);  // no unit serves two discounts
        std::string id = unit.discounts_size() ? unit.discounts(0).discount_id() : "";
        std::string role = unit.discounts_size() ? unit.discounts(0).role() : "";
        int64_t amount = unit.discounts_size() ? unit.discounts(0).amount_minor() : 0;
        CHECK(id == ru.discount);
        CHECK(role == ru.role);
        CHECK(amount == ru.amount);
        CHECK(unit.price_minor() >= 0);
        CHECK(unit.price_minor() == lines[l].price - amount);
        line_sum += amount;
      }
      CHECK(pl.discount_total_minor() == line_sum);
      CHECK(pl.order_discount_minor() == ref.order_share[l]);
      CHECK(pl.adjusted_total_minor() == pl.original_total_minor() - line_sum - pl.order_discount_minor());
      CHECK(pl.adjusted_total_minor() >= 0);
      item_total += line_sum;
    }
    REQUIRE(priced->order_adjustments_size() == static_cast<int>(ref.adjustments.size()));
    int64_t order_total = 0;
    for (size_t a = 0; a < ref.adjustments.size(); ++a) {
      const auto& got = priced->order_adjustments(static_cast<int>(a));
      CHECK(got.discount_id() == ref.adjustments[a].id);
      CHECK(got.target() == ref.adjustments[a].target);
      CHECK(got.amount_minor() == ref.adjustments[a].amount);
      if (got.target() == "subtotal") order_total += got.amount_minor();
    }
    CHECK(priced->item_discount_minor() == item_total);
    CHECK(priced->order_discount_minor() == order_total);
    CHECK(priced->shipping_minor() == ref.shipping);
    CHECK(priced->total_minor() == priced->subtotal_minor() - item_total - order_total + ref.shipping);
    CHECK(priced->total_minor() >= 0);
    ++compared;
    with_items += item_total > 0;
    with_order += !ref.adjustments.empty();
    bool cond = false;
    for (const RUnit& ru : ref.units) cond |= ru.role == "condition";
    with_conditions += cond;
  }
  CHECK(compared == 3000);
  // The generator reaches every kind of outcome often.
  INFO(with_items << " with item discounts, " << with_order << " with order adjustments, " << with_conditions
                  << " with condition units");
  CHECK(with_items > 1000);
  CHECK(with_order > 300);
  CHECK(with_conditions > 300);
  WARN(with_items << " baskets with item discounts, " << with_order << " with order adjustments, "
                  << with_conditions << " with condition units (of " << compared << ")");
}

}  // namespace
}  // namespace herald
