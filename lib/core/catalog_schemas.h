// Internal: the expression schemas a catalog defines for each use.
//   Targeting (target groups, discount eligibility): user.*, context.*, now.
//   Discount conditions and awards: the built-ins (product.*, basket.*, now)
//   plus user.*, context.* and declared product.* attributes.
#ifndef HERALD_LIB_CORE_CATALOG_SCHEMAS_H_
#define HERALD_LIB_CORE_CATALOG_SCHEMAS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/campaign_cache.h"
#include "herald/expr.h"
#include "herald/model/catalog.pb.h"
#include "herald/model/common.pb.h"

namespace herald {

absl::StatusOr<TargetingSchema> BuildTargetingSchema(const v1::Catalog& catalog);

struct ProductSchema {
  expr::Schema schema;
  std::vector<std::pair<std::string, expr::Slot>> user, context, product;
  expr::Slot now, product_id, product_category, product_price, product_quantity;
  expr::Slot basket_subtotal, basket_currency, basket_item_count, basket_quantity;
};
absl::StatusOr<ProductSchema> BuildProductSchema(const v1::Catalog& catalog);

// Where the expression value of a list or map attribute keeps its elements
// between evaluations (reused: no allocation once its capacity is reached).
struct AttributeStorage {
  std::vector<std::string_view> strings;  // a string list's elements
  std::vector<expr::Value> entries;       // a map's keys and values
};

// Turns a profile value into an expression value. Strings are borrowed from
// `value`; a string list's or a map's elements are written into `storage`
// (which must outlive the evaluation).
expr::Value ToExprValue(const v1::Value& value, AttributeStorage* storage);

// Sets the activation's user/context slots from the profiles (absent
// attributes are unset). `lists` holds list and map storage between calls.
void FillProfileSlots(const std::vector<std::pair<std::string, expr::Slot>>& slots,
                      const v1::Profile* profile, expr::Activation* activation,
                      std::vector<AttributeStorage>* lists);

// Minor-unit digits of an ISO 4217 currency (2 by default; 0 for JPY, KRW...;
// 3 for BHD, KWD...). -1 for a code that is not a known currency.
int CurrencyDigits(std::string_view code);

}  // namespace herald

#endif  // HERALD_LIB_CORE_CATALOG_SCHEMAS_H_
