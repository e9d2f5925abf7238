// herald serve: the decision API over HTTP/JSON (docs/server.md).
#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "commands.h"
#include "herald/server.h"
#include "nlohmann/json.hpp"

namespace herald::cli {

namespace {

struct ServeArgs {
  std::string config;
  std::string catalog;
  std::string store;
  std::string listen;
  std::string access_log;
  int threads = 0;
};

// One structured log line on stderr: {"time","level","msg",...}.
void Log(std::string_view level, std::string_view message, nlohmann::ordered_json fields = {}) {
  nlohmann::ordered_json line;
  line["time"] = absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  line["level"] = level;
  line["msg"] = message;
  for (auto& [key, value] : fields.items()) line[key] = value;
  // One write per line: the access log shares stderr from other threads.
  std::cerr << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n" << std::flush;
}

absl::StatusOr<v1::ServerConfig> ConfigFrom(const ServeArgs& a) {
  v1::ServerConfig config;
  if (!a.config.empty()) {
    auto loaded = LoadServerConfig(a.config);
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  // Flags override the file (paths given on the command line are relative to
  // the working directory, like every other flag).
  if (!a.catalog.empty()) config.set_catalog(a.catalog);
  if (!a.store.empty()) config.set_store(a.store);
  if (!a.listen.empty()) config.set_listen(a.listen);
  if (a.threads > 0) config.set_threads(a.threads);
  if (!a.access_log.empty()) config.set_access_log(a.access_log);
  if (config.catalog().empty()) {
    return absl::InvalidArgumentError("herald serve: no catalog (--catalog FILE or `catalog:` in --config)");
  }
  return config;
}

int Run(const ServeArgs& a, CommandEnv& env) {
  auto config = ConfigFrom(a);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  // The loops' threads inherit this mask, so the signals reach only the
  // sigwait below and are handled as ordinary code, not in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto service = DecisionService::Create(*config, *env.registry);
  if (!service.ok()) {
    Log("error", "cannot start", {{"error", std::string(service.status().message())}});
    return 1;
  }
  auto server = HttpServer::Start(service->get(), *config);
  if (!server.ok()) {
    Log("error", "cannot listen", {{"error", std::string(server.status().message())}});
    return 1;
  }
  std::string listen = config->listen().empty() ? "127.0.0.1:8080" : config->listen();
  listen = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", (*server)->port());
  Log("info", "listening", {{"listen", listen}, {"catalog", config->catalog()}});
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      absl::Status reloaded = (*service)->ReloadCatalog();
      if (reloaded.ok()) {
        Log("info", "catalog reloaded", {{"catalog", config->catalog()}});
      } else {
        Log("error", "catalog reload failed; the previous catalog stays",
            {{"error", std::string(reloaded.message())}});
      }
      continue;
    }
    Log("info", "draining", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    (*server)->Shutdown();
    absl::Status flushed = (*service)->Flush();
    if (!flushed.ok()) {
      Log("error", "flush failed", {{"error", std::string(flushed.message())}});
      return 1;
    }
    Log("info", "stopped");
    return 0;
  }
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "run the decision API over HTTP/JSON (docs/server.md)");
  cmd->add_option("--config", a->config, "server config (textproto herald.v1.ServerConfig)");
  cmd->add_option("--catalog", a->catalog, "catalog file (overrides the config)");
  cmd->add_option("--store", a->store, "store URI: sqlite path, postgresql://..., memory (default memory)");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 = any)");
  cmd->add_option("--access-log", a->access_log,
                  "one JSON line per request: FILE, - (stderr, the default) or off");
  cmd->add_option("--threads", a->threads, "event loops (default: one per core)")->check(CLI::Range(1, 256));
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
