// Every built-in basket component with a valid, an empty and an invalid config.
#include <catch2/catch.hpp>

#include "herald/discount.h"
#include "herald/pipeline.h"

namespace herald {
namespace {

absl::Status Build(const Registry& registry, const std::string& stage_name, const std::string& name,
                   const std::string& json) {
  v1::PipelineDefinition def;
  def.set_family("basket");
  auto* stage = def.add_stages();
  stage->set_name(stage_name);
  auto* c = stage->add_components();
  c->set_name(name);
  c->set_json_config(json);
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
