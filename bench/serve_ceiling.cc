// The ceiling of herald serve's HTTP stack for bench/serve_wrk.sh: the same
// HttpServer (libevent evhttp, same threads, same routing, same JSON printing)
// over a DecisionService whose /v1/ads:select answer is fixed (a real answer
// of the server, read from a file), so that wrk measures everything but the
// decision. Usage: serve_ceiling ANSWER.json HOST:PORT THREADS
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "herald/server.h"

namespace {

class FixedAnswer : public herald::DecisionService {
 public:
  explicit FixedAnswer(herald::v1::SelectAdsResponse answer) : answer_(std::move(answer)) {}
  absl::StatusOr<herald::v1::SelectAdsResponse> SelectAds(const herald::v1::SelectAdsRequest&) const override {
    return answer_;
  }
  absl::StatusOr<std::string> Click(std::string_view) const override { return absl::NotFoundError("fixed"); }
  absl::StatusOr<herald::v1::PricedBasket> PriceBasket(const herald::v1::PriceBasketRequest&) const override {
    return absl::NotFoundError("fixed");
  }
  absl::StatusOr<herald::v1::CommitOrderResponse> CommitOrder(const herald::v1::CommitOrderRequest&) const override {
    return absl::NotFoundError("fixed");
  }
  absl::StatusOr<herald::v1::InteractionRecord> CaptureResponse(const herald::v1::InteractionRecord&) const override {
    return absl::NotFoundError("fixed");
  }
  absl::StatusOr<herald::ReportTable> Report(const herald::ReportRequest&) const override {
    return absl::NotFoundError("fixed");
  }
  std::string SignClick(std::string_view, std::string_view, std::string_view, absl::Time) const override { return ""; }
  absl::Status Ready() const override { return absl::OkStatus(); }
  absl::Status ReloadCatalog() override { return absl::OkStatus(); }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  herald::v1::SelectAdsResponse answer_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: serve_ceiling ANSWER.json HOST:PORT THREADS\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  herald::v1::SelectAdsResponse answer;
  if (!in || !google::protobuf::util::JsonStringToMessage(text.str(), &answer).ok()) {
    std::fprintf(stderr, "serve_ceiling: %s is not a SelectAdsResponse\n", argv[1]);
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  FixedAnswer service(std::move(answer));
  herald::v1::ServerConfig config;
  config.set_listen(argv[2]);
  config.set_threads(std::atoi(argv[3]));
  auto server = herald::HttpServer::Start(&service, config);
  if (!server.ok()) {
    std::fprintf(stderr, "serve_ceiling: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->Shutdown();
  return 0;
}
