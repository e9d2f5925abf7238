// GrpcServer: service herald.v1.Decisions (herald/model/decisions.proto) over
// Debian's grpc++ synchronous server. Every method is a call to the same
// DecisionService the HTTP transport uses; this file only moves messages and
// maps absl::Status to grpc::Status.
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "herald/model/decisions.grpc.pb.h"
#include "herald/server.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/tls.h"

namespace herald {

namespace {

constexpr int64_t kDefaultMaxMessage = 1 << 20;  // as the HTTP transport's body limit

// The absl code numbers are gRPC's (both are google.rpc.Code). The details
// carry the API error with its field, so that a client need not parse the
// message to know which field to blame.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  ApiErrorReply api = ToApiError(status);
  v1::RpcStatus details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(api.error.message());
  details.add_details()->PackFrom(api.error);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), api.error.message(),
                      details.SerializeAsString());
}

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

google::protobuf::Value CellValue(const ReportCell& cell) {
  google::protobuf::Value value;
  if (const auto* i = std::get_if<int64_t>(&cell)) {
    value.set_number_value(static_cast<double>(*i));
  } else if (const auto* d = std::get_if<double>(&cell)) {
    value.set_number_value(*d);
  } else if (const auto* s = std::get_if<std::string>(&cell)) {
    value.set_string_value(*s);
  } else {
    value.set_null_value(google::protobuf::NULL_VALUE);
  }
  return value;
}

v1::GetReportResponse ReportMessage(const ReportTable& table) {
  v1::GetReportResponse out;
  out.set_name(table.name);
  out.set_title(table.title);
  out.set_subtitle(table.subtitle);
  for (const ReportColumn& c : table.columns) {
    v1::ReportColumn* column = out.add_columns();
    column->set_key(c.key);
    column->set_title(c.title);
  }
  for (const auto& row : table.rows) {
    auto* fields = out.add_rows()->mutable_fields();
    for (size_t i = 0; i < table.columns.size(); ++i) {
      (*fields)[table.columns[i].key] = i < row.size() ? CellValue(row[i]) : CellValue(std::monostate());
    }
  }
  return out;
}

// Counts the calls being answered, so that a shutdown knows when the calls
// in flight are done.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>* count) : count_(count) { count_->fetch_add(1); }
  ~InFlight() { count_->fetch_sub(1); }

 private:
  std::atomic<int>* count_;
};

// Indexes of server_internal::kGrpcMethods.
enum GrpcMethod : size_t { kSelectAds, kClick, kPriceBasket, kCommitOrder, kCaptureResponse, kGetReport, kHealth };

class DecisionsService final : public v1::Decisions::Service {
 public:
  DecisionsService(DecisionService* service, std::unique_ptr<server_internal::Authorizer> authorizer)
      : service_(service), authorizer_(std::move(authorizer)) {}

  server_internal::Authorizer& authorizer() { return *authorizer_; }
  const server_internal::GrpcMetrics& metrics() const { return metrics_; }
  // Before the server starts; null = no access log.
  void set_access_log(std::shared_ptr<server_internal::AccessLog> log) { access_log_ = std::move(log); }

  int in_flight() const { return in_flight_.load(); }
  void FlushAccessLog() {
    if (access_log_ != nullptr) access_log_->Flush();
  }

  grpc::Status SelectAds(grpc::ServerContext* context, const v1::SelectAdsRequest* request,
                         v1::SelectAdsResponse* out) override {
    return Call(context, kSelectAds, "/v1/ads:select", *request, out,
                [&] { return Answer(service_->SelectAds(*request), out); });
  }

  grpc::Status Click(grpc::ServerContext* context, const v1::ClickRequest* request, v1::ClickResponse* out) override {
    return Call(context, kClick, "/v1/clicks/{token}", *request, out, [&] {
      auto location = service_->Click(request->token());
      if (!location.ok()) return ToGrpcStatus(location.status());
      out->set_location(std::move(*location));
      return grpc::Status::OK;
    });
  }

  grpc::Status PriceBasket(grpc::ServerContext* context, const v1::PriceBasketRequest* request,
                           v1::PricedBasket* out) override {
    return Call(context, kPriceBasket, "/v1/baskets:price", *request, out,
                [&] { return Answer(service_->PriceBasket(*request), out); });
  }

  grpc::Status CommitOrder(grpc::ServerContext* context, const v1::CommitOrderRequest* request,
                           v1::CommitOrderResponse* out) override {
    return Call(context, kCommitOrder, "/v1/orders:commit", *request, out,
                [&] { return Answer(service_->CommitOrder(*request), out); });
  }

  grpc::Status CaptureResponse(grpc::ServerContext* context, const v1::InteractionRecord* request,
                               v1::InteractionRecord* out) override {
    return Call(context, kCaptureResponse, "/v1/responses", *request, out,
                [&] { return Answer(service_->CaptureResponse(*request), out); });
  }

  grpc::Status GetReport(grpc::ServerContext* context, const v1::GetReportRequest* request,
                         v1::GetReportResponse* out) override {
    return Call(context, kGetReport, "/v1/reports/{name}", *request, out, [&] {
      ReportRequest report{request->name(), request->from(), request->to(), request->campaign()};
      auto table = service_->Report(report);
      if (!table.ok()) return ToGrpcStatus(table.status());
      *out = ReportMessage(*table);
      return grpc::Status::OK;
    });
  }

  grpc::Status Health(grpc::ServerContext* context, const v1::HealthRequest* request,
                      v1::HealthResponse* out) override {
    return Call(context, kHealth, "/readyz", *request, out, [&] {
      absl::Status ready = service_->Ready();
      if (!ready.ok()) return ToGrpcStatus(absl::UnavailableError(ready.message()));
      out->set_status("ready");
      return grpc::Status::OK;
    });
  }

 private:
  // One call: the API key check of the HTTP route it mirrors, then
  // `answer`; counted by method and code and logged as the HTTP transport
  // logs (the request id from `x-request-id` metadata when well-formed,
  // echoed back in the initial metadata).
  template <typename Answer>
  grpc::Status Call(grpc::ServerContext* context, GrpcMethod method, std::string_view route,
                    const google::protobuf::Message& request, const google::protobuf::Message* out,
                    Answer answer) {
    InFlight call(&in_flight_);
    const int64_t start_nanos = absl::GetCurrentTimeNanos();
    const std::string request_id = server_internal::RequestIdFrom(Metadata(*context, "x-request-id"));
    context->AddInitialMetadata("x-request-id", request_id);
    std::string key_name;
    grpc::Status status = Admit(*context, route, &key_name);
    if (status.ok()) status = answer();
    const absl::Duration took = absl::Nanoseconds(absl::GetCurrentTimeNanos() - start_nanos);
    metrics_.RecordCall(method, status.error_code(), took);
    if (access_log_ != nullptr) {
      const std::string_view name = server_internal::kGrpcMethods[method];
      const std::string full_method = absl::StrCat("/herald.v1.Decisions/", absl::string_view(name.data(), name.size()));
      server_internal::AccessEntry entry;
      entry.time = absl::FromUnixNanos(start_nanos);
      entry.request_id = request_id;
      entry.method = "POST";  // gRPC calls are HTTP/2 POSTs answered 200; the outcome is grpc_code
      entry.route = full_method;
      entry.status = 200;
      entry.duration = took;
      entry.request_bytes = request.ByteSizeLong();
      entry.response_bytes = status.ok() ? out->ByteSizeLong() : 0;
      entry.grpc_code = server_internal::GrpcCodeName(status.error_code());
      entry.key_name = key_name;
      access_log_->Write(entry);
    }
    return status;
  }

  static std::string_view Metadata(const grpc::ServerContext& context, std::string_view name) {
    const auto& metadata = context.client_metadata();
    auto found = metadata.find(grpc::string_ref(name.data(), name.size()));
    if (found == metadata.end()) return {};
    return std::string_view(found->second.data(), found->second.size());
  }

  // The API key check of the HTTP route the method mirrors (same scopes, same
  // key file): the key comes as `authorization: Bearer KEY` metadata.
  grpc::Status Admit(const grpc::ServerContext& context, std::string_view route, std::string* key_name) const {
    server_internal::Admission admission =
        authorizer_->Authorize(route, Metadata(context, "authorization"), absl::Now());
    *key_name = std::move(admission.key_name);
    return ToGrpcStatus(admission.status);
  }

  DecisionService* service_;
  std::unique_ptr<server_internal::Authorizer> authorizer_;
  std::shared_ptr<server_internal::AccessLog> access_log_;
  server_internal::GrpcMetrics metrics_;
  mutable std::atomic<int> in_flight_{0};
};

class GrpcServerImpl : public GrpcServer {
 public:
  GrpcServerImpl(DecisionService* service, std::unique_ptr<server_internal::Authorizer> authorizer)
      : decisions_(service, std::move(authorizer)) {}
  ~GrpcServerImpl() override { Shutdown(absl::Seconds(5)); }

  absl::Status Start(const v1::ServerConfig& config) {
    const std::string& listen = config.grpc_listen();
    const size_t colon = listen.rfind(':');
    int port = -1;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("grpc_listen: \"", listen, "\" is not HOST:PORT (127.0.0.1:9090; port 0 = any free port)"));
    }
    auto credentials = server_internal::GrpcServerCredentials(config);
    if (!credentials.ok()) return credentials.status();
    auto access_log = server_internal::AccessLog::OpenShared(config.access_log());
    if (!access_log.ok()) return access_log.status();
    decisions_.set_access_log(std::move(*access_log));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(listen, *credentials, &port_);
    // Two servers must not share a port unnoticed (gRPC sets SO_REUSEPORT by default).
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(&decisions_);
    const int64_t max_message = config.limits().max_body_bytes() > 0 ? config.limits().max_body_bytes()
                                                                      : kDefaultMaxMessage;
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(max_message, INT32_MAX)));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("grpc_listen: cannot listen on \"", config.grpc_listen(),
                       "\" (HOST:PORT with an IP address or a name; is the port in use?)"));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  absl::Status ReloadKeys() override { return decisions_.authorizer().Reload(); }
  std::string MetricsText() const override {
    std::string text;
    decisions_.metrics().Render(&text);
    return text;
  }

  void Shutdown(absl::Duration grace) override {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    if (server_ == nullptr) return;
    // grpc::Server::Shutdown stops accepting and waits for the calls in
    // flight, but also (grpc 1.51) for idle clients to hang up, which they
    // need not do before the deadline. Once no call is being answered, the
    // remaining connections are closed, so an idle client costs no wait.
    std::atomic<bool> done{false};
    int quiet_polls = 0;  // polls in a row with no call being answered
    const absl::Time started = absl::Now();
    std::thread shutdown([&] {
      server_->Shutdown(absl::ToChronoTime(started + grace));
      done = true;
    });
    while (!done) {
      absl::SleepFor(absl::Milliseconds(20));
      quiet_polls = decisions_.in_flight() == 0 ? quiet_polls + 1 : 0;
      // Two quiet polls: the last answer has left its handler and been written.
      if (!done && quiet_polls >= 2) grpc_server_cancel_all_calls(server_->c_server());
    }
    shutdown.join();
    server_->Wait();
    server_.reset();
    decisions_.FlushAccessLog();
  }

 private:
  DecisionsService decisions_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex shutdown_mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(DecisionService* service,
                                                               const v1::ServerConfig& config) {
  auto authorizer = server_internal::Authorizer::Create(config);
  if (!authorizer.ok()) return authorizer.status();
  auto server = std::make_unique<GrpcServerImpl>(service, std::move(*authorizer));
  if (absl::Status s = server->Start(config); !s.ok()) return s;
  return server;
}

}  // namespace herald
