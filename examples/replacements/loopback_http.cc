#include "loopback_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace site::driver {
namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;

// The Content-Length of a request head; 0 when absent or unreadable.
size_t ContentLength(absl::string_view head) {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (absl::AsciiStrToLower(line.substr(0, colon)) != "content-length") continue;
    size_t length = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &length)) return length;
  }
  return 0;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoopbackHttpServer>> LoopbackHttpServer::Start(std::vector<int> statuses) {
  if (statuses.empty()) return absl::InvalidArgumentError("LoopbackHttpServer: no statuses to answer with");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // the kernel picks a free port
  socklen_t length = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("listening on 127.0.0.1: ", error));
  }
  return std::unique_ptr<LoopbackHttpServer>(new LoopbackHttpServer(fd, ntohs(addr.sin_port), std::move(statuses)));
}

LoopbackHttpServer::LoopbackHttpServer(int listen_fd, int port, std::vector<int> statuses)
    : listen_fd_(listen_fd), port_(port), statuses_(std::move(statuses)) {
  thread_ = std::thread([this] { Serve(); });
}

LoopbackHttpServer::~LoopbackHttpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

std::string LoopbackHttpServer::Url(absl::string_view path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

std::vector<LoopbackHttpServer::Request> LoopbackHttpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

// Polls so that the destructor's stop_ is seen within 50 ms.
void LoopbackHttpServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval timeout{5, 0};  // a stuck client cannot hang the driver
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    Handle(fd);
    ::close(fd);
  }
}

void LoopbackHttpServer::Handle(int fd) {
  std::string data;
  char buffer[8192];
  size_t head_end = std::string::npos;
  while (data.size() < kMaxRequestBytes) {
    if (head_end == std::string::npos) head_end = data.find("\r\n\r\n");
    if (head_end != std::string::npos && data.size() >= head_end + 4 + ContentLength(data.substr(0, head_end))) break;
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return;  // cut or timed out: nothing to record
    data.append(buffer, static_cast<size_t>(n));
  }
  if (head_end == std::string::npos) return;
  Request request;
  request.head = data.substr(0, head_end);
  request.body = data.substr(head_end + 4, ContentLength(request.head));
  {
    absl::MutexLock lock(&mu_);
    request.answered = statuses_[std::min(requests_.size(), statuses_.size() - 1)];
    requests_.push_back(request);
  }
  const std::string body = request.answered == 200 ? "{\"ok\":true}" : "{\"error\":\"try again later\"}";
  const std::string answer =
      absl::StrCat("HTTP/1.1 ", request.answered, " ", ReasonPhrase(request.answered), "\r\n",
                   request.answered == 503 ? "Retry-After: 1\r\n" : "", "Content-Type: application/json\r\n",
                   "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
  size_t sent = 0;
  while (sent < answer.size()) {
    const ssize_t n = ::send(fd, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace site::driver
