// Several servers, one campaign (issue 6, item 3): four processes select ads
// at full speed against one PostgreSQL store with a 1 s counter refresh;
// combined delivery meets each goal within 1% and, with quota leases, never
// passes it (the issue asks for under 0.5%).
#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "absl/time/clock.h"
#include "pg_test.h"
#include "herald/store_postgres.h"

extern char** environ;

namespace herald {
namespace {

// A campaign that runs in real time: it started 30 s ago and ends in 15 s, so
// the servers pace toward the goals and reach them as the campaign ends.
std::string CatalogText(absl::Time start, absl::Time end) {
  auto fmt = [](absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%S", t, absl::UTCTimeZone()); };
  std::string text = R"pb(
name: "several servers"
time_zone: "UTC"
reference_tables { page_groups { name: "Home" } industries { code: "a" } industries { code: "b" } industries { code: "c" } }
customers { id: "c" }
campaigns {
  id: "k" name: "k" customer_id: "c" start: "START" end: "END" goaling: GOALING_LEVEL_AD
  items { id: "small" name: "small" ad { type: AD_TYPE_PAID quantity: 20000 industry: "a" page_groups: "Home" } }
  items { id: "medium" name: "medium" ad { type: AD_TYPE_PAID quantity: 50000 industry: "b" page_groups: "Home" } }
  items { id: "large" name: "large" ad { type: AD_TYPE_PAID quantity: 120000 industry: "c" page_groups: "Home" } }
  items { id: "house" name: "house" ad { type: AD_TYPE_HOUSE weight: 1 page_groups: "Home" } }
}
)pb";
  text.replace(text.find("START"), 5, fmt(start));
  text.replace(text.find("END"), 3, fmt(end));
  return text;
}

TEST_CASE("Four servers sharing PostgreSQL meet each goal within 1% and never pass it",
          "[csf][postgres]") {
  const char* pg = testing::PostgresOrSkip("the several-servers test");
  if (pg == nullptr) return;
  std::string dir = std::string(HERALD_BINARY_DIR) + "/multi_server_test";
  std::string mkdir = "mkdir -p " + dir;
  REQUIRE(std::system(mkdir.c_str()) == 0);
  std::string catalog = dir + "/catalog.textproto";
  const absl::Time now = absl::Now();
  const absl::Time end = now + absl::Seconds(15);
  std::ofstream(catalog) << CatalogText(now - absl::Seconds(30), end);
  std::string schema = "multi_" + std::to_string(std::random_device{}() % 1000000000);

  std::vector<pid_t> workers;
  for (int w = 0; w < 4; ++w) {
    std::string seed = std::to_string(w + 1);
    // Each runs until 2 s after the campaign ends.
    std::string until = std::to_string(absl::ToUnixSeconds(end) + 2);
    std::vector<std::string> args = {HERALD_SELECTOR_WORKER, catalog, pg, schema, until, seed};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    workers.push_back(pid);
  }
  for (pid_t pid : workers) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(schema);
  auto store = OpenPostgresStore(config);
  REQUIRE(store.ok());
  auto totals = (*store)->counters().LoadCounterTotals();
  REQUIRE(totals.ok());
  std::map<std::string, int64_t> delivered;
  for (const auto& t : *totals) delivered[t.item_id] = t.requests;
  for (auto [id, goal] : {std::pair<std::string, int64_t>{"small", 20000}, {"medium", 50000},
                          {"large", 120000}}) {
    INFO(id << ": delivered " << delivered[id] << " of " << goal);
    CHECK(delivered[id] >= goal * 0.99);
    CHECK(delivered[id] <= goal);  // quota leases: never past the goal, not even by 0.5%
  }
  CHECK(delivered["house"] > 0);
}

}  // namespace
}  // namespace herald
