// Internal: the catalog's discounts prepared for pricing (once per snapshot)
// and the per-call working state of the built-in basket components.
#ifndef HERALD_LIB_DISCOUNT_WORK_H_
#define HERALD_LIB_DISCOUNT_WORK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/catalog_schemas.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"
#include "herald/expr.h"
#include "core/string_map.h"

namespace herald::discount_internal {

// A distinct condition/award expression. A guard is a top-level conjunct
// `product.F == 'v'` or `product.F in ['v', ...]` on a string field: the
// expression can only be true on lines whose F is one of the values. When the
// guard is the whole expression (`exact`) no evaluation is needed.
struct PreparedProgram {
  expr::Program program;
  std::string source;
  int guard_field = -1;  // index into PreparedDiscounts::guard_fields; -1 = none
  bool exact = false;
  std::vector<std::string> guard_values;  // the guard's values, sorted and distinct
};

// What one value of a guard field admits.
struct GuardEntry {
  std::vector<uint32_t> programs;   // the programs guarded by F == the value
  // The discounts that can apply only when some line's F is the value (see
  // PreparedDiscounts::always), in increasing index order.
  std::vector<uint32_t> discounts;
};

// A string product field used by guards, and what each of its values admits.
struct GuardField {
  std::string path;             // "product.category"
  int builtin = 0;              // 1 = product.id, 2 = product.category, 0 = a property
  std::string property;         // the property name when builtin == 0
  int attribute = -1;           // its index in ProductSchema::product; -1 = not declared
  StringMap<GuardEntry> by_value;
};

// Field order matters: the scalars the awards stage reads for every
// candidate come first and share a cache line; names and strings follow.
struct PreparedDiscount {
  int cond_program = -1;           // -1 = any product
  int award_program = -1;          // -1 = any product
  v1::OfferKind kind = v1::OFFER_KIND_UNSPECIFIED;
  int award_order = 0;             // v1::AwardOrder as given (0 = the component's default)
  bool order_level = false;
  bool shipping = false;           // FREE_SHIPPING / SHIPPING_PERCENT_OFF
  bool value_basis = false;
  bool click_required = false;
  int32_t priority = 0;
  int64_t min_quantity = 0;
  int64_t min_value_minor = 0;
  int64_t max_units = 1;           // per application
  int64_t basket_limit = 0;        // 0 = unlimited
  int64_t basis_points = 0;        // percent kinds: percent * 100
  int64_t amount_minor = 0;        // amount kinds
  double offer_value = 0;          // for the output: percent or amount
  const CompiledItem* item = nullptr;
  std::string id, name;
  std::string offer_currency;      // amount kinds; empty = any
  std::vector<std::string> coupon_codes;
  int64_t max_uses = 0, max_uses_per_customer = 0;
};

// What the eligibility stage checks for one discount, kept apart from the
// rest (and from the much larger CompiledItem) so that the scan over every
// discount of the catalog stays in cache. Parallel to PreparedDiscounts::discounts.
struct DiscountGate {
  absl::Time start = absl::InfinitePast();  // schedule, inclusive
  absl::Time end = absl::InfiniteFuture();  // exclusive
  const CompiledSchedule* hours = nullptr;  // days and hours to check; null = all day
  const expr::Program* eligibility = nullptr;  // null = everyone
  bool click_required = false;
  bool needs_coupon = false;
  bool any_currency = true;                 // no offer currency to compare
  uint64_t currency_key = 0;                // the offer currency packed (CurrencyKey); 0 = compare strings
};

// Up to 8 bytes of a currency code packed into an integer, so that the
// eligibility scan compares codes without memcmp; 0 when longer than 8 bytes.
inline uint64_t CurrencyKey(std::string_view code) {
  if (code.empty() || code.size() > 8) return 0;
  uint64_t key = 0;
  for (char c : code) key = (key << 8) | static_cast<unsigned char>(c);
  return key;
}

// What the stages that walk every candidate read of a discount (its
// programs, whether it is order-level), packed apart from PreparedDiscount
// so that the walk over 1,000 of them stays in the first-level cache.
// Parallel to PreparedDiscounts::discounts.
struct DiscountShape {
  int32_t cond_program = -1;
  int32_t award_program = -1;
  bool order_level = false;
};

struct PreparedDiscounts {
  // Distinct for every Prepare in the process: what per-call state made for
  // one snapshot compares (a new snapshot may reuse a freed one's address).
  uint64_t generation = 0;
  std::shared_ptr<const CompiledCatalog> catalog;
  ProductSchema schema;
  std::vector<PreparedDiscount> discounts;   // sorted by (priority, id)
  std::vector<DiscountGate> gates;           // per discount
  std::vector<DiscountShape> shapes;         // per discount
  // Bit i set when discount i has more to check than its start and end and
  // a packed offer currency (days and hours, a click, a coupon, an
  // eligibility expression, a long currency code): the eligibility memo
  // (BasketWork::EligibilityMemo) admits it, and each call checks it.
  std::vector<uint64_t> rechecked;
  std::vector<PreparedProgram> programs;
  std::vector<GuardField> guard_fields;
  std::vector<uint32_t> unguarded;           // programs evaluated on every line
  // The relevance index. A discount applies only if its award (item
  // discounts) or its condition matches some line, so a discount whose award
  // or condition is guarded by `product.F == 'v'` is listed under its guard's
  // values in GuardField::discounts_by_value and considered only for baskets
  // with such a line; every other discount is in `always` (bit i set when
  // discount i is), and is considered for every basket.
  std::vector<uint64_t> always;
  std::vector<std::pair<std::string, expr::Type>> product_attributes;  // declared, schema order
  StringMap<uint32_t> discount_by_code;      // coupon code -> index into discounts
  StringMap<uint32_t> discount_by_id;        // item id -> index into discounts

  static absl::StatusOr<std::shared_ptr<const PreparedDiscounts>> Prepare(
      std::shared_ptr<const CompiledCatalog> catalog);

 private:
  void BuildRelevanceIndex();  // `always` and every GuardField::discounts_by_value
};

enum class Role : uint8_t { kNone = 0, kCondition = 1, kAward = 2 };

struct UnitState {
  int32_t discount = -1;   // index into PreparedDiscounts::discounts
  Role role = Role::kNone;
  int64_t amount = 0;      // award: what the unit got off
};

// Per-call state, pooled by the pricer and reused across calls.
struct BasketWork {
  // Fills line_entries for `lines` (once per call).
  void FindLineEntries(const std::vector<BasketLine>& lines);

  const PreparedDiscounts* prepared = nullptr;
  uint64_t prepared_generation = 0;          // the snapshot the activations were made for
  const PricerOptions* options = nullptr;
  class Store* store = nullptr;

  std::unique_ptr<expr::Activation> product_activation;
  std::unique_ptr<expr::Activation> targeting_activation;
  std::vector<AttributeStorage> user_lists, context_lists, product_lists;
  std::vector<std::string> index_names;      // "0", "1", ... for lines without ids
  std::vector<BasketLine> lines;             // BasketContext::lines' storage between calls
  google::protobuf::RepeatedPtrField<v1::OrderAdjustment> order_adjustments;  // ...and order_adjustments'
  // The lines of the result the last call wrote (PriceInto takes them from
  // its `out` before clearing it; ComputeTotals overwrites them in place).
  google::protobuf::RepeatedPtrField<v1::PricedLine> reusable_lines;
  std::vector<int64_t> spread_weights, spread_shares;  // AddSubtotalDiscount's scratch
  std::vector<std::pair<__int128, size_t>> spread_remainders;
  std::vector<std::pair<std::string_view, int>> line_ids;  // Validate: duplicate ids
  std::vector<uint64_t> line_id_hashes;
  std::string currency_code;                 // the last basket currency seen...
  int currency_digits = -1;                  // ...and its minor-unit digits (-1 = not ISO 4217)

  // The guard entry of each line's value of each guard field (null: no
  // value, or one no guard names): line_entries[f * lines + l]. Looked up
  // once per call, by the first stage that needs it (entries_ready).
  std::vector<const GuardEntry*> line_entries;
  bool entries_ready = false;
  size_t entries_lines = 0;                  // the line count they were found for

  // eligibility
  std::vector<uint64_t> relevant;            // bit per discount: the relevance index's pick
  // The discounts eligible at every time in [from, until) for one basket
  // currency, as far as start, end and offer currency go, plus the
  // `rechecked` ones: made by one CheckEligibility (owner) and reused while
  // the calls' times stay in the window, which ends at the next start or
  // end of any discount.
  struct EligibilityMemo {
    const void* owner = nullptr;
    uint64_t generation = 0;                 // PreparedDiscounts::generation
    uint64_t currency_key = 0;
    absl::Time from = absl::InfiniteFuture(), until = absl::InfinitePast();  // empty: not made
    std::vector<uint64_t> admitted;
  } eligibility_memo;
  std::vector<int32_t> coupon_of;            // per discount: index into basket.coupon_codes, -1;
                                             // set by whoever adds the discount to `candidates`
  std::vector<uint32_t> candidates;          // eligible discounts in priority order

  // conditions: bit l % 64 of truth[p * line_words + l / 64] is set when
  // program p is true on line l; any[p]: true on some line
  std::vector<uint64_t> truth;               // only touched programs' rows are non-zero
  size_t line_words = 0;                     // words per program row, for this call's lines
  std::vector<uint8_t> any;
  std::vector<uint8_t> needed;               // per program: some candidate uses it
  std::vector<std::vector<uint32_t>> lines_of;  // per program: lines where true, by unit price desc, then index
  std::vector<uint32_t> touched_programs;    // programs whose lines_of is not empty
  size_t line_count = 0;

  // awards
  std::vector<uint32_t> desc_order;          // lines by unit price desc, then index (conditions stage)
  std::vector<int64_t> next_free;            // per line: first unconsumed unit index
  std::vector<uint32_t> unit_offset;         // per line: index of its first unit in units
  std::vector<UnitState> units;
  std::vector<uint64_t> free_lines;          // bit l set while line l has a unit serving no discount
  std::vector<uint32_t> reserved;            // order-level discounts whose condition was met, in order
  std::vector<int64_t> applications;         // per discount; set for this call's candidates only
  bool awards_done = false;                  // ApplyDiscounts ran
  // scratch lists for one discount
  std::vector<uint32_t> cond_only, cond_both, award_lines, touched, ordered;
  std::vector<std::pair<uint32_t, int64_t>> taken;

  bool Truth(int program, size_t line) const {
    return program < 0 || ((truth[static_cast<size_t>(program) * line_words + line / 64] >> (line % 64)) & 1) != 0;
  }
  // Whether a line `program` is true on (any line for -1) still has a free
  // unit: a word-wise test, so that the many discounts that come after
  // their lines are taken are passed over without walking the lines.
  bool AnyFree(int program) const {
    const uint64_t* row = program < 0 ? nullptr : &truth[static_cast<size_t>(program) * line_words];
    for (size_t k = 0; k < line_words; ++k) {
      if ((row == nullptr ? free_lines[k] : row[k] & free_lines[k]) != 0) return true;
    }
    return false;
  }
  bool Any(int program) const { return program < 0 || any[static_cast<size_t>(program)] != 0; }
};

// Round half up of a * b / c for non-negative a, b and positive c.
int64_t MulDivRoundHalfUp(int64_t a, int64_t b, int64_t c);

// The lines' shares of `amount` in proportion to `weights` (largest
// remainder; ties: the earlier line). Requires 0 <= amount <= sum(weights).
// `remainders` is scratch space.
void SpreadByLargestRemainder(int64_t amount, const std::vector<int64_t>& weights, std::vector<int64_t>* shares,
                              std::vector<std::pair<__int128, size_t>>* remainders);

}  // namespace herald::discount_internal

#endif  // HERALD_LIB_DISCOUNT_WORK_H_
