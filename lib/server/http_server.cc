// HttpServer over libevent's evhttp (docs/server.md, "Choosing the HTTP
// stack"): one event loop per thread, each with its own listening socket on
// the same port (SO_REUSEPORT: the kernel spreads connections over them), so
// that no lock or hand-off sits between accepting and answering.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <functional>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "herald/server.h"
#include "herald/web.h"
#include "server/absl_view.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/tls.h"
#include "server/http_api.h"
#include "server/metrics.h"

namespace herald {

namespace {

using server_internal::HttpReply;
using server_internal::HttpRequest;

constexpr int64_t kDefaultMaxBody = 1 << 20;
constexpr int64_t kDefaultMaxHeaders = 16 << 10;
constexpr int kDefaultTimeoutSeconds = 10;
constexpr int kDefaultMaxConnections = 10000;

std::string_view MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
  }
  return "UNKNOWN";
}

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

absl::StatusOr<ListenAddress> ParseListen(std::string_view listen) {
  if (listen.empty()) listen = "127.0.0.1:8080";
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos || !absl::SimpleAtoi(server_internal::AbslView(listen.substr(colon + 1)), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("listen: \"", server_internal::AbslView(listen), "\" is not HOST:PORT (127.0.0.1:8080)"));
  }
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  ListenAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.empty() ? "0.0.0.0" : host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: \"", host, "\" is not an IP address (names are not resolved)"));
  }
  return out;
}

absl::StatusOr<int> BindSocket(const ListenAddress& address) {
  int fd = socket(address.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.addr), address.len) != 0 || listen(fd, 1024) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen: ", strerror(err)));
  }
  return fd;
}

class HttpServerImpl;

struct EventLoop {
  HttpServerImpl* server = nullptr;
  event_base* base = nullptr;
  evhttp* http = nullptr;
  evhttp_bound_socket* socket = nullptr;
  std::thread thread;
  // Connections of this loop that have sent a request (only its thread
  // touches the set): counted against limits.max_connections.
  absl::flat_hash_set<evhttp_connection*> connections;
};

class HttpServerImpl : public HttpServer {
 public:
  HttpServerImpl(DecisionService* service, const v1::ServerConfig& config)
      : service_(service), config_(config), listen_(config.listen()) {}
  // A listener for another module's handler (StartWeb): no API keys, no
  // /metrics of its own (MetricsText() gives its counts to another's).
  HttpServerImpl(WebHandler web, const v1::ServerConfig& config, std::string listen, std::string metrics_prefix)
      : service_(nullptr),
        config_(config),
        listen_(std::move(listen)),
        web_(std::move(web)),
        web_metrics_(std::move(metrics_prefix)) {}
  ~HttpServerImpl() override { Shutdown(); }

  absl::Status Start() {
    static std::once_flag threads_once;
    std::call_once(threads_once, [] { evthread_use_pthreads(); });
    auto address = ParseListen(listen_);
    if (!address.ok()) return address.status();
    auto access_log = server_internal::AccessLog::OpenShared(config_.access_log());
    if (!access_log.ok()) return access_log.status();
    access_log_ = std::move(*access_log);
    if (!web_) {
      auto authorizer = server_internal::Authorizer::Create(config_);
      if (!authorizer.ok()) return authorizer.status();
      authorizer_ = std::move(*authorizer);
    }
    if (server_internal::TlsEnabled(config_)) {
      auto tls = server_internal::NewHttpTlsContext(config_);
      if (!tls.ok()) return tls.status();
      tls_ = std::move(*tls);
    }
    max_connections_ = config_.limits().max_connections() > 0 ? config_.limits().max_connections()
                                                              : kDefaultMaxConnections;
    int threads = config_.threads() > 0 ? config_.threads()
                                        : std::max(1u, std::thread::hardware_concurrency());
    for (int i = 0; i < threads; ++i) {
      auto fd = BindSocket(*address);
      if (!fd.ok()) {
        return absl::Status(fd.status().code(), absl::StrCat("listen ", listen_, ": ", fd.status().message()));
      }
      if (i == 0) {
        // Port 0: the others join the port the first one got.
        getsockname(*fd, reinterpret_cast<sockaddr*>(&address->addr), &address->len);
        port_ = ntohs(address->addr.ss_family == AF_INET
                          ? reinterpret_cast<sockaddr_in*>(&address->addr)->sin_port
                          : reinterpret_cast<sockaddr_in6*>(&address->addr)->sin6_port);
      }
      auto loop = std::make_unique<EventLoop>();
      loop->server = this;
      loop->base = event_base_new();
      loop->http = evhttp_new(loop->base);
      if (loop->base == nullptr || loop->http == nullptr) {
        close(*fd);
        return absl::InternalError("libevent: cannot create an event loop");
      }
      ConfigureLimits(loop->http);
      evhttp_set_gencb(loop->http, &HttpServerImpl::OnRequest, loop.get());
      // TLS: each connection's bufferevent runs the handshake (server/tls.h).
      if (tls_ != nullptr) evhttp_set_bevcb(loop->http, &server_internal::NewTlsBufferevent, tls_.get());
      loop->socket = evhttp_accept_socket_with_handle(loop->http, *fd);
      loops_.push_back(std::move(loop));
    }
    for (auto& loop : loops_) {
      loop->thread = std::thread([base = loop->base] { event_base_dispatch(base); });
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  std::string MetricsText() const override {
    std::string out;
    if (web_) web_metrics_.Render(&out);
    return out;
  }
  absl::Status ReloadKeys() override { return authorizer_ ? authorizer_->Reload() : absl::OkStatus(); }
  bool RequiresKeys() const override { return authorizer_ && authorizer_->enabled(); }

  void Shutdown() override {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    if (loops_.empty()) return;
    for (auto& loop : loops_) {
      // Runs on the loop's own thread: stop accepting, then leave the loop
      // once the replies already queued have had time to be written.
      event_base_once(loop->base, -1, EV_TIMEOUT, &HttpServerImpl::StopLoop, loop.get(), nullptr);
    }
    for (auto& loop : loops_) {
      if (loop->thread.joinable()) loop->thread.join();
      evhttp_free(loop->http);
      event_base_free(loop->base);
    }
    loops_.clear();
    if (access_log_ != nullptr) access_log_->Flush();
  }

  void AddMetricsSource(std::function<std::string()> source) override {
    std::lock_guard<std::mutex> lock(metrics_sources_mu_);
    metrics_sources_.push_back(std::move(source));
  }

 private:
  void ConfigureLimits(evhttp* http) const {
    const v1::ServerLimits& limits = config_.limits();
    // libevent answers a body over its own limit itself, with an HTML page:
    // its limit is set above ours (HardBodyLimit) so that a body over ours is
    // read and refused by Answer in JSON naming the limit. Only bodies past
    // the hard limit, which nothing reads, get libevent's answer.
    evhttp_set_max_body_size(http, HardBodyLimit(MaxBody()));
    evhttp_set_max_headers_size(http,
                                limits.max_header_bytes() > 0 ? limits.max_header_bytes() : kDefaultMaxHeaders);
    evhttp_set_timeout(http, limits.request_timeout_seconds() > 0 ? limits.request_timeout_seconds()
                                                                  : kDefaultTimeoutSeconds);
    // Every method reaches the router, which answers 405 in JSON (libevent's
    // own refusal has an HTML body).
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  }

  int64_t MaxBody() const {
    return config_.limits().max_body_bytes() > 0 ? config_.limits().max_body_bytes() : kDefaultMaxBody;
  }
  static int64_t HardBodyLimit(int64_t max_body) { return std::max<int64_t>(4 * max_body, max_body + (1 << 20)); }

  // 413 in JSON for a body over limits.max_body_bytes (and at most the hard
  // limit, which libevent enforces before the body is read).
  std::optional<HttpReply> CheckBodySize(size_t length) const {
    if (static_cast<int64_t>(length) <= MaxBody()) return std::nullopt;
    v1::ApiError error;
    error.set_code("payload_too_large");
    error.set_message(absl::StrCat("the body is ", length, " bytes, over limits.max_body_bytes (", MaxBody(), ")"));
    return server_internal::ErrorBody(413, error);
  }

  static void StopLoop(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<EventLoop*>(arg);
    if (loop->socket != nullptr) evhttp_del_accept_socket(loop->http, loop->socket);
    loop->socket = nullptr;
    timeval grace{0, 200 * 1000};
    event_base_loopexit(loop->base, &grace);
  }

  static void OnRequest(evhttp_request* req, void* arg) {
    auto* loop = static_cast<EventLoop*>(arg);
    loop->server->Answer(loop, req);
  }

  // GET /metrics: this transport's request metrics, then the service's.
  HttpReply Metrics(const HttpRequest& request) const {
    HttpReply reply;
    reply.route = "/metrics";
    if (request.method != "GET") {
      v1::ApiError error;
      error.set_code("method_not_allowed");
      error.set_message("method is not allowed on /metrics; use GET");
      reply = server_internal::ErrorBody(405, error);
      reply.route = "/metrics";
      reply.allow = "GET";
      return reply;
    }
    reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
    request_metrics_.Render(&reply.body);
    reply.body += service_->MetricsText();
    std::vector<std::function<std::string()>> sources;
    {
      std::lock_guard<std::mutex> lock(metrics_sources_mu_);
      sources = metrics_sources_;
    }
    for (const auto& source : sources) reply.body += source();
    return reply;
  }


  static void OnConnectionClosed(evhttp_connection* connection, void* arg) {
    auto* loop = static_cast<EventLoop*>(arg);
    if (loop->connections.erase(connection) > 0) loop->server->request_metrics_.ConnectionClosed();
  }

  // A connection's first request: counts it, or refuses it (503, closed)
  // when max_connections are open. Requests on known connections pass.
  std::optional<HttpReply> AdmitConnection(EventLoop* loop, evhttp_request* req) {
    evhttp_connection* connection = evhttp_request_get_connection(req);
    if (connection == nullptr || loop->connections.contains(connection)) return std::nullopt;
    if (request_metrics_.open_connections() >= max_connections_) {
      request_metrics_.ConnectionRefused();
      evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
      return server_internal::ErrorReply(absl::UnavailableError(
          absl::StrCat("too many connections (limits.max_connections = ", max_connections_, "); retry later")));
    }
    loop->connections.insert(connection);
    request_metrics_.ConnectionOpened();
    evhttp_connection_set_closecb(connection, &HttpServerImpl::OnConnectionClosed, loop);
    return std::nullopt;
  }

  // The API key check (server/auth.h); the error answer when refused.
  std::optional<HttpReply> AdmitRequest(std::string_view route, std::string_view authorization,
                                        std::string* key_name) {
    server_internal::Admission admission = authorizer_->Authorize(route, authorization, absl::Now());
    *key_name = std::move(admission.key_name);
    if (admission.status.ok()) return std::nullopt;
    HttpReply reply = server_internal::ErrorReply(admission.status);
    if (absl::IsUnauthenticated(admission.status)) reply.extra_headers.push_back({"WWW-Authenticate", "Bearer"});
    if (absl::IsResourceExhausted(admission.status)) {
      request_metrics_.RateLimited();
      reply.extra_headers.push_back({"Retry-After", std::to_string(admission.retry_after_seconds)});
    }
    return reply;
  }

  // A StartWeb listener's request: every header, the peer and TLS, to the handler.
  // `route` keeps the handler's route name for the log and the metrics.
  HttpReply AnswerWeb(evhttp_request* req, const HttpRequest& request, std::string& route) const {
    WebRequest web;
    web.method = request.method;
    web.path = request.path;
    web.query = request.query;
    web.body = request.body;
    web.tls = tls_ != nullptr;
    std::vector<std::string> names;  // lower-cased, alive for the call
    const evkeyvalq* in_headers = evhttp_request_get_input_headers(req);
    for (const evkeyval* h = in_headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
      std::string name = h->key;
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      names.push_back(std::move(name));
    }
    size_t i = 0;
    for (const evkeyval* h = in_headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
      web.headers.emplace_back(names[i++], h->value);
    }
    char* peer_address = nullptr;  // owned by the connection
    ev_uint16_t peer_port = 0;
    if (evhttp_connection* connection = evhttp_request_get_connection(req); connection != nullptr) {
      evhttp_connection_get_peer(connection, &peer_address, &peer_port);
    }
    web.peer = peer_address != nullptr ? std::string_view(peer_address) : std::string_view();
    WebReply answer = web_(web);
    route = answer.route.empty() ? std::string("unmatched") : std::move(answer.route);
    HttpReply reply;
    reply.status = answer.status;
    reply.content_type = std::move(answer.content_type);
    reply.body = std::move(answer.body);
    reply.error_code = std::move(answer.error_code);
    reply.extra_headers = std::move(answer.headers);
    return reply;
  }

  void Answer(EventLoop* loop, evhttp_request* req) {
    const int64_t start_nanos = absl::GetCurrentTimeNanos();
    const std::string request_id = server_internal::RequestIdFrom(
        [&]() -> std::string_view {
          const char* id = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
          return id == nullptr ? std::string_view() : std::string_view(id);
        }());
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    evkeyvalq* in_headers = evhttp_request_get_input_headers(req);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t length = evbuffer_get_length(in);
    const char* body = length > 0 ? reinterpret_cast<const char*>(evbuffer_pullup(in, -1)) : "";
    auto header = [&](const char* name) -> std::string_view {
      const char* value = evhttp_find_header(in_headers, name);
      return value == nullptr ? std::string_view() : std::string_view(value);
    };
    const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
    HttpRequest request;
    request.method = MethodName(evhttp_request_get_command(req));
    request.path = path != nullptr ? path : "";
    request.query = query != nullptr ? query : "";
    request.content_type = header("Content-Type");
    request.accept = header("Accept");
    request.body = std::string_view(body, length);
    const std::string_view route = web_                        ? std::string_view("unmatched")
                                   : request.path == "/metrics" ? std::string_view("/metrics")
                                                                : server_internal::RouteTemplateOf(request.path);
    std::string key_name;
    std::string web_route = "unmatched";  // a web handler's route name (AnswerWeb)
    std::optional<HttpReply> refused = AdmitConnection(loop, req);
    if (!refused) refused = CheckBodySize(length);
    if (!refused && !web_) refused = AdmitRequest(route, header("Authorization"), &key_name);
    HttpReply reply = refused                       ? std::move(*refused)
                      : web_                        ? AnswerWeb(req, request, web_route)
                      : request.path == "/metrics" ? Metrics(request)
                                                   : server_internal::HandleApiRequest(*service_, request);
    reply.route = web_ ? std::string_view(web_route) : route;

    evkeyvalq* out_headers = evhttp_request_get_output_headers(req);
    if (!reply.content_type.empty()) evhttp_add_header(out_headers, "Content-Type", reply.content_type.c_str());
    if (!reply.location.empty()) evhttp_add_header(out_headers, "Location", reply.location.c_str());
    if (!reply.allow.empty()) evhttp_add_header(out_headers, "Allow", reply.allow.c_str());
    if (!web_) evhttp_add_header(out_headers, "Cache-Control", "no-store");  // a web handler sets its own
    evhttp_add_header(out_headers, "X-Request-Id", request_id.c_str());
    for (const auto& [name, value] : reply.extra_headers) evhttp_add_header(out_headers, name.c_str(), value.c_str());
    evbuffer* out = evhttp_request_get_output_buffer(req);
    evbuffer_add(out, reply.body.data(), reply.body.size());
    evhttp_send_reply(req, reply.status, nullptr, nullptr);
    const absl::Duration took = absl::Nanoseconds(absl::GetCurrentTimeNanos() - start_nanos);
    if (web_) {
      web_metrics_.RecordRequest(reply.route, reply.status, took);
    } else {
      request_metrics_.RecordRequest(server_internal::RouteIndex(reply.route), reply.status, took);
    }
    if (access_log_ != nullptr) {
      server_internal::AccessEntry entry;
      entry.time = absl::FromUnixNanos(start_nanos);
      entry.request_id = request_id;
      entry.method = request.method;
      entry.route = reply.route;
      entry.status = reply.status;
      entry.duration = took;
      entry.request_bytes = length;
      entry.response_bytes = reply.body.size();
      entry.error_code = reply.error_code;
      entry.key_name = key_name;
      access_log_->Write(entry);
    }
  }

  DecisionService* service_;  // null for a StartWeb listener
  v1::ServerConfig config_;
  std::string listen_;
  WebHandler web_;  // set: a StartWeb listener answering through it
  int port_ = 0;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::mutex shutdown_mu_;
  mutable server_internal::RequestMetrics request_metrics_;
  mutable server_internal::WebMetrics web_metrics_{"herald_web"};  // a StartWeb listener's requests
  std::shared_ptr<server_internal::AccessLog> access_log_;  // null: "off"; shared with the gRPC transport
  mutable std::mutex metrics_sources_mu_;
  std::vector<std::function<std::string()>> metrics_sources_;  // guarded by metrics_sources_mu_
  std::unique_ptr<server_internal::Authorizer> authorizer_;
  server_internal::SslContext tls_;  // null without TLS (each connection's SSL holds its own reference)
  int64_t max_connections_ = kDefaultMaxConnections;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(DecisionService* service,
                                                               const v1::ServerConfig& config) {
  auto server = std::make_unique<HttpServerImpl>(service, config);
  if (absl::Status s = server->Start(); !s.ok()) return s;
  return server;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::StartWeb(WebHandler handler, const v1::ServerConfig& config,
                                                                  std::string_view listen,
                                                                  std::string_view metrics_prefix) {
  if (!handler) return absl::InvalidArgumentError("StartWeb: no handler");
  auto server = std::make_unique<HttpServerImpl>(std::move(handler), config, std::string(listen),
                                                 std::string(metrics_prefix));
  if (absl::Status s = server->Start(); !s.ok()) return s;
  return server;
}

}  // namespace herald
