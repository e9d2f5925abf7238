// The access log of `herald serve` (docs/server.md, "Logs"): one JSON line
// per request with its request id, method, route template, status,
// duration and sizes.
//
// What a line may hold is fixed here, not taken from the request: the route
// is a template ("/v1/clicks/{token}"), never the path (a click path carries
// a signed token, a report path a query with campaign names), and no header,
// body, key, user id or profile value is ever written. The request id is the
// client's X-Request-Id only when it is well-formed (RequestIdFrom), so a
// client cannot inject text into the log either.
//
// Lines are buffered and written by a background thread every 200 ms (or
// when 64 KiB are waiting), so that the request path does no I/O; Flush()
// and the destructor write what is left.
//
// Thread-safety: Write() and Flush() may be called from any thread.
#ifndef HERALD_LIB_SERVER_ACCESS_LOG_H_
#define HERALD_LIB_SERVER_ACCESS_LOG_H_

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::server_internal {

// One request, as logged. The views need only live for the Write() call.
struct AccessEntry {
  absl::Time time;               // when the request was read
  std::string_view request_id;   // RequestIdFrom()
  std::string_view method;       // "GET", "POST", ...
  std::string_view route;        // a route template or "unmatched"
  int status = 0;
  absl::Duration duration;
  size_t request_bytes = 0;      // body
  size_t response_bytes = 0;     // body
  std::string_view error_code;   // the ApiError code of an error answer, else empty
  std::string_view key_name;     // the API key's name (never the key) when one was used
  std::string_view grpc_code;    // a gRPC call's status code name ("OK"), else empty
};

// The request's id: `header` (an incoming X-Request-Id) when it is 1 to 64
// characters of [A-Za-z0-9._:-], else a new random 32-hex-digit id.
std::string RequestIdFrom(std::string_view header);

// An entry as its JSON line (with the trailing newline).
std::string FormatAccessEntry(const AccessEntry& entry);

class AccessLog {
 public:
  // `path`: "" or "-" = stderr, "off" = nothing is logged (Open returns
  // null), else a file opened for appending. Error naming the file when it
  // cannot be opened.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(const std::string& path);
  // The same, shared by every caller in the process that names the same
  // path while one of them holds it: the HTTP and gRPC transports write
  // their lines through one writer, so lines never interleave mid-line.
  static absl::StatusOr<std::shared_ptr<AccessLog>> OpenShared(const std::string& path);
  ~AccessLog();

  void Write(const AccessEntry& entry);
  void Flush();

 private:
  AccessLog(std::FILE* file, bool owned);
  void RunWriter();
  void WriteOut(std::string& chunk);

  std::FILE* const file_;
  const bool owned_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::mutex write_mu_;  // one writer of the file at a time, in order
  std::thread writer_;
};

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_ACCESS_LOG_H_
