#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "google/protobuf/empty.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "herald/builtins.h"
#include "herald/registry.h"
#include "herald/selection.h"

namespace herald {
namespace {

// A non-pipeline extension point, as a third party would declare one.
class Greeter : public Extension {
 public:
  virtual std::string Greet() const = 0;
};

}  // namespace

template <>
struct ExtensionTraits<Greeter> {
  static constexpr std::string_view kFamily = "greeter";
};

namespace {

class Hello : public Greeter {
 public:
  explicit Hello(std::string who) : who_(std::move(who)) {}
  std::string Greet() const override { return "hello " + who_; }

 private:
  std::string who_;
};

std::unique_ptr<FactoryBase> HelloFactory(std::string name = "hello") {
  return MakeFactory<Greeter, google::protobuf::StringValue>(
      std::move(name), "says hello",
      [](const google::protobuf::StringValue& config,
         const CreateContext&) -> absl::StatusOr<std::unique_ptr<Greeter>> {
        if (config.value().empty()) return absl::InvalidArgumentError("value is required");
        return std::make_unique<Hello>(config.value());
      });
}

TEST_CASE("Registry registers - finds and creates typed extensions", "[registry]") {
  Registry registry;
  REQUIRE(registry.Register(HelloFactory()).ok());
  auto factory = registry.Find("greeter", "hello");
  REQUIRE(factory.ok());
  CHECK((*factory)->name() == "hello");
  CHECK((*factory)->family() == "greeter");
  CHECK((*factory)->CreateEmptyConfig()->GetDescriptor()->full_name() ==
        "google.protobuf.StringValue");

  google::protobuf::StringValue config;
  config.set_value("world");
  auto greeter = registry.Create<Greeter>("hello", config, CreateContext{&registry});
  REQUIRE(greeter.ok());
  CHECK((*greeter)->Greet() == "hello world");
}

TEST_CASE("Registry refuses duplicates with AlreadyExists", "[registry]") {
  Registry registry;
  REQUIRE(registry.Register(HelloFactory()).ok());
  absl::Status again = registry.Register(HelloFactory());
  CHECK(again.code() == absl::StatusCode::kAlreadyExists);
  CHECK_THAT(std::string(again.message()), Catch::Contains("greeter \"hello\""));
  CHECK_FALSE(registry.RegisterIfAbsent(HelloFactory()));
  CHECK(registry.Register(nullptr).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Unknown names give NotFound naming the name and the known ones", "[registry]") {
  Registry registry;
  REQUIRE(registry.Register(HelloFactory("hello")).ok());
  REQUIRE(registry.Register(HelloFactory("bonjour")).ok());
  auto missing = registry.Find("greeter", "hola");
  REQUIRE(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.status().message()) ==
        "unknown greeter \"hola\"; known: bonjour, hello");
  auto no_family = registry.Find("transport", "smtp");
  CHECK(no_family.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(no_family.status().message()), Catch::Contains("no transport is registered"));
}

TEST_CASE("A config of the wrong type is refused", "[registry]") {
  Registry registry;
  REQUIRE(registry.Register(HelloFactory()).ok());
  google::protobuf::Empty wrong;
  auto made = registry.Create<Greeter>("hello", wrong, CreateContext{&registry});
  REQUIRE(made.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(made.status().message()),
             Catch::Contains("config must be google.protobuf.StringValue, got google.protobuf.Empty"));
  // And the factory's own validation reaches the caller.
  google::protobuf::StringValue empty;
  CHECK(registry.Create<Greeter>("hello", empty, CreateContext{&registry}).status().message() ==
        "value is required");
}

TEST_CASE("A child registry sees its parent - the parent does not see the child", "[registry]") {
  Registry parent;
  REQUIRE(parent.Register(HelloFactory("hello")).ok());
  Registry child(&parent);
  REQUIRE(child.Register(HelloFactory("hi")).ok());
  CHECK(child.Find("greeter", "hello").ok());
  CHECK(child.Find("greeter", "hi").ok());
  CHECK_FALSE(parent.Find("greeter", "hi").ok());
  CHECK(child.Names("greeter") == std::vector<std::string>{"hello", "hi"});
  CHECK(child.Register(HelloFactory("hello")).code() == absl::StatusCode::kAlreadyExists);
}

TEST_CASE("RegisterBuiltins is explicit and idempotent", "[registry]") {
  Registry registry;
  CHECK(registry.Families().empty());
  REQUIRE(RegisterBuiltins(&registry).ok());
  size_t count = registry.All().size();
  REQUIRE(RegisterBuiltins(&registry).ok());
  CHECK(registry.All().size() == count);
  std::vector<std::string> selection = registry.Names("selection");
  for (const char* name : {"LoadContext", "LoadHistory", "FilterContent", "ExposureLimit",
                           "NeedOfDelivery", "DiscountPriority", "DiscountEligibility", "HistoryPenalty",
                           "EvalTargetGroups", "SelectWinners", "RecordHistory", "RecordEvent",
                           "FormatTemplate"}) {
    INFO(name);
    CHECK(std::find(selection.begin(), selection.end(), name) != selection.end());
  }
  CHECK(RegisterBuiltins(nullptr).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Registration is safe from many threads", "[registry]") {
  Registry registry;
  std::vector<std::thread> threads;
  std::atomic<int> added{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (registry.Register(HelloFactory("g" + std::to_string(i))).ok()) ++added;
        (void)registry.Find("greeter", "g" + std::to_string((i + t) % 50));
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(added == 50);
  CHECK(registry.Names("greeter").size() == 50);
}

}  // namespace
}  // namespace herald
