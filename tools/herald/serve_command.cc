// herald serve: the decision API over HTTP/JSON and gRPC (docs/server.md).
#include <csignal>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <algorithm>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "commands.h"
#include "herald/desk.h"
#include "herald/mail.h"
#include "herald/privacy.h"
#include "herald/store.h"
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
  std::string grpc_listen;
  int threads = 0;
  int catalog_refresh_ms = 0;
  std::string desk_listen;
  std::string desk_assets;
  std::string init_admin;
  std::string mail_maildir;
  std::string mail_smtp;
  std::string mail_files_dir;
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
  if (!a.grpc_listen.empty()) config.set_grpc_listen(a.grpc_listen);
  if (a.threads > 0) config.set_threads(a.threads);
  if (a.catalog_refresh_ms > 0) config.set_catalog_refresh_ms(a.catalog_refresh_ms);
  if (!a.access_log.empty()) config.set_access_log(a.access_log);
  if (!a.desk_listen.empty()) config.set_desk_listen(a.desk_listen);
  if (!a.desk_assets.empty()) config.set_desk_assets(a.desk_assets);
  if (!a.mail_maildir.empty() && !a.mail_smtp.empty()) {
    return absl::InvalidArgumentError("herald serve: give --mail-maildir or --mail-smtp, not both");
  }
  if (!a.mail_maildir.empty()) config.mutable_desk_mail()->mutable_maildir()->set_path(a.mail_maildir);
  if (!a.mail_smtp.empty()) config.mutable_desk_mail()->mutable_smtp()->set_url(a.mail_smtp);
  if (!a.mail_files_dir.empty()) config.mutable_desk_mail()->set_files_dir(a.mail_files_dir);
  if (!a.init_admin.empty()) return config;  // only the store is needed
  if (config.catalog().empty() && (config.store().empty() || config.store() == "memory")) {
    return absl::InvalidArgumentError(
        "herald serve: no catalog (--catalog FILE, `catalog:` in --config, or --store URI holding one: "
        "herald catalog push FILE --store URI)");
  }
  return config;
}

// 127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0 included) is reachable from outside.
bool IsLoopback(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  return host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1" || host == "localhost";
}

struct KeysArgs {
  std::string config;
  std::string keys_file;
  std::string scope;
  std::string name;
  std::string id;
};

// The key file named by --keys-file, or by the config's api_keys_file.
absl::StatusOr<std::string> KeyFileOf(const KeysArgs& k) {
  if (!k.keys_file.empty()) return k.keys_file;
  if (k.config.empty()) return absl::InvalidArgumentError("herald serve keys: --keys-file FILE or --config FILE");
  auto config = LoadServerConfig(k.config);
  if (!config.ok()) return config.status();
  if (config->api_keys_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(k.config, ": no api_keys_file to keep the keys in"));
  }
  return config->api_keys_file();
}

int RunKeys(std::string_view action, const KeysArgs& k) {
  auto file = KeyFileOf(k);
  if (!file.ok()) {
    std::cerr << file.status().message() << "\n";
    return 2;
  }
  if (action == "create") {
    auto key = CreateApiKey(*file, k.scope, k.name);
    if (!key.ok()) {
      std::cerr << "herald serve keys create: " << key.status().message() << "\n";
      return absl::IsInvalidArgument(key.status()) ? 2 : 1;
    }
    std::cerr << "API key \"" << k.name << "\" (scope " << k.scope << ") added to " << *file
              << "; shown once, store it now; running servers pick it up on SIGHUP\n";
    std::cout << *key << "\n";
    return 0;
  }
  if (action == "list") {
    auto keys = ListApiKeys(*file);
    if (!keys.ok()) {
      std::cerr << "herald serve keys list: " << keys.status().message() << "\n";
      return 1;
    }
    std::cout << "id        scope      created               name\n";
    for (const ApiKeyInfo& key : *keys) {
      std::cout << key.id << "  " << key.scope << std::string(11 - std::min<size_t>(10, key.scope.size()), ' ')
                << key.created << "  " << key.name << "\n";
    }
    return 0;
  }
  absl::Status revoked = RevokeApiKey(*file, k.id);
  if (!revoked.ok()) {
    std::cerr << "herald serve keys revoke: " << revoked.message() << "\n";
    return absl::IsNotFound(revoked) ? 2 : 1;
  }
  std::cerr << "API key " << k.id << " revoked in " << *file << "; running servers drop it on SIGHUP\n";
  return 0;
}

void AddKeysCommand(CLI::App* serve, CommandEnv& env) {
  auto k = std::make_shared<KeysArgs>();
  auto* keys = serve->add_subcommand("keys", "create, list and revoke API keys (docs/server.md, \"API keys\")");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "make a new key and print it once");
  auto* list = keys->add_subcommand("list", "the keys (ids, scopes, names; never the keys)");
  auto* revoke = keys->add_subcommand("revoke", "remove a key by id");
  for (CLI::App* c : {create, list, revoke}) {
    c->add_option("--config", k->config, "server config whose api_keys_file holds the keys");
    c->add_option("--keys-file", k->keys_file, "the key file itself");
  }
  create->add_option("--scope", k->scope, "decisions, reports or admin")->required();
  create->add_option("--name", k->name, "who the key is for")->required();
  revoke->add_option("id", k->id, "the key's id (herald serve keys list)")->required();
  create->callback([k, &env] { env.exit_code = RunKeys("create", *k); });
  list->callback([k, &env] { env.exit_code = RunKeys("list", *k); });
  revoke->callback([k, &env] { env.exit_code = RunKeys("revoke", *k); });
}

// The admin password for --init-admin: $HERALD_ADMIN_PASSWORD, else one line
// of standard input (typed without echo on a terminal). Never a flag: a
// command line is visible to every user of the machine.
absl::StatusOr<std::string> AdminPassword() {
  if (const char* from_env = std::getenv("HERALD_ADMIN_PASSWORD"); from_env != nullptr && *from_env != '\0') {
    return std::string(from_env);
  }
  const bool terminal = isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal) {
    std::cerr << "password for the first admin: " << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  const bool read = static_cast<bool>(std::getline(std::cin, password));
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!read || password.empty()) {
    return absl::InvalidArgumentError("--init-admin: no password (set HERALD_ADMIN_PASSWORD or give it on standard input)");
  }
  return password;
}

// herald serve --init-admin NAME --store URI: the store's first Business
// Desk user, an admin. Run again, it does nothing when NAME is an admin;
// refused when the store has other users: later users are added by an admin
// (the app's Users screen, POST /api/v1/users).
int InitAdmin(const v1::ServerConfig& config, const std::string& name, CommandEnv& env) {
  if (config.store().empty() || config.store() == "memory") {
    std::cerr << "herald serve --init-admin: needs --store URI (a SQLite or PostgreSQL store)\n";
    return 2;
  }
  auto store = OpenStore(config.store(), *env.registry);
  if (!store.ok()) {
    std::cerr << "herald serve --init-admin: " << store.status().message() << "\n";
    return 1;
  }
  AccountStore* accounts = (*store)->accounts();
  if (accounts == nullptr) {
    std::cerr << "herald serve --init-admin: the store " << (*store)->Describe() << " keeps no accounts\n";
    return 1;
  }
  auto users = accounts->ListUsers();
  if (users.ok()) {
    for (const v1::DeskUser& user : *users) {
      if (user.name() == name && user.role() == "admin") {  // run again: nothing to do
        std::cout << "the admin \"" << name << "\" already exists in " << (*store)->Describe() << "\n";
        return 0;
      }
    }
  }
  if (!users.ok() || !users->empty()) {
    std::cerr << "herald serve --init-admin: "
              << (users.ok() ? "the store already has users; an admin adds more in the Business Desk"
                             : std::string(users.status().message()))
              << "\n";
    return 1;
  }
  auto password = AdminPassword();
  absl::Status created = password.ok() ? CreateDeskUser(*accounts, name, "admin", *password, "herald serve --init-admin")
                                       : password.status();
  if (!created.ok()) {
    std::cerr << "herald serve --init-admin: " << created.message() << "\n";
    return absl::IsInvalidArgument(created) ? 2 : 1;
  }
  std::cout << "created the admin \"" << name << "\" in " << (*store)->Describe() << "\n";
  return 0;
}

// The Business Desk on config.desk_listen, when set: its own store
// connection, answering through the decision service.
struct DeskListener {
  std::unique_ptr<Store> store;
  std::unique_ptr<Transport> mail_transport;
  std::unique_ptr<Desk> desk;
  std::unique_ptr<HttpServer> server;
};
// The desk's mail jobs: the transport (desk_mail, --mail-maildir,
// --mail-smtp) and the unsubscribe key, when configured.
absl::Status DeskMail(const v1::DeskMailConfig& mail, CommandEnv& env, DeskListener& out, DeskOptions& options) {
  options.mail_files_dir = mail.files_dir();  // audiences read files too, with or without a transport
  options.mail_url_messages = mail.allow_url_messages();
  absl::StatusOr<std::unique_ptr<Transport>> transport;
  if (mail.has_smtp()) {
    transport = env.registry->Create<Transport>("smtp", mail.smtp(), CreateContext{env.registry});
  } else if (mail.has_maildir()) {
    transport = env.registry->Create<Transport>("maildir", mail.maildir(), CreateContext{env.registry});
  } else {
    return absl::OkStatus();
  }
  if (!transport.ok()) return absl::Status(transport.status().code(), absl::StrCat("desk_mail: ", transport.status().message()));
  out.mail_transport = std::move(*transport);
  options.registry = env.registry;
  options.mail_transport = out.mail_transport.get();
  if (mail.workers() > 0) options.mail_workers = mail.workers();
  if (mail.batch_size() > 0) options.mail_batch_size = mail.batch_size();
  if (!mail.unsubscribe_secret_file().empty()) {
    std::ifstream in(mail.unsubscribe_secret_file(), std::ios::binary);
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() < 16) {
      return absl::InvalidArgumentError(absl::StrCat("desk_mail: unsubscribe_secret_file ", mail.unsubscribe_secret_file(),
                                                     " is unreadable or holds under 16 bytes"));
    }
    options.unsubscribe_secret = std::move(secret);
  } else if (!mail.unsubscribe_secret_env().empty()) {
    const char* value = std::getenv(mail.unsubscribe_secret_env().c_str());
    if (value == nullptr || std::strlen(value) < 16) {
      return absl::InvalidArgumentError(absl::StrCat("desk_mail: the environment variable ", mail.unsubscribe_secret_env(),
                                                     " is unset or holds under 16 bytes"));
    }
    options.unsubscribe_secret = value;
  }
  return absl::OkStatus();
}

absl::StatusOr<DeskListener> StartDesk(const v1::ServerConfig& config, DecisionService& service, CommandEnv& env) {
  DeskListener out;
  if (config.store().empty() || config.store() == "memory") {
    return absl::InvalidArgumentError("desk_listen: the Business Desk needs a SQLite or PostgreSQL store (--store URI)");
  }
  auto store = OpenStore(config.store(), *env.registry);
  if (!store.ok()) return store.status();
  out.store = std::move(*store);
  DeskOptions options;
  options.assets_dir = config.desk_assets();
  if (config.desk_session_minutes() > 0) options.session_ttl = absl::Minutes(config.desk_session_minutes());
  options.registry = env.registry;  // recipient sources of audiences and jobs
  if (auto s = DeskMail(config.desk_mail(), env, out, options); !s.ok()) return s;
  auto desk = Desk::Create(*out.store, service, options);
  if (!desk.ok()) return desk.status();
  out.desk = std::move(*desk);
  Desk* answer = out.desk.get();
  auto server = HttpServer::StartWeb([answer](const WebRequest& r) { return answer->Handle(r); }, config,
                                     config.desk_listen(), "herald_desk");
  if (!server.ok()) return server.status();
  out.server = std::move(*server);
  return out;
}

int Run(const ServeArgs& a, CommandEnv& env) {
  auto config = ConfigFrom(a);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (!a.init_admin.empty()) return InitAdmin(*config, a.init_admin, env);
  // The loops' threads inherit this mask, so the signals reach only the
  // sigwait below and are handled as ordinary code, not in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (auto personal = PersonalDataOptionsFromEnvironment(config->personal_data()); personal.ok()) {
    if (std::string w = PersonalDataWarning(*personal, config->personal_data()); w.starts_with("WARNING")) {
      Log("warning", w, {});
    }
  }
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
  // Shared with the HTTP server's /metrics, which shows its metrics too and
  // so keeps it alive as long as it may be scraped.
  std::shared_ptr<GrpcServer> grpc;
  if (!config->grpc_listen().empty()) {
    auto started = GrpcServer::Start(service->get(), *config);
    if (!started.ok()) {
      Log("error", "cannot listen", {{"error", std::string(started.status().message())}});
      return 1;
    }
    grpc = std::move(*started);
    (*server)->AddMetricsSource([grpc] { return grpc->MetricsText(); });
  }
  std::optional<DeskListener> desk;
  if (!config->desk_listen().empty()) {
    auto started = StartDesk(*config, **service, env);
    if (!started.ok()) {
      Log("error", "cannot start the Business Desk", {{"error", std::string(started.status().message())}});
      return 1;
    }
    desk = std::move(*started);
    // The desk's request counts on the decision API's /metrics.
    HttpServer* desk_server = desk->server.get();
    (*server)->AddMetricsSource([desk_server] { return desk_server->MetricsText(); });
  }
  std::string listen = config->listen().empty() ? "127.0.0.1:8080" : config->listen();
  listen = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", (*server)->port());
  nlohmann::ordered_json fields = {{"listen", listen}, {"catalog", config->catalog()}};
  if (grpc != nullptr) {
    const std::string& g = config->grpc_listen();
    fields["grpc_listen"] = absl::StrCat(g.substr(0, g.rfind(':')), ":", grpc->port());
  }
  if (config->has_tls() && !config->tls().cert_file().empty()) {
    fields["tls"] = config->tls().client_ca_file().empty() ? "on" : "mutual";
  }
  if (desk.has_value()) {
    const std::string& d = config->desk_listen();
    fields["desk_listen"] = absl::StrCat(d.substr(0, d.rfind(':')), ":", desk->server->port());
  }
  Log("info", "listening", fields);
  if (!(*server)->RequiresKeys() && !IsLoopback(listen)) {
    Log("warning",
        "LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT API KEYS: anyone who can reach it can place ads, commit "
        "orders and read reports; create keys with `herald serve keys create` (docs/server.md, \"API keys\")",
        {{"listen", listen}});
  }
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      if (absl::Status keys = (*server)->ReloadKeys(); !keys.ok()) {
        Log("error", "API key reload failed; the previous keys stay", {{"error", std::string(keys.message())}});
      } else if (grpc != nullptr) {
        (void)grpc->ReloadKeys();  // the same file, just read successfully
      }
      absl::Status reloaded = (*service)->ReloadCatalog();
      if (reloaded.ok()) {
        Log("info", "catalog reloaded",
            {{"catalog", config->catalog().empty() ? absl::StrCat("store version ", (*service)->CatalogVersion())
                                                    : config->catalog()}});
      } else {
        Log("error", "catalog reload failed; the previous catalog stays",
            {{"error", std::string(reloaded.message())}});
      }
      continue;
    }
    Log("info", "draining", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    // Both transports stop accepting and finish their requests in flight at
    // once; only then are the service's counters and events flushed.
    std::thread grpc_drain([&grpc] {
      if (grpc != nullptr) grpc->Shutdown();
    });
    if (desk.has_value()) desk->server->Shutdown();
    (*server)->Shutdown();
    grpc_drain.join();
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
  auto* cmd = app.add_subcommand("serve", "run the decision API over HTTP/JSON and gRPC (docs/server.md)");
  cmd->add_option("--config", a->config, "server config (textproto herald.v1.ServerConfig)");
  cmd->add_option("--catalog", a->catalog,
                  "catalog file (overrides the config); without one, the store's current catalog version, "
                  "refreshed live");
  cmd->add_option("--catalog-refresh-ms", a->catalog_refresh_ms,
                  "how often to look for a new catalog version in the store (default 10000)");
  cmd->add_option("--store", a->store, "store URI: sqlite path, postgresql://..., memory (default memory)");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 = any)");
  cmd->add_option("--access-log", a->access_log,
                  "one JSON line per request: FILE, - (stderr, the default) or off");
  cmd->add_option("--grpc-listen", a->grpc_listen,
                  "HOST:PORT for the gRPC transport (service herald.v1.Decisions; default: none)");
  cmd->add_option("--threads", a->threads, "event loops (default: one per core)")->check(CLI::Range(1, 256));
  cmd->add_option("--desk-listen", a->desk_listen,
                  "HOST:PORT of the Business Desk (the browser app and its admin API; default: none)");
  cmd->add_option("--desk-assets", a->desk_assets, "the Business Desk app's folder (the repository's web/)");
  cmd->add_option("--mail-maildir", a->mail_maildir,
                  "the Business Desk's mail jobs write to this Maildir (desk_mail.maildir)");
  cmd->add_option("--mail-smtp", a->mail_smtp,
                  "the Business Desk's mail jobs send to smtp://HOST:PORT or smtps://HOST:PORT (desk_mail.smtp; "
                  "credentials only in the config: password_env or password_file)");
  cmd->add_option("--mail-files-dir", a->mail_files_dir,
                  "the folder the Business Desk's mail jobs read files from (recipient CSV, attachments...; "
                  "desk_mail.files_dir); default: none, an item naming a file is refused");
  cmd->add_option("--init-admin", a->init_admin,
                  "create the store's first Business Desk user, an admin, and exit (password from "
                  "$HERALD_ADMIN_PASSWORD or standard input)");
  AddKeysCommand(cmd, env);
  cmd->callback([a, cmd, &env] {
    if (cmd->got_subcommand("keys")) return;
    env.exit_code = Run(*a, env);
  });
}

}  // namespace herald::cli
