// Boost.Beast (Debian libboost-dev): asynchronous HTTP/1.1 over Asio, one
// io_context run by argv[2] threads (default 1).
#include <utility>  // boost 1.74 asio/awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>
#include "body.h"
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
static std::string g_body;
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : stream_(std::move(s)) {}
  void Read() {
    req_ = {};
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->Write();
                     });
  }
 private:
  void Write() {
    res_ = http::response<http::string_body>(http::status::ok, req_.version());
    res_.set(http::field::content_type, "application/json");
    res_.keep_alive(req_.keep_alive());
    res_.body() = g_body;
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->Read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};
static void Accept(tcp::acceptor& a) {
  a.async_accept([&a](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s))->Read();
    Accept(a);
  });
}
int main(int argc, char** argv) {
  unsigned short port = argc > 1 ? std::atoi(argv[1]) : 18080;
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  g_body = FixedBody();
  boost::asio::io_context io(threads);
  tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), port});
  Accept(acceptor);
  std::vector<std::thread> runners;
  for (int i = 1; i < threads; ++i) runners.emplace_back([&] { io.run(); });
  io.run();
}
