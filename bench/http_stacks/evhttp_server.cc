// libevent's evhttp (Debian libevent-dev): an event loop per thread, all
// threads accepting on one port (SO_REUSEPORT). argv[2] = threads (default 1).
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cstdlib>
#include <thread>
#include <vector>
#include "body.h"
static std::string g_body;
static void Handle(evhttp_request* req, void*) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evbuffer* out = evhttp_request_get_output_buffer(req);
  evbuffer_add_reference(out, g_body.data(), g_body.size(), nullptr, nullptr);
  evhttp_send_reply(req, 200, "OK", nullptr);
}
static void Loop(int port) {
  event_base* base = event_base_new();
  evhttp* http = evhttp_new(base);
  evhttp_set_gencb(http, Handle, nullptr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (bind(fd, (sockaddr*)&addr, sizeof addr) || listen(fd, 1024)) std::abort();
  evhttp_accept_socket(http, fd);
  event_base_dispatch(base);
}
int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 18080;
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  g_body = FixedBody();
  std::vector<std::thread> loops;
  for (int i = 1; i < threads; ++i) loops.emplace_back(Loop, port);
  Loop(port);
}
