// herald serve's gRPC transport (service herald.v1.Decisions) with a real
// grpc++ client on 127.0.0.1: every method, its errors (code, message and the
// ApiError in the details naming the field), and shutdown, in-process and of
// the `herald serve` program on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "google/protobuf/util/json_util.h"
#include "herald_process.h"
#include "herald/builtins.h"
#include "herald/model/decisions.grpc.pb.h"
#include "herald/report.h"
#include "herald/server.h"
#include "herald/store.h"
#include "http_client.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

template <typename T>
T FromJson(const std::string& json) {
  T message;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &message);
  INFO(json << ": " << parsed.message().ToString());
  REQUIRE(parsed.ok());
  return message;
}

// A service and its gRPC server on an ephemeral port of 127.0.0.1, and a client.
struct GrpcTestServer {
  explicit GrpcTestServer(v1::ServerConfig config = {}) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    config.set_catalog(kCatalog);
    config.set_grpc_listen("127.0.0.1:0");
    auto created = DecisionService::Create(config, registry);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto started = GrpcServer::Start(service.get(), config);
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    grpc = std::move(*started);
    REQUIRE(grpc->port() > 0);
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc->port()), grpc::InsecureChannelCredentials());
    stub = v1::Decisions::NewStub(channel);
  }

  Registry registry;
  std::unique_ptr<DecisionService> service;
  std::unique_ptr<GrpcServer> grpc;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Decisions::Stub> stub;
};

// The ApiError a failed call carries in its details.
v1::ApiError ErrorDetails(const grpc::Status& status) {
  v1::RpcStatus details;
  REQUIRE(details.ParseFromString(status.error_details()));
  REQUIRE(details.code() == static_cast<int>(status.error_code()));
  REQUIRE(details.details_size() == 1);
  v1::ApiError error;
  REQUIRE(details.details(0).UnpackTo(&error));
  return error;
}

void RequireError(const grpc::Status& status, grpc::StatusCode code, const std::string& field) {
  INFO(status.error_code() << " " << status.error_message());
  REQUIRE(status.error_code() == code);
  REQUIRE(!status.error_message().empty());
  v1::ApiError error = ErrorDetails(status);
  REQUIRE(error.field() == field);
  REQUIRE(error.message() == status.error_message());
  if (code == grpc::StatusCode::INVALID_ARGUMENT) REQUIRE(status.error_message().rfind(field + ": ", 0) == 0);
}

const char* kSelectHome = R"({"pageGroups":["Home"],"count":3,"userId":"u1","profile":{"age":34,"state":"WA"}})";

int64_t ClickEvents(v1::Decisions::Stub& stub, DecisionService& service) {
  REQUIRE(service.Flush().ok());
  grpc::ClientContext context;
  v1::GetReportRequest request;
  request.set_name("campaign-event-summary");
  v1::GetReportResponse report;
  grpc::Status status = stub.GetReport(&context, request, &report);
  REQUIRE(status.ok());
  int64_t clicks = 0;
  for (const auto& row : report.rows()) {
    const auto& fields = row.fields();
    if (fields.count("event") && fields.at("event").string_value() == "click") {
      clicks += static_cast<int64_t>(fields.at("events").number_value());
    }
  }
  return clicks;
}

TEST_CASE("grpc: ads are selected and their signed click links record a click and give the target") {
  GrpcTestServer server;
  grpc::ClientContext context;
  v1::SelectAdsResponse selected;
  grpc::Status status = server.stub->SelectAds(&context, FromJson<v1::SelectAdsRequest>(kSelectHome), &selected);
  INFO(status.error_message());
  REQUIRE(status.ok());
  REQUIRE(selected.winners_size() == 3);
  const v1::SelectedAd& first = selected.winners(0);
  REQUIRE(first.click_url().rfind("/v1/clicks/", 0) == 0);
  REQUIRE(ClickEvents(*server.stub, *server.service) == 0);

  grpc::ClientContext click_context;
  v1::ClickRequest click;
  click.set_token(first.click_url().substr(std::string("/v1/clicks/").size()));
  v1::ClickResponse target;
  REQUIRE(server.stub->Click(&click_context, click, &target).ok());
  // The same target the HTTP transport redirects to: the service decides it.
  auto expected = server.service->Click(click.token());
  REQUIRE(expected.ok());
  REQUIRE(target.location() == *expected);
  REQUIRE(!target.location().empty());
  REQUIRE(ClickEvents(*server.stub, *server.service) == 2);

  // A forged token: NOT_FOUND, nothing recorded.
  grpc::ClientContext forged_context;
  click.set_token("k.forged.token");
  grpc::Status forged = server.stub->Click(&forged_context, click, &target);
  REQUIRE(forged.error_code() == grpc::StatusCode::NOT_FOUND);
  (void)ErrorDetails(forged);
  REQUIRE(ClickEvents(*server.stub, *server.service) == 2);
}

TEST_CASE("grpc: bad input is INVALID_ARGUMENT naming the field, in the message and the details") {
  GrpcTestServer server;
  v1::SelectAdsResponse selected;
  {
    grpc::ClientContext context;
    RequireError(server.stub->SelectAds(&context, FromJson<v1::SelectAdsRequest>(R"({"count":500})"), &selected),
                 grpc::StatusCode::INVALID_ARGUMENT, "count");
  }
  {
    grpc::ClientContext context;
    RequireError(server.stub->SelectAds(
                     &context, FromJson<v1::SelectAdsRequest>(R"({"pageGroups":["Home"],"profile":{"age":"abc"}})"),
                     &selected),
                 grpc::StatusCode::INVALID_ARGUMENT, "profile.age");
  }
  {
    grpc::ClientContext context;
    v1::CommitOrderResponse committed;
    RequireError(server.stub->CommitOrder(&context, FromJson<v1::CommitOrderRequest>(R"({"basket":{"currency":"USD"}})"),
                                          &committed),
                 grpc::StatusCode::INVALID_ARGUMENT, "basket.order_id");
  }
  {
    grpc::ClientContext context;
    v1::GetReportRequest request;
    request.set_name("campaign-item-summary");
    request.set_from("yesterday");
    v1::GetReportResponse report;
    RequireError(server.stub->GetReport(&context, request, &report), grpc::StatusCode::INVALID_ARGUMENT, "from");
  }
  {
    grpc::ClientContext context;
    v1::GetReportRequest request;
    request.set_name("no-such-report");
    v1::GetReportResponse report;
    REQUIRE(server.stub->GetReport(&context, request, &report).error_code() == grpc::StatusCode::NOT_FOUND);
  }
  // None of it was recorded.
  REQUIRE(server.service->Flush().ok());
  auto table = server.service->Report({"campaign-event-summary", "", "", ""});
  REQUIRE(table.ok());
  REQUIRE(table->rows.empty());
}

TEST_CASE("grpc: baskets are priced, orders commit their coupons once, responses are captured, reports, health") {
  GrpcTestServer server;
  const std::string basket =
      // 08:00 in the catalog's zone: outside the 5-9 pm happy hour, whatever the clock says.
      R"({"currency":"USD","customerId":"c7","couponCodes":["WELCOME5"],"time":"2026-06-02T15:00:00Z",)"
      R"("items":[{"productId":"tent","category":"Outdoor","unitPriceMinor":"4500","quantity":"1"}])";
  {
    grpc::ClientContext context;
    v1::PricedBasket priced;
    REQUIRE(server.stub->PriceBasket(&context, FromJson<v1::PriceBasketRequest>(R"({"basket":)" + basket + "}}"),
                                     &priced)
                .ok());
    REQUIRE(priced.total_minor() == 4000);
  }
  {
    grpc::ClientContext context;
    v1::CommitOrderResponse committed;
    REQUIRE(server.stub->CommitOrder(
                &context, FromJson<v1::CommitOrderRequest>(R"({"basket":)" + basket + R"(,"orderId":"o1"}})"),
                &committed)
                .ok());
    REQUIRE(committed.priced().total_minor() == 4000);
  }
  {
    grpc::ClientContext context;
    v1::CommitOrderResponse committed;
    RequireError(server.stub->CommitOrder(
                     &context, FromJson<v1::CommitOrderRequest>(R"({"basket":)" + basket + R"(,"orderId":"o2"}})"),
                     &committed),
                 grpc::StatusCode::FAILED_PRECONDITION, "basket.coupon_codes");
  }
  {
    grpc::ClientContext context;
    v1::InteractionRecord stored;
    REQUIRE(server.stub->CaptureResponse(
                &context,
                FromJson<v1::InteractionRecord>(
                    R"({"subject":{"customerId":"c7","email":"c7@example.com"},"action":{"issue":"Sales","group":"Gear","name":"WinterJacket"},"outcome":"OUTCOME_ACCEPTED","channel":"Web"})"),
                &stored)
                .ok());
    REQUIRE(stored.interaction_id().size() == 32);
    REQUIRE(stored.sequence() > 0);
  }
  {
    grpc::ClientContext context;
    v1::InteractionRecord stored;
    grpc::Status status = server.stub->CaptureResponse(
        &context,
        FromJson<v1::InteractionRecord>(
            R"({"subject":{"customerId":"c7"},"action":{"issue":"Sales","group":"Gear","name":"Nope"},"outcome":"OUTCOME_ACCEPTED"})"),
        &stored);
    REQUIRE(status.error_code() == grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::SelectAdsResponse selected;
    REQUIRE(server.stub->SelectAds(&context, FromJson<v1::SelectAdsRequest>(kSelectHome), &selected).ok());
    REQUIRE(server.service->Flush().ok());
    grpc::ClientContext report_context;
    v1::GetReportRequest request;
    request.set_name("campaign-item-summary");
    v1::GetReportResponse report;
    REQUIRE(server.stub->GetReport(&report_context, request, &report).ok());
    REQUIRE(report.name() == "campaign-item-summary");
    REQUIRE(report.columns_size() > 0);
    REQUIRE(report.rows_size() > 0);
    int64_t requests = 0;
    for (const auto& row : report.rows()) {
      REQUIRE(static_cast<int>(row.fields().size()) == report.columns_size());
      if (row.fields().count("requests")) requests += static_cast<int64_t>(row.fields().at("requests").number_value());
    }
    REQUIRE(requests == 3);
  }
  {
    grpc::ClientContext context;
    v1::HealthResponse health;
    REQUIRE(server.stub->Health(&context, v1::HealthRequest(), &health).ok());
    REQUIRE(health.status() == "ready");
  }
}

TEST_CASE("grpc: calls are counted by method and code and logged with their request id and never a key") {
  const std::string dir = std::filesystem::temp_directory_path() / ("herald-grpc-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  v1::ServerConfig config;
  config.set_access_log(dir + "/access.log");
  GrpcTestServer server(config);
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "req-42.a");
    v1::SelectAdsResponse out;
    REQUIRE(server.stub->SelectAds(&context, FromJson<v1::SelectAdsRequest>(kSelectHome), &out).ok());
    // The id is echoed back, as the HTTP transport's X-Request-Id header.
    auto echoed = context.GetServerInitialMetadata().find("x-request-id");
    REQUIRE(echoed != context.GetServerInitialMetadata().end());
    CHECK(std::string(echoed->second.data(), echoed->second.size()) == "req-42.a");
  }
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    v1::ClickResponse out;
    v1::ClickRequest request;
    request.set_token("forged");
    CHECK(server.stub->Click(&context, request, &out).error_code() != grpc::StatusCode::OK);
  }
  const std::string metrics = server.grpc->MetricsText();
  INFO(metrics);
  CHECK(metrics.find("herald_grpc_server_handled_total{grpc_method=\"SelectAds\",grpc_code=\"OK\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("herald_grpc_server_handling_seconds_count{grpc_method=\"SelectAds\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("herald_grpc_server_handled_total{grpc_method=\"Click\",grpc_code=\"") != std::string::npos);
  CHECK(metrics.find("herald_grpc_server_handling_seconds_count{grpc_method=\"Click\"} 2\n") != std::string::npos);
  server.grpc->Shutdown();  // flushes the log
  std::ifstream in(dir + "/access.log");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["request_id"] == "req-42.a");
  CHECK(lines[0]["route"] == "/herald.v1.Decisions/SelectAds");
  CHECK(lines[0]["grpc_code"] == "OK");
  CHECK(lines[0]["response_bytes"].get<int64_t>() > 0);
  CHECK(lines[1]["route"] == "/herald.v1.Decisions/Click");
  CHECK(lines[1]["grpc_code"] != "OK");
  CHECK(lines[1]["request_id"].get<std::string>().size() == 32);  // none given: a new one
  std::string all;
  for (const auto& l : lines) all += l.dump();
  CHECK(all.find("forged") == std::string::npos);  // the token is not logged
  std::filesystem::remove_all(dir);
}

TEST_CASE("grpc: after Shutdown the port refuses calls, and a bad address fails to start") {
  GrpcTestServer server;
  {
    grpc::ClientContext context;
    v1::HealthResponse health;
    REQUIRE(server.stub->Health(&context, v1::HealthRequest(), &health).ok());
  }
  server.grpc->Shutdown();
  server.grpc->Shutdown();  // idempotent
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::HealthResponse health;
  grpc::Status after = server.stub->Health(&context, v1::HealthRequest(), &health);
  REQUIRE(after.error_code() == grpc::StatusCode::UNAVAILABLE);

  v1::ServerConfig config;
  for (const char* bad : {"127.0.0.1:99999", "127.0.0.1", "", ":80"}) {
    config.set_grpc_listen(bad);
    auto started = GrpcServer::Start(server.service.get(), config);
    INFO(bad);
    REQUIRE(absl::IsInvalidArgument(started.status()));
    REQUIRE(std::string(started.status().message()).rfind("grpc_listen: ", 0) == 0);
  }
  // A port another socket holds: Unavailable, not a silent second listener.
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(holder, 1) == 0);
  getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  config.set_grpc_listen("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  auto taken = GrpcServer::Start(server.service.get(), config);
  close(holder);
  REQUIRE(absl::IsUnavailable(taken.status()));
}

TEST_CASE("grpc: API keys as on HTTP: UNAUTHENTICATED without one, PERMISSION_DENIED for the wrong scope") {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("herald-grpc-keys-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "keys").string();
  auto decisions = CreateApiKey(file, "decisions", "shop");
  auto reports = CreateApiKey(file, "reports", "bi");
  REQUIRE(decisions.ok());
  REQUIRE(reports.ok());
  v1::ServerConfig config;
  config.set_api_keys_file(file);
  GrpcTestServer server(config);
  const v1::SelectAdsRequest request = FromJson<v1::SelectAdsRequest>(kSelectHome);
  auto select = [&](const std::string& key) {
    grpc::ClientContext context;
    if (!key.empty()) context.AddMetadata("authorization", "Bearer " + key);
    v1::SelectAdsResponse selected;
    return server.stub->SelectAds(&context, request, &selected);
  };
  grpc::Status none = select("");
  REQUIRE(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(ErrorDetails(none).code() == "unauthenticated");
  REQUIRE(select("hk_00000000_" + std::string(64, '0')).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(select(*reports).error_code() == grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE(select(*decisions).ok());
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + *reports);
    v1::GetReportRequest report_request;
    report_request.set_name("campaign-item-summary");
    v1::GetReportResponse report;
    REQUIRE(server.stub->GetReport(&context, report_request, &report).ok());
  }
  {
    grpc::ClientContext context;  // health needs no key, like /readyz
    v1::HealthResponse health;
    REQUIRE(server.stub->Health(&context, v1::HealthRequest(), &health).ok());
  }
  std::filesystem::remove_all(dir);
}

int FreePort() { return testing::FreeLoopbackPort(); }

TEST_CASE("grpc: herald serve --grpc-listen answers gRPC and drains it on SIGTERM, losing no acknowledged event") {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("herald-grpc-term-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string store = (dir / "events.db").string();
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string grpc_listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string herald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
  pid_t pid = fork();
  if (pid == 0) {
    execl(herald.c_str(), "herald", "serve", "--catalog", kCatalog.c_str(), "--store", store.c_str(), "--listen",
          listen.c_str(), "--grpc-listen", grpc_listen.c_str(), nullptr);
    _exit(127);
  }
  auto channel = grpc::CreateChannel(grpc_listen, grpc::InsecureChannelCredentials());
  REQUIRE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  auto stub = v1::Decisions::NewStub(channel);
  // Two clients keep deciding while SIGTERM arrives; every answer they got
  // must be in the store afterwards.
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  const v1::SelectAdsRequest request = FromJson<v1::SelectAdsRequest>(kSelectHome);  // Catch is not thread-safe
  auto decide = [&] {
    while (!stop) {
      grpc::ClientContext context;
      v1::SelectAdsResponse selected;
      if (stub->SelectAds(&context, request, &selected).ok()) {
        acknowledged += selected.winners_size();
      }
    }
  };
  std::thread first(decide), second(decide);
  while (acknowledged < 30) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The HTTP /metrics shows the gRPC transport's calls too.
  test::HttpResponse metrics = test::HttpCall("GET", "http://" + listen + "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("herald_grpc_server_handled_total{grpc_method=\"SelectAds\",grpc_code=\"OK\"} ") !=
        std::string::npos);
  auto term = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  // Idle clients keep their connections open: the drain does not wait for them.
  REQUIRE(std::chrono::steady_clock::now() - term < std::chrono::seconds(3));
  stop = true;
  first.join();
  second.join();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  auto opened = OpenStore(store, registry);
  REQUIRE(opened.ok());
  auto table = RunReport("campaign-event-summary", (*opened)->events(), {});
  REQUIRE(table.ok());
  int64_t requests = 0;
  for (const auto& row : table->rows) {
    // Columns: campaign, event, events (herald/report.h).
    for (size_t i = 0; i + 1 < table->columns.size(); ++i) {
      if (table->columns[i].key == "event" && std::get_if<std::string>(&row[i]) &&
          std::get<std::string>(row[i]) == "request") {
        for (size_t j = 0; j < table->columns.size(); ++j) {
          if (table->columns[j].key == "events") requests += std::get<int64_t>(row[j]);
        }
      }
    }
  }
  REQUIRE(requests == acknowledged);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald
