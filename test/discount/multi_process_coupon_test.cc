// Coupon usage limits across processes (issue 5): four checkout servers, each
// a separate process with two threads, commit orders carrying the same limited
// codes against one PostgreSQL schema at the same instant. The per-code and
// per-customer limits must never be exceeded, and every accepted redemption
// must be stored exactly once. Runs when HERALD_TEST_PG is set
// (scripts/pg_test_server.sh).
#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "absl/time/clock.h"
#include "coupon_processes.h"
#include "pg_test.h"
#include "herald/store.h"
#include "herald/store_postgres.h"

extern char** environ;

namespace herald {
namespace {

struct Redemption {
  std::string order, code, customer;
};

// The rows of coupon_redemptions, read with psql (not through the store under test).
std::vector<Redemption> StoredRedemptions(const std::string& pg, const std::string& schema) {
  std::string cmd = "psql -X -q -At -F ' ' '" + pg + "' -c 'SELECT order_id, code, customer_id FROM " + schema +
                    ".coupon_redemptions ORDER BY 1, 2'";
  std::vector<Redemption> out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    std::istringstream line(buf);
    Redemption r;
    if (line >> r.order >> r.code >> r.customer) out.push_back(r);
  }
  pclose(f);
  return out;
}

TEST_CASE("Four processes committing one limited coupon on PostgreSQL never exceed its limits",
          "[discount][coupon][postgres]") {
  const char* pg_env = testing::PostgresOrSkip("the several-processes coupon test");
  if (pg_env == nullptr) return;
  const std::string pg = pg_env;
  const std::string schema = "coupons_" + std::to_string(std::random_device{}() % 1000000000);
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema(schema);
  // Create the schema first, so that the workers only open it.
  auto store = OpenPostgresStore(config);
  REQUIRE(store.ok());

  const std::string dir = std::string(HERALD_BINARY_DIR) + "/multi_process_coupon_test";
  REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
  const std::string start = std::to_string(absl::ToUnixMillis(absl::Now() + absl::Seconds(2)));
  std::vector<pid_t> workers;
  std::vector<std::string> outputs;
  for (int w = 0; w < testing::kWorkers; ++w) {
    outputs.push_back(dir + "/worker" + std::to_string(w) + ".out");
    std::vector<std::string> args = {HERALD_COUPON_WORKER, pg, schema, std::to_string(w), start};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, outputs.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    workers.push_back(pid);
  }
  for (pid_t pid : workers) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  // What the workers were told: per order, the code sets Commit() accepted.
  std::map<std::string, std::set<std::string>> accepted;  // order -> "CODE,CODE" sets
  std::map<std::string, std::string> customer_of;
  std::map<std::string, int> refused;                    // code -> ResourceExhausted count
  std::map<std::string, std::set<int>> limited_by_worker;  // order -> workers that got LIMITED
  int orders = 0;
  for (int w = 0; w < testing::kWorkers; ++w) {
    std::ifstream in(outputs[static_cast<size_t>(w)]);
    std::string kind;
    while (in >> kind) {
      if (kind == "refused") {
        std::string code;
        in >> code;
        ++refused[code];
        continue;
      }
      std::string order, customer, codes;
      in >> order >> customer;
      if (kind == "accepted") in >> codes;
      ++orders;
      customer_of[order] = customer;
      accepted[order].insert(codes);  // "" for an order committed without codes ("none")
      if (kind == "accepted") {
        if (codes.find("LIMITED") != std::string::npos) limited_by_worker[order].insert(w);
      }
    }
  }
  const int expected_orders = testing::kWorkers * testing::kThreadsPerWorker * testing::kOrdersPerThread;
  REQUIRE(orders == expected_orders);

  // What the database holds.
  std::vector<Redemption> stored = StoredRedemptions(pg, schema);
  std::map<std::string, std::string> stored_codes;  // order -> "CODE,CODE" (rows come sorted by code)
  std::map<std::string, int> uses;                  // code -> uses
  std::map<std::string, int> twice_by_customer;
  std::set<std::pair<std::string, std::string>> rows;
  for (const Redemption& r : stored) {
    INFO("stored: " << r.order << " " << r.code << " " << r.customer);
    CHECK(rows.insert({r.order, r.code}).second);  // each (order, code) once
    std::string& codes = stored_codes[r.order];
    codes += (codes.empty() ? "" : ",") + r.code;
    ++uses[r.code];
    if (r.code == "TWICE") ++twice_by_customer[r.customer];
    // Stored for the order's own customer, and only for an order a worker was told was accepted.
    CHECK(r.customer == customer_of[r.order]);
    CHECK(accepted.count(r.order) == 1);
  }

  // Limits: never exceeded, and reached (the orders far outnumber them, so a
  // lower count would mean refusals that should not have happened).
  CHECK(uses["LIMITED"] <= testing::kLimitedMaxUses);
  CHECK(uses["LIMITED"] == testing::kLimitedMaxUses);
  CHECK(uses["TWICE"] == testing::kCustomers * testing::kTwicePerCustomer);
  CHECK(twice_by_customer.size() == static_cast<size_t>(testing::kCustomers));
  for (int c = 0; c < testing::kCustomers; ++c) {
    std::string customer = "customer-" + std::to_string(c);
    INFO(customer);
    CHECK(twice_by_customer[customer] <= testing::kTwicePerCustomer);
    CHECK(twice_by_customer[customer] == testing::kTwicePerCustomer);
    CHECK(*(*store)->coupons().CouponUses("TWICE", customer) == testing::kTwicePerCustomer);
  }
  CHECK(*(*store)->coupons().CouponUses("LIMITED") == testing::kLimitedMaxUses);
  CHECK(*(*store)->coupons().CouponUses("TWICE") == testing::kCustomers * testing::kTwicePerCustomer);

  // Exactly once: every acknowledged order is stored with the codes a worker
  // was told were accepted. An order of one worker has one acknowledgement; a
  // shared order may be acknowledged by several workers (a repeated commit is
  // a no-op, whatever it carries), and the stored codes are those of one of
  // them: none when the first commit had none left.
  int shared_acknowledged_twice = 0;
  for (const auto& [order, sets] : accepted) {
    INFO("order " << order);
    auto it = stored_codes.find(order);
    CHECK(sets.count(it == stored_codes.end() ? std::string() : it->second) == 1);
    if (order.rfind("shared-", 0) != 0) CHECK(sets.size() == 1);
    shared_acknowledged_twice += order.rfind("shared-", 0) == 0 && limited_by_worker[order].size() > 1;
  }
  CHECK(stored_codes.size() <= accepted.size());
  // Every acknowledged order, with codes or without, is recorded once.
  auto committed = (*store)->coupons().CountOrders(absl::InfinitePast(), absl::InfiniteFuture());
  REQUIRE(committed.ok());
  REQUIRE(committed->size() == 1);
  CHECK((*committed)[0].orders == static_cast<int64_t>(accepted.size()));
  // The limits were contended: commits were refused at commit time, and the
  // 20 uses of LIMITED went to orders of more than one process.
  std::set<int> limited_workers;
  for (const auto& [order, ws] : limited_by_worker) {
    if (order.rfind("shared-", 0) != 0) limited_workers.insert(ws.begin(), ws.end());
  }
  CHECK(limited_workers.size() >= 2);
  WARN(refused["LIMITED"] << " LIMITED and " << refused["TWICE"] << " TWICE commits refused at commit time; "
                          << limited_workers.size() << " processes redeemed LIMITED; " << shared_acknowledged_twice
                          << " shared orders acknowledged by several processes");
}

}  // namespace
}  // namespace herald
