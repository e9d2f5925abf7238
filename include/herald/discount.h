// herald/discount.h: OrderDiscount, pricing a basket with the catalog's
// discounts.
//
// A storefront hands BasketPricer::Price() a v1::Basket (lines with product
// id, category, properties, unit price in minor units and quantity; the
// user's profile and context; the campaign items the user clicked; coupon
// codes; the time) and gets back a v1::PricedBasket: per line the adjusted
// total, the discount total and the discounts applied to each unit; the
// order-level adjustments (shipping, order subtotal) with how each is spread
// over the lines; and, when asked, an explanation trace of every discount
// considered, applied or skipped and why. docs/discounts.md gives the rules;
// in short:
//   * discounts apply in priority order, the smaller number first; equal
//     priorities by discount id (byte order), so the result never depends on
//     how the catalog was stored;
//   * each unit of quantity serves as a condition or an award of at most one
//     discount; a "buy anything" condition (min_quantity 0) consumes nothing;
//   * money is integer minor units; percent offers are exact basis points
//     rounded half up once per (discount, line); order-subtotal offers are
//     computed on the already discounted subtotal and spread over the lines
//     by largest remainder, so that units add up to lines and lines to the
//     order, to the cent.
//
// The work runs through a pipeline of family "basket" (herald/pipeline.h)
// whose built-in components are registered by RegisterDiscountComponents():
//   eligibility  CheckEligibility     schedule, requirement, click, coupon
//   conditions   EvaluateConditions   condition and award expressions per line
//   awards       ApplyDiscounts       units consumed in priority order
//   order_level  OrderLevelDiscounts  shipping and subtotal offers
//   totals       ComputeTotals        the priced basket and its invariants
// A site adds its own components (a custom order-level discount, say) through
// its Registry and a pipeline definition (pipelines/basket.textproto).
// The facts the built-ins read and write (ComponentContract, herald/pipeline.h):
//   CheckEligibility     writes "candidates"
//   EvaluateConditions   reads "candidates", writes "line_matches"
//   ApplyDiscounts       reads "line_matches", writes "unit_awards", "reserved"
//   OrderLevelDiscounts  reads "reserved", writes "order_adjustments"
//   ComputeTotals        writes "totals"
// so a definition that drops EvaluateConditions but keeps ApplyDiscounts is
// refused when the pricer is built, not at its first basket.
//
// Price() never changes anything: coupon usage limits are enforced when the
// order is committed, by Commit(), which redeems the priced basket's coupon
// codes through the Store atomically (all or none), so that concurrent
// checkouts cannot exceed a limit, and records the discounts the order got
// (the discounts report).
//
// Lifetime: a BasketPricer shares ownership of its catalog snapshot and owns
// its pipeline; it borrows the Registry and Store of its PricerConfig, which
// must outlive it. A PricedBasket owns its strings.
// Thread-safety: Price() and Commit() may be called from any number of
// threads at once; SetCatalog() swaps the snapshot without blocking them
// (calls already running finish on the snapshot they started with).
#ifndef HERALD_DISCOUNT_H_
#define HERALD_DISCOUNT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/families.h"
#include "herald/model/basket.pb.h"
#include "herald/model/pipeline.pb.h"
#include "herald/pipeline.h"
#include "herald/registry.h"

namespace herald {

class CompiledCatalog;
class Store;

namespace discount_internal {
struct BasketWork;
struct PreparedDiscounts;
}  // namespace discount_internal

// One line of the basket as the pipeline sees it. Amounts in minor units.
struct BasketLine {
  const v1::LineItem* item = nullptr;  // borrowed from the basket
  std::string_view id;                 // the item's id, or its index ("0", "1"...) when empty
  int64_t unit_price_minor = 0;
  int64_t quantity = 0;
  int64_t item_discount_minor = 0;     // sum of the unit discounts (awards stage)
  int64_t order_discount_minor = 0;    // share of order-subtotal discounts (order_level stage)

  int64_t original_total() const { return unit_price_minor * quantity; }
  int64_t adjusted_total() const {
    return original_total() - item_discount_minor - order_discount_minor;
  }
};

// The basket family's context: one Price() call.
struct BasketContext : PipelineContext {
  const v1::Basket* basket = nullptr;        // validated input
  const CompiledCatalog* catalog = nullptr;  // the snapshot being priced against
  absl::Time now;                            // basket.time, else the clock
  std::string_view currency;                 // ISO 4217 code of every amount
  int currency_digits = 2;                   // its minor-unit digits
  std::vector<BasketLine> lines;
  int64_t shipping_minor = 0;                // current shipping, after shipping discounts
  // Order-level discounts so far. A RepeatedPtrField, so that the pricer's
  // pooled one keeps its cleared adjustments (and their strings) for reuse.
  google::protobuf::RepeatedPtrField<v1::OrderAdjustment> order_adjustments;
  v1::PricedBasket* result = nullptr;        // written by the totals stage
  discount_internal::BasketWork* work = nullptr;  // built-in components' state (opaque)

  // The subtotal after item discounts and order discounts so far.
  int64_t DiscountedSubtotal() const;
  // Adds an order-subtotal discount of `amount_minor` (at most the discounted
  // subtotal: larger amounts are capped), spread over the lines in proportion
  // to their adjusted totals by largest remainder (ties: the earlier line).
  // Returns the amount applied. InvalidArgument for a negative amount.
  absl::StatusOr<int64_t> AddSubtotalDiscount(std::string_view discount_id, std::string_view name,
                                              v1::OfferKind kind, int64_t amount_minor,
                                              std::string_view coupon_code = {});
  // Takes up to `amount_minor` off the current shipping. Returns the amount applied.
  absl::StatusOr<int64_t> AddShippingDiscount(std::string_view discount_id, std::string_view name,
                                              v1::OfferKind kind, int64_t amount_minor,
                                              std::string_view coupon_code = {});
  // Adds a trace entry when tracing (no-op otherwise).
  void Note(std::string_view subject, std::string_view verdict, std::string_view reason,
            double value = 0);
};

template <>
struct FamilyOf<BasketContext> {
  static constexpr const FamilyInfo& kInfo = kBasketFamily;
};

using BasketComponent = Component<BasketContext>;

// Registers CheckEligibility, EvaluateConditions, ApplyDiscounts,
// OrderLevelDiscounts and ComputeTotals (configs in
// herald/model/discount_config.proto). Idempotent.
void RegisterDiscountComponents(Registry* registry);

// The built-in basket pipeline (also pipelines/basket.textproto).
const v1::PipelineDefinition& DefaultBasketPipeline();

struct PricerOptions {
  int64_t max_lines = 1000;        // lines one basket may have
  int64_t max_units = 100000;      // units (sum of quantities) one basket may have
};

// What a pricer is built from. Pointers are borrowed and must outlive it.
struct PricerConfig {
  PricerOptions options;
  const Registry* registry = nullptr;  // components; the built-ins are added on top; null = built-ins only
  Store* store = nullptr;              // committed orders and coupon redemptions (Commit)
  const v1::PipelineDefinition* pipeline = nullptr;  // null = DefaultBasketPipeline()
  std::string base_dir;                // relative paths in component configs
};

struct PriceOptions {
  absl::Time now = absl::InfinitePast();  // InfinitePast = basket.time, else the clock
  bool explain = true;                    // fill PricedBasket.trace
};

class BasketPricer {
 public:
  virtual ~BasketPricer() = default;

  // Prices `basket`. Bad input (unknown currency, a negative price, quantity
  // or shipping, a line in another currency, duplicate line ids, a property
  // of the wrong type, more lines or units than PricerOptions allows) is
  // InvalidArgument naming the line, and nothing is applied. The pricer's
  // working state is pooled, so a call allocates only the returned result
  // (its lines, units, unit discounts and their strings).
  virtual absl::StatusOr<v1::PricedBasket> Price(const v1::Basket& basket,
                                                 const PriceOptions& options = {}) const = 0;
  // Price() into `out`, which is cleared first. A caller that reuses one
  // PricedBasket per thread lets the pricer reuse its lines, units and
  // strings: the built-in totals stage overwrites them field by field, so
  // that a steady stream of baskets allocates nothing once warm (without a
  // trace) and copies only the strings that changed. Pass a result that
  // PriceInto wrote, or a new one: fields unknown to this version, parsed
  // into its lines, are not cleared. On error `out` is cleared.
  virtual absl::Status PriceInto(const v1::Basket& basket, const PriceOptions& options,
                                 v1::PricedBasket* out) const = 0;

  // Commits the order `priced` was priced for (basket.order_id): redeems its
  // coupon codes atomically with their usage limits and records the order
  // and what each discount did in it (CouponStore::CommitOrder; the
  // discounts report reads it), all or none. ResourceExhausted naming the
  // code whose limit is reached (nothing is recorded then: price again
  // without that code); InvalidArgument without an order id, or without a
  // customer id when a code has a per-customer limit. Without a store,
  // FailedPrecondition when there are coupons to redeem, else OK with
  // nothing recorded. Committing the same order again is a no-op.
  virtual absl::Status Commit(const v1::Basket& basket, const v1::PricedBasket& priced) const = 0;

  // Swaps in a new snapshot (its discounts are prepared first; on error the
  // old snapshot stays).
  virtual absl::Status SetCatalog(std::shared_ptr<const CompiledCatalog> catalog) = 0;
};

// A pricer over `catalog`. Fails with InvalidArgument naming the discount when
// a condition or award expression does not compile against the catalog's
// product schema (an unknown product field, say), or when the pipeline
// definition is invalid.
absl::StatusOr<std::unique_ptr<BasketPricer>> NewBasketPricer(
    std::shared_ptr<const CompiledCatalog> catalog, const PricerConfig& config = {});

// A priced basket as text: one block per line, the order adjustments, the
// totals and (with `with_trace`) the explanation. Amounts use the currency's
// decimal places ("19.99 USD").
std::string FormatPricedBasket(const v1::PricedBasket& priced, bool with_trace = true);

// "19.99" for 1999 with 2 digits; "500" with 0; "-0.05".
std::string FormatMinor(int64_t minor_units, int digits);

// The minor-unit digits of an ISO 4217 currency code (ICU's: 2 for "USD", 0
// for "JPY", 3 for "BHD"); -1 for a code that is not a known currency.
int CurrencyMinorDigits(std::string_view code);

}  // namespace herald

#endif  // HERALD_DISCOUNT_H_
