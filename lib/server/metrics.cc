#include "server/metrics.h"

#include <cmath>

#include <type_traits>

#include "absl/strings/str_format.h"

namespace herald::server_internal {

namespace {

// absl::StrCat does not take std::string_view here (Debian's abseil has its
// own string_view): a small appender for the pieces the exposition needs.
template <typename T>
void AppendPiece(std::string* out, const T& piece) {
  if constexpr (std::is_integral_v<T>) {
    *out += std::to_string(piece);
  } else {
    *out += std::string_view(piece);
  }
}
template <typename... T>
void Append(std::string* out, const T&... pieces) {
  (AppendPiece(out, pieces), ...);
}
template <typename... T>
std::string Cat(const T&... pieces) {
  std::string out;
  Append(&out, pieces...);
  return out;
}

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

constexpr std::array<std::string_view, 5> kOutcomeNames = {"filled", "partial", "empty", "rejected", "failed"};
constexpr std::array<std::string_view, 4> kSlotKinds = {"paid", "house", "discount", "empty"};

void AppendSample(std::string_view name, std::string_view labels, double value, std::string* out) {
  Append(out, name);
  if (!labels.empty()) Append(out, "{", labels, "}");
  Append(out, " ", FormatSampleValue(value), "\n");
}

}  // namespace

size_t RouteIndex(std::string_view route) {
  for (size_t i = 0; i < kRouteTemplates.size(); ++i) {
    if (kRouteTemplates[i] == route) return i;
  }
  return kUnmatchedRoute;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return absl::StrFormat("%.0f", value);
  return absl::StrFormat("%.9g", value);
}

void AppendFamilyHeader(std::string_view name, std::string_view type, std::string_view help, std::string* out) {
  Append(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// ------------------------------------------------------------ LatencyHistogram

void LatencyHistogram::Observe(absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  // Per bucket, not cumulative: one add per observation; Render accumulates.
  buckets_[bucket].fetch_add(1, kRelaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, absl::ToInt64Nanoseconds(latency))), kRelaxed);
}

void LatencyHistogram::Render(std::string_view name, std::string_view labels, std::string* out) const {
  std::array<uint64_t, kLatencyBuckets.size() + 1> counts;
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) total += counts[i] = buckets_[i].load(kRelaxed);
  if (total == 0) return;
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += counts[i];
    Append(out, name, "_bucket{", labels, sep, "le=\"", FormatSampleValue(kLatencyBuckets[i]), "\"} ",
                    cumulative, "\n");
  }
  Append(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", total, "\n");
  AppendSample(Cat(name, "_sum"), labels, static_cast<double>(sum_nanos_.load(kRelaxed)) / 1e9, out);
  AppendSample(Cat(name, "_count"), labels, static_cast<double>(total), out);
}

// ------------------------------------------------------------ RequestMetrics

void RequestMetrics::RecordRequest(size_t route, int http_status, absl::Duration latency) {
  if (route >= kRouteTemplates.size()) route = kUnmatchedRoute;
  size_t status_class = http_status >= 100 && http_status < 600 ? http_status / 100 - 1 : kClasses - 1;
  requests_[route][status_class].fetch_add(1, kRelaxed);
  latency_[route].Observe(latency);
}

void RequestMetrics::Render(std::string* out) const {
  AppendFamilyHeader("herald_http_requests_total", "counter",
                     "HTTP requests answered, by route template and status class.", out);
  for (size_t r = 0; r < kRouteTemplates.size(); ++r) {
    for (size_t c = 0; c < kClasses; ++c) {
      uint64_t n = requests_[r][c].load(kRelaxed);
      if (n == 0) continue;
      AppendSample("herald_http_requests_total",
                   Cat("route=\"", kRouteTemplates[r], "\",status_class=\"", c + 1, "xx\""),
                   static_cast<double>(n), out);
    }
  }
  AppendFamilyHeader("herald_http_request_duration_seconds", "histogram",
                     "Time from a request read to its answer queued, by route template.", out);
  for (size_t r = 0; r < kRouteTemplates.size(); ++r) {
    latency_[r].Render("herald_http_request_duration_seconds", Cat("route=\"", kRouteTemplates[r], "\""),
                       out);
  }
  AppendFamilyHeader("herald_http_connections_open", "gauge", "Client connections open now.", out);
  AppendSample("herald_http_connections_open", "", static_cast<double>(open_connections()), out);
  AppendFamilyHeader("herald_http_connections_refused_total", "counter",
                     "Connections closed on accept because limits.max_connections were open.", out);
  AppendSample("herald_http_connections_refused_total", "",
               static_cast<double>(refused_connections_.load(kRelaxed)), out);
  AppendFamilyHeader("herald_http_rate_limited_requests_total", "counter",
                     "Requests answered 429 by the per-key rate limit.", out);
  AppendSample("herald_http_rate_limited_requests_total", "", static_cast<double>(rate_limited_.load(kRelaxed)),
               out);
}

// ---------------------------------------------------------------- WebMetrics

void WebMetrics::RecordRequest(std::string_view route, int http_status, absl::Duration latency) {
  const size_t status_class = http_status >= 100 && http_status < 600 ? http_status / 100 - 1 : 4;
  absl::MutexLock lock(&mu_);
  auto it = routes_.find(route);
  if (it == routes_.end()) it = routes_.emplace(std::string(route), std::make_unique<Route>()).first;
  ++it->second->classes[status_class];
  it->second->latency.Observe(latency);
}

void WebMetrics::Render(std::string* out) const {
  const std::string requests = Cat(prefix_, "_requests_total");
  const std::string duration = Cat(prefix_, "_request_duration_seconds");
  absl::MutexLock lock(&mu_);
  AppendFamilyHeader(requests, "counter", "Requests answered, by route and status class.", out);
  for (const auto& [route, counts] : routes_) {
    for (size_t c = 0; c < counts->classes.size(); ++c) {
      if (counts->classes[c] == 0) continue;
      AppendSample(requests, Cat("route=\"", EscapeLabelValue(route), "\",status_class=\"", c + 1, "xx\""),
                   static_cast<double>(counts->classes[c]), out);
    }
  }
  AppendFamilyHeader(duration, "histogram", "Time from a request read to its answer queued, by route.", out);
  for (const auto& [route, counts] : routes_) {
    counts->latency.Render(duration, Cat("route=\"", EscapeLabelValue(route), "\""), out);
  }
}

// ---------------------------------------------------------------- GrpcMetrics

std::string_view GrpcCodeName(int code) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK",           "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",      "OUT_OF_RANGE",      "UNIMPLEMENTED",  "INTERNAL",         "UNAVAILABLE",
      "DATA_LOSS",    "UNAUTHENTICATED"};
  return code >= 0 && code < static_cast<int>(kNames.size()) ? kNames[static_cast<size_t>(code)] : "UNKNOWN";
}

void GrpcMetrics::RecordCall(size_t method, int code, absl::Duration latency) {
  if (method >= kGrpcMethods.size()) return;
  if (code < 0 || code >= static_cast<int>(kCodes)) code = 2;  // UNKNOWN
  calls_[method][static_cast<size_t>(code)].fetch_add(1, kRelaxed);
  latency_[method].Observe(latency);
}

void GrpcMetrics::Render(std::string* out) const {
  AppendFamilyHeader("herald_grpc_server_handled_total", "counter",
                     "gRPC calls answered, by method of herald.v1.Decisions and status code.", out);
  for (size_t m = 0; m < kGrpcMethods.size(); ++m) {
    for (size_t c = 0; c < kCodes; ++c) {
      uint64_t n = calls_[m][c].load(kRelaxed);
      if (n == 0) continue;
      AppendSample("herald_grpc_server_handled_total",
                   Cat("grpc_method=\"", kGrpcMethods[m], "\",grpc_code=\"", GrpcCodeName(static_cast<int>(c)), "\""),
                   static_cast<double>(n), out);
    }
  }
  AppendFamilyHeader("herald_grpc_server_handling_seconds", "histogram",
                     "Time from a gRPC call received to its answer, by method.", out);
  for (size_t m = 0; m < kGrpcMethods.size(); ++m) {
    latency_[m].Render("herald_grpc_server_handling_seconds", Cat("grpc_method=\"", kGrpcMethods[m], "\""), out);
  }
}

// ------------------------------------------------------------ DecisionMetrics

void DecisionMetrics::RecordDecision(DecisionOutcome outcome, int paid, int house, int discount, int empty) {
  outcomes_[static_cast<size_t>(outcome)].fetch_add(1, kRelaxed);
  int counts[] = {paid, house, discount, empty};
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (counts[i] > 0) slots_[i].fetch_add(static_cast<uint64_t>(counts[i]), kRelaxed);
  }
}

void DecisionMetrics::RecordReload(bool ok) { reloads_[ok ? 0 : 1].fetch_add(1, kRelaxed); }

void DecisionMetrics::Render(std::string* out) const {
  AppendFamilyHeader("herald_decisions_total", "counter",
                     "Ad decisions (POST /v1/ads:select) by outcome: filled (every slot), partial, empty (no "
                     "winner), rejected (invalid request), failed (server error).",
                     out);
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    AppendSample("herald_decisions_total", Cat("outcome=\"", kOutcomeNames[i], "\""),
                 static_cast<double>(outcomes_[i].load(kRelaxed)), out);
  }
  AppendFamilyHeader("herald_slots_total", "counter",
                     "Slots asked for by decisions, by what filled them: paid ad, house ad, discount ad, or "
                     "nothing (empty).",
                     out);
  for (size_t i = 0; i < slots_.size(); ++i) {
    AppendSample("herald_slots_total", Cat("kind=\"", kSlotKinds[i], "\""),
                 static_cast<double>(slots_[i].load(kRelaxed)), out);
  }
  AppendFamilyHeader("herald_catalog_reloads_total", "counter",
                     "Catalog reloads (SIGHUP, or a new catalog version in the store) by result; a failed one keeps the previous catalog.", out);
  AppendSample("herald_catalog_reloads_total", "result=\"ok\"", static_cast<double>(reloads_[0].load(kRelaxed)),
               out);
  AppendSample("herald_catalog_reloads_total", "result=\"failed\"",
               static_cast<double>(reloads_[1].load(kRelaxed)), out);
}

}  // namespace herald::server_internal
