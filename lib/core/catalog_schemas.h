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

// Turns a profile value into an expression value. Strings are borrowed from
// `value`; a string list is written into `list_storage` (which must outlive
// the evaluation). `digits` is the currency's minor-unit digits for money.
expr::Value ToExprValue(const v1::Value& value, std::vector<std::string_view>* list_storage);

// Sets the activation's user/context slots from the profiles (absent
// attributes are unset). `lists` holds string-list storage between calls.
void FillProfileSlots(const std::vector<std::pair<std::string, expr::Slot>>& slots,
                      const v1::Profile* profile, expr::Activation* activation,
                      std::vector<std::vector<std::string_view>>* lists);

// Minor-unit digits of an ISO 4217 currency (2 by default; 0 for JPY, KRW...;
// 3 for BHD, KWD...). -1 for a code that is not a known currency.
int CurrencyDigits(std::string_view code);

}  // namespace herald

#endif  // HERALD_LIB_CORE_CATALOG_SCHEMAS_H_
