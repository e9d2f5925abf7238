// A one-thread HTTP/1.1 server on 127.0.0.1 for the conversion proof: it
// reads each request's head and Content-Length body, records them, answers
// with the next status of a script (the last one repeats) and closes the
// connection. Only loopback; nothing else is listened on.
#ifndef SITE_LOOPBACK_HTTP_H_
#define SITE_LOOPBACK_HTTP_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace site::driver {

class LoopbackHttpServer {
 public:
  struct Request {
    std::string head;  // request line and headers
    std::string body;
    int answered = 0;  // the status it got
  };

  // Listens on 127.0.0.1 on a port the kernel picks; `statuses` are the
  // answers in order (non-empty).
  static absl::StatusOr<std::unique_ptr<LoopbackHttpServer>> Start(std::vector<int> statuses);
  ~LoopbackHttpServer();  // stops the thread and closes the socket
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  std::string Url(absl::string_view path) const;
  std::vector<Request> requests() const;

 private:
  LoopbackHttpServer(int listen_fd, int port, std::vector<int> statuses);
  void Serve();
  void Handle(int fd);

  const int listen_fd_;
  const int port_;
  const std::vector<int> statuses_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace site::driver

#endif  // SITE_LOOPBACK_HTTP_H_
