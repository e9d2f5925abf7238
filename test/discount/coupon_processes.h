// Test support shared by multi_process_coupon_test.cc and the worker it
// spawns (coupon_commit_worker.cc): the catalog, the limits and the orders.
#ifndef HERALD_TEST_DISCOUNT_COUPON_PROCESSES_H_
#define HERALD_TEST_DISCOUNT_COUPON_PROCESSES_H_

#include <string>

namespace herald::testing {

// LIMITED: 20 uses in all, any customer. TWICE: 2 uses per customer, no
// overall limit. Every order carries both codes.
constexpr int kLimitedMaxUses = 20;
constexpr int kTwicePerCustomer = 2;
constexpr int kCustomers = 8;
constexpr int kWorkers = 4;
constexpr int kThreadsPerWorker = 2;
constexpr int kOrdersPerThread = 30;

constexpr char kCouponProcessItems[] = R"(
  items { id: "limited" discount { coupon_codes: "LIMITED"
    coupon_limits { max_uses: 20 }
    offer { kind: OFFER_KIND_ORDER_AMOUNT_OFF amount_minor: 500 currency: "USD" } } }
  items { id: "twice" discount { coupon_codes: "TWICE"
    coupon_limits { max_uses_per_customer: 2 }
    award { expression: "product.category == 'x'" }
    offer { kind: OFFER_KIND_PERCENT_OFF percent: 10 } } })";

// Order `i` of thread `t` of worker `w`. Every fifth order id is the same in
// every worker (the same checkout committed by several servers at once, as
// after a retried request); the others are the worker's own.
inline std::string CouponOrderId(int w, int t, int i) {
  if (i % 5 == 0) return "shared-" + std::to_string(t) + "-" + std::to_string(i);
  return "w" + std::to_string(w) + "-" + std::to_string(t) + "-" + std::to_string(i);
}

// An order's customer (a shared order has the same customer everywhere).
inline std::string CouponCustomerId(int w, int t, int i) {
  int k = i % 5 == 0 ? (t * kOrdersPerThread + i) % kCustomers : (i * 3 + t * 5 + w) % kCustomers;
  return "customer-" + std::to_string(k);
}

}  // namespace herald::testing

#endif  // HERALD_TEST_DISCOUNT_COUPON_PROCESSES_H_
