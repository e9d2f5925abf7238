// Prometheus metrics of `herald serve` (docs/server.md, "Metrics"), written
// by hand in the text exposition format 0.0.4.
//
// Two owners, so that each counts what it sees:
//   RequestMetrics   one per transport (HttpServer): requests and their
//                    latency per route template and status class, open and
//                    refused connections, rate-limited requests.
//   DecisionMetrics  one per DecisionService: decisions by outcome and the
//                    slots they filled; catalog reloads.
// Everything else (each paid ad's delivery, the event queue, counter lag) is
// read from the selector when /metrics is scraped, not counted per request.
//
// Thread-safety: every Record* method is lock-free (relaxed atomic adds on
// fixed arrays; no allocation) and may be called from any thread; Render()
// may run concurrently with them (it reads a consistent-enough snapshot:
// each number is exact, the set of numbers is not taken at one instant).
#ifndef HERALD_LIB_SERVER_METRICS_H_
#define HERALD_LIB_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald::server_internal {

// Latency histogram buckets (upper bounds, seconds).
inline constexpr std::array<double, 14> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1,     2.5,   5,    10};

// The routes requests are counted by: templates, never raw paths (a click
// path carries a token). kUnmatched is every path no route takes.
inline constexpr std::array<std::string_view, 11> kRouteTemplates = {
    "/healthz",          "/readyz",           "/metrics",      "/v1/openapi.json",
    "/v1/ads:select",    "/v1/baskets:price", "/v1/orders:commit", "/v1/responses",
    "/v1/reports/{name}", "/v1/clicks/{token}", "unmatched"};
inline constexpr size_t kUnmatchedRoute = kRouteTemplates.size() - 1;

// The index of `route` in kRouteTemplates; kUnmatchedRoute when absent.
size_t RouteIndex(std::string_view route);

// A cumulative latency histogram with fixed buckets.
class LatencyHistogram {
 public:
  void Observe(absl::Duration latency);
  // Appends the _bucket, _sum and _count lines of `name` with `labels`
  // ("route=\"/healthz\"", no braces) to `out`; nothing when empty.
  void Render(std::string_view name, std::string_view labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};  // last: +Inf only
  std::atomic<uint64_t> sum_nanos_{0};
};

class RequestMetrics {
 public:
  // One answered request: its route (an index of kRouteTemplates), HTTP
  // status and time from reading it to queuing the answer.
  void RecordRequest(size_t route, int http_status, absl::Duration latency);
  void ConnectionOpened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
  // A connection closed at once because max_connections were open.
  void ConnectionRefused() { refused_connections_.fetch_add(1, std::memory_order_relaxed); }
  int64_t open_connections() const { return open_connections_.load(std::memory_order_relaxed); }
  // A request answered 429 by the per-key rate limit.
  void RateLimited() { rate_limited_.fetch_add(1, std::memory_order_relaxed); }

  // herald_http_* families.
  void Render(std::string* out) const;

 private:
  static constexpr size_t kClasses = 5;  // 1xx .. 5xx
  std::array<std::array<std::atomic<uint64_t>, kClasses>, kRouteTemplates.size()> requests_{};
  std::array<LatencyHistogram, kRouteTemplates.size()> latency_;
  std::atomic<int64_t> open_connections_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<uint64_t> rate_limited_{0};
};

// A web listener's requests (HttpServer::StartWeb: the Business Desk),
// counted by the route names its handler gives (WebReply::route: patterns,
// a bounded set) under `prefix`: <prefix>_requests_total{route,
// status_class} and <prefix>_request_duration_seconds{route}. A mutex
// guards the map: these listeners answer people, not the storefront's
// hot path.
class WebMetrics {
 public:
  explicit WebMetrics(std::string prefix) : prefix_(std::move(prefix)) {}
  void RecordRequest(std::string_view route, int http_status, absl::Duration latency);
  void Render(std::string* out) const;

 private:
  struct Route {
    std::array<uint64_t, 5> classes{};  // 1xx .. 5xx, guarded by mu_
    LatencyHistogram latency;
  };
  std::string prefix_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Route>, std::less<>> routes_ ABSL_GUARDED_BY(mu_);
};

// The methods of herald.v1.Decisions, as the gRPC transport counts them.
inline constexpr std::array<std::string_view, 7> kGrpcMethods = {
    "SelectAds", "Click", "PriceBasket", "CommitOrder", "CaptureResponse", "GetReport", "Health"};

// The gRPC transport's calls (herald_grpc_* families): per method, calls
// answered by status code and their latency. Status codes are gRPC's 0..16.
class GrpcMetrics {
 public:
  // One answered call: `method` an index of kGrpcMethods, `code` a
  // grpc::StatusCode (out-of-range codes count as UNKNOWN).
  void RecordCall(size_t method, int code, absl::Duration latency);
  void Render(std::string* out) const;

 private:
  static constexpr size_t kCodes = 17;
  std::array<std::array<std::atomic<uint64_t>, kCodes>, kGrpcMethods.size()> calls_{};
  std::array<LatencyHistogram, kGrpcMethods.size()> latency_;
};

// The name of a gRPC status code ("OK", "NOT_FOUND"), as grpc documents them.
std::string_view GrpcCodeName(int code);

// How a decision (POST /v1/ads:select) ended.
enum class DecisionOutcome : uint8_t {
  kFilled,    // every slot asked for has a winner
  kPartial,   // some slots stayed empty
  kEmpty,     // no winner at all
  kRejected,  // the request was invalid (4xx)
  kFailed,    // the server could not decide (5xx)
};

class DecisionMetrics {
 public:
  // One decision; for kFilled/kPartial/kEmpty the slots it filled by kind
  // and the slots left empty (asked for minus winners).
  void RecordDecision(DecisionOutcome outcome, int paid, int house, int discount, int empty);
  void RecordReload(bool ok);
  // herald_decisions_total, herald_slots_total, herald_catalog_reloads_total.
  void Render(std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, 5> outcomes_{};
  std::array<std::atomic<uint64_t>, 4> slots_{};  // paid, house, discount, empty
  std::array<std::atomic<uint64_t>, 2> reloads_{};  // ok, failed
};

// Exposition helpers: a label value escaped (backslash, double quote,
// newline), a sample value (integers without a fraction, +Inf/-Inf/NaN), and
// the # HELP / # TYPE header of a family.
std::string EscapeLabelValue(std::string_view value);
std::string FormatSampleValue(double value);
void AppendFamilyHeader(std::string_view name, std::string_view type, std::string_view help, std::string* out);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_METRICS_H_
