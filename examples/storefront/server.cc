// storefront_server: the example shop, an HTTP server embedding Herald.
//
//   storefront_server --catalog examples/storefront/catalog.textproto
//                     [--store sqlite:shop.db] [--port 8080] [--www DIR]
//                     [--port-file FILE] [--local-landing] [--seed N]
//
// Binds 127.0.0.1 only (port 0 = an ephemeral one), prints
// "listening on http://127.0.0.1:PORT" and writes PORT to --port-file when
// given; stops cleanly (counters and events flushed) on SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "site.h"

#ifndef HERALD_STOREFRONT_WWW
#define HERALD_STOREFRONT_WWW ""
#endif

int main(int argc, char** argv) {
  CLI::App app{"storefront_server: the example shop embedding Herald"};
  storefront::SiteOptions options;
  options.store_uri = "sqlite:storefront.db";
  options.www_dir = HERALD_STOREFRONT_WWW;
  int port = 8080;
  std::string port_file;
  app.add_option("--catalog", options.catalog_path, "catalog file")->required();
  app.add_option("--store", options.store_uri, "store URI: sqlite:PATH, memory, postgresql://...")->capture_default_str();
  app.add_option("--port", port, "port on 127.0.0.1 (0 = ephemeral)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--www", options.www_dir, "the shop page's directory")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file");
  app.add_flag("--local-landing", options.local_landing, "send external click URLs to a local landing page");
  app.add_option("--seed", options.seed, "house-ad draws (0 = from entropy)");
  CLI11_PARSE(app, argc, argv);

  // Signals are taken by one thread with sigwait, so stopping is orderly.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto site = storefront::StorefrontSite::Create(options);
  if (!site.ok()) {
    std::cerr << "storefront_server: " << site.status().message() << "\n";
    return 1;
  }
  httplib::Server server;
  (*site)->Mount(server);
  int bound = port == 0 ? server.bind_to_any_port("127.0.0.1") : (server.bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound <= 0) {
    std::cerr << "storefront_server: cannot bind 127.0.0.1:" << port << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream out(port_file + ".tmp");
    out << bound << "\n";
    out.close();
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  std::cout << "listening on http://127.0.0.1:" << bound << std::endl;
  std::thread stopper([&server, &signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    server.stop();
  });
  server.listen_after_bind();
  // listen_after_bind returns after stop(); if it ended for another reason,
  // wake the stopper.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  site->reset();  // flushes counters, events and histories
  std::cout << "stopped" << std::endl;
  return 0;
}
