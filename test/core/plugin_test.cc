#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <string_view>

#include "google/protobuf/util/json_util.h"

#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/plugin.h"
#include "herald/plugin_abi.h"
#include "herald/selection.h"

namespace herald {
namespace {

const std::string kScoreBoost = std::string(HERALD_PLUGIN_DIR) + "/herald_score_boost.so";
std::string TestPlugin(const std::string& name) {
  return std::string(HERALD_TEST_PLUGIN_DIR) + "/test_plugin_" + name + ".so";
}

TEST_CASE("A plugin .so is loaded and its component runs in a pipeline definition", "[plugin]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto info = LoadPlugin(kScoreBoost, &registry);
  REQUIRE(info.ok());
  CHECK(info->name == "score_boost");
  CHECK(info->components == std::vector<std::string>{"selection/ScoreBoost"});
  CHECK(registry.Find("selection", "ScoreBoost").ok());

  // A pipeline where only house ads compete, so the plugin decides the winner:
  // without it the draw is by weight; with a factor of 0 on every house ad but
  // one, that one always wins.
  v1::PipelineDefinition def = DefaultAdvertisingPipeline();
  auto* score = def.mutable_stages(3);
  REQUIRE(score->name() == "score");
  auto* boost = score->add_components();
  boost->set_name("ScoreBoost");
  boost->set_json_config(R"({"attribute":"type","value":"paid","factor":0})");
  auto* only = score->add_components();
  only->set_name("ScoreBoost");
  only->set_label("only-jackets");
  only->set_json_config(R"({"attribute":"name","value":"Tents","factor":0})");

  auto catalog = CompiledCatalog::Load(std::string(HERALD_SOURCE_DIR) +
                                       "/examples/storefront/catalog.textproto");
  REQUIRE(catalog.ok());
  SelectorConfig config;
  config.registry = &registry;
  config.advertising = &def;
  config.options.seed = 7;
  auto selector = NewContentSelector(*catalog, config);
  REQUIRE(selector.ok());
  SelectionRequest request;
  request.page_groups = {"Home"};
  request.size = "Banner";
  request.time = absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0), absl::UTCTimeZone());
  request.trace = true;
  request.record = false;
  for (int i = 0; i < 50; ++i) {
    auto result = (*selector)->Select(request);
    REQUIRE(result.ok());
    REQUIRE(result->winners.size() == 1);
    CHECK(result->winners[0].kind == "house");
    CHECK(result->winners[0].item_id != "house-tents");
    if (i == 0) {
      CHECK_THAT(result->trace.ToText(), Catch::Contains("only-jackets: house-tents filtered (score_boost: name is Tents)"));
    }
  }
}

// The component a registered factory makes from a JSON config.
std::unique_ptr<SelectionComponent> MakeComponent(const Registry& registry, const std::string& name,
                                                  const std::string& json) {
  auto factory = registry.Find("selection", name);
  REQUIRE(factory.ok());
  auto config = (*factory)->CreateEmptyConfig();
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, config.get()).ok());
  auto made = (*factory)->Create(*config, CreateContext{&registry});
  REQUIRE(made.ok());
  return std::unique_ptr<SelectionComponent>(static_cast<SelectionComponent*>(made->release()));
}

TEST_CASE("A plugin states its score bound, so pruning stays on; an older plugin's is unknown", "[plugin]") {
  Registry registry;
  REQUIRE(LoadPlugin(kScoreBoost, &registry).ok());
  SelectionContext ctx;
  auto boost = MakeComponent(registry, "ScoreBoost", R"({"attribute":"industry","value":"tents","factor":1.5})");
  CHECK(boost->MaxScoreMultiplier(ctx) == 1.5);
  auto damp = MakeComponent(registry, "ScoreBoost", R"({"attribute":"industry","value":"tents","factor":0.25})");
  CHECK(damp->MaxScoreMultiplier(ctx) == 1);  // only lowers: the untouched keep their score
  // A plugin whose struct_size ends before the field: loaded, and its bound
  // is unknown (infinity), whatever lies past its struct's end.
  auto old = LoadPlugin(TestPlugin("old_desc"), &registry);
  REQUIRE(old.ok());
  auto component = MakeComponent(registry, "OldComponent", "{}");
  CHECK(std::isinf(component->MaxScoreMultiplier(ctx)));
}

TEST_CASE("A plugin's config errors reach the pipeline builder", "[plugin]") {
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  REQUIRE(LoadPlugin(kScoreBoost, &registry).ok());
  v1::PipelineDefinition def;
  def.set_family("selection");
  auto* c = def.add_stages();
  c->set_name("score");
  auto* spec = c->add_components();
  spec->set_name("ScoreBoost");
  spec->set_json_config(R"({"value":"x"})");
  auto p = Pipeline<SelectionContext>::Create(def, CreateContext{&registry}, "p.textproto");
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(std::string(p.status().message()),
             Catch::Contains("\"attribute\" is required"));
}

TEST_CASE("Broken plugins give a clear status - never a crash", "[plugin]") {
  Registry registry;
  auto missing = LoadPlugin("/nonexistent/plugin.so", &registry);
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("/nonexistent/plugin.so: no such file"));

  std::string text = std::string(HERALD_BINARY_DIR) + "/not_a_plugin.so";
  std::ofstream(text) << "this is not an ELF file";
  auto garbage = LoadPlugin(text, &registry);
  CHECK(garbage.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(garbage.status().message()), Catch::Contains("cannot load"));

  auto no_entry = LoadPlugin(TestPlugin("no_entry"), &registry);
  CHECK(no_entry.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(no_entry.status().message()), Catch::Contains("no symbol herald_plugin_entry"));

  // The ABI is the hash of herald/plugin_abi.h: a plugin built against another
  // header, or before the hash existed, is refused before its entry point runs
  // (both test plugins abort in it).
  auto stale = LoadPlugin(TestPlugin("stale_abi"), &registry);
  CHECK(stale.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(stale.status().message()),
             Catch::Contains("built against plugin ABI 0123456789ab, this Herald's is " +
                             std::string(HERALD_PLUGIN_ABI_HASH).substr(0, 12)));
  auto unhashed = LoadPlugin(TestPlugin("no_abi_hash"), &registry);
  CHECK(unhashed.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(unhashed.status().message()),
             Catch::Contains("no symbol herald_plugin_abi_hash"));
  // The hash in the generated header is the header's own SHA-256 (64 hex digits).
  CHECK(std::string_view(HERALD_PLUGIN_ABI_HASH).size() == 64);

  auto wrong = LoadPlugin(TestPlugin("wrong_abi"), &registry);
  CHECK(wrong.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(wrong.status().message()),
             Catch::Contains("built for plugin ABI version 43, this Herald speaks version 2"));

  auto failing = LoadPlugin(TestPlugin("failing_register"), &registry);
  CHECK(failing.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(failing.status().message()), Catch::Contains("license file missing"));

  auto family = LoadPlugin(TestPlugin("bad_family"), &registry);
  REQUIRE_FALSE(family.ok());
  CHECK_THAT(std::string(family.status().message()),
             Catch::Contains("family \"teleport\" is not supported by plugin ABI version 2 in this build (supported: basket, conversion, destination, mail, selection)"));
  CHECK(registry.All().empty());  // nothing half-registered

  REQUIRE(LoadPlugin(kScoreBoost, &registry).ok());
  auto twice = LoadPlugin(kScoreBoost, &registry);
  CHECK(twice.status().code() == absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace herald
