// One checkout server of the several-processes coupon test
// (multi_process_coupon_test.cc): prices and commits its orders, all carrying
// the limited codes, against a shared PostgreSQL store, from
// kThreadsPerWorker threads at once, starting at an agreed instant.
//   herald_coupon_worker CONNECTION_STRING SCHEMA WORKER START_UNIX_MILLIS
// Prints one line per order:
//   accepted ORDER CUSTOMER CODE[,CODE...]   Commit() succeeded with these codes
//   none ORDER CUSTOMER                      priced without any code (all refused at pricing)
// and "refused CODE" for every ResourceExhausted from Commit() (the worker
// then prices the order again without that code, as docs/discounts.md says).
// Exits 1 on any other error.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "coupon_processes.h"
#include "discount_test_util.h"
#include "herald/discount.h"
#include "herald/store.h"
#include "herald/store_postgres.h"

namespace {

using namespace herald;

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "coupon worker: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s CONNECTION_STRING SCHEMA WORKER START_UNIX_MILLIS\n", argv[0]);
    return 2;
  }
  const int worker = std::atoi(argv[3]);
  auto catalog = testing::CompileText(testing::DiscountCatalogText(testing::kCouponProcessItems));
  if (!catalog.ok()) return Fail("catalog", catalog.status());
  v1::PostgresStoreConfig pg;
  pg.set_connection_string(argv[1]);
  pg.set_schema(argv[2]);
  pg.set_pool_size(testing::kThreadsPerWorker);
  auto store = OpenPostgresStore(pg);
  if (!store.ok()) return Fail("open store", store.status());
  PricerConfig config;
  config.store = store->get();
  auto pricer = NewBasketPricer(*catalog, config);
  if (!pricer.ok()) return Fail("pricer", pricer.status());

  // Every worker starts at the same instant, so that the commits overlap.
  absl::SleepFor(absl::FromUnixMillis(std::atoll(argv[4])) - absl::Now());

  std::mutex mu;
  std::vector<std::string> lines;
  std::string error;
  auto run = [&](int t) {
    for (int i = 0; i < testing::kOrdersPerThread; ++i) {
      const std::string order = testing::CouponOrderId(worker, t, i);
      const std::string customer = testing::CouponCustomerId(worker, t, i);
      std::vector<std::string> codes = {"LIMITED", "TWICE"};
      for (int attempt = 0;; ++attempt) {
        v1::Basket basket;
        basket.set_currency("USD");
        basket.set_order_id(order);
        basket.set_customer_id(customer);
        for (const std::string& c : codes) basket.add_coupon_codes(c);
        testing::AddLine(&basket, "x", "x", 5000, 1);
        PriceOptions options;
        options.now = testing::Noon();
        options.explain = false;
        auto priced = (*pricer)->Price(basket, options);
        absl::Status s = priced.ok() ? (*pricer)->Commit(basket, *priced) : priced.status();
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok()) {
          std::vector<std::string> used;
          for (const auto& r : priced->coupons()) used.push_back(r.code());
          std::sort(used.begin(), used.end());
          std::string joined;
          for (const std::string& c : used) joined += (joined.empty() ? "" : ",") + c;
          lines.push_back(used.empty() ? "none " + order + " " + customer
                                       : "accepted " + order + " " + customer + " " + joined);
          break;
        }
        std::string message(s.message());
        auto refused = std::find_if(codes.begin(), codes.end(), [&](const std::string& c) {
          return message.find("coupon \"" + c + "\"") != std::string::npos;
        });
        if (s.code() != absl::StatusCode::kResourceExhausted || refused == codes.end() || attempt >= 2) {
          error = order + ": " + message;
          return;
        }
        lines.push_back("refused " + *refused);
        codes.erase(refused);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < testing::kThreadsPerWorker; ++t) threads.emplace_back(run, t);
  for (auto& th : threads) th.join();
  if (!error.empty()) {
    std::fprintf(stderr, "coupon worker %d: %s\n", worker, error.c_str());
    return 1;
  }
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  return 0;
}
