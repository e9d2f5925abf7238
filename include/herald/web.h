// herald/web.h (herald_server): one HTTP request and its answer, as plain values, for modules
// that answer HTTP without owning a socket (the Business Desk, herald/desk.h).
// herald/server.h's HttpServer::StartWeb reads requests off its listener into
// a WebRequest and writes the WebReply back; tests call a handler directly.
//
// Lifetime: a WebRequest borrows every view from the transport for the call
// only. Thread-safety: plain values; a WebHandler is called from any number of
// the transport's threads at once and must be safe for that.
#ifndef HERALD_WEB_H_
#define HERALD_WEB_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald {

struct WebRequest {
  std::string_view method;  // "GET", "POST", "PUT", "PATCH", "DELETE", ...
  std::string_view path;    // "/api/v1/catalog" (percent-encoded as sent; no query)
  std::string_view query;   // "from=2026-06-01&to=2026-06-30" (no '?')
  // Every header as sent, names in lower case ("content-type", "cookie").
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  std::string_view peer;    // the client's address ("192.0.2.1"), for throttling
  bool tls = false;         // the request came over TLS

  // The first header named `lower_case_name`; empty when absent.
  std::string_view Header(std::string_view lower_case_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_case_name) return value;
    }
    return {};
  }
};

struct WebReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further headers (Set-Cookie, Location, Retry-After, Content-Security-Policy, ...).
  std::vector<std::pair<std::string, std::string>> headers;
  // What logs and metrics name instead of the raw path ("/api/v1/campaigns/{id}").
  std::string route = "unmatched";
  std::string error_code;  // an error answer's code, for the access log
};

using WebHandler = std::function<WebReply(const WebRequest&)>;

// Percent-decodes `in` ("%41" -> "A"; a malformed escape stays as it is);
// '+' is a space only in a query (`plus_is_space`).
std::string PercentDecode(std::string_view in, bool plus_is_space = false);
// The first query parameter `name` of `query` ("a=1&b=2", no '?'),
// percent-decoded; empty when absent.
std::string QueryParam(std::string_view query, std::string_view name);

}  // namespace herald

#endif  // HERALD_WEB_H_
