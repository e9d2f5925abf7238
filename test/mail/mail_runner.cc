// herald_mail_runner: runs one direct-mail job against an SMTP server, with its
// ledger in a store that survives the process (SQLite or PostgreSQL). The
// kill -9 and shared-job tests start it as a child process.
//
//   herald_mail_runner --store sqlite:/tmp/x.db --csv list.csv --smtp smtp://127.0.0.1:2525
//                      [--job ID] [--batch 32] [--workers 1] [--connections 4]
//                      [--join] [--worker-id NAME] [--mph 0] [--size BYTES]
//                      [--requeue-claims-of ID,ID] [--claim-timeout-ms N]
//                      [--tls none|starttls|implicit|auto] [--user NAME]
//                      [--password-env VAR | --password-file FILE] [--allow-plaintext-auth-insecure]
//                      [--ca-file PEM] [--timeout-ms N]
// Prints the report as JSON on stdout; exit 0 when the run ended normally.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"
#include "herald/store.h"
#ifdef HERALD_HAVE_POSTGRES
#include "herald/store_postgres.h"
#endif

int main(int argc, char** argv) {
  std::string store_uri, csv, smtp, job = "kill-test", worker_id;
  std::string requeue_of, tls = "none", user, password_env, password_file, ca_file;
  bool allow_plaintext_auth = false;
  int batch = 32, workers = 1, connections = 4, size = 0, timeout_ms = 0;
  long claim_timeout_ms = 0;
  long mph = 0;
  bool join = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--store") store_uri = next();
    else if (a == "--csv") csv = next();
    else if (a == "--smtp") smtp = next();
    else if (a == "--job") job = next();
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--workers") workers = std::stoi(next());
    else if (a == "--connections") connections = std::stoi(next());
    else if (a == "--mph") mph = std::stol(next());
    else if (a == "--size") size = std::stoi(next());
    else if (a == "--worker-id") worker_id = next();
    else if (a == "--join") join = true;
    else if (a == "--requeue-claims-of") requeue_of = next();
    else if (a == "--claim-timeout-ms") claim_timeout_ms = std::stol(next());
    else if (a == "--tls") tls = next();
    else if (a == "--user") user = next();
    else if (a == "--password-env") password_env = next();
    else if (a == "--password-file") password_file = next();
    else if (a == "--allow-plaintext-auth-insecure") allow_plaintext_auth = true;
    else if (a == "--ca-file") ca_file = next();
    else if (a == "--timeout-ms") timeout_ms = std::stoi(next());
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  herald::Registry registry;
  herald::RegisterMailComponents(&registry);
  (void)herald::RegisterStoreBackends(&registry);
#ifdef HERALD_HAVE_POSTGRES
  (void)herald::RegisterPostgresStore(&registry);
#endif
  auto store = herald::OpenStore(store_uri, registry);
  if (!store.ok()) {
    std::cerr << "store: " << store.status().message() << "\n";
    return 1;
  }
  herald::v1::SmtpTransportConfig smtp_config;
  smtp_config.set_url(smtp);
  smtp_config.set_connections(connections);
  if (tls == "none") smtp_config.set_tls(herald::v1::SMTP_TLS_NONE);
  else if (tls == "starttls") smtp_config.set_tls(herald::v1::SMTP_TLS_STARTTLS);
  else if (tls == "implicit") smtp_config.set_tls(herald::v1::SMTP_TLS_IMPLICIT);
  else if (tls != "auto") {
    std::cerr << "unknown --tls " << tls << "\n";
    return 2;
  }
  smtp_config.set_username(user);
  smtp_config.set_password_env(password_env);
  smtp_config.set_password_file(password_file);
  smtp_config.set_allow_plaintext_auth_insecure(allow_plaintext_auth);
  smtp_config.set_ca_file(ca_file);
  smtp_config.set_timeout_ms(timeout_ms);
  auto transport = registry.Create<herald::Transport>("smtp", smtp_config, herald::CreateContext{&registry});
  if (!transport.ok()) {
    std::cerr << "transport: " << transport.status().message() << "\n";
    return 1;
  }
  herald::MailJobSpec spec;
  spec.job_id = job;
  spec.item_id = "newsletter";
  herald::v1::DirectMail& m = spec.mail;
  m.mutable_recipients()->set_csv_path(csv);
  auto* t = m.mutable_message()->mutable_template_();
  t->set_subject("{{first_name}}, winter gear is here");
  t->set_text("Hello {{first_name}},\n\nOur winter collection has arrived.\n");
  t->set_html("<p>Hello {{first_name}},</p><p>Our winter collection has arrived.</p>");
  m.set_format(herald::v1::MAIL_FORMAT_MIME);
  if (size > 0) {
    // About `size` bytes per message: a text-only body padded with lines.
    t->clear_html();
    std::string body = t->text();
    while (body.size() + 620 < static_cast<size_t>(size)) {
      body += "Jackets, boots and tents for every trail: the winter collection is in.\n";
    }
    t->set_text(body);
  }
  m.set_from("Contoso Outdoor <news@contoso.example.com>");
  m.set_unsubscribe_url("https://contoso.example.com/unsubscribe");
  m.set_messages_per_hour(mph);
  herald::MailerOptions options;
  options.registry = &registry;
  options.store = store->get();
  options.transport = transport->get();
  options.batch_size = batch;
  options.workers = workers;
  options.worker_id = worker_id;
  options.recover_in_flight = !join;
  for (size_t start = 0; start < requeue_of.size();) {
    size_t comma = requeue_of.find(',', start);
    if (comma == std::string::npos) comma = requeue_of.size();
    if (comma > start) options.requeue_claims_of.push_back(requeue_of.substr(start, comma - start));
    start = comma + 1;
  }
  if (claim_timeout_ms > 0) options.claim_timeout = absl::Milliseconds(claim_timeout_ms);
  options.unsubscribe_secret = "kill-test-secret-0123456789";
  auto made = herald::MailJob::Create(spec, options);
  if (!made.ok()) {
    std::cerr << "job: " << made.status().message() << "\n";
    return 1;
  }
  auto report = (*made)->Run();
  if (!report.ok()) {
    std::cerr << "run: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << report->ToJson() << "\n";
  return 0;
}
