// The HTTP/JSON mapping of DecisionService, independent of the socket layer:
// a request's method, path, query, content type and body in, the status,
// headers and body to send out. http_server.cc feeds it from libevent; the
// fuzz target and tests call it directly.
#ifndef HERALD_LIB_SERVER_HTTP_API_H_
#define HERALD_LIB_SERVER_HTTP_API_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "herald/server.h"

namespace herald::server_internal {

struct HttpRequest {
  std::string_view method;        // "GET", "POST", ...
  std::string_view path;          // "/v1/ads:select" (no query)
  std::string_view query;         // "format=csv&from=2026-06-01" (no '?')
  std::string_view content_type;  // the Content-Type header; empty when absent
  std::string_view accept;        // the Accept header
  std::string_view body;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string location;  // 302
  std::string allow;     // 405: the methods the path takes
  // The route template that answered ("/v1/clicks/{token}"), "unmatched"
  // when none did: what logs and metrics name instead of the raw path.
  std::string_view route = "unmatched";
  std::string error_code;  // an error answer's ApiError code (for the access log)
  std::vector<std::pair<std::string, std::string>> extra_headers;  // WWW-Authenticate, Retry-After
};

// The route template `path` goes to ("/v1/clicks/{token}"), "unmatched" when none.
std::string_view RouteTemplateOf(std::string_view path);

// Routes and answers one request. Never throws; bad input gives a 4xx with a
// JSON ApiError body.
HttpReply HandleApiRequest(DecisionService& service, const HttpRequest& request);

// The JSON error answer for `status` (ToApiError), and for an ApiError built by hand.
HttpReply ErrorReply(const absl::Status& status);
HttpReply ErrorBody(int http_status, const v1::ApiError& error);

// Client text echoed in a message: printable ASCII only (others become '?'),
// at most `max_bytes` (then "..."), so that an error body is always valid
// UTF-8 and a log line cannot be split.
std::string Printable(std::string_view text, size_t max_bytes);

// protobuf's JSON parser's message, turned into "field: problem" with the
// field attached (WithField).
absl::Status JsonParseError(std::string_view parser_message);

// Parses a JSON body in the proto3 JSON mapping into `out`. InvalidArgument
// naming the field on failure ("count: invalid value \"abc\" for type TYPE_INT32").
absl::Status ParseJsonBody(std::string_view body, google::protobuf::Message* out);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_HTTP_API_H_
