// cpp-httplib (Debian libcpp-httplib-dev): blocking, a thread pool where each
// keep-alive connection holds a thread.
#include <httplib.h>
#include <cstdlib>
#include "body.h"
int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 18080;
  std::string body = FixedBody();
  httplib::Server server;
  server.Post("/v1/ads:select", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  server.listen("127.0.0.1", port);
}
