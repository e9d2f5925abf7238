// GNU libmicrohttpd (Debian libmicrohttpd-dev): epoll with an internal
// thread pool. argv[2] = threads (default 2).
#include <microhttpd.h>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include "body.h"
static std::string g_body;
static MHD_Result Handle(void*, MHD_Connection* c, const char*, const char*, const char*,
                         const char*, size_t* upload_size, void** state) {
  static int first;
  if (*state == nullptr) { *state = &first; return MHD_YES; }  // headers seen
  if (*upload_size) { *upload_size = 0; return MHD_YES; }      // body consumed
  MHD_Response* r = MHD_create_response_from_buffer(g_body.size(), g_body.data(),
                                                    MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return ret;
}
int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 18080;
  unsigned threads = argc > 2 ? std::atoi(argv[2]) : 2;
  g_body = FixedBody();
  MHD_Daemon* d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, port, nullptr,
                                   nullptr, &Handle, nullptr, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                   MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_END);
  if (!d) return 1;
  pause();
}
