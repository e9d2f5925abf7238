// The discount-usage and conversions reports: orders committed by the pricer
// and responses captured, read back from memory and SQLite stores.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "discount/discount_test_util.h"
#include "herald/discount.h"
#include "herald/registry.h"
#include "herald/report.h"
#include "herald/store.h"

#define HERALD_REQUIRE_OK(expr)                   \
  do {                                            \
    absl::Status status_ = (expr);                \
    INFO(status_.ToString());                     \
    REQUIRE(status_.ok());                        \
  } while (0)

namespace herald {
namespace {

using testing::AddLine;
using testing::CompileText;
using testing::DiscountCatalogText;
using testing::Noon;

// A 10% discount on category "x" (one unit per application, as many
// applications as units), $10 off orders with the code SAVE10, and a
// discount no basket below can get.
constexpr char kDiscounts[] = R"(
  items { id: "tenpct" discount { award { expression: "product.category == 'x'" }
    offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } }
  items { id: "save10" discount { coupon_codes: "SAVE10"
    offer { kind: OFFER_KIND_ORDER_AMOUNT_OFF amount_minor: 1000 currency: "USD" } } }
  items { id: "never" discount { award { expression: "product.category == 'nothing'" }
    offer { kind: OFFER_KIND_PERCENT_OFF percent: 50 } } })";

v1::Basket Order(const std::string& id, int x_units, bool coupon, absl::Time t) {
  v1::Basket basket;
  basket.set_currency("USD");
  basket.set_order_id(id);
  basket.set_customer_id("alice");
  if (coupon) basket.add_coupon_codes("SAVE10");
  basket.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
  AddLine(&basket, "x", "x", 5000, x_units);
  AddLine(&basket, "y", "y", 2000, 1);
  return basket;
}

// The discounts of a priced basket as the pricer's output says, counted
// here independently of the pricer's Commit: units awarded and amount.
std::map<std::string, std::pair<int64_t, int64_t>> FromPriced(const v1::PricedBasket& priced) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  for (const auto& line : priced.lines()) {
    for (const auto& unit : line.units()) {
      for (const auto& d : unit.discounts()) {
        if (d.role() != "award") continue;
        out[d.discount_id()].first += 1;
        out[d.discount_id()].second += d.amount_minor();
      }
    }
  }
  for (const auto& adj : priced.order_adjustments()) out[adj.discount_id()].second += adj.amount_minor();
  return out;
}

const ReportCell& Cell(const ReportTable& table, size_t row, std::string_view key) {
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (table.columns[c].key == key) return table.rows.at(row).at(c);
  }
  FAIL("no column " << key);
  static ReportCell none;
  return none;
}

int64_t Int(const ReportCell& c) { return std::get<int64_t>(c); }

void CommitAndReport(Store& store) {
  auto catalog = CompileText(DiscountCatalogText(kDiscounts));
  REQUIRE(catalog.ok());
  PricerConfig config;
  config.store = &store;
  auto pricer = NewBasketPricer(*catalog, config);
  REQUIRE(pricer.ok());
  PriceOptions options;
  options.now = Noon();
  options.explain = false;

  // Three orders on June 1st: two with the code, one with none of the
  // discounts; and one on June 3rd, outside the report's range.
  std::map<std::string, std::pair<int64_t, int64_t>> expected;  // discount -> units, amount
  int64_t subtotal = 0;
  int orders_with_tenpct = 0;
  for (const auto& [id, units, coupon, t] :
       {std::tuple{"o1", 3, true, Noon()}, std::tuple{"o2", 1, false, Noon() + absl::Hours(1)},
        std::tuple{"o3", 0, false, Noon() + absl::Hours(2)}, std::tuple{"o4", 2, true, Noon() + absl::Hours(48)}}) {
    v1::Basket basket = Order(id, units, coupon, t);
    if (units == 0) basket.mutable_items()->DeleteSubrange(0, 1);
    auto priced = (*pricer)->Price(basket, options);
    REQUIRE(priced.ok());
    HERALD_REQUIRE_OK((*pricer)->Commit(basket, *priced));
    HERALD_REQUIRE_OK((*pricer)->Commit(basket, *priced));  // a retry: recorded once
    if (t >= Noon() + absl::Hours(24)) continue;
    subtotal += priced->subtotal_minor();
    for (const auto& [discount, use] : FromPriced(*priced)) {
      expected[discount].first += use.first;
      expected[discount].second += use.second;
      if (discount == "tenpct") ++orders_with_tenpct;
    }
  }
  // What the pricer gave, by the rules: 10% of $50 per x unit, $10 per code.
  REQUIRE(expected["tenpct"] == std::pair<int64_t, int64_t>{4, 2000});
  REQUIRE(expected["save10"] == std::pair<int64_t, int64_t>{0, 1000});
  CHECK(orders_with_tenpct == 2);

  // The store holds each order once.
  auto totals = store.coupons().CountOrders(Noon() - absl::Hours(1), Noon() + absl::Hours(24));
  REQUIRE(totals.ok());
  REQUIRE(totals->size() == 1);
  CHECK((*totals)[0].currency == "USD");
  CHECK((*totals)[0].orders == 3);
  CHECK((*totals)[0].subtotal_minor == subtotal);
  CHECK(*store.coupons().CouponUses("SAVE10") == 2);

  ReportOptions ro;
  ro.catalog = &(*catalog)->catalog();
  ro.from = Noon() - absl::Hours(12);
  ro.to = Noon() + absl::Hours(12);
  auto table = RunReport("discount-usage", store, ro);
  REQUIRE(table.ok());
  CHECK(table->title == "Discount Usage");
  CHECK(table->subtitle.find("orders committed: 3 in USD") != std::string::npos);
  REQUIRE(table->rows.size() == 3);  // every discount of the catalog, in its order
  CHECK(std::get<std::string>(Cell(*table, 0, "discount")) == "tenpct");
  CHECK(std::get<std::string>(Cell(*table, 0, "campaign")) == "camp");
  CHECK(Int(Cell(*table, 0, "orders")) == 2);
  CHECK(std::get<double>(Cell(*table, 0, "order_share")) == Approx(200.0 / 3));
  CHECK(Int(Cell(*table, 0, "units")) == 4);
  CHECK(std::get<std::string>(Cell(*table, 0, "amount")) == "20.00");
  CHECK(std::get<std::string>(Cell(*table, 0, "currency")) == "USD");
  CHECK(std::get<std::string>(Cell(*table, 1, "discount")) == "save10");
  CHECK(Int(Cell(*table, 1, "orders")) == 1);
  CHECK(Int(Cell(*table, 1, "units")) == 0);
  CHECK(std::get<std::string>(Cell(*table, 1, "amount")) == "10.00");
  CHECK(std::get<std::string>(Cell(*table, 2, "discount")) == "never");
  CHECK(Int(Cell(*table, 2, "orders")) == 0);
  CHECK(std::holds_alternative<std::monostate>(Cell(*table, 2, "amount")));

  // The whole range takes in the June 3rd order.
  ro.from = absl::InfinitePast();
  ro.to = absl::InfiniteFuture();
  table = RunReport("discount-usage", store, ro);
  REQUIRE(table.ok());
  CHECK(Int(Cell(*table, 0, "orders")) == 3);
  CHECK(Int(Cell(*table, 0, "units")) == 6);
  CHECK(Int(Cell(*table, 1, "orders")) == 2);
  // The CSV has the same figures.
  CHECK(RenderCsv(*table).find("camp,tenpct,0,0,,3,75.00,6,30.00,USD") != std::string::npos);
}

TEST_CASE("Commit records each order's discounts once - the discount-usage report counts them (memory)",
          "[report][discount]") {
  auto store = NewMemoryStore();
  CommitAndReport(*store);
}

TEST_CASE("Commit records each order's discounts once - the discount-usage report counts them (SQLite)",
          "[report][discount]") {
  const std::string path = std::filesystem::temp_directory_path() / ("herald-commerce-" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(path);
  Registry registry;
  {
    auto store = OpenStore(path, registry);
    REQUIRE(store.ok());
    CommitAndReport(**store);
  }
  // A report reads a store it may not change.
  OpenStoreOptions read_only;
  read_only.read_only = true;
  auto store = OpenStore(path, registry, read_only);
  REQUIRE(store.ok());
  auto table = RunReport("discount-usage", **store, ReportOptions{});
  REQUIRE(table.ok());
  REQUIRE(table->rows.size() == 2);  // without a catalog: the discounts the orders had, by id
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

TEST_CASE("Commit without an order id or store", "[report][discount]") {
  auto catalog = CompileText(DiscountCatalogText(kDiscounts));
  REQUIRE(catalog.ok());
  auto store = NewMemoryStore();
  PricerConfig config;
  config.store = store.get();
  auto pricer = NewBasketPricer(*catalog, config);
  REQUIRE(pricer.ok());
  v1::Basket basket = Order("", 1, false, Noon());
  auto priced = (*pricer)->Price(basket);
  REQUIRE(priced.ok());
  absl::Status s = (*pricer)->Commit(basket, *priced);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message() == "basket: committing an order needs an order_id");
  // Without a store there is nowhere to record: OK when no coupon needs enforcing.
  auto storeless = NewBasketPricer(*catalog);
  REQUIRE(storeless.ok());
  HERALD_REQUIRE_OK((*storeless)->Commit(basket, *priced));
}

v1::InteractionRecord Response(const std::string& action, const std::string& channel, v1::Outcome outcome,
                               int64_t value_minor, const std::string& currency, absl::Time t) {
  v1::InteractionRecord r;
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name(action);
  r.set_channel(channel);
  r.set_outcome(outcome);
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
  if (value_minor != 0) {
    r.mutable_value()->set_minor_units(value_minor);
    r.mutable_value()->set_currency(currency);
  }
  r.mutable_subject()->set_email("someone@example.com");
  return r;
}

TEST_CASE("The conversions report: responses per action and channel, each destination's done and waiting",
          "[report][conversion]") {
  auto store = NewMemoryStore();
  v1::Catalog catalog;
  auto* platinum = catalog.add_actions();
  platinum->set_issue("Sales");
  platinum->set_group("Cards");
  platinum->set_name("Platinum");
  platinum->set_paid_sync_enabled(true);
  auto* gold = catalog.add_actions();  // captured, never sent to the platforms
  gold->set_issue("Sales");
  gold->set_group("Cards");
  gold->set_name("Gold");

  const absl::Time t = Noon();
  std::vector<int64_t> seq;
  for (const v1::InteractionRecord& r :
       {Response("Platinum", "Web", v1::OUTCOME_ACCEPTED, 1000, "USD", t),
        Response("Platinum", "Web", v1::OUTCOME_ACCEPTED, 2500, "USD", t + absl::Minutes(1)),
        Response("Platinum", "Web", v1::OUTCOME_REJECTED, 0, "", t + absl::Minutes(2)),
        Response("Platinum", "Web", v1::OUTCOME_ACCEPTED, 700, "EUR", t + absl::Minutes(3)),
        Response("Platinum", "Email", v1::OUTCOME_CLICKED, 0, "", t + absl::Minutes(4)),
        Response("Gold", "Web", v1::OUTCOME_ACCEPTED, 300, "USD", t + absl::Minutes(5)),
        Response("Unknown", "Web", v1::OUTCOME_IMPRESSION, 0, "", t + absl::Minutes(6)),
        Response("Platinum", "Web", v1::OUTCOME_ACCEPTED, 9900, "USD", t + absl::Hours(30))}) {
    auto s = store->interactions().AppendInteraction(r);
    REQUIRE(s.ok());
    seq.push_back(*s);
  }
  // Meta has finished the first two accepted ones; Google none.
  HERALD_REQUIRE_OK(store->watermarks().SetWatermark("meta", seq[2]));
  HERALD_REQUIRE_OK(store->watermarks().SetWatermark("google", 0));

  ReportOptions ro;
  ro.catalog = &catalog;
  ro.from = t - absl::Hours(1);
  ro.to = t + absl::Hours(24);
  auto table = RunReport("conversions", *store, ro);
  REQUIRE(table.ok());
  std::vector<std::string> keys;
  for (const ReportColumn& c : table->columns) keys.push_back(c.key);
  CHECK(keys == std::vector<std::string>{"action", "channel", "exported", "responses", "accepted", "rejected",
                                         "clicked", "impressions", "other", "accept_rate", "value", "currency",
                                         "done:google", "waiting:google", "done:meta", "waiting:meta"});
  // Sorted by action and channel; Platinum/Web's EUR value on a row of its own.
  REQUIRE(table->rows.size() == 5);
  CHECK(std::get<std::string>(Cell(*table, 0, "action")) == "Sales / Cards / Gold");
  CHECK(std::get<std::string>(Cell(*table, 0, "exported")) == "no");
  CHECK(Int(Cell(*table, 0, "accepted")) == 1);
  CHECK(std::holds_alternative<std::monostate>(Cell(*table, 0, "done:meta")));
  CHECK(std::get<std::string>(Cell(*table, 1, "channel")) == "Email");
  CHECK(Int(Cell(*table, 1, "clicked")) == 1);
  CHECK(Int(Cell(*table, 1, "done:meta")) == 0);
  CHECK(std::get<std::string>(Cell(*table, 2, "channel")) == "Web");
  CHECK(Int(Cell(*table, 2, "responses")) == 4);
  CHECK(Int(Cell(*table, 2, "accepted")) == 3);
  CHECK(Int(Cell(*table, 2, "rejected")) == 1);
  CHECK(std::get<double>(Cell(*table, 2, "accept_rate")) == Approx(75.0));
  CHECK(std::get<std::string>(Cell(*table, 2, "currency")) == "EUR");
  CHECK(std::get<std::string>(Cell(*table, 2, "value")) == "7.00");
  CHECK(Int(Cell(*table, 2, "done:meta")) == 2);
  CHECK(Int(Cell(*table, 2, "waiting:meta")) == 1);
  CHECK(Int(Cell(*table, 2, "done:google")) == 0);
  CHECK(Int(Cell(*table, 2, "waiting:google")) == 3);
  CHECK(std::get<std::string>(Cell(*table, 3, "currency")) == "USD");
  CHECK(std::get<std::string>(Cell(*table, 3, "value")) == "35.00");
  CHECK(std::holds_alternative<std::monostate>(Cell(*table, 3, "responses")));
  CHECK(std::get<std::string>(Cell(*table, 4, "exported")) == "not in the catalog");
  CHECK(Int(Cell(*table, 4, "impressions")) == 1);
}

TEST_CASE("Reports of orders and responses need the Store, not its events alone", "[report]") {
  auto store = NewMemoryStore();
  for (const char* name : {"discount-usage", "conversions"}) {
    auto table = RunReport(name, store->events(), ReportOptions{});
    CHECK(table.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(RunReport(name, *store, ReportOptions{}).ok());
  }
  bool listed = false;
  for (const ReportInfo& info : ReportNames()) listed |= info.name == "conversions";
  CHECK(listed);
}

}  // namespace
}  // namespace herald
