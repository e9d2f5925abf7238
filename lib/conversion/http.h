// Internal: a small blocking HTTP client over libcurl for the destinations.
// Request headers (which carry credentials) are never logged or echoed; error
// texts name the URL (which never holds credentials) and libcurl's reason.
#ifndef HERALD_LIB_CONVERSION_HTTP_H_
#define HERALD_LIB_CONVERSION_HTTP_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace herald::conversion {

struct HttpResponse {
  int status = 0;             // 0 = no HTTP response (transport error)
  std::string body;
  std::string retry_after;    // the Retry-After header, raw
  bool timed_out = false;
  std::string error;          // transport error text (libcurl's), empty on a response
};

// One connection, reused between calls. Not thread-safe (one per destination,
// used under the destination's lock).
class HttpClient {
 public:
  explicit HttpClient(absl::Duration timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // method "GET" or "POST"; headers "Name: value".
  HttpResponse Request(std::string_view method, const std::string& url,
                       const std::vector<std::string>& headers, std::string_view body);

 private:
  void* curl_;
  absl::Duration timeout_;
};

// Parses a Retry-After value: delta seconds or an HTTP date (relative to
// `now`). Zero when absent or unparseable.
absl::Duration ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_HTTP_H_
