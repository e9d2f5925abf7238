// The conventions every `herald` command shares: progress lines with rate and
// time left, did-you-mean for unknown commands and flags, --json errors
// (tools/herald/progress.h, usage_errors.h, json_output.h), through the
// functions and through the built binary.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "progress.h"
#include "herald_process.h"
#include "usage_errors.h"

namespace herald::cli {
namespace {

const std::string kHerald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

using testing::ShellQuote;
using Run = testing::HeraldRun;

// Runs the built `herald` with `args`; stdout and stderr apart.
Run Herald(const std::vector<std::string>& args) { return testing::RunHerald(args); }

TEST_CASE("a progress line gives the share done, the rate and the time left", "[cli][progress]") {
  CHECK(FormatProgressLine("simulating", "page views", 50, 200, 50, absl::Seconds(10)) ==
        "simulating [#######                       ]  25% 50/200 page views  5/s  ETA 0:30");
  CHECK(FormatProgressLine("sending", "messages", 200, 200, 200, absl::Seconds(4)) ==
        "sending [##############################] 100% 200/200 messages  50/s  ETA 0:00");
  // Nothing done yet: no rate, no estimate.
  CHECK(FormatProgressLine("exporting", "records", 0, 10, 0, absl::Seconds(1)).find("ETA ?") != std::string::npos);
  // No total known: a count and a rate.
  CHECK(FormatProgressLine("exporting", "records", 30, 0, 30, absl::Seconds(3)) == "exporting 30 records  10/s");
  CHECK(FormatTimeLeft(absl::Seconds(3725)) == "1:02:05");
}

TEST_CASE("progress off a terminal is one whole line at most every second", "[cli][progress]") {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  REQUIRE(out != nullptr);
  absl::Time now = absl::FromUnixSeconds(1000);
  {
    ProgressMeter meter("simulating", "page views", out, /*terminal=*/false, [&] { return now; });
    meter.Update(0, 100);
    now += absl::Milliseconds(500);
    meter.Update(10, 100);  // too soon: not drawn
    now += absl::Milliseconds(600);
    meter.Update(20, 100);
    now += absl::Milliseconds(100);
    meter.Update(100, 100);  // the last update is always drawn
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  CHECK(text ==
        "simulating [                              ]   0% 0/100 page views  0/s  ETA ?\n"
        "simulating [######                        ]  20% 20/100 page views  18/s  ETA 0:04\n"
        "simulating [##############################] 100% 100/100 page views  83/s  ETA 0:00\n");
}

TEST_CASE("a progress line on a terminal is redrawn in place and cleared at the end", "[cli][progress]") {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  absl::Time now = absl::FromUnixSeconds(1000);
  {
    ProgressMeter meter("sending", "messages", out, /*terminal=*/true, [&] { return now; });
    now += absl::Seconds(1);
    meter.Update(5, 10);
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  CHECK(text.rfind("\rsending [", 0) == 0);
  CHECK(text.find("\n") == std::string::npos);
  CHECK(text.substr(text.size() - 1) == "\r");  // the line is blanked
}

std::string ParseErrorOf(CLI::App& app, std::vector<std::string> args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return ExplainParseError(app, e, args);
  }
  return "(parsed)";
}

TEST_CASE("usage errors name the nearest command or flag", "[cli][usage]") {
  CLI::App app("herald");
  app.require_subcommand(1);
  std::string catalog, plugin;
  app.add_option("--plugin", plugin);
  auto* select = app.add_subcommand("select");
  select->add_option("--catalog", catalog);
  select->add_option("--page-group", catalog);
  app.add_subcommand("simulate");
  CHECK(ParseErrorOf(app, {"selcet"}) ==
        "herald: unknown command \"selcet\"; did you mean \"select\"? (commands: select, simulate)");
  CHECK(ParseErrorOf(app, {"--plugin", "x.so", "select", "--page-grop", "Home"}) ==
        "herald: unknown flag --page-grop for \"herald select\"; did you mean \"--page-group\"?");
  CHECK(ParseErrorOf(app, {"select", "--catalog=x", "--frobnicate"}) ==
        "herald: unknown flag --frobnicate for \"herald select\"");
}

TEST_CASE("herald suggests the command or flag meant, exit code 2", "[cli][usage]") {
  Run run = Herald({"simulte", "--catalog", kCatalog});
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("unknown command \"simulte\"; did you mean \"simulate\"?") != std::string::npos);
  run = Herald({"validate", "--jsn", kCatalog});
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("unknown flag --jsn for \"herald validate\"; did you mean \"--json\"?") != std::string::npos);
  CHECK(run.out.empty());
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/herald-cli-test-XXXXXX";
    char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { (void)std::system(("rm -rf " + ShellQuote(path)).c_str()); }
};

TEST_CASE("herald validate --json: every file's summary or issues in one document", "[cli][json]") {
  const std::string broken = std::string(HERALD_TEST_DATA_DIR) + "/broken_catalog.textproto";
  Run run = Herald({"validate", "--json", kCatalog, broken});
  CHECK(run.exit_code == 1);
  nlohmann::json doc = nlohmann::json::parse(run.out);
  CHECK(doc["ok"] == false);
  REQUIRE(doc["files"].size() == 2);
  CHECK(doc["files"][0]["ok"] == true);
  CHECK(doc["files"][0]["summary"].get<std::string>().find("Contoso Outdoor") != std::string::npos);
  CHECK(doc["files"][1]["ok"] == false);
  const nlohmann::json& issue = doc["files"][1]["issues"][0];
  CHECK(issue["line"] == 3);
  CHECK(issue["message"] == "unknown time zone \"Mars/Olympus\"");
}

TEST_CASE("herald components --json lists families, an unknown family is an error with a suggestion",
          "[cli][json]") {
  Run run = Herald({"components", "--json", "--family", "selection"});
  CHECK(run.exit_code == 0);
  nlohmann::json doc = nlohmann::json::parse(run.out);
  REQUIRE(doc["families"].size() == 1);
  CHECK(doc["families"][0]["family"] == "selection");
  CHECK_FALSE(doc["families"][0]["components"].empty());
  run = Herald({"components", "--json", "--family", "selectoin"});
  CHECK(run.exit_code == 2);
  doc = nlohmann::json::parse(run.out);
  CHECK(doc["error"]["command"] == "components");
  CHECK(doc["error"]["message"].get<std::string>().find("did you mean \"selection\"?") != std::string::npos);
}

TEST_CASE("herald report: an unknown campaign is an error naming the nearest one, never (no rows)",
          "[cli][report]") {
  TempDir dir;
  Run sim = Herald({"simulate", "--catalog", kCatalog, "--page-views", "500", "--users", "50", "--no-mail",
                    "--no-export", "--out", dir.path + "/sim", "--no-progress"});
  REQUIRE(sim.exit_code == 0);
  const std::string store = dir.path + "/sim/herald.db";
  Run run = Herald({"report", "campaign-item-summary", "--store", store, "--catalog", kCatalog, "--campaign",
                    "Sprng", "--json"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("campaign \"Sprng\" is not in catalog \"Contoso Outdoor\"; did you mean \"Spring\"?") !=
        std::string::npos);
  CHECK(nlohmann::json::parse(run.out)["error"]["code"] == "NOT_FOUND");
  // Without the catalog an unknown campaign cannot be told from one without events.
  run = Herald({"report", "campaign-item-summary", "--store", store, "--campaign", "Sprng"});
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--campaign needs a catalog (--catalog, or a store holding one)") != std::string::npos);
  CHECK(run.out.empty());
  // --json is --format json.
  run = Herald({"report", "campaign-item-summary", "--store", store, "--catalog", kCatalog, "--json"});
  CHECK(run.exit_code == 0);
  CHECK(nlohmann::json::parse(run.out).is_object());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST_CASE("herald price --commit: a refused commit prints no discounted total", "[cli][price]") {
  TempDir dir;
  // Two tents: free shipping takes one as its condition, WELCOME5 the other.
  const std::string basket = R"({"currency": "USD", "customer_id": "c-7", "order_id": "ORDER",
    "items": [{"id": "t", "product_id": "tent", "category": "camping", "unit_price_minor": 6400, "quantity": 2}],
    "shipping_minor": 799})";
  auto order = [&](const std::string& id) {
    std::string path = dir.path + "/" + id + ".json";
    std::string text = basket;
    text.replace(text.find("ORDER"), 5, id);
    WriteText(path, text);
    return path;
  };
  const std::string store = "sqlite:" + dir.path + "/coupons.db";
  std::vector<std::string> common = {"price", "--catalog", kCatalog, "--coupon", "WELCOME5", "--store", store,
                                     "--commit", "--at", "2026-06-01T12:00:00Z", "--basket"};
  auto args = [&](const std::string& basket_path, bool json) {
    std::vector<std::string> a = common;
    a.push_back(basket_path);
    if (json) a.push_back("--json");
    return a;
  };
  Run first = Herald(args(order("order-1"), false));
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("welcome-coupon") != std::string::npos);
  CHECK(first.out.find("total 123.00 USD") != std::string::npos);
  CHECK(first.out.find("committed 1 coupon code(s)") != std::string::npos);
  // The same customer again: WELCOME5 allows one use per customer.
  Run second = Herald(args(order("order-2"), false));
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("commit refused, nothing redeemed") != std::string::npos);
  CHECK(second.out.find("total") == std::string::npos);
  CHECK(second.out.empty());
  Run json = Herald(args(order("order-3"), true));
  CHECK(json.exit_code == 1);
  nlohmann::json doc = nlohmann::json::parse(json.out);
  CHECK(doc.contains("error"));
  CHECK_FALSE(doc.contains("total_minor"));
  // --commit without a store is a usage error, before any pricing.
  Run no_store = Herald({"price", "--catalog", kCatalog, "--basket", order("order-4"), "--commit"});
  CHECK(no_store.exit_code == 2);
  CHECK(no_store.out.empty());
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("herald select: an unknown page group or size is an error naming the nearest declared one",
          "[cli][select]") {
  Run run = Herald({"select", "--catalog", kCatalog, "--page-group", "Hme", "--size", "Banner"});
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--page-group: unknown page group \"Hme\"; did you mean \"Home\"?") != std::string::npos);
  CHECK(run.out.empty());
  run = Herald({"select", "--catalog", kCatalog, "--page-group", "Home", "--size", "Baner", "--json"});
  CHECK(run.exit_code == 2);
  CHECK(nlohmann::json::parse(run.out)["error"]["message"].get<std::string>().find(
            "unknown content size \"Baner\"; did you mean \"Banner\"?") != std::string::npos);
  run = Herald({"select", "--catalog", kCatalog, "--page-group", "Home", "--size", "Banner", "--at",
                "2026-11-24T18:00:00Z", "--json"});
  CHECK(run.exit_code == 0);
  CHECK(nlohmann::json::parse(run.out).contains("winners"));
}

TEST_CASE("long commands show progress with rate and time left on stderr when asked", "[cli][progress]") {
  TempDir dir;
  Run run = Herald({"simulate", "--catalog", kCatalog, "--page-views", "2000", "--users", "100", "--no-mail",
                    "--no-export", "--out", dir.path + "/sim", "--progress", "--json"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("simulating [##############################] 100% 2000/2000 page views") != std::string::npos);
  CHECK(run.err.find("/s  ETA 0:00\n") != std::string::npos);
  CHECK(nlohmann::json::parse(run.out).is_object());  // stdout carries the result only
  run = Herald({"simulate", "--catalog", kCatalog, "--page-views", "200", "--users", "10", "--no-mail",
                "--no-export", "--out", dir.path + "/quiet"});
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("simulating") == std::string::npos);  // stderr is not a terminal: no progress
}

TEST_CASE("herald capture: --outcome takes the short and the full enum name, errors as JSON with --json",
          "[cli][enum]") {
  TempDir dir;
  const std::string store = dir.path + "/site.db";
  for (const std::string outcome : {"clicked", "OUTCOME_CLICKED", "Clicked"}) {
    Run run = Herald({"capture", "--store", store, "--catalog", kCatalog, "--issue", "Sales", "--group", "Cards",
                      "--action", "PlatinumCreditCard", "--outcome", outcome, "--email", "ann@example.org"});
    INFO(outcome << ": " << run.err);
    REQUIRE(run.exit_code == 0);
    nlohmann::json record = nlohmann::json::parse(run.out);
    CHECK(record["outcome"] == "OUTCOME_CLICKED");
    CHECK_FALSE(record.contains("custom_outcome"));
  }
  Run bad = Herald({"capture", "--store", store, "--issue", "Sales", "--group", "Cards", "--action", "X",
                    "--outcome", "accepted", "--time", "yesterday", "--json"});
  CHECK(bad.exit_code == 1);
  nlohmann::json error = nlohmann::json::parse(bad.out);
  CHECK(error["error"]["command"] == "capture");
  CHECK(error["error"]["message"].get<std::string>().rfind("--time: ", 0) == 0);
}

TEST_CASE("herald mail --set-state --json: the error as JSON naming the job", "[cli][json]") {
  TempDir dir;
  Run run = Herald({"mail", "--store", dir.path + "/ledger.db", "--job", "nosuch", "--set-state", "paused", "--json"});
  CHECK(run.exit_code == 1);
  nlohmann::json doc = nlohmann::json::parse(run.out);
  CHECK(doc["error"]["command"] == "mail");
  CHECK(doc["error"]["message"].get<std::string>().find("\"nosuch\"") != std::string::npos);
}

TEST_CASE("every command with --json ends a failure with one error document on stdout", "[cli][json]") {
  TempDir dir;
  const std::string missing = dir.path + "/no-such-catalog.textproto";
  // Each one fails before or inside the command, on a path that prints text:
  // the error document must come out all the same, naming the command.
  // (validate's result document already lists each file's issues.)
  const std::vector<std::pair<std::string, std::vector<std::string>>> failures = {
      {"select", {"select", "--catalog", missing, "--json"}},
      {"select", {"select", "--catalog", kCatalog, "--at", "noon", "--json"}},
      {"price", {"price", "--catalog", kCatalog, "--basket", dir.path + "/none.json", "--json"}},
      {"report", {"report", "delivery", "--store", dir.path + "/none/x.db", "--json"}},
      {"mail", {"mail", "--catalog", missing, "--item", "x", "--maildir", dir.path, "--json"}},
      {"export", {"export", "--store", dir.path + "/e.db", "--jobs", dir.path + "/no-jobs.textproto", "--json"}},
      {"expr", {"expr", "1 +", "--json"}},
      {"simulate", {"simulate", "--catalog", missing, "--json"}},
      {"click", {"click", "--catalog", missing, "--store", dir.path + "/c.db", "--item", "x", "--user", "u",
                 "--json"}},
      {"components", {"components", "nosuchfamily", "--json"}},
      {"select", {"select", "--catalog", kCatalog, "--no-such-flag", "--json"}},  // a usage error
      {"herald", {"--json", "selct"}},                                           // no command ran
      {"select", {"select", "--catalog", "bad\xff", "--json"}},                // not UTF-8
  };
  for (const auto& [command, args] : failures) {
    Run run = Herald(args);
    std::string line;
    for (const std::string& a : args) line += a + " ";
    INFO("herald " << line << "\nstderr: " << run.err << "\nstdout: " << run.out);
    CHECK(run.exit_code != 0);
    nlohmann::json doc = nlohmann::json::parse(run.out, nullptr, false);
    REQUIRE(doc.is_object());
    REQUIRE(doc.contains("error"));
    CHECK(doc["error"]["command"] == command);
    CHECK(!doc["error"]["code"].get<std::string>().empty());
    CHECK(!doc["error"]["message"].get<std::string>().empty());
    if (run.exit_code == 2) CHECK(doc["error"]["code"] == "INVALID_ARGUMENT");
  }
}

TEST_CASE("the README links every page of docs/", "[cli][docs]") {
  const std::string readme = ReadText(std::string(HERALD_SOURCE_DIR) + "/README.md");
  int pages = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(HERALD_SOURCE_DIR) + "/docs")) {
    if (entry.path().extension() != ".md") continue;
    ++pages;
    const std::string link = "](docs/" + entry.path().filename().string() + ")";
    INFO("README.md has no link to docs/" << entry.path().filename().string());
    CHECK(readme.find(link) != std::string::npos);
  }
  CHECK(pages >= 12);
}

TEST_CASE("the docs' commands run on the files in examples/", "[cli][docs]") {
  const std::string examples = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/";
  // docs/discounts.md
  Run price = Herald({"price", "--catalog", kCatalog, "--basket", examples + "basket.json", "--profile",
                      "premier=true", "--clicked", "fabrikam-10", "--coupon", "WELCOME5", "--at",
                      "2026-06-01T18:30:00-07:00"});
  INFO(price.err);
  CHECK(price.exit_code == 0);
  CHECK(price.out.find("premier-30") != std::string::npos);
  // docs/conversions.md: capture the example response, then export it with the example jobs file.
  TempDir dir;
  const std::string store = dir.path + "/site.db";
  Run capture = Herald({"capture", "--store", store, "--catalog", kCatalog, "--record",
                        ReadText(examples + "response.json")});
  INFO(capture.err);
  REQUIRE(capture.exit_code == 0);
  CHECK(nlohmann::json::parse(capture.out)["outcome"] == "OUTCOME_ACCEPTED");  // written "accepted"
  std::filesystem::copy_file(examples + "exports.textproto", dir.path + "/exports.textproto");
  Run exported = Herald({"export", "--destination", "conversions-file", "--store", store, "--catalog", kCatalog,
                         "--jobs", dir.path + "/exports.textproto", "--once", "--json", "--progress"});
  INFO(exported.err);
  CHECK(exported.exit_code == 0);
  // Asked for, progress goes to stderr: done of the interactions pending when the run began.
  CHECK(exported.err.find("exporting [##############################] 100% 1/1 interactions") !=
        std::string::npos);
  CHECK(nlohmann::json::parse(exported.out).is_object());
  const std::string lines = ReadText(dir.path + "/conversions.jsonl");
  CHECK(lines.find("\"order_id\":\"order-1001\"") != std::string::npos);
}

// Issue #15 items 2 and 3, through the binary (docs/pacing.md).
const char kCompetitorsCatalog[] = R"pb(
name: "rivals"
time_zone: "UTC"
reference_tables { page_groups { name: "Home" } }
customers { id: "a" competitors: "b" }
customers { id: "b" }
target_groups { id: "nobody-uses-me" entries { action: TARGET_ACTION_SPONSOR expression: "true" } }
campaigns {
  id: "ca" name: "A" customer_id: "a" start: "2026-06-01" end: "2026-06-30"
  items { id: "a-ad" name: "A ad" ad { type: AD_TYPE_PAID quantity: 1000 page_groups: "Home" display { text: "A" } } }
}
campaigns {
  id: "cb" name: "B" customer_id: "b" start: "2026-06-01" end: "2026-06-30"
  items { id: "b-ad" name: "B ad" ad { type: AD_TYPE_PAID quantity: 1000 page_groups: "Home" display { text: "B" } } }
}
)pb";

TEST_CASE("herald select excludes declared competitors by default, also against the page history",
          "[cli][csf]") {
  TempDir dir;
  const std::string catalog = dir.path + "/rivals.textproto";
  std::ofstream(catalog) << kCompetitorsCatalog;
  Run run = Herald({"select", "--catalog", catalog, "--page-group", "Home", "--count", "2", "--at",
                    "2026-06-05T00:00:00Z", "--json"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  nlohmann::json doc = nlohmann::json::parse(run.out);
  CHECK(doc.dump().find("a-ad") != std::string::npos);
  CHECK(doc.dump().find("b-ad") == std::string::npos);  // a competes with b: never on one page
  run = Herald({"select", "--catalog", catalog, "--page-group", "Home", "--page-history", "a-ad", "--at",
                "2026-06-05T00:00:00Z", "--json"});
  REQUIRE(run.exit_code == 0);
  CHECK(nlohmann::json::parse(run.out).dump().find("b-ad") == std::string::npos);
}

TEST_CASE("herald validate warns about a SPONSOR entry that can never make anything eligible", "[cli][csf]") {
  TempDir dir;
  const std::string catalog = dir.path + "/rivals.textproto";
  std::ofstream(catalog) << kCompetitorsCatalog;
  Run run = Herald({"validate", catalog});
  CHECK(run.exit_code == 0);  // a warning does not fail the check
  CHECK(run.err.find("warning: target group \"nobody-uses-me\" / entry #1: this SPONSOR entry can never make "
                     "anything eligible") != std::string::npos);
  run = Herald({"validate", "--json", catalog});
  CHECK(run.exit_code == 0);
  nlohmann::json doc = nlohmann::json::parse(run.out);
  bool sponsor_warning = false;
  for (const auto& w : doc["files"][0]["warnings"]) {
    sponsor_warning = sponsor_warning ||
                      w.get<std::string>().find("target group \"nobody-uses-me\" / entry #1: this SPONSOR entry "
                                                "can never make anything eligible") != std::string::npos;
  }
  CHECK(sponsor_warning);
}

}  // namespace
}  // namespace herald::cli
