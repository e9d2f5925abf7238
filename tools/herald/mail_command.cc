// herald mail: runs (or resumes) a direct-mail job of a catalog item, with a
// progress bar on a terminal and the job report at the end.
//
//   herald mail --catalog FILE --item NAME [--recipients LIST.csv]
//               (--smtp smtp://HOST:PORT | --maildir DIR) [--store PATH]
//               [--test-to ADDRESS ...] [--job ID] [--connections N] [--workers N]
//               [--json] [--trace] [--worker-id NAME] [--claim-timeout SECONDS]
//               [--requeue-claims-of ID ...] [--ca-file PEM]
//               [--smtp-user USER [--smtp-password-env VAR | --smtp-password-file FILE]]
//               [--allow-plaintext-auth-insecure]
//   herald mail --store PATH --job ID --set-state paused|stopped
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "catalog_source.h"
#include "commands.h"
#include "core/strings.h"
#include "herald/catalog.h"
#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"
#include "herald/store.h"
#include "json_output.h"
#include "progress.h"

namespace herald::cli {

namespace {

struct MailArgs {
  std::string catalog, item, recipients, smtp, maildir, store, job, set_state, secret_file;
  std::string smtp_user, smtp_password_env, smtp_password_file, ca_file, worker_id;
  std::vector<std::string> test_to, requeue_claims_of, allowed_dirs;
  int claim_timeout_seconds = 900;
  int connections = 8, workers = 1, batch = 32;
  bool json = false, trace = false, join = false, starttls = false, plaintext_auth = false;
  ProgressFlags progress;
};

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

constexpr const char* kSmtpPasswordVariable = "HERALD_SMTP_PASSWORD";

// Passwords are read from the environment or a file only: a command line is
// visible to every user of the machine (ps, /proc) and lands in shell
// histories. Errors never repeat the --smtp value (it may hold the secret).
absl::Status CheckSmtpCredentialFlags(const MailArgs& a) {
  const std::string how = Cat("give --smtp-user USER and the password in the environment variable ",
                              kSmtpPasswordVariable, " (or the one --smtp-password-env names), or in a file: "
                              "--smtp-password-file FILE");
  size_t scheme = a.smtp.find("://");
  if (a.smtp.find('@', scheme == std::string::npos ? 0 : scheme + 3) != std::string::npos) {
    return absl::InvalidArgumentError(
        Cat("--smtp must not carry credentials (\"user:password@\" before the host; a password on the "
            "command line is visible to every user of the machine): ", how));
  }
  if (!a.smtp_password_env.empty() && !a.smtp_password_file.empty()) {
    return absl::InvalidArgumentError("give only one of --smtp-password-env and --smtp-password-file");
  }
  if (a.smtp_user.empty() && (!a.smtp_password_env.empty() || !a.smtp_password_file.empty())) {
    return absl::InvalidArgumentError("--smtp-password-env / --smtp-password-file need --smtp-user");
  }
  if (!a.smtp_user.empty() && a.smtp_password_env.empty() && a.smtp_password_file.empty()) {
    const char* value = std::getenv(kSmtpPasswordVariable);
    if (value == nullptr || *value == 0) {
      return absl::InvalidArgumentError(Cat("--smtp-user needs a password: ", how));
    }
  }
  return absl::OkStatus();
}

int Run(const MailArgs& a, CommandEnv& env) {
  RegisterMailComponents(env.registry);
  if (!a.set_state.empty()) {
    if (a.store.empty() || a.job.empty()) {
      return ReportError("mail", absl::InvalidArgumentError("--set-state needs --store and --job"), a.json, 2);
    }
    auto store = OpenStore(a.store, *env.registry);
    if (!store.ok()) return ReportError("mail", store.status(), a.json);
    absl::Status s = SetMailJobState(**store, a.job, a.set_state);
    if (!s.ok()) return ReportError("mail", s, a.json);
    if (a.json) PrintJson({{"job", a.job}, {"state", a.set_state}});
    else std::cout << "job " << a.job << ": " << a.set_state << "\n";
    return 0;
  }
  if (a.item.empty()) {
    std::cerr << "herald mail: --item is required\n";
    return 2;
  }
  if (a.smtp.empty() == a.maildir.empty()) {
    std::cerr << "herald mail: give exactly one of --smtp and --maildir\n";
    return 2;
  }
  if (absl::Status s = CheckSmtpCredentialFlags(a); !s.ok()) {
    std::cerr << "herald mail: " << s.message() << "\n";
    return 2;
  }
  auto source = LoadCommandCatalog(a.catalog, a.store, *env.registry);
  if (!source.ok()) {
    std::cerr << "herald mail: " << source.status().message() << "\n";
    return absl::IsInvalidArgument(source.status()) && a.catalog.empty() ? 2 : 1;
  }
  absl::StatusOr<v1::Catalog> catalog = std::move(source->catalog);
  auto item = FindDirectMailItem(*catalog, a.item);
  if (!item.ok()) {
    std::cerr << "herald mail: " << item.status().message() << "\n";
    return 1;
  }
  MailJobSpec spec;
  spec.item_id = (*item)->id();
  spec.job_id = a.job;
  spec.mail = (*item)->direct_mail();
  spec.base_dir = source->base_dir;
  spec.site_opt_out_list = catalog->site_opt_out_list();
  spec.site_opt_out_store_list = catalog->site_opt_out_store_list();
  spec.test_to = a.test_to;
  spec.allowed_dirs = a.allowed_dirs;
  if (!a.recipients.empty()) {
    std::string path = a.recipients;
    if (path[0] != '/') {
      char cwd[4096];
      if (getcwd(cwd, sizeof cwd) != nullptr) path = std::string(cwd) + "/" + path;
    }
    spec.mail.mutable_recipients()->set_csv_path(path);
  }

  std::unique_ptr<Store> store;
  auto opened = OpenStore(a.store.empty() ? "memory" : a.store, *env.registry);
  if (!opened.ok()) {
    std::cerr << "herald mail: " << opened.status().message() << "\n";
    return 1;
  }
  store = std::move(*opened);
  if (a.store.empty() && a.test_to.empty()) {
    std::cerr << "herald mail: no --store: the ledger is in memory and the job cannot be resumed\n";
  }

  absl::StatusOr<std::unique_ptr<Transport>> transport;
  if (!a.smtp.empty()) {
    v1::SmtpTransportConfig config;
    config.set_url(a.smtp);
    config.set_connections(a.connections);
    if (a.starttls) config.set_tls(v1::SMTP_TLS_STARTTLS);
    config.set_ca_file(a.ca_file);
    config.set_username(a.smtp_user);
    if (!a.smtp_user.empty()) {
      // The library reads the secret itself: it never passes through argv.
      if (!a.smtp_password_file.empty()) {
        config.set_password_file(a.smtp_password_file);
      } else {
        config.set_password_env(a.smtp_password_env.empty() ? kSmtpPasswordVariable : a.smtp_password_env);
      }
    }
    if (a.plaintext_auth) {
      config.set_allow_plaintext_auth_insecure(true);
      std::cerr << "herald mail: WARNING: --allow-plaintext-auth-insecure: the SMTP password may be sent "
                   "without TLS, readable by anyone on the network path\n";
    }
    transport = env.registry->Create<Transport>("smtp", config, CreateContext{env.registry});
  } else {
    v1::MaildirTransportConfig config;
    config.set_path(a.maildir);
    transport = env.registry->Create<Transport>("maildir", config, CreateContext{env.registry});
  }
  if (!transport.ok()) {
    std::cerr << "herald mail: " << transport.status().message() << "\n";
    return 1;
  }

  MailerOptions options;
  options.registry = env.registry;
  options.store = store.get();
  options.transport = transport->get();
  options.workers = a.workers;
  options.batch_size = a.batch;
  options.trace = a.trace;
  options.recover_in_flight = !a.join;
  options.worker_id = a.worker_id;
  options.requeue_claims_of = a.requeue_claims_of;
  options.claim_timeout = absl::Seconds(a.claim_timeout_seconds);
  if (!a.secret_file.empty()) {
    std::ifstream in(a.secret_file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    options.unsubscribe_secret = s.str();
    if (options.unsubscribe_secret.empty()) {
      std::cerr << "herald mail: --secret-file " << a.secret_file << " is empty or unreadable\n";
      return 1;
    }
  } else if (const char* secret = std::getenv("HERALD_UNSUBSCRIBE_SECRET"); secret != nullptr) {
    options.unsubscribe_secret = secret;
  } else {
    std::cerr << "herald mail: no --secret-file or HERALD_UNSUBSCRIBE_SECRET: unsubscribe tokens of "
                 "this run cannot be verified later\n";
  }
  ProgressMeter meter("sending", "messages", a.progress);
  if (meter.enabled()) options.progress = [&meter](const MailProgress& p) { meter.Update(p.done, p.total); };
  auto job = MailJob::Create(std::move(spec), std::move(options));
  if (!job.ok()) {
    std::cerr << "herald mail: " << job.status().message() << "\n";
    return 1;
  }
  auto report = (*job)->Run();
  meter.Finish();
  if (!report.ok()) {
    std::cerr << "herald mail: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << (a.json ? report->ToJson() + "\n" : report->ToText());
  return report->state == "aborted" ? 1 : 0;
}

}  // namespace

void AddMailCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<MailArgs>();
  auto* cmd = app.add_subcommand("mail", "send (or resume) a direct-mail campaign item to its recipients");
  cmd->add_option("--catalog", a->catalog, "catalog file (default: the current catalog of --store)");
  cmd->add_option("--item", a->item, "direct-mail item id or name");
  cmd->add_option("--recipients", a->recipients, "recipient CSV (default: the item's)");
  cmd->add_option("--smtp", a->smtp, "smtp://HOST:PORT or smtps://HOST:PORT");
  cmd->add_option("--maildir", a->maildir, "drop directory (Maildir) instead of SMTP");
  cmd->add_option("--store", a->store, "ledger store: sqlite path or postgresql:// (default: memory)");
  cmd->add_option("--test-to", a->test_to, "test send to these addresses (no opt-out, no ledger)");
  cmd->add_option("--allow-attachments-from", a->allowed_dirs,
                  "directories attachments and message files may also be read from (default: only the catalog's)");
  cmd->add_option("--job", a->job, "job id (default: the item id)");
  cmd->add_option("--connections", a->connections, "parallel SMTP connections")->check(CLI::Range(1, 256));
  cmd->add_option("--workers", a->workers, "threads claiming batches")->check(CLI::Range(1, 64));
  cmd->add_option("--batch", a->batch, "recipients claimed at once (the in-flight bound)")->check(CLI::Range(1, 10000));
  cmd->add_option("--smtp-user", a->smtp_user, "SMTP AUTH user");
  cmd->add_option("--smtp-password-env", a->smtp_password_env,
                  "environment variable holding the SMTP password (default HERALD_SMTP_PASSWORD)");
  cmd->add_option("--smtp-password-file", a->smtp_password_file, "file holding the SMTP password (first line)");
  cmd->add_flag("--allow-plaintext-auth-insecure", a->plaintext_auth,
                "let SMTP AUTH go out without TLS (the password readable on the network): never in production");
  cmd->add_flag("--starttls", a->starttls, "require STARTTLS");
  cmd->add_option("--secret-file", a->secret_file, "unsubscribe token key (else $HERALD_UNSUBSCRIBE_SECRET)");
  cmd->add_option("--set-state", a->set_state, "pause or stop a job other processes run: paused|stopped")
      ->check(CLI::IsMember({"paused", "stopped"}));
  cmd->add_flag("--join", a->join, "never requeue in-flight claims (not needed to join a running job: live claims are fresh)");
  cmd->add_option("--worker-id", a->worker_id, "claim owner name (default HOST:PID; each run adds /RANDOM)");
  cmd->add_option("--claim-timeout", a->claim_timeout_seconds,
                  "seconds after which an in-flight claim is presumed dead and requeued")
      ->check(CLI::Range(1, 86400 * 7));
  cmd->add_option("--requeue-claims-of", a->requeue_claims_of,
                  "worker ids of dead runs: requeue their in-flight claims now, whatever their age");
  cmd->add_option("--ca-file", a->ca_file, "CA bundle (PEM) to verify the SMTP server's certificate");
  cmd->add_flag("--json", a->json, "JSON report");
  cmd->add_flag("--trace", a->trace, "include the trace of the first batch");
  AddProgressFlags(cmd, &a->progress);
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
