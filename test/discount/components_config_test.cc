// Every built-in basket component with a valid, an empty and an invalid config.
#include <catch2/catch.hpp>

#include "herald/discount.h"
#include "herald/pipeline.h"

namespace herald {
namespace {

// The built-in pipeline with `name`'s config replaced by `json` (a
// component alone would be refused: each reads what the one before writes).
absl::Status Build(const Registry& registry, const std::string& stage_name, const std::string& name,
                   const std::string& json) {
  v1::PipelineDefinition def = DefaultBasketPipeline();
  int found = 0;
  for (auto& stage : *def.mutable_stages()) {
    for (auto& c : *stage.mutable_components()) {
      if (stage.name() != stage_name || c.name() != name) continue;
      c.set_json_config(json);
      ++found;
    }
  }
  REQUIRE(found == 1);
  return Pipeline<BasketContext>::Create(def, CreateContext{&registry}, "config_test").status();
}

TEST_CASE("Built-in basket components accept valid and empty configs and refuse invalid ones",
          "[discount][config]") {
  Registry registry;
  RegisterDiscountComponents(&registry);
  struct Case {
    std::string stage, name, valid, invalid, error;
  };
  std::vector<Case> cases = {
      {"eligibility", "CheckEligibility", R"({"ignoreSchedule": true, "checkCouponLimits": true, "maxCouponCodes": 5, "disableIndex": true})",
       
       R"({"maxCouponCodes": -1})", "max_coupon_codes must be >= 0"},
      {"conditions", "EvaluateConditions", R"({"disableIndex": true})", R"({"disableIndex": "maybe"})",
       "not a valid herald.v1.EvaluateConditionsConfig"},
      {"awards", "ApplyDiscounts", R"({"defaultAwardOrder": "AWARD_ORDER_LEAST_EXPENSIVE_FIRST"})",
       R"({"defaultAwardOrder": 7})", "unknown default_award_order 7"},
      {"order_level", "OrderLevelDiscounts", R"({"skipShipping": true})", R"({"skipShipping": [1]})",
       "not a valid herald.v1.OrderLevelDiscountsConfig"},
      {"totals", "ComputeTotals", R"({"skipInvariantChecks": true})", R"({"checks": 1})",
       "not a valid herald.v1.ComputeTotalsConfig"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    absl::Status valid = Build(registry, c.stage, c.name, c.valid);
    INFO(valid.ToString());
    CHECK(valid.ok());
    CHECK(Build(registry, c.stage, c.name, "").ok());  // empty config: the defaults
    absl::Status bad = Build(registry, c.stage, c.name, c.invalid);
    CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(bad.message()), Catch::Contains(c.error));
    CHECK_THAT(std::string(bad.message()), Catch::Contains("component \"" + c.name + "\""));
  }
  CHECK(registry.Names("basket").size() == cases.size());
}

}  // namespace
}  // namespace herald
