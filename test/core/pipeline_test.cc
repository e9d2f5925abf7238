#include <catch2/catch.hpp>

#include "google/protobuf/any.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/wrappers.pb.h"
#include "absl/strings/str_split.h"
#include "herald/builtins.h"
#include "herald/pipeline.h"
#include "herald/selection.h"

namespace herald {
namespace {

using google::protobuf::Int32Value;

// Appends a candidate whose item is the config's value; fails when the value is negative.
class Append : public SelectionComponent {
 public:
  explicit Append(int v) : v_(v) {}
  absl::Status Run(SelectionContext& ctx) const override {
    if (v_ < 0) return absl::UnavailableError("backend down");
    ctx.candidates.push_back(Candidate{static_cast<uint32_t>(v_), 1.0});
    if (ctx.trace) ctx.trace->Note("", "appended", "", v_);
    return absl::OkStatus();
  }

 private:
  int v_;
};

void RegisterTestComponents(Registry* registry) {
  REQUIRE(registry
              ->Register(MakeFactory<SelectionComponent, Int32Value>(
                  "Append", "appends a candidate",
                  [](const Int32Value& c, const CreateContext&)
                      -> absl::StatusOr<std::unique_ptr<SelectionComponent>> {
                    if (c.value() > 1000) return absl::InvalidArgumentError("value must be <= 1000");
                    return std::make_unique<Append>(c.value());
                  }))
              .ok());
}

std::vector<uint32_t> Items(const SelectionContext& ctx) {
  std::vector<uint32_t> out;
  for (const auto& c : ctx.candidates) out.push_back(c.item);
  return out;
}

TEST_CASE("A pipeline runs its components stage by stage with typed configs", "[pipeline]") {
  Registry registry;
  RegisterTestComponents(&registry);
  auto def = ParsePipelineDefinition(R"pb(
    name: "test" family: "selection"
    stages { name: "load_context"
             components { name: "Append" config { [type.googleapis.com/google.protobuf.Int32Value] { value: 1 } } } }
    stages { name: "score" components { name: "Append" label: "second" json_config: "7" } }
    stages { name: "format" components { name: "Append" disabled: true json_config: "9" } }
  )pb", "test.textproto");
  REQUIRE(def.ok());
  auto pipeline = Pipeline<SelectionContext>::Create(*def, CreateContext{&registry});
  REQUIRE(pipeline.ok());
  CHECK((*pipeline)->Components() ==
        std::vector<std::pair<std::string, std::string>>{{"load_context", "Append"},
                                                         {"score", "second"}});
  SelectionContext ctx;
  Trace trace;
  ctx.trace = &trace;
  REQUIRE((*pipeline)->Run(ctx).ok());
  CHECK(Items(ctx) == std::vector<uint32_t>{1, 7});
  int timings = 0;
  for (const auto& e : trace.entries()) timings += e.verdict == "timing";
  CHECK(timings == 2);
  CHECK_THAT(trace.ToText(), Catch::Contains("[score] second: appended 7"));
}

TEST_CASE("ERROR_POLICY_FAIL stops the run - CONTINUE records and goes on", "[pipeline]") {
  Registry registry;
  RegisterTestComponents(&registry);
  auto fail = ParsePipelineDefinition(R"pb(
    family: "selection"
    stages { name: "filter" components { name: "Append" label: "flaky" json_config: "-1" } }
    stages { name: "score" components { name: "Append" json_config: "3" } }
  )pb", "fail");
  REQUIRE(fail.ok());
  auto p1 = Pipeline<SelectionContext>::Create(*fail, CreateContext{&registry});
  REQUIRE(p1.ok());
  SelectionContext ctx;
  absl::Status s = (*p1)->Run(ctx);
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(s.message()) == "[filter] flaky: backend down");
  CHECK(ctx.candidates.empty());

  auto cont = *fail;
  cont.mutable_stages(0)->mutable_components(0)->set_on_error(v1::ERROR_POLICY_CONTINUE);
  auto p2 = Pipeline<SelectionContext>::Create(cont, CreateContext{&registry});
  REQUIRE(p2.ok());
  SelectionContext ctx2;
  Trace trace;
  ctx2.trace = &trace;
  REQUIRE((*p2)->Run(ctx2).ok());
  CHECK(Items(ctx2) == std::vector<uint32_t>{3});
  bool recorded = false;
  for (const auto& e : trace.entries()) recorded |= e.verdict == "error" && e.reason == "backend down";
  CHECK(recorded);
}

TEST_CASE("Broken pipeline definitions are refused with every error named", "[pipeline]") {
  Registry registry;
  RegisterTestComponents(&registry);
  auto def = ParsePipelineDefinition(R"pb(
    family: "selection"
    stages { name: "score" components { name: "Append" json_config: "1" } }
    stages { name: "filter" components { name: "Append" json_config: "1" } }
    stages { name: "sing" }
    stages { name: "select" components { name: "Apend" } components { } }
    stages { name: "record" components { name: "Append" json_config: "\"x\"" } }
    stages { name: "format" components { name: "Append" json_config: "5000" } }
  )pb", "broken.textproto");
  REQUIRE(def.ok());
  auto p = Pipeline<SelectionContext>::Create(*def, CreateContext{&registry}, "broken.textproto");
  REQUIRE(p.status().code() == absl::StatusCode::kInvalidArgument);
  std::string m(p.status().message());
  CHECK_THAT(m, Catch::Contains("broken.textproto: stage \"filter\": out of order"));
  CHECK_THAT(m, Catch::Contains("unknown stage \"sing\" for family selection; stages: load_context, filter"));
  CHECK_THAT(m, Catch::Contains("component \"Apend\": unknown selection \"Apend\"; known: Append"));
  CHECK_THAT(m, Catch::Contains("component \"#2\": name is required"));
  CHECK_THAT(m, Catch::Contains("stage \"record\" component \"Append\": json_config is not a valid google.protobuf.Int32Value"));
  CHECK_THAT(m, Catch::Contains("stage \"format\" component \"Append\": value must be <= 1000"));
}

TEST_CASE("Pipeline definitions: syntax errors carry file and line - family is checked", "[pipeline]") {
  auto bad = ParsePipelineDefinition("family: \"selection\"\nstages { name: \"filter\" \n", "p.textproto");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::StartsWith("p.textproto:3:"));
  auto no_family = ParsePipelineDefinition("name: \"x\"", "p.textproto");
  CHECK_THAT(std::string(no_family.status().message()), Catch::Contains("family is required"));
  auto wrong = ParsePipelineDefinition("family: \"billing\"", "p.textproto");
  CHECK_THAT(std::string(wrong.status().message()), Catch::Contains("unknown family \"billing\""));

  Registry registry;
  RegisterTestComponents(&registry);
  v1::PipelineDefinition basket;
  basket.set_family("basket");
  auto p = Pipeline<SelectionContext>::Create(basket, CreateContext{&registry}, "b");
  CHECK_THAT(std::string(p.status().message()),
             Catch::Contains("a \"basket\" pipeline cannot run as a \"selection\" pipeline"));
  auto missing = LoadPipelineDefinition("/nonexistent/pipeline.textproto");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
}

// A component that declares what it reads, writes and needs.
class Declared : public SelectionComponent {
 public:
  explicit Declared(ComponentContract contract) : contract_(std::move(contract)) {}
  ComponentContract Contract() const override { return contract_; }
  absl::Status Run(SelectionContext&) const override { return absl::OkStatus(); }

 private:
  ComponentContract contract_;
};

// "Declared" with config "r:a,b w:c s:store" style text in a StringValue.
void RegisterDeclared(Registry* registry) {
  REQUIRE(registry
              ->Register(MakeFactory<SelectionComponent, google::protobuf::StringValue>(
                  "Declared", "declares its contract",
                  [](const google::protobuf::StringValue& c, const CreateContext&)
                      -> absl::StatusOr<std::unique_ptr<SelectionComponent>> {
                    ComponentContract contract;
                    std::vector<std::string> parts = absl::StrSplit(c.value(), ' ', absl::SkipEmpty());
                    for (const std::string& part : parts) {
                      std::vector<std::string>* list = part.starts_with("r:")   ? &contract.reads
                                                       : part.starts_with("w:") ? &contract.writes
                                                                                : &contract.services;
                      std::vector<std::string> values = absl::StrSplit(part.substr(2), ',');
                      list->insert(list->end(), values.begin(), values.end());
                    }
                    return std::make_unique<Declared>(std::move(contract));
                  }))
              .ok());
}

TEST_CASE("Pipeline::Create checks what components read, write and need", "[pipeline][contract]") {
  Registry registry;
  RegisterDeclared(&registry);
  RegisterTestComponents(&registry);
  auto build = [&](const std::string& text, Store* store = nullptr) {
    auto def = ParsePipelineDefinition("family: \"selection\"\n" + text, "c.textproto");
    REQUIRE(def.ok());
    return Pipeline<SelectionContext>::Create(*def, CreateContext{&registry, "", store}, "c.textproto").status();
  };
  SECTION("in order: accepted; undeclared components are not checked") {
    CHECK(build(R"pb(
      stages { name: "load_context" components { name: "Declared" json_config: "\"w:ads\"" } }
      stages { name: "filter" components { name: "Append" json_config: "1" } }
      stages { name: "score" components { name: "Declared" json_config: "\"r:ads w:scores\"" } }
      stages { name: "select" components { name: "Declared" json_config: "\"r:ads,scores\"" } }
    )pb").ok());
  }
  SECTION("a fact nobody writes, and one written too late, are named") {
    absl::Status s = build(R"pb(
      stages { name: "score" components { name: "Declared" label: "scorer" json_config: "\"r:ads w:scores\"" } }
      stages { name: "select" components { name: "Declared" label: "picker" json_config: "\"r:history\"" }
                              components { name: "Declared" label: "late" json_config: "\"w:history\"" } }
    )pb");
    REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
    std::string m(s.message());
    CHECK_THAT(m, Catch::Contains("stage \"score\" component \"scorer\": reads \"ads\", which no earlier component writes"));
    CHECK_THAT(m, Catch::Contains("component \"picker\": reads \"history\", which no earlier component writes "
                                  "(\"late\" writes it, but runs after)"));
  }
  SECTION("a disabled writer does not count") {
    absl::Status s = build(R"pb(
      stages { name: "load_context" components { name: "Declared" disabled: true json_config: "\"w:ads\"" } }
      stages { name: "score" components { name: "Declared" json_config: "\"r:ads\"" } }
    )pb");
    CHECK_THAT(std::string(s.message()), Catch::Contains("reads \"ads\", which no earlier component writes"));
  }
  SECTION("after an undeclared component (a plugin, say) any fact may have been written") {
    CHECK(build(R"pb(
      stages { name: "load_context" components { name: "Append" json_config: "1" } }
      stages { name: "score" components { name: "Declared" json_config: "\"r:ads w:scores\"" } }
    )pb").ok());
    // ... but not before it.
    absl::Status s = build(R"pb(
      stages { name: "load_context" components { name: "Declared" label: "early" json_config: "\"r:ads\"" } }
      stages { name: "score" components { name: "Append" json_config: "1" } }
    )pb");
    CHECK_THAT(std::string(s.message()), Catch::Contains("component \"early\": reads \"ads\", which no earlier component writes"));
  }
  SECTION("services: a store must be lent, unknown services are refused") {
    absl::Status s = build(R"pb(
      stages { name: "record" components { name: "Declared" label: "recorder" json_config: "\"s:store\"" } }
      stages { name: "format" components { name: "Declared" label: "odd" json_config: "\"s:teleporter\"" } }
    )pb");
    std::string m(s.message());
    CHECK_THAT(m, Catch::Contains("component \"recorder\": needs a store, and the pipeline is built without one"));
    CHECK_THAT(m, Catch::Contains("component \"odd\": needs the service \"teleporter\", which pipelines do not know"));
  }
}

TEST_CASE("Every built-in component of every family declares its contract", "[pipeline][contract]") {
  // An undeclared component turns the check off for those after it, so a
  // built-in must never be one.
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  int checked = 0;
  for (std::string_view family : {"selection", "basket", "mail", "conversion"}) {
    for (const std::string& name : registry.Names(family)) {
      INFO(family << " " << name);
      auto factory = registry.Find(family, name);
      REQUIRE(factory.ok());
      auto config = (*factory)->CreateEmptyConfig();
      auto made = (*factory)->Create(*config, CreateContext{&registry});
      REQUIRE(made.ok());
      auto* component = dynamic_cast<const ComponentBase*>(made->get());
      REQUIRE(component != nullptr);
      CHECK(component->Contract().declared);
      ++checked;
    }
  }
  CHECK(checked >= 30);
}

TEST_CASE("The built-in pipelines build from the built-in components", "[pipeline]") {
  Registry registry;
  RegisterSelectionComponents(&registry);
  for (const v1::PipelineDefinition* def : {&DefaultAdvertisingPipeline(), &DefaultDiscountPipeline()}) {
    auto p = Pipeline<SelectionContext>::Create(*def, CreateContext{&registry});
    INFO(def->name());
    REQUIRE(p.ok());
    CHECK((*p)->Components().size() == (def->name() == "advertising" ? 11 : 12));
  }
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST_CASE("pipelines/*.textproto are the built-in definitions", "[pipeline]") {
  auto ads = LoadPipelineDefinition(std::string(HERALD_SOURCE_DIR) + "/pipelines/advertising.textproto");
  auto discounts = LoadPipelineDefinition(std::string(HERALD_SOURCE_DIR) + "/pipelines/discounts.textproto");
  REQUIRE(ads.ok());
  REQUIRE(discounts.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*ads, DefaultAdvertisingPipeline()));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*discounts, DefaultDiscountPipeline()));
}

}  // namespace
}  // namespace herald
