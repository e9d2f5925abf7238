// Every built-in selection component with a valid, an empty and an invalid config.
#include <catch2/catch.hpp>

#include "herald/builtins.h"
#include "herald/pipeline.h"
#include "herald/selection.h"

namespace herald {
namespace {

// The built-in pipeline that runs `name` (advertising, else discounts) with
// its config replaced by `json` (a component alone would mostly be refused:
// most read what the ones before them write).
absl::Status Build(const Registry& registry, const std::string& name, const std::string& json) {
  for (const v1::PipelineDefinition* builtin : {&DefaultAdvertisingPipeline(), &DefaultDiscountPipeline()}) {
    v1::PipelineDefinition def = *builtin;
    int found = 0;
    for (auto& stage : *def.mutable_stages()) {
      for (auto& c : *stage.mutable_components()) {
        if (c.name() != name) continue;
        c.set_json_config(json);
        ++found;
      }
    }
    if (found == 0) continue;
    REQUIRE(found == 1);
    return Pipeline<SelectionContext>::Create(def, CreateContext{&registry}, "config_test").status();
  }
  FAIL("no built-in pipeline runs " << name);
  return absl::OkStatus();
}

TEST_CASE("Built-in selection components accept valid and empty configs and refuse invalid ones",
          "[csf][config]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  struct Case {
    std::string name, valid, invalid, error;
  };
  std::vector<Case> cases = {
      {"LoadContext", R"({"maxCount": 5})", R"({"maxCount": -1})", "max_count must be >= 0"},
      {"LoadHistory", "{}", R"({"nope": 1})", "json_config is not a valid herald.v1.LoadHistoryConfig"},
      {"FilterContent", R"({"ignoreSize": true})", R"({"ignoreSize": [1]})", "not a valid herald.v1.FilterContentConfig"},
      {"ExposureLimit", "{}", R"({"limit": 3})", "not a valid herald.v1.ExposureLimitConfig"},
      {"NeedOfDelivery", R"({"gain": 10, "maxScore": 50})", R"({"gain": -2})", "gain and max_score must be >= 0"},
      {"DiscountPriority", R"({"step": 0.5})", R"({"step": -1})", "step must be >= 0"},
      {"DiscountEligibility", "{}", R"({"x": 1})", "not a valid herald.v1.DiscountEligibilityConfig"},
      {"HistoryPenalty", R"({"window": 5, "mostRecent": 0.3, "leastRecent": 0.8})", R"({"mostRecent": 1.5})", "multipliers within 0..1"},
      {"EvalTargetGroups", "{}", R"({"boost": 2})", "not a valid herald.v1.EvalTargetGroupsConfig"},
      {"SelectWinners", R"({"houseThreshold": 0.9, "excludeCompetitors": true})", R"({"houseThreshold": -1})", "house_threshold must be >= 0"},
      {"RecordHistory", R"({"historySize": 50})", R"({"historySize": -3})", "history_size must be >= 0"},
      {"RecordEvent", "{}", R"({"sink": "x"})", "not a valid herald.v1.RecordEventConfig"},
      {"FormatTemplate", R"({"clickRedirect": "/c/{{id}}"})", R"({"clickRedirect": 5})", "not a valid herald.v1.FormatTemplateConfig"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(Build(registry, c.name, c.valid).ok());
    CHECK(Build(registry, c.name, "").ok());  // empty config: the defaults
    absl::Status bad = Build(registry, c.name, c.invalid);
    CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(bad.message()), Catch::Contains(c.error));
    CHECK_THAT(std::string(bad.message()), Catch::Contains("component \"" + c.name + "\""));
  }
  // Every registered selection component is covered here.
  CHECK(registry.Names("selection").size() == cases.size());
}

}  // namespace
}  // namespace herald
