// Test support: small discount catalogs and baskets built in code.
#ifndef HERALD_TEST_DISCOUNT_DISCOUNT_TEST_UTIL_H_
#define HERALD_TEST_DISCOUNT_DISCOUNT_TEST_UTIL_H_

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/discount.h"
#include "herald/model/basket.pb.h"

namespace herald::testing {

// A catalog whose one campaign (2020..2030, UTC) holds `items` (textproto of
// CampaignItem bodies: `items { id: "a" discount { ... } }`).
// Items without a name get their id as name.
inline std::string DiscountCatalogText(const std::string& items_text, const std::string& currency = "USD") {
  std::string items = std::regex_replace(items_text, std::regex(R"re(items \{ id: "([^"]*)")re"),
                                         "items { id: \"$1\" name: \"$1\"");
  return "name: \"t\" time_zone: \"UTC\" currency: \"" + currency + "\"\n"
         "user_attributes { name: \"premier\" type: VALUE_TYPE_BOOL }\n"
         "user_attributes { name: \"preferred\" type: VALUE_TYPE_BOOL }\n"
         "context_attributes { name: \"page\" type: VALUE_TYPE_STRING }\n"
         "product_attributes { name: \"manufacturer\" type: VALUE_TYPE_STRING }\n"
         "customers { id: \"c\" }\n"
         "campaigns { id: \"camp\" customer_id: \"c\" start: \"2020-01-01\" end: \"2030-12-31\"\n" +
         items + "}\n";
}

inline absl::StatusOr<std::shared_ptr<const CompiledCatalog>> CompileText(const std::string& text,
                                                                        bool check = true) {
  std::vector<CatalogIssue> issues;
  CatalogLoadOptions options;
  options.check_expressions = check;
  auto catalog = ParseCatalog(text, "test", false, &issues, options);
  if (!catalog.ok()) {
    std::string all(catalog.status().message());
    for (const auto& issue : issues) all += "\n" + issue.ToString();
    return absl::Status(catalog.status().code(), all);
  }
  return CompiledCatalog::Compile(*catalog);
}

inline absl::Time Noon() {
  return absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone());
}

inline v1::LineItem* AddLine(v1::Basket* basket, const std::string& id, const std::string& category,
                             int64_t price, int64_t quantity, const std::string& manufacturer = "") {
  v1::LineItem* item = basket->add_items();
  item->set_id(id);
  item->set_product_id(id);
  item->set_category(category);
  item->set_unit_price_minor(price);
  item->set_quantity(quantity);
  if (!manufacturer.empty()) (*item->mutable_properties())["manufacturer"].set_string_value(manufacturer);
  return item;
}

// "none", "award:<id>:<amount>", "condition:<id>" per unit of `line`.
inline std::vector<std::string> UnitSummary(const v1::PricedLine& line) {
  std::vector<std::string> out;
  for (const auto& unit : line.units()) {
    if (unit.discounts().empty()) {
      out.push_back("none");
    } else {
      const auto& d = unit.discounts(0);
      out.push_back(d.role() == "award" ? d.role() + ":" + d.discount_id() + ":" + std::to_string(d.amount_minor())
                                        : d.role() + ":" + d.discount_id());
    }
  }
  return out;
}

}  // namespace herald::testing

#endif  // HERALD_TEST_DISCOUNT_DISCOUNT_TEST_UTIL_H_
