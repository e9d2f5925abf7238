// Live refresh across processes: several `herald serve` processes share one
// PostgreSQL store and no catalog file; a version pushed with `herald catalog
// push` reaches every one of them within the refresh interval, without a
// restart, without a failed or stalled request, and with delivery counters
// carried over by item id.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "herald_process.h"
#include "pg_test.h"
#include "server/http_client.h"

namespace herald {
namespace {

using Clock = std::chrono::steady_clock;

std::string Catalog(bool with_b) {
  std::string text = R"pb(
name: "Live"
time_zone: "UTC"
reference_tables { page_groups { name: "Home" } }
customers { id: "cust" name: "Customer" }
campaigns {
  id: "spring" name: "Spring" customer_id: "cust"
  start: "2026-01-01" end: "2030-01-01"
  goaling: GOALING_LEVEL_AD
  items { id: "ad-a" name: "Ad A" ad { type: AD_TYPE_PAID quantity: 1000000 size: "Banner" display { text: "A" } } }
)pb";
  if (with_b) {
    text += R"pb(  items { id: "ad-b" name: "Ad B" ad { type: AD_TYPE_PAID quantity: 1000000 size: "Banner" display { text: "B" } } }
)pb";
  }
  return text + "}\n";
}

// A fresh database on the test server, so the store's default schema is ours.
std::string FreshDatabase(const std::string& pg) {
  const std::string name = "desk_" + std::to_string(getpid()) + "_" + std::to_string(std::random_device{}() % 100000);
  REQUIRE(std::system(("psql '" + pg + "' -qc 'CREATE DATABASE " + name + "' >/dev/null").c_str()) == 0);
  const size_t slash = pg.rfind('/');
  REQUIRE(slash != std::string::npos);
  const size_t query = pg.find('?', slash);
  return pg.substr(0, slash + 1) + name + (query == std::string::npos ? "" : pg.substr(query));
}

int Herald(const std::string& args) {
  return std::system((std::string(HERALD_BINARY_DIR) + "/bin/herald " + args + " >/dev/null").c_str());
}

// Winners' item ids of one decision on `base`, "" when the request failed.
std::string Winners(const std::string& base, long* millis = nullptr) {
  auto start = Clock::now();
  test::HttpResponse r = test::HttpCall(
      "POST", base + "/v1/ads:select", R"({"pageGroups":["Home"],"count":2,"userId":"u1","size":"Banner"})");
  if (millis != nullptr) {
    *millis = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  }
  if (r.status != 200) return "";
  std::string ids;
  for (const char* id : {"ad-a", "ad-b"}) {
    if (r.body.find(std::string("\"itemId\":\"") + id + "\"") != std::string::npos) ids += ids.empty() ? id : std::string("+") + id;
  }
  return ids.empty() ? "none" : ids;
}

int64_t MetricValue(const std::string& base, const std::string& series) {
  test::HttpResponse r = test::HttpCall("GET", base + "/metrics");
  if (r.status != 200) return -1;
  const size_t at = r.body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atoll(r.body.c_str() + at + series.size() + 2);
}

TEST_CASE("live refresh: a pushed version reaches every server on the store within the refresh interval",
          "[desk][refresh][postgresql]") {
  const char* pg = testing::PostgresOrSkip("the live refresh test");
  if (pg == nullptr) return;
  const std::string store = FreshDatabase(pg);
  char dir_template[] = "/tmp/herald-refresh-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  std::ofstream(dir + "/v1.textproto") << Catalog(false);
  std::ofstream(dir + "/v2.textproto") << Catalog(true);
  REQUIRE(Herald("catalog push " + dir + "/v1.textproto --store '" + store + "'") == 0);

  constexpr int kServers = 3;
  constexpr int kRefreshMs = 500;
  std::vector<pid_t> pids;
  std::vector<std::string> bases;
  for (int i = 0; i < kServers; ++i) {
    const std::string listen = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
    bases.push_back("http://" + listen);
    pid_t pid = fork();
    if (pid == 0) {
      const std::string herald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
      const std::string refresh = std::to_string(kRefreshMs);
      execl(herald.c_str(), "herald", "serve", "--store", store.c_str(), "--listen", listen.c_str(),
            "--catalog-refresh-ms", refresh.c_str(), "--access-log", "off", nullptr);
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (const std::string& base : bases) {
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (test::HttpCall("GET", base + "/readyz").status != 200) {
      REQUIRE(Clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(Winners(base) == "ad-a");
    CHECK(MetricValue(base, "herald_catalog_version") == 1);
  }

  // Clients keep deciding on every server through the switch.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::atomic<long> slowest{0};
  std::vector<std::thread> clients;
  for (const std::string& base : bases) {
    clients.emplace_back([&, base] {
      while (!stop) {
        long ms = 0;
        (Winners(base, &ms).empty() ? failed : answered)++;
        long seen = slowest.load();
        while (ms > seen && !slowest.compare_exchange_weak(seen, ms)) {
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(Herald("catalog push " + dir + "/v2.textproto --store '" + store + "'") == 0);
  const auto pushed = Clock::now();  // version 2 is in the store
  std::vector<double> took(kServers, -1);
  while (Clock::now() - pushed < std::chrono::seconds(15)) {
    bool all = true;
    for (int i = 0; i < kServers; ++i) {
      if (took[i] >= 0) continue;
      if (MetricValue(bases[i], "herald_catalog_version") == 2 && Winners(bases[i]) == "ad-a+ad-b") {
        took[i] = std::chrono::duration<double>(Clock::now() - pushed).count();
      } else {
        all = false;
      }
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kServers; ++i) {
    INFO("server " << i << " took " << took[i] << " s to serve version 2");
    CHECK(took[i] >= 0);
    CHECK(took[i] < kRefreshMs / 1000.0 + 2.0);  // the interval plus loading, compiling and our own polling
  }
  std::printf("version 2 served after %.3f, %.3f, %.3f s (refresh %d ms); %d decisions through the switch, "
              "%d failed, slowest %ld ms\n",
              took[0], took[1], took[2], kRefreshMs, answered.load(), failed.load(), slowest.load());
  CHECK(failed == 0);
  CHECK(answered > 50);
  CHECK(slowest < 1000);  // no request waited for a load

  // Ad A's delivery carried over the switch: every server still counts it
  // from where it was (the store's totals plus its own), not from zero.
  for (const std::string& base : bases) {
    test::HttpResponse m = test::HttpCall("GET", base + "/metrics");
    const std::string key = "herald_paid_ad_delivered{item_id=\"ad-a\",campaign_id=\"spring\",unit=\"requests\"} ";
    const size_t at = m.body.find(key);
    REQUIRE(at != std::string::npos);
    CHECK(std::atoll(m.body.c_str() + at + key.size()) > 0);
  }
  for (pid_t pid : pids) kill(pid, SIGTERM);
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace herald
