#include "herald/report.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "nlohmann/json.hpp"

namespace herald {
namespace {

namespace fs = std::filesystem;

// Spring: campaign-level goaling, 1,500 requests split 3:1 over two paid ads,
// plus a house ad. Autumn: ad-level goaling by clicks.
v1::Catalog TestCatalog() {
  v1::Catalog catalog;
  catalog.set_name("shop");
  catalog.set_time_zone("UTC");
  auto* spring = catalog.add_campaigns();
  spring->set_id("spring");
  spring->set_name("Spring, \"sale\"");
  spring->set_goaling(v1::GOALING_LEVEL_CAMPAIGN);
  spring->set_quantity_ordered(1500);
  auto add_ad = [](v1::Campaign* c, const std::string& id, const std::string& name, double weight,
                   int64_t quantity, v1::AdType type) {
    auto* item = c->add_items();
    item->set_id(id);
    item->set_name(name);
    item->mutable_ad()->set_type(type);
    item->mutable_ad()->set_weight(weight);
    item->mutable_ad()->set_quantity(quantity);
  };
  add_ad(spring, "blue", "Blue paint", 3, 0, v1::AD_TYPE_PAID);
  add_ad(spring, "green", "Green paint", 1, 0, v1::AD_TYPE_PAID);
  add_ad(spring, "house", "House ad", 5, 0, v1::AD_TYPE_HOUSE);
  auto* autumn = catalog.add_campaigns();
  autumn->set_id("autumn");
  autumn->set_name("Autumn");
  autumn->set_goaling(v1::GOALING_LEVEL_AD);
  autumn->set_goal_event(v1::GOAL_EVENT_CLICKS);
  add_ad(autumn, "red", "Red paint", 1, 40, v1::AD_TYPE_PAID);
  return catalog;
}

v1::Event Ev(int day, v1::EventType type, const std::string& item, const std::string& campaign,
             const std::string& user, const std::string& page = "home") {
  v1::Event e;
  e.set_type(type);
  // 2026-06-01T10:00:00Z + day days.
  e.mutable_time()->set_seconds(1780308000 + day * 86400);
  e.set_item_id(item);
  e.set_campaign_id(campaign);
  e.set_user_id(user);
  e.set_page_group(page);
  return e;
}

std::unique_ptr<Store> TestStore() {
  auto store = NewMemoryStore();
  std::vector<v1::Event> events = {
      // Day 0: blue shown to u1 twice and u2 once; u1 clicks.
      Ev(0, v1::EVENT_TYPE_REQUEST, "blue", "spring", "u1"),
      Ev(0, v1::EVENT_TYPE_REQUEST, "blue", "spring", "u1", "sports"),
      Ev(0, v1::EVENT_TYPE_REQUEST, "blue", "spring", "u2"),
      Ev(0, v1::EVENT_TYPE_CLICK, "blue", "spring", "u1"),
      // Day 1: green to u1; house to u3; red to u2 (clicked twice via count).
      Ev(1, v1::EVENT_TYPE_REQUEST, "green", "spring", "u1"),
      Ev(1, v1::EVENT_TYPE_REQUEST, "house", "spring", "u3"),
      Ev(1, v1::EVENT_TYPE_REQUEST, "red", "autumn", "u2", "sports"),
  };
  v1::Event clicks = Ev(1, v1::EVENT_TYPE_CLICK, "red", "autumn", "u2", "sports");
  clicks.set_count(2);
  events.push_back(clicks);
  v1::Event custom = Ev(2, v1::EVENT_TYPE_CUSTOM, "blue", "spring", "u4");
  custom.set_custom_name("video-play");
  events.push_back(custom);
  REQUIRE(store->events().AppendEvents(events).ok());
  return store;
}

ReportTable Run(std::string_view name, Store& store, const ReportOptions& options) {
  auto table = RunReport(name, store.events(), options);
  INFO(table.status().ToString());
  REQUIRE(table.ok());
  return *table;
}

// The row whose first cells equal `keys`.
const std::vector<ReportCell>& Row(const ReportTable& t, std::vector<std::string> keys) {
  for (const auto& row : t.rows) {
    bool match = true;
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto* s = std::get_if<std::string>(&row[i]);
      if (s == nullptr || *s != keys[i]) match = false;
    }
    if (match) return row;
  }
  FAIL("no row " << keys[0]);
  static std::vector<ReportCell> none;
  return none;
}

int64_t I(const ReportCell& c) { return std::get<int64_t>(c); }
double D(const ReportCell& c) { return std::get<double>(c); }

TEST_CASE("SplitByWeight: campaign-level goaling splits by weight", "[report]") {
  std::vector<double> w31 = {3, 1};
  CHECK(SplitByWeight(1500, w31) == std::vector<int64_t>{1125, 375});
  std::vector<double> w82 = {80, 20};
  CHECK(SplitByWeight(40000, w82) == std::vector<int64_t>{32000, 8000});
  std::vector<double> thirds = {1, 1, 1};
  auto parts = SplitByWeight(100, thirds);
  CHECK(parts[0] + parts[1] + parts[2] == 100);
  std::vector<double> none = {0, 0};
  CHECK(SplitByWeight(10, none) == std::vector<int64_t>{0, 0});
}

TEST_CASE("report: campaign item summary", "[report]") {
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  ReportOptions options;
  options.catalog = &catalog;
  ReportTable t = Run("campaign-item-summary", *store, options);
  CHECK(t.title == "Campaign Item Summary");
  REQUIRE(t.rows.size() == 4);
  const auto& blue = Row(t, {"Spring, \"sale\"", "Blue paint"});
  CHECK(std::get<std::string>(blue[2]) == "paid");
  CHECK(I(blue[4]) == 1125);  // goal
  CHECK(I(blue[5]) == 3);     // requests
  CHECK(I(blue[6]) == 1);     // clicks
  CHECK(D(blue[7]) == Approx(33.333).epsilon(0.001));
  CHECK(I(blue[8]) == 3);
  CHECK(I(blue[9]) == 1122);  // remaining
  const auto& green = Row(t, {"Spring, \"sale\"", "Green paint"});
  CHECK(I(green[4]) == 375);
  const auto& house = Row(t, {"Spring, \"sale\"", "House ad"});
  CHECK(std::get<std::string>(house[2]) == "house");
  CHECK(std::holds_alternative<std::monostate>(house[4]));  // no goal
  const auto& red = Row(t, {"Autumn", "Red paint"});
  CHECK(std::get<std::string>(red[3]) == "clicks");
  CHECK(I(red[4]) == 40);
  CHECK(I(red[8]) == 2);   // delivered clicks (count 2)
  CHECK(I(red[9]) == 38);

  // Filtered by campaign name and by date.
  options.campaign = "Autumn";
  CHECK(Run("campaign-item-summary", *store, options).rows.size() == 1);
  options.campaign = "nope";
  CHECK(RunReport("campaign-item-summary", store->events(), options).status().code() ==
        absl::StatusCode::kNotFound);
  options.campaign = "spring";
  options.from = absl::FromUnixSeconds(1780308000 + 86400 - 3600);
  ReportTable day1 = Run("campaign-item-summary", *store, options);
  CHECK(I(Row(day1, {"Spring, \"sale\"", "Blue paint"})[5]) == 0);
  CHECK(I(Row(day1, {"Spring, \"sale\"", "Green paint"})[5]) == 1);
  CHECK(RunReport("no-such-report", store->events(), options).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("report: reach and frequency per day - item and campaign", "[report]") {
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  ReportOptions options;
  options.catalog = &catalog;
  ReportTable day = Run("reach-frequency-day", *store, options);
  const auto& d0 = Row(day, {"2026-06-01", "Spring, \"sale\""});
  CHECK(I(d0[2]) == 3);  // requests
  CHECK(I(d0[3]) == 1);  // clicks
  CHECK(I(d0[4]) == 2);  // reach: u1, u2
  CHECK(D(d0[5]) == Approx(1.5));
  const auto& d1 = Row(day, {"2026-06-02", "Spring, \"sale\""});
  CHECK(I(d1[4]) == 2);  // u1 (green), u3 (house)

  ReportTable item = Run("reach-frequency-item", *store, options);
  const auto& blue = Row(item, {"Spring, \"sale\"", "Blue paint"});
  CHECK(I(blue[4]) == 2);
  CHECK(D(blue[5]) == Approx(1.5));

  ReportTable campaign = Run("reach-frequency-campaign", *store, options);
  REQUIRE(campaign.rows.size() == 2);
  const auto& spring = Row(campaign, {"Spring, \"sale\""});
  CHECK(I(spring[1]) == 5);  // requests
  CHECK(I(spring[3]) == 3);  // reach over all time: u1, u2, u3
  CHECK(D(spring[4]) == Approx(5.0 / 3));
  // Time zone: in Pacific/Auckland (UTC+12) the day-0 events fall on June 1 22:00.
  options.time_zone = "Pacific/Kiritimati";  // UTC+14: 10:00Z is the next day
  ReportTable shifted = Run("reach-frequency-day", *store, options);
  CHECK(I(Row(shifted, {"2026-06-02", "Spring, \"sale\""})[2]) == 3);
}

TEST_CASE("report: event summary and placement", "[report]") {
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  ReportOptions options;
  options.catalog = &catalog;
  ReportTable events = Run("campaign-event-summary", *store, options);
  CHECK(I(Row(events, {"Spring, \"sale\"", "request"})[2]) == 5);
  CHECK(I(Row(events, {"Spring, \"sale\"", "video-play"})[2]) == 1);
  CHECK(I(Row(events, {"Autumn", "click"})[2]) == 2);
  CHECK(I(Row(events, {"Autumn", "click"})[3]) == 1);

  ReportTable placement = Run("ad-placement", *store, options);
  const auto& sports = Row(placement, {"sports", "Spring, \"sale\""});
  CHECK(I(sports[2]) == 1);
  const auto& autumn = Row(placement, {"sports", "Autumn"});
  CHECK(I(autumn[2]) == 1);
  CHECK(I(autumn[3]) == 2);
  CHECK(D(autumn[4]) == Approx(200.0));

  // Without a catalog: ids, no goals.
  ReportTable bare = Run("campaign-item-summary", *store, ReportOptions{});
  CHECK(bare.rows.size() == 4);
  CHECK(std::holds_alternative<std::monostate>(Row(bare, {"spring", "blue"})[4]));
}

TEST_CASE("report: renderers", "[report]") {
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  ReportOptions options;
  options.catalog = &catalog;
  ReportTable t = Run("campaign-item-summary", *store, options);

  std::string text = RenderTable(t);
  CHECK(text.find("Campaign Item Summary") == 0);
  CHECK(text.find("Blue paint") != std::string::npos);
  CHECK(text.find("33.33") != std::string::npos);

  std::string csv = RenderCsv(t);
  CHECK(csv.find("campaign,item,type,goal_event,goal,requests,clicks,click_rate,delivered,"
                 "remaining,delivered_pct\r\n") == 0);
  CHECK(csv.find("\"Spring, \"\"sale\"\"\",Blue paint,paid,requests,1125,3,1,33.33,3,1122,0.27\r\n") !=
        std::string::npos);

  auto json = nlohmann::json::parse(RenderJson(t));
  CHECK(json["report"] == "campaign-item-summary");
  CHECK(json["columns"].size() == 11);
  CHECK(json["rows"][0]["campaign"] == "Spring, \"sale\"");
  CHECK(json["rows"][0]["goal"] == 1125);
  CHECK(json["rows"][2]["goal"].is_null());

  auto charts = BuildReportCharts(store->events(), options);
  REQUIRE(charts.ok());
  CHECK(charts->delivery.size() == 4);
  CHECK(charts->delivery[0].item == "Blue paint");
  CHECK(charts->delivery[0].goal == 1125);
  REQUIRE(charts->delivery[0].cumulative.size() == 3);
  CHECK(charts->delivery[0].cumulative.back().second == 3);
  CHECK(charts->reach.size() == 3);
  std::string html = RenderHtml(t, *charts);
  CHECK(html.find("<!DOCTYPE html>") == 0);
  CHECK(html.find("src=") == std::string::npos);   // self-contained
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("Spring, &quot;sale&quot;") != std::string::npos);
  CHECK(RenderReport(t, "xml").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(RenderReport(t, "csv").value() == csv);
}

TEST_CASE("report: the expected-pace line spreads an ad's goal evenly over its schedule's days", "[report]") {
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  // Spring runs ten days from 2026-06-01; the events fall on its first three.
  catalog.mutable_campaigns(0)->set_start("2026-06-01");
  catalog.mutable_campaigns(0)->set_end("2026-06-10");
  ReportOptions options;
  options.catalog = &catalog;
  auto charts = BuildReportCharts(store->events(), options);
  REQUIRE(charts.ok());
  REQUIRE(charts->delivery[0].item == "Blue paint");  // goal 1,125
  using Points = std::vector<std::pair<std::string, int64_t>>;
  CHECK(charts->delivery[0].expected == Points{{"2026-06-01", 113}, {"2026-06-02", 225}, {"2026-06-03", 338}});
  // An ad with its own schedule paces over its own dates.
  catalog.mutable_campaigns(0)->mutable_items(1)->mutable_ad()->mutable_schedule()->set_start("2026-06-02");
  catalog.mutable_campaigns(0)->mutable_items(1)->mutable_ad()->mutable_schedule()->set_end("2026-06-03");
  charts = BuildReportCharts(store->events(), options);
  REQUIRE(charts.ok());
  CHECK(charts->delivery[1].expected == Points{{"2026-06-01", 0}, {"2026-06-02", 188}, {"2026-06-03", 375}});
  // No end date (Autumn), or no goal (the house ad): no line.
  for (const DeliverySeries& s : charts->delivery) {
    if (s.item == "Red paint" || s.item == "House ad") CHECK(s.expected.empty());
  }
  CHECK(nlohmann::json::parse(RenderChartsJson(*charts))["delivery"][0]["expected"][2] ==
        nlohmann::json::array({"2026-06-03", 338}));
}

TEST_CASE("report: HTML charts draw in headless Chromium", "[report][chromium]") {
  std::string chromium;
  for (const char* candidate : {"chromium", "chromium-browser", "google-chrome"}) {
    if (std::system(("command -v " + std::string(candidate) + " >/dev/null 2>&1").c_str()) == 0) {
      chromium = candidate;
      break;
    }
  }
  if (chromium.empty()) {
    WARN("chromium is not installed: the HTML chart test is skipped (add it via scripts/setup.sh)");
    return;
  }
  auto store = TestStore();
  v1::Catalog catalog = TestCatalog();
  ReportOptions options;
  options.catalog = &catalog;
  ReportTable t = Run("campaign-item-summary", *store, options);
  auto charts = BuildReportCharts(store->events(), options);
  REQUIRE(charts.ok());
  const fs::path dir = fs::temp_directory_path() / ("herald-report-" + std::to_string(::getpid()));
  fs::create_directories(dir / "profile");
  const fs::path page = dir / "report.html";
  { std::ofstream(page) << RenderHtml(t, *charts); }
  const fs::path dom = dir / "dom.html";
  const std::string cmd = chromium +
                          " --headless --no-sandbox --disable-gpu --disable-background-networking"
                          " --disable-component-update --disable-sync --no-first-run"
                          " --disable-dev-shm-usage --user-data-dir=" + (dir / "profile").string() +
                          " --dump-dom file://" + page.string() + " >" + dom.string() +
                          " 2>" + (dir / "chromium.log").string();
  int rc = std::system(("timeout 120 " + cmd).c_str());
  std::ifstream in(dom);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO("chromium exit " << rc << ", dom " << out.size() << " bytes");
  REQUIRE(rc == 0);
  // 4 delivery charts + 1 reach chart.
  CHECK(out.find("data-charts-drawn=\"5\"") != std::string::npos);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + 1)) ++n;
    return n;
  };
  CHECK(count("class=\"delivery-line\"") == 4);
  CHECK(count("class=\"goal-line\"") == 3);  // the house ad has no goal
  CHECK(count("class=\"reach-bar\"") == 3);
  CHECK(count("class=\"frequency-line\"") == 1);
  // The polylines have real coordinates (numbers, no NaN).
  CHECK(out.find("NaN") == std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace herald
