// `herald click`, `herald select/simulate --pipeline` and the click-redirect
// warning of `herald validate`: the built binary driven from the test against
// a SQLite store (tools/herald/click_command.cc, pipeline_option.cc,
// validate_command.cc).
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "herald_process.h"
#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/selection.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

const std::string kHerald = std::string(HERALD_BINARY_DIR) + "/bin/herald";

// A click-goaled paid ad and two house ads, all Banners on Home.
constexpr char kCatalog[] = R"pb(
name: "Clicks"
time_zone: "UTC"
reference_tables {
  industries { code: "coffee" }
  page_groups { name: "Home" }
  page_groups { name: "Garden" }
  page_groups { name: "Sports" }
  page_groups { name: "Kitchen" }
  page_groups { name: "Checkout" }
}
customers { id: "coho" name: "Coho" industry: "coffee" }
customers { id: "house" name: "House" }
campaigns {
  id: "coho-clicks" name: "Coho clicks" customer_id: "coho"
  start: "2026-01-01" end: "2026-12-31"
  goaling: GOALING_LEVEL_AD goal_event: GOAL_EVENT_CLICKS
  items { id: "clicky" name: "Clicky"
          ad { type: AD_TYPE_PAID quantity: 100 size: "Banner" page_groups: "Home"
               display { image_url: "https://cdn.example.com/c.png" click_url: "https://coho.example.com/" } } }
}
campaigns {
  id: "house" name: "House" customer_id: "house" start: "2026-01-01" end: "2026-12-31"
  items { id: "house-a" name: "A" ad { type: AD_TYPE_HOUSE weight: 1 size: "Banner"
          display { image_url: "https://cdn.example.com/a.png" click_url: "/a" } } }
  items { id: "house-b" name: "B" ad { type: AD_TYPE_HOUSE weight: 3 size: "Banner"
          display { image_url: "https://cdn.example.com/b.png" click_url: "/b" } } }
}
)pb";


std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/herald-csf-cli-XXXXXX";
    char* made = mkdtemp(tmpl);
    path = made == nullptr ? std::string("/tmp") : std::string(made);
  }
  ~Dir() { (void)std::system(("rm -rf " + testing::ShellQuote(path)).c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name, std::ios::binary) << text;
    return path + "/" + name;
  }
};

using Run = testing::HeraldRun;

Run Herald(const Dir& dir, const std::vector<std::string>& args) {
  (void)dir;
  return testing::RunHerald(args);
}

// The `name` column of the report row whose item is `item`.
nlohmann::json ReportCell(const std::string& json, const std::string& item, const std::string& name) {
  auto report = nlohmann::json::parse(json);
  for (const auto& row : report["rows"]) {
    if (row["item"] == item) return row[name];
  }
  FAIL("no row for " << item);
  return {};
}

TEST_CASE("herald click records a click that click-goaled pacing and the reports see", "[cli][click]") {
  Dir dir;
  const std::string catalog = dir.Write("catalog.textproto", kCatalog);
  const std::string store = "sqlite:" + dir.path + "/herald.db";
  Run shown = Herald(dir, {"select", "--catalog", catalog, "--page-group", "Home", "--size", "Banner",
                           "--user", "u1", "--store", store, "--at", "2026-06-01T10:00:00Z", "--json"});
  REQUIRE(shown.exit_code == 0);
  REQUIRE(nlohmann::json::parse(shown.out)["winners"][0]["item_id"] == "clicky");

  Run click = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clicky", "--user", "u1",
                           "--page-group", "Home", "--at", "2026-06-01T10:00:05Z"});
  INFO(click.err);
  REQUIRE(click.exit_code == 0);
  CHECK_THAT(click.out, Catch::Contains("click recorded"));

  // The report reads the stored click event.
  Run report = Herald(dir, {"report", "campaign-item-summary", "--catalog", catalog, "--store", store,
                            "--format", "json"});
  REQUIRE(report.exit_code == 0);
  CHECK(ReportCell(report.out, "Clicky", "clicks") == 1);
  CHECK(ReportCell(report.out, "Clicky", "delivered") == 1);  // the goal event is clicks
  CHECK(ReportCell(report.out, "Clicky", "requests") == 1);

  // Pacing: a selector opened on the store counts the click toward the goal.
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto opened = OpenStore(store, registry);
  REQUIRE(opened.ok());
  auto parsed = ParseCatalog(kCatalog, "catalog");
  REQUIRE(parsed.ok());
  auto compiled = CompiledCatalog::Compile(*parsed);
  REQUIRE(compiled.ok());
  SelectorConfig config;
  config.registry = &registry;
  config.store = opened->get();
  auto selector = NewContentSelector(*compiled, config);
  REQUIRE(selector.ok());
  CHECK((*selector)->Delivered("clicky") == std::pair<int64_t, int64_t>{1, 1});

  // --json: the result as one JSON document, counting the second click.
  Run json = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clicky", "--user", "u1",
                          "--at", "2026-06-01T10:00:09Z", "--json"});
  INFO(json.err);
  REQUIRE(json.exit_code == 0);
  const nlohmann::json recorded = nlohmann::json::parse(json.out);
  CHECK(recorded["recorded"] == true);
  CHECK(recorded["item"] == "clicky");
  CHECK(recorded["clicks"] == 2);
}

TEST_CASE("herald click refuses an unknown item, an unknown user and a bad time, recording nothing",
          "[cli][click]") {
  Dir dir;
  const std::string catalog = dir.Write("catalog.textproto", kCatalog);
  const std::string store = "sqlite:" + dir.path + "/herald.db";
  REQUIRE(Herald(dir, {"select", "--catalog", catalog, "--page-group", "Home", "--size", "Banner", "--user", "u1",
                       "--store", store, "--at", "2026-06-01T10:00:00Z"})
              .exit_code == 0);
  Run item = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clickyy", "--user", "u1"});
  CHECK(item.exit_code == 1);
  CHECK_THAT(item.err, Catch::Contains("--item \"clickyy\": no ad or discount with this id"));
  Run user = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clicky", "--user", "u2"});
  CHECK(user.exit_code == 1);
  CHECK_THAT(user.err, Catch::Contains("--user \"u2\": unknown to"));
  Run at = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clicky", "--user", "u1",
                        "--at", "2026-13-01"});
  CHECK(at.exit_code == 2);
  CHECK_THAT(at.err, Catch::Contains("--at \"2026-13-01\" is not an RFC 3339 time"));
  Run page = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clicky", "--user", "u1",
                          "--page-group", "Hom"});
  CHECK(page.exit_code == 1);
  CHECK_THAT(page.err, Catch::Contains("--page-group: unknown page group \"Hom\"; did you mean \"Home\"?"));
  CHECK_THAT(item.err, Catch::Contains("did you mean \"clicky\"?"));
  // --json: the error as one JSON document on stdout too, nothing recorded.
  Run json_error = Herald(dir, {"click", "--catalog", catalog, "--store", store, "--item", "clickyy", "--user", "u1",
                                "--json"});
  CHECK(json_error.exit_code == 1);
  CHECK(nlohmann::json::parse(json_error.out)["error"]["command"] == "click");
  Run missing = Herald(dir, {"click", "--catalog", catalog, "--item", "clicky", "--user", "u1"});
  CHECK(missing.exit_code == 2);  // --store is required
  Run report = Herald(dir, {"report", "campaign-item-summary", "--catalog", catalog, "--store", store,
                            "--format", "json"});
  REQUIRE(report.exit_code == 0);
  CHECK(ReportCell(report.out, "Clicky", "clicks") == 0);
}

TEST_CASE("herald validate warns exactly when no click redirect is configured", "[cli][click]") {
  Dir dir;
  const std::string catalog = dir.Write("catalog.textproto", kCatalog);
  Run plain = Herald(dir, {"validate", catalog});
  CHECK(plain.exit_code == 0);
  CHECK_THAT(plain.err, Catch::Contains("warning: 3 ads (\"clicky\", ...) link straight to their click_url"));
  CHECK_THAT(plain.err, Catch::Contains("no click redirect"));

  std::string pipeline = ReadFile(std::string(HERALD_SOURCE_DIR) + "/pipelines/advertising.textproto");
  const std::string kFormat = "components { name: \"FormatTemplate\" }";
  REQUIRE(pipeline.find(kFormat) != std::string::npos);
  std::string redirected = pipeline;
  redirected.replace(redirected.find(kFormat), kFormat.size(),
                     "components { name: \"FormatTemplate\" json_config: '{\"clickRedirect\": \"/click/{{id}}\"}' }");
  const std::string with_redirect = dir.Write("redirect.textproto", redirected);
  Run ok = Herald(dir, {"validate", "--selection-pipeline", with_redirect, catalog});
  CHECK(ok.exit_code == 0);
  CHECK(ok.err.empty());

  // The same pipeline without the redirect warns again.
  const std::string without = dir.Write("plain.textproto", pipeline);
  Run again = Herald(dir, {"validate", "--selection-pipeline", without, catalog});
  CHECK_THAT(again.err, Catch::Contains("the pipeline " + without + " has no click redirect"));

  // A catalog whose ads do not link (non-clickable images) gets no warning.
  std::string quiet = kCatalog;
  for (size_t at = 0; (at = quiet.find("display { image_url", at)) != std::string::npos; at += 10) {
    quiet.insert(at + 10, "type: DISPLAY_TYPE_NON_CLICKABLE_IMAGE ");
  }
  Run none = Herald(dir, {"validate", dir.Write("quiet.textproto", quiet)});
  CHECK(none.exit_code == 0);
  CHECK(none.err.empty());
}

TEST_CASE("herald select and simulate --pipeline run the given pipeline, errors name file:line",
          "[cli][pipeline]") {
  Dir dir;
  const std::string catalog = dir.Write("catalog.textproto", kCatalog);
  std::string pipeline = ReadFile(std::string(HERALD_SOURCE_DIR) + "/pipelines/advertising.textproto");
  const std::string kSelect = "components { name: \"SelectWinners\" }";
  REQUIRE(pipeline.find(kSelect) != std::string::npos);
  // House ads whenever the best paid ad's need of delivery is below 1000: always.
  std::string house_only = pipeline;
  house_only.replace(house_only.find(kSelect), kSelect.size(),
                     "components { name: \"SelectWinners\" json_config: '{\"houseThreshold\": 1000}' }");
  const std::string house_file = dir.Write("house-only.textproto", house_only);

  const std::vector<std::string> request = {"select", "--catalog", catalog, "--page-group", "Home", "--size",
                                            "Banner", "--at", "2026-06-01T10:00:00Z", "--json"};
  Run builtin = Herald(dir, request);
  REQUIRE(builtin.exit_code == 0);
  CHECK(nlohmann::json::parse(builtin.out)["winners"][0]["kind"] == "paid");
  std::vector<std::string> custom = request;
  custom.insert(custom.end(), {"--pipeline", house_file, "--trace"});
  Run house = Herald(dir, custom);
  INFO(house.err);
  REQUIRE(house.exit_code == 0);
  auto decision = nlohmann::json::parse(house.out);
  CHECK(decision["winners"][0]["kind"] == "house");
  CHECK_THAT(decision["trace"].dump(), Catch::Contains("below the house threshold 1000"));

  // Simulated traffic through the same file: no paid ad is ever shown.
  Run sim = Herald(dir, {"simulate", "--catalog", catalog, "--store", "memory", "--out", dir.path + "/sim",
                         "--no-mail", "--no-export", "--page-views", "300", "--start", "2026-06-01", "--days", "1",
                         "--json", "--pipeline", house_file});
  INFO(sim.err);
  REQUIRE(sim.exit_code == 0);
  auto summary = nlohmann::json::parse(sim.out)["summary"];
  CHECK(summary["paid_shown"] == 0);
  CHECK(summary["house_shown"].get<int64_t>() > 0);
  Run sim_builtin = Herald(dir, {"simulate", "--catalog", catalog, "--store", "memory", "--out", dir.path + "/sim2",
                                 "--no-mail", "--no-export", "--page-views", "300", "--start", "2026-06-01",
                                 "--days", "1", "--json"});
  REQUIRE(sim_builtin.exit_code == 0);
  CHECK(nlohmann::json::parse(sim_builtin.out)["summary"]["paid_shown"].get<int64_t>() > 0);

  // Errors name the file and the line of the faulty component.
  const std::string broken = dir.Write("broken.textproto",
                                       "name: \"broken\"\n"
                                       "family: \"selection\"\n"
                                       "stages { name: \"filter\"\n"
                                       "  components { name: \"FilterContent\" }\n"
                                       "  components { name: \"NoSuchComponent\" }\n"
                                       "}\n");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"select"}, {"simulate", "--out", dir.path + "/sim3", "--store", "memory"}}) {
    std::vector<std::string> args = command;
    args.insert(args.end(), {"--catalog", catalog, "--pipeline", broken});
    Run bad = Herald(dir, args);
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.err, Catch::Contains(broken + ":5: stage \"filter\" component \"NoSuchComponent\""));
  }
  const std::string syntax = dir.Write("syntax.textproto", "name: \"x\"\nfamily: \"selection\"\nstages {\n");
  Run parse = Herald(dir, {"select", "--catalog", catalog, "--pipeline", syntax});
  CHECK(parse.exit_code == 1);
  CHECK_THAT(parse.err, Catch::Contains(syntax + ":4:"));
  const std::string mail = std::string(HERALD_SOURCE_DIR) + "/pipelines/mail.textproto";
  Run family = Herald(dir, {"select", "--catalog", catalog, "--pipeline", mail});
  CHECK(family.exit_code == 1);
  CHECK_THAT(family.err, Catch::Contains("needs a \"selection\" pipeline"));
}

}  // namespace
}  // namespace herald
