// herald simulate (issue 9): the simulation is deterministic with a seed,
// its reports are sane (paced delivery, house fill by weight, discounts,
// mail, conversions), and the CLI prints text, JSON and HTML.
#include <catch2/catch.hpp>

#include <filesystem>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "absl/status/status.h"
#include "herald/catalog.h"
#include "herald/registry.h"
#include "herald/report.h"
#include "herald/simulation.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

std::string TempDir() {
  char tmpl[] = "/tmp/herald-sim-XXXXXX";
  char* made = mkdtemp(tmpl);
  return made == nullptr ? std::string("/tmp") : std::string(made);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

SimulationOptions Small(const std::string& dir, uint64_t seed = 7) {
  SimulationOptions o;
  o.catalog_path = kCatalog;
  o.out_dir = dir;
  o.page_views = 60'000;
  o.days = 7;
  o.users = 5'000;
  o.seed = seed;
  return o;
}

// The cell `key` of the row whose `match_key` cell is `match`.
const ReportCell* Cell(const ReportTable& t, const std::string& match_key, const std::string& match,
                       const std::string& key) {
  int mi = -1, ki = -1;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (t.columns[i].key == match_key) mi = static_cast<int>(i);
    if (t.columns[i].key == key) ki = static_cast<int>(i);
  }
  if (mi < 0 || ki < 0) return nullptr;
  for (const auto& row : t.rows) {
    if (const auto* s = std::get_if<std::string>(&row[mi]); s != nullptr && *s == match) return &row[ki];
  }
  return nullptr;
}

int64_t Int(const ReportCell* c) { return c != nullptr && std::holds_alternative<int64_t>(*c) ? std::get<int64_t>(*c) : -1; }
double Dbl(const ReportCell* c) { return c != nullptr && std::holds_alternative<double>(*c) ? std::get<double>(*c) : -1; }

struct Run {
  std::string dir = TempDir();
  absl::StatusOr<SimulationReport> report;
  explicit Run(uint64_t seed = 7, int64_t views = 60'000, int threads = 0) {
    SimulationOptions o = Small(dir, seed);
    o.page_views = views;
    o.threads = threads;
    o.charts = true;
    report = RunSimulation(o);
  }
  ~Run() { (void)std::system(("rm -rf " + dir).c_str()); }
  std::string Text() const { return ReplaceAll(RenderSimulationText(*report, false), dir, "OUT"); }
};

TEST_CASE("The same seed gives the same reports byte for byte and another seed does not", "[simulation]") {
  Run a(7), b(7), c(8);
  REQUIRE(a.report.ok());
  REQUIRE(b.report.ok());
  REQUIRE(c.report.ok());
  CHECK(a.Text() == b.Text());
  CHECK(ReplaceAll(RenderSimulationJson(*a.report, false), a.dir, "OUT") ==
        ReplaceAll(RenderSimulationJson(*b.report, false), b.dir, "OUT"));
  CHECK(a.Text() != c.Text());
  // The conversions file is the same too (event ids derive from the seed).
  CHECK(ReadFile(a.dir + "/conversions.jsonl") == ReadFile(b.dir + "/conversions.jsonl"));
}

// The store the simulation wrote, opened as `herald report` opens it.
struct SimulationStore {
  Registry registry;
  v1::Catalog catalog;
  std::unique_ptr<Store> store;
  explicit SimulationStore(const std::string& dir) {
    auto loaded = LoadCatalog(kCatalog);
    REQUIRE(loaded.ok());
    catalog = *std::move(loaded);
    OpenStoreOptions options;
    options.read_only = true;
    auto opened = OpenStore(dir + "/herald.db", registry, options);
    REQUIRE(opened.ok());
    store = *std::move(opened);
  }
};

// The discount-usage report, from the orders the checkouts committed, says
// what the simulation counted as it priced them.
void CheckDiscountUsageReport(const std::string& dir, const ReportTable& counted, int64_t orders) {
  SimulationStore s(dir);
  ReportOptions options;
  options.catalog = &s.catalog;
  auto usage = RunReport("discount-usage", *s.store, options);
  REQUIRE(usage.ok());
  CHECK(usage->subtitle.find(std::to_string(orders) + " in USD") != std::string::npos);
  int compared = 0;
  for (const auto& row : counted.rows) {
    const std::string& name = std::get<std::string>(row[0]);
    INFO(name);
    CHECK(Int(Cell(*usage, "discount", name, "orders")) == Int(Cell(counted, "discount", name, "orders")));
    CHECK(Int(Cell(*usage, "discount", name, "units")) == Int(Cell(counted, "discount", name, "units")));
    const ReportCell* amount = Cell(*usage, "discount", name, "amount");
    REQUIRE(amount != nullptr);
    if (Int(Cell(counted, "discount", name, "orders")) > 0) {
      CHECK(std::get<std::string>(*amount) == std::get<std::string>(*Cell(counted, "discount", name, "amount")));
      ++compared;
    }
  }
  CHECK(compared >= 5);
}

// The conversions report counts the responses the simulation captured, and
// the file destination's watermark has every enabled conversion done.
void CheckConversionsReport(const std::string& dir, const ReportTable& captured, int64_t enabled_accepted) {
  SimulationStore s(dir);
  ReportOptions options;
  options.catalog = &s.catalog;
  auto conversions = RunReport("conversions", *s.store, options);
  REQUIRE(conversions.ok());
  int64_t done = 0, waiting = 0, accepted = 0, responses = 0;
  std::string done_key;
  for (const ReportColumn& c : conversions->columns) {
    if (c.key.starts_with("done:")) done_key = c.key;
  }
  REQUIRE(!done_key.empty());
  const std::string waiting_key = "waiting:" + done_key.substr(5);
  for (size_t i = 0; i < conversions->rows.size(); ++i) {
    auto at = [&](std::string_view key) -> const ReportCell& {
      for (size_t c = 0; c < conversions->columns.size(); ++c) {
        if (conversions->columns[c].key == key) return conversions->rows[i][c];
      }
      FAIL("no column");
      return conversions->rows[i][0];
    };
    if (const auto* n = std::get_if<int64_t>(&at("responses"))) responses += *n;
    if (const auto* n = std::get_if<int64_t>(&at("accepted"))) accepted += *n;
    if (const auto* n = std::get_if<int64_t>(&at(done_key))) done += *n;
    if (const auto* n = std::get_if<int64_t>(&at(waiting_key))) waiting += *n;
  }
  int64_t captured_total = 0, captured_accepted = 0;
  for (const auto& row : captured.rows) {
    captured_total += std::get<int64_t>(row[2]);
    captured_accepted += std::get<int64_t>(row[3]);
  }
  CHECK(responses == captured_total);
  CHECK(accepted == captured_accepted);
  // The last day's export ran after the last checkout.
  CHECK(done == enabled_accepted);
  CHECK(waiting == 0);
}

TEST_CASE("One thread and two threads give the same reports and conversions byte for byte", "[simulation]") {
  Run one(7, 60'000, 1), two(7, 60'000, 2);
  REQUIRE(one.report.ok());
  REQUIRE(two.report.ok());
  CHECK(one.report->page_views == 60'000);
  CHECK(one.report->orders > 100);
  CHECK(one.report->coupons_redeemed > 0);
  CHECK(one.Text() == two.Text());
  CHECK(ReplaceAll(RenderSimulationJson(*one.report, false), one.dir, "OUT") ==
        ReplaceAll(RenderSimulationJson(*two.report, false), two.dir, "OUT"));
  // The store saw the same captures in the same order: the export wrote the same file.
  const std::string conversions = ReadFile(one.dir + "/conversions.jsonl");
  CHECK(!conversions.empty());
  CHECK(conversions == ReadFile(two.dir + "/conversions.jsonl"));
}

TEST_CASE("The reports are sane: paced delivery and house fill by weight and discounts and mail and conversions",
          "[simulation]") {
  Run run(11, 120'000);
  REQUIRE(run.report.ok());
  const SimulationReport& r = *run.report;
  INFO(RenderSimulationText(r));
  CHECK(r.page_views == 120'000);
  CHECK(r.paid_shown > 0);
  CHECK(r.house_shown > 0);
  CHECK(r.clicks > 0);

  // Paid ads goaled by requests deliver what their schedule expects by the
  // end of the simulation (they start behind and catch up), never past the goal.
  const ReportTable* delivery = r.Find("delivery");
  REQUIRE(delivery != nullptr);
  for (const char* ad : {"Blue paint", "Green paint", "Primer", "Juice banner"}) {
    INFO(ad);
    const int64_t expected = Int(Cell(*delivery, "item", ad, "expected"));
    const int64_t delivered = Int(Cell(*delivery, "item", ad, "delivered"));
    const int64_t goal = Int(Cell(*delivery, "item", ad, "goal"));
    CHECK(expected > 0);
    CHECK(delivered >= expected * 0.9);
    CHECK(delivered <= expected * 1.1);
    CHECK(delivered <= goal);
  }
  // The click-goaled ad gets clicks.
  CHECK(Int(Cell(*delivery, "item", "Latte", "delivered")) > 0);
  // Campaign-level goaling splits 40,000 by 80:20.
  CHECK(Int(Cell(*delivery, "item", "Blue paint", "goal")) == 32000);
  CHECK(Int(Cell(*delivery, "item", "Green paint", "goal")) == 8000);

  // House ads fill by weight 1:2:3:4 (10/20/30/40%).
  const ReportTable* house = r.Find("house-ad-fill");
  REQUIRE(house != nullptr);
  const std::pair<const char*, double> shares[] = {{"Tents", 10}, {"Boots", 20}, {"Jackets", 30}, {"Stoves", 40}};
  for (const auto& [name, share] : shares) {
    INFO(name);
    // History penalty and industry exclusion bend the weights a little.
    CHECK(std::abs(Dbl(Cell(*house, "item", name, "house_share")) - share) < 6);
  }

  // Reach and frequency, from the stored events.
  const ReportTable* reach = r.Find("reach-frequency-campaign");
  REQUIRE(reach != nullptr);
  CHECK(reach->rows.size() >= 4);

  // Discounts were given, the spec's examples among them.
  const ReportTable* discounts = r.Find("discounts");
  REQUIRE(discounts != nullptr);
  CHECK(r.orders > 0);
  CHECK(Int(Cell(*discounts, "discount", "Second case of juice half price", "orders")) > 0);
  CHECK(Int(Cell(*discounts, "discount", "10% off beverages", "orders")) > 0);
  CHECK(Int(Cell(*discounts, "discount", "10 percent discount for telephones", "orders")) > 0);
  CHECK(Int(Cell(*discounts, "discount", "Free shipping", "orders")) > 0);
  CHECK(Int(Cell(*discounts, "discount", "10% off Fabrikam products", "orders")) > 0);  // click required
  CHECK(r.coupons_redeemed > 0);
  CheckDiscountUsageReport(run.dir, *discounts, r.orders);

  // Mail went to the Maildir: the opted-out recipients were skipped.
  CHECK(r.mail_sent > 0);
  CHECK(r.mail_skipped > 0);
  CHECK(r.mail_failed == 0);
  int files = 0;
  for (const char* sub : {"/new", "/cur", "/tmp"}) {
    std::string listing;
    FILE* p = popen(("ls " + r.maildir + sub + " 2>/dev/null | wc -l").c_str(), "r");
    char buf[64] = {0};
    if (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) files += std::atoi(buf);
    if (p != nullptr) pclose(p);
  }
  CHECK(files == r.mail_sent);

  // Accepted offers were captured and exported to the file, one line each.
  CHECK(r.accepted > 0);
  CHECK(r.conversions_delivered > 0);
  CHECK(r.conversions_failed == 0);
  const std::string file = ReadFile(r.conversions_file);
  CHECK(static_cast<int64_t>(std::count(file.begin(), file.end(), '\n')) == r.conversions_delivered);
  const ReportTable* responses = r.Find("responses");
  REQUIRE(responses != nullptr);
  // The action not enabled for offline conversion is captured but not exported.
  CHECK(Int(Cell(*responses, "action", "Service/Support/CallBack", "accepted")) > 0);
  int64_t enabled_accepted = 0;
  for (const char* a : {"Sales/Cards/PlatinumCreditCard", "Sales/Gear/WinterJacket"}) {
    enabled_accepted += Int(Cell(*responses, "action", a, "accepted"));
  }
  // The people who refused (one in ten) are not exported, and counted.
  CHECK(r.conversions_no_consent > 0);
  CHECK(r.conversions_no_consent < r.conversions_delivered);
  CHECK(r.conversions_delivered + r.conversions_invalid + r.conversions_no_consent == enabled_accepted);
  CheckConversionsReport(run.dir, *responses, enabled_accepted);

  // HTML: charts and every table.
  const std::string html = RenderSimulationHtml(r);
  CHECK(html.find("herald-chart-data") != std::string::npos);
  for (const ReportTable& t : r.tables) CHECK(html.find(t.title) != std::string::npos);
}

TEST_CASE("Bad options are InvalidArgument naming the option", "[simulation]") {
  SimulationOptions o = Small("/tmp/herald-sim-unused");
  o.page_views = 0;
  CHECK(RunSimulation(o).status().message().find("page_views") != std::string::npos);
  o = Small("/tmp/herald-sim-unused");
  o.click_rate = 2;
  CHECK(absl::IsInvalidArgument(RunSimulation(o).status()));
  o = Small("/tmp/herald-sim-unused");
  o.start = "November";
  CHECK(RunSimulation(o).status().message().find("start") != std::string::npos);
  o = Small("/tmp/herald-sim-unused");
  o.catalog_path = "/nonexistent/catalog.textproto";
  CHECK(!RunSimulation(o).ok());
  o = Small("/tmp/herald-sim-unused");
  o.lanes = 0;
  CHECK(RunSimulation(o).status().message().find("lanes must be 1 to 64") != std::string::npos);
  o = Small("/tmp/herald-sim-unused");
  o.users = 3;
  CHECK(RunSimulation(o).status().message().find("lanes (4) must not exceed users (3)") != std::string::npos);
  o = Small("/tmp/herald-sim-unused");
  o.threads = 5;
  CHECK(RunSimulation(o).status().message().find("threads must be 0 (one per core) to lanes (4)") !=
        std::string::npos);
}

std::string Shell(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

std::string WithoutTime(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("Time:", 0) != 0) out += line + "\n";
  }
  return out;
}

TEST_CASE("herald simulate prints the reports and deterministically with --seed and --json and --html", "[simulation][cli]") {
  const std::string herald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
  const std::string dir = TempDir();
  const std::string base = herald + " simulate --catalog " + kCatalog + " --page-views 20000 --users 3000 --seed 3 --out " + dir;
  int status = 0;
  const std::string first = Shell(base + " 2>&1", &status);
  REQUIRE(status == 0);
  INFO(first);
  for (const char* title : {"Delivery against goal", "House-ad fill", "Reach and Frequency", "Discounts given",
                            "Mail sent", "Responses captured", "Conversions exported", "Time: traffic"}) {
    CHECK(first.find(title) != std::string::npos);
  }
  CHECK(first.find("\r") == std::string::npos);  // no progress bar when stdout is not a terminal
  const std::string second = Shell(base + " 2>&1", &status);
  REQUIRE(status == 0);
  CHECK(WithoutTime(first) == WithoutTime(second));

  const std::string json_text = Shell(base + " --json --html " + dir + "/report.html", &status);
  REQUIRE(status == 0);
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["summary"]["page_views"] == 20000);
  CHECK(j["reports"].size() == 7);
  CHECK(j.contains("timing"));
  const std::string html = ReadFile(dir + "/report.html");
  CHECK(html.find("<!DOCTYPE html>") == 0);
  CHECK(html.find("herald-chart-data") != std::string::npos);

  Shell(herald + " simulate --catalog " + kCatalog + " --page-views 0 --out " + dir + " 2>&1", &status);
  CHECK(status != 0);
  (void)std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

// The README's demo passes a relative --out (build/simulation): the store,
// the conversions file and the maildir must land inside it, not in a path
// joined twice.
TEST_CASE("A relative out directory holds the store and the conversions and the mail", "[simulation]") {
  namespace fs = std::filesystem;
  const std::string root = TempDir();
  const fs::path before = fs::current_path();
  fs::current_path(root);
  SimulationOptions o = Small("build/simulation");
  o.page_views = 5'000;
  auto report = RunSimulation(o);
  fs::current_path(before);
  INFO((report.ok() ? std::string() : std::string(report.status().message())));
  REQUIRE(report.ok());
  CHECK(fs::is_regular_file(fs::path(root) / "build/simulation/herald.db"));
  CHECK(fs::is_regular_file(fs::path(root) / "build/simulation/conversions.jsonl"));
  CHECK(fs::is_directory(fs::path(root) / "build/simulation/maildir"));
  CHECK(!fs::exists(fs::path(root) / "build/simulation/build"));
  (void)std::system(("rm -rf " + root).c_str());
}

// Issue 15, item 8: a simulation never deletes what it did not write.
TEST_CASE("simulate replaces only what a previous simulation wrote and never touches unused outputs",
          "[simulation]") {
  namespace fs = std::filesystem;
  const std::string dir = TempDir();
  const fs::path db = fs::path(dir) / "herald.db", maildir = fs::path(dir) / "maildir";
  std::ofstream(db) << "someone else's database";
  fs::create_directories(maildir / "cur");
  std::ofstream(maildir / "cur" / "letter") << "someone else's mail";

  // A memory store without mail or export writes none of them: both stay.
  SimulationOptions o = Small(dir);
  o.page_views = 2'000;
  o.store_uri = "memory";
  o.send_mail = false;
  o.export_conversions = false;
  auto report = RunSimulation(o);
  INFO((report.ok() ? std::string() : std::string(report.status().message())));
  REQUIRE(report.ok());
  CHECK(ReadFile(db.string()) == "someone else's database");
  CHECK(ReadFile((maildir / "cur" / "letter").string()) == "someone else's mail");

  // The default store would replace herald.db: refused, naming the file, nothing deleted.
  o.store_uri.clear();
  report = RunSimulation(o);
  REQUIRE_FALSE(report.ok());
  CHECK(absl::IsFailedPrecondition(report.status()));
  CHECK(std::string(report.status().message()).find(db.string() + " exists and was not written by a simulation") !=
        std::string::npos);
  CHECK(ReadFile(db.string()) == "someone else's database");

  // Once the foreign files are gone, a simulation's own outputs are replaced run after run.
  fs::remove(db);
  fs::remove_all(maildir);
  o = Small(dir);
  o.page_views = 2'000;
  REQUIRE(RunSimulation(o).ok());
  REQUIRE(fs::is_regular_file(db));
  REQUIRE(fs::is_directory(maildir));
  auto second = RunSimulation(o);
  INFO((second.ok() ? std::string() : std::string(second.status().message())));
  CHECK(second.ok());
  CHECK(ReadFile((fs::path(dir) / ".herald-simulation").string()).find("herald.db\n") != std::string::npos);
  (void)std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace herald
