#include "server/http_api.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "herald/report.h"
#include "server/absl_view.h"
#include "server/json_fast_parse.h"
#include "server/openapi.h"
#include "server/proto_json.h"

namespace herald::server_internal {

namespace {

using google::protobuf::util::JsonParseOptions;
using google::protobuf::util::JsonPrintOptions;

HttpReply JsonReply(int status, std::string body) {
  HttpReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

HttpReply MessageReply(const google::protobuf::Message& message) {
  std::string body;
  if (absl::Status printed = AppendMessageJson(message, &body); !printed.ok()) {
    return ErrorReply(absl::InternalError(absl::StrCat("writing the answer: ", printed.message())));
  }
  return JsonReply(200, std::move(body));
}

template <typename T>
HttpReply ReplyOf(const absl::StatusOr<T>& result) {
  if (!result.ok()) return ErrorReply(result.status());
  return MessageReply(*result);
}

// POST bodies must say they are JSON: a form post or a text/plain body is
// refused before it is read (415), so browsers cannot be used to forge calls
// through simple cross-site requests.
absl::Status CheckJsonContentType(std::string_view content_type) {
  absl::string_view media = absl::StripAsciiWhitespace(AbslView(content_type.substr(0, content_type.find(';'))));
  if (absl::EqualsIgnoreCase(media, "application/json")) return absl::OkStatus();
  return WithHttpStatus(WithField(absl::InvalidArgumentError(absl::StrCat("Content-Type: expected application/json, got \"",
                                                                          Printable(content_type, 80), "\"")),
                                  "Content-Type"),
                        415, "unsupported_media_type");
}

template <typename Request>
absl::StatusOr<Request> ParseBody(const HttpRequest& r) {
  if (absl::Status s = CheckJsonContentType(r.content_type); !s.ok()) return s;
  Request request;
  if (absl::Status s = ParseJsonBody(r.body, &request); !s.ok()) return s;
  return request;
}

HttpReply Healthz(DecisionService&, const HttpRequest&, std::string_view) {
  return JsonReply(200, R"({"status":"ok"})");
}

HttpReply Readyz(DecisionService& service, const HttpRequest&, std::string_view) {
  absl::Status ready = service.Ready();
  if (!ready.ok()) return ErrorReply(absl::UnavailableError(ready.message()));
  return JsonReply(200, R"({"status":"ready"})");
}

HttpReply OpenApi(DecisionService&, const HttpRequest&, std::string_view) {
  return JsonReply(200, std::string(OpenApiDocument()));
}

HttpReply SelectAds(DecisionService& service, const HttpRequest& r, std::string_view) {
  auto request = ParseBody<v1::SelectAdsRequest>(r);
  if (!request.ok()) return ErrorReply(request.status());
  return ReplyOf(service.SelectAds(*request));
}

HttpReply PriceBasket(DecisionService& service, const HttpRequest& r, std::string_view) {
  auto request = ParseBody<v1::PriceBasketRequest>(r);
  if (!request.ok()) return ErrorReply(request.status());
  return ReplyOf(service.PriceBasket(*request));
}

HttpReply CommitOrder(DecisionService& service, const HttpRequest& r, std::string_view) {
  auto request = ParseBody<v1::CommitOrderRequest>(r);
  if (!request.ok()) return ErrorReply(request.status());
  return ReplyOf(service.CommitOrder(*request));
}

HttpReply CaptureResponse(DecisionService& service, const HttpRequest& r, std::string_view) {
  auto request = ParseBody<v1::InteractionRecord>(r);
  if (!request.ok()) return ErrorReply(request.status());
  return ReplyOf(service.CaptureResponse(*request));
}

HttpReply Report(DecisionService& service, const HttpRequest& r, std::string_view name) {
  ReportRequest request;
  request.name = std::string(name);
  request.from = QueryParam(r.query, "from");
  request.to = QueryParam(r.query, "to");
  request.campaign = QueryParam(r.query, "campaign");
  std::string format = QueryParam(r.query, "format");
  if (format.empty()) format = absl::StrContains(AbslView(r.accept), "text/csv") ? "csv" : "json";
  if (format != "json" && format != "csv") {
    return ErrorReply(WithField(
        absl::InvalidArgumentError(absl::StrCat("format: expected json or csv, got \"", Printable(format, 20), "\"")),
        "format"));
  }
  auto table = service.Report(request);
  if (!table.ok()) return ErrorReply(table.status());
  if (format == "csv") {
    HttpReply reply = JsonReply(200, RenderCsv(*table));
    reply.content_type = "text/csv; charset=utf-8";
    return reply;
  }
  return JsonReply(200, RenderJson(*table));
}

HttpReply Click(DecisionService& service, const HttpRequest&, std::string_view token) {
  auto target = service.Click(token);
  if (!target.ok()) return ErrorReply(target.status());
  HttpReply reply = JsonReply(302, "");
  reply.content_type = "text/plain; charset=utf-8";
  reply.location = *target;
  reply.body = absl::StrCat("redirecting to ", *target, "\n");
  return reply;
}

struct Route {
  std::string_view path;  // exact, or a prefix ending in '/' followed by one segment
  std::string_view name;  // the template (server/metrics.h kRouteTemplates)
  bool prefix;
  std::string_view method;
  HttpReply (*handle)(DecisionService&, const HttpRequest&, std::string_view segment);
};

constexpr Route kRoutes[] = {
    {"/healthz", "/healthz", false, "GET", Healthz},
    {"/readyz", "/readyz", false, "GET", Readyz},
    {"/v1/openapi.json", "/v1/openapi.json", false, "GET", OpenApi},
    {"/v1/ads:select", "/v1/ads:select", false, "POST", SelectAds},
    {"/v1/baskets:price", "/v1/baskets:price", false, "POST", PriceBasket},
    {"/v1/orders:commit", "/v1/orders:commit", false, "POST", CommitOrder},
    {"/v1/responses", "/v1/responses", false, "POST", CaptureResponse},
    {"/v1/reports/", "/v1/reports/{name}", true, "GET", Report},
    {"/v1/clicks/", "/v1/clicks/{token}", true, "GET", Click},
};

}  // namespace

HttpReply ErrorBody(int http_status, const v1::ApiError& error) {
  std::string body;
  JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(error, &body, options).ok()) {
    // Only invalid UTF-8 in the message can fail; never answer with nothing.
    body = absl::StrCat(R"({"code":")", error.code(), R"json(","message":"(not valid UTF-8)","field":""})json");
  }
  HttpReply reply = JsonReply(http_status, std::move(body));
  reply.error_code = error.code();
  return reply;
}

HttpReply ErrorReply(const absl::Status& status) {
  ApiErrorReply api = ToApiError(status);
  return ErrorBody(api.http_status, api.error);
}

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

absl::Status ParseJsonBody(std::string_view body, google::protobuf::Message* out) {
  if (absl::StripAsciiWhitespace(AbslView(body)).empty()) {
    return WithField(absl::InvalidArgumentError("body: empty; expected a JSON object"), "body");
  }
  if (FastParseJson(body, out)) return absl::OkStatus();
  out->Clear();  // declined: protobuf's parser gives the answer, and the error
  JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), out, options);
  if (parsed.ok()) return absl::OkStatus();
  return JsonParseError(parsed.message().ToString());
}

namespace {

// Whether `route` takes `path`; `segment` is the part after a prefix route.
bool Matches(const Route& route, std::string_view path, std::string_view* segment) {
  if (!route.prefix) return path == route.path;
  if (!absl::StartsWith(AbslView(path), AbslView(route.path))) return false;
  *segment = path.substr(route.path.size());
  return !segment->empty() && segment->find('/') == std::string_view::npos;
}

}  // namespace

std::string_view RouteTemplateOf(std::string_view path) {
  std::string_view segment;
  for (const Route& route : kRoutes) {
    if (Matches(route, path, &segment)) return route.name;
  }
  return "unmatched";
}

HttpReply HandleApiRequest(DecisionService& service, const HttpRequest& request) {
  for (const Route& route : kRoutes) {
    std::string_view segment;
    if (!Matches(route, request.path, &segment)) continue;
    if (request.method != route.method) {
      v1::ApiError error;
      error.set_code("method_not_allowed");
      error.set_message(absl::StrCat("method ", Printable(request.method, 16), " is not allowed on ",
                                     AbslView(route.path), route.prefix ? "{...}" : "", "; use ",
                                     AbslView(route.method)));
      HttpReply reply = ErrorBody(405, error);
      reply.allow = std::string(route.method);
      reply.route = route.name;
      return reply;
    }
    HttpReply reply = route.handle(service, request, segment);
    reply.route = route.name;
    return reply;
  }
  return ErrorReply(absl::NotFoundError(absl::StrCat("no endpoint ", Printable(request.path, 200),
                                                     "; see /v1/openapi.json")));
}

}  // namespace herald::server_internal

namespace herald::server_internal {

absl::Status JsonParseError(std::string_view parser_message) {
  // protobuf 3.21 words its errors as "(path): problem" for a value, "name:
  // Cannot find field." for an unknown one, and a sentence followed by a
  // newline and the input around the error for malformed JSON.
  std::string_view text = parser_message.substr(0, parser_message.find('\n'));
  std::string field = "body";
  std::string problem;
  if (absl::StartsWith(AbslView(text), "(") && text.find("): ") != std::string_view::npos) {
    size_t close = text.find("): ");
    field = std::string(text.substr(1, close - 1));
    problem = std::string(text.substr(close + 3));
    size_t invalid = problem.find("invalid value ");
    size_t for_type = problem.rfind(" for type ");
    if (invalid == 0 && for_type != std::string::npos) {
      std::string type = problem.substr(for_type + 10);
      std::string value = problem.substr(14, for_type - 14);
      std::string expected = absl::StrContains(type, "INT")       ? "an integer"
                             : absl::StrContains(type, "DOUBLE") ||
                                       absl::StrContains(type, "FLOAT") ? "a number"
                             : absl::StrContains(type, "BOOL")    ? "true or false"
                             : absl::StrContains(type, "Timestamp") ? "an RFC 3339 time"
                             : absl::StrContains(type, "ENUM")    ? "one of the enum's names"
                                                                   : "a value of type " + type;
      problem = absl::StrCat("expected ", expected, ", got ", value);
    }
  } else if (absl::EndsWith(AbslView(text), ": Cannot find field.")) {
    field = std::string(text.substr(0, text.size() - 20));
    problem = "unknown field";
  } else if (absl::StrContains(AbslView(text), "non UTF-8")) {
    problem = "not valid UTF-8";
  } else if (absl::StrContains(AbslView(text), "Root element must be a message")) {
    problem = "expected a JSON object";
  } else {
    problem = absl::StrCat("malformed JSON: ", AbslView(text));
  }
  if (field.empty()) field = "body";
  std::string shown_field = Printable(field, 100);
  return WithField(absl::InvalidArgumentError(absl::StrCat(shown_field, ": ", Printable(problem, 300))),
                   shown_field);
}

}  // namespace herald::server_internal
