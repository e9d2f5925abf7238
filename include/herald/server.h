// herald/server.h: `herald serve`, the decision API for storefronts written
// in any language (docs/server.md).
//
// Two layers:
//   DecisionService  one implementation of the API: ads selection with signed
//                    click links, clicks, basket pricing, order commits
//                    (coupon redemption), response capture, reports, health.
//                    Requests and responses are the protobuf messages of
//                    herald/model/server.proto, so that every transport (the
//                    HTTP/JSON and the gRPC transports) shares it and only maps
//                    bytes to messages and absl::Status to its own errors.
//   HttpServer       the HTTP/1.1 keep-alive transport (libevent's evhttp:
//                    one event loop per thread, every loop accepting on the
//                    same port), JSON bodies in the proto3 JSON mapping.
//   GrpcServer       the gRPC transport: service herald.v1.Decisions
//                    (herald/model/decisions.proto), the same methods with
//                    the same messages; absl::Status codes become gRPC codes.
//
// Errors: every DecisionService method validates its request completely
// before anything is recorded. Bad input is InvalidArgument (or NotFound for
// an unknown report, item or click link) whose message starts with the field
// path ("profile.age: expected int, got \"abc\""); the path is also attached
// as the status payload kFieldPayload, which ToApiError() reads. The HTTP
// transport answers every error with a JSON body {"code","message","field"}
// (herald.v1.ApiError) and never with a 500 for bad input.
//
// Lifetime: a DecisionService owns its store, selector and pricer; it borrows
// the Registry given to Create(), which must outlive it; destroying it
// flushes counters, events and histories. An HttpServer borrows its service,
// which must outlive it; Shutdown() (also run by the destructor) stops
// accepting, lets requests in flight finish and joins the loops. A
// GrpcServer likewise borrows its service.
// Thread-safety: every DecisionService method may be called from any number of
// threads at once, ReloadCatalog() included (requests already running finish
// on the snapshot they started with). HttpServer::Shutdown() may be called from
// any thread, once or more.
#ifndef HERALD_SERVER_H_
#define HERALD_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/basket.pb.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/server.pb.h"
#include "herald/registry.h"
#include "herald/report.h"
#include "herald/web.h"

namespace herald {

// The status payload naming the request field an error is about ("profile.age").
inline constexpr std::string_view kFieldPayload = "type.herald.dev/field";

// `status` with `field` attached as kFieldPayload.
absl::Status WithField(absl::Status status, std::string_view field);

// The status payload that sets how an error is answered over HTTP, for the
// few answers no absl code maps to ("415 unsupported_media_type").
inline constexpr std::string_view kHttpStatusPayload = "type.herald.dev/http_status";

// `status` answered with HTTP status `http_status` and API error code `code`
// (kHttpStatusPayload); its absl code still says what it is to gRPC callers.
absl::Status WithHttpStatus(absl::Status status, int http_status, std::string_view code);

// How an error is answered: the HTTP status and the API error body.
struct ApiErrorReply {
  int http_status = 500;
  v1::ApiError error;
};
// InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404,
// AlreadyExists/FailedPrecondition/Aborted 409, ResourceExhausted 429,
// Unavailable 503, DeadlineExceeded 504, anything else 500, unless
// kHttpStatusPayload says otherwise. `code` is the snake_case name of the
// absl code (or the payload's); `field` comes from kFieldPayload or, when
// absent, from a leading "path: " of the message naming a request field.
ApiErrorReply ToApiError(const absl::Status& status);

// Reads a ServerConfig textproto. Relative paths in it (catalog, store,
// click key files) are resolved against the file's directory. Errors name
// the file and line.
absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path);

// API keys (docs/server.md, "API keys"), kept hashed in a key file
// (ServerConfig.api_keys_file) that `herald serve keys` edits. A running
// server reads the file at start and on SIGHUP.
struct ApiKeyInfo {
  std::string id;       // 8 hex digits; the key starts "hk_<id>_"
  std::string scope;    // decisions, reports or admin
  std::string name;
  std::string created;  // RFC 3339
};
// Adds a new random key to `key_file` (created if missing, mode 0600) and
// returns it: the only time it is shown. InvalidArgument for an unknown scope.
absl::StatusOr<std::string> CreateApiKey(const std::string& key_file, std::string_view scope,
                                         std::string_view name);
absl::StatusOr<std::vector<ApiKeyInfo>> ListApiKeys(const std::string& key_file);
// Removes the key with `id` (NotFound naming it when absent).
absl::Status RevokeApiKey(const std::string& key_file, std::string_view id);

struct ReportRequest {
  std::string name;        // herald/report.h ReportNames()
  std::string from, to;    // "2026-06-01" (catalog time zone) or RFC 3339; empty = unbounded
  std::string campaign;    // id or name; empty = all
};

class DecisionService {
 public:
  virtual ~DecisionService() = default;

  // Opens config.store, loads and compiles config.catalog (or, when it is
  // empty, the store's current catalog version), builds the selector and the
  // pricer. The catalog path is taken as given (see LoadServerConfig for
  // relative paths). With a catalog from the store, a background poll every
  // config.catalog_refresh_ms swaps in each new version (as ReloadCatalog),
  // stopped when the service is destroyed. FailedPrecondition when the store
  // holds no catalog version.
  static absl::StatusOr<std::unique_ptr<DecisionService>> Create(const v1::ServerConfig& config,
                                                                 const Registry& registry);

  // Picks ads. Each winner's click_url is a signed link to Click() (valid
  // for config.click_ttl_seconds, bound to the item, user and page group),
  // and the advertiser's URL in its html is replaced by that link.
  virtual absl::StatusOr<v1::SelectAdsResponse> SelectAds(const v1::SelectAdsRequest& request) const = 0;

  // Verifies a click token, records the click and returns where to send the
  // browser (the ad's click URL). NotFound for a forged, expired or
  // malformed token or an item no longer in the catalog; nothing is recorded then.
  virtual absl::StatusOr<std::string> Click(std::string_view token) const = 0;

  // Prices a basket; changes nothing.
  virtual absl::StatusOr<v1::PricedBasket> PriceBasket(const v1::PriceBasketRequest& request) const = 0;

  // Prices the basket again and redeems its coupon codes (all or none).
  // FailedPrecondition naming the code when a usage limit is reached.
  virtual absl::StatusOr<v1::CommitOrderResponse> CommitOrder(
      const v1::CommitOrderRequest& request) const = 0;

  // CaptureResponse (herald/conversion.h): validates and appends one response.
  virtual absl::StatusOr<v1::InteractionRecord> CaptureResponse(
      const v1::InteractionRecord& record) const = 0;

  // Runs a report over the store's events with the current catalog.
  virtual absl::StatusOr<ReportTable> Report(const ReportRequest& request) const = 0;

  // A signed click token for an item, user and page group (what SelectAds
  // puts in click_url after the base URL). Exposed for tests and clients
  // that render their own links.
  virtual std::string SignClick(std::string_view item_id, std::string_view user_id,
                                std::string_view page_group, absl::Time now) const = 0;

  // OK when a catalog is loaded and the store answers.
  virtual absl::Status Ready() const = 0;

  // Loads and compiles the catalog file (or the store's current version)
  // again and swaps it in; on error the current catalog stays and the error
  // is returned.
  virtual absl::Status ReloadCatalog() = 0;

  // The store's catalog version being served; 0 for a catalog file.
  virtual int64_t CatalogVersion() const { return 0; }

  // Writes pending counters, events and histories; returns when durable.
  virtual absl::Status Flush() = 0;

  // The service's own Prometheus metrics in the text exposition format 0.0.4
  // (decisions, slots, each paid ad's delivery, event queue, counter lag,
  // reloads; docs/server.md "Metrics"). A transport appends them to its own
  // request metrics at /metrics. Costs one pass over the catalog's paid ads.
  virtual std::string MetricsText() const { return {}; }
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Binds config.listen and starts config.threads event loops; HTTPS when
  // config.tls names a certificate (mutual TLS with a client CA). Fails with
  // InvalidArgument for a malformed address or unusable TLS files (naming
  // the field), Unavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(DecisionService* service,
                                                           const v1::ServerConfig& config);

  // A listener on `listen` ("HOST:PORT") that answers every request with
  // `handler` (herald/web.h), with config's threads, limits, TLS and access
  // log but without API keys or /metrics: the handler authenticates (the
  // Business Desk, herald/desk.h). `handler` is called from the loops'
  // threads until Shutdown() returns. Errors as Start().
  // Its requests are counted by the route names the handler gives
  // (WebReply::route) as <metrics_prefix>_requests_total and
  // <metrics_prefix>_request_duration_seconds, shown by MetricsText().
  static absl::StatusOr<std::unique_ptr<HttpServer>> StartWeb(WebHandler handler, const v1::ServerConfig& config,
                                                              std::string_view listen,
                                                              std::string_view metrics_prefix = "herald_web");

  // The bound port (useful with port 0).
  virtual int port() const = 0;

  // A StartWeb listener's request counts in the Prometheus text format, for
  // another listener's /metrics (AddMetricsSource); "" for Start()'s, which
  // answers /metrics itself. Any thread.
  virtual std::string MetricsText() const { return ""; }

  // Reads config.api_keys_file again (SIGHUP); on error the current keys stay.
  virtual absl::Status ReloadKeys() { return absl::OkStatus(); }
  // Whether requests need an API key now (a key exists or require_api_keys).
  virtual bool RequiresKeys() const { return false; }

  // /metrics also shows what `source` returns (Prometheus text of another
  // transport of the same process: GrpcServer::MetricsText). May be called
  // at any time, from any thread; `source` is called on a request thread and
  // must stay callable until Shutdown() has returned.
  virtual void AddMetricsSource(std::function<std::string()> source) { (void)source; }

  // Stops accepting, answers the requests already read, closes the
  // connections and joins the loops. Idempotent.
  virtual void Shutdown() = 0;
};

class GrpcServer {
 public:
  virtual ~GrpcServer() = default;

  // Listens on config.grpc_listen ("HOST:PORT"; port 0 = any free port),
  // with TLS (and mutual TLS) as config.tls says.
  // InvalidArgument when grpc_listen is empty, Unavailable when it cannot bind.
  // Messages over limits.max_body_bytes are refused (RESOURCE_EXHAUSTED).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(DecisionService* service,
                                                           const v1::ServerConfig& config);

  // The bound port.
  virtual int port() const = 0;

  // API keys as on HTTP (docs/server.md, "API keys"): `authorization: Bearer
  // KEY` metadata, the scope of the HTTP route each method mirrors; refusals
  // are UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED. The rate
  // limit's buckets are this transport's own. Reads config.api_keys_file
  // again (SIGHUP); on error the current keys stay.
  virtual absl::Status ReloadKeys() = 0;

  // Stops accepting, lets the calls in flight finish (cancelling any still
  // running after `grace`) and waits for them. Idempotent.
  virtual void Shutdown(absl::Duration grace = absl::Seconds(5)) = 0;

  // This transport's Prometheus metrics (herald_grpc_server_handled_total by
  // method and code, herald_grpc_server_handling_seconds), in the text
  // exposition format; herald serve shows them at the HTTP /metrics
  // (HttpServer::AddMetricsSource). Any thread, any time before destruction.
  virtual std::string MetricsText() const { return {}; }
};

}  // namespace herald

#endif  // HERALD_SERVER_H_
