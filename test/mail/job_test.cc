// MailJob end to end on the memory store: opt-out, test sends, unsubscribe
// tokens, retries, permanent failures, the error threshold, pause and resume,
// a third party's filter component and transport, Maildir, URL sources, and
// every component's config (valid, empty, invalid).
#include <catch2/catch.hpp>

#include <thread>

#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"
#include "herald/store.h"
#include "httplib.h"
#include "mail_test_util.h"

namespace herald {
namespace {

using testing::CaptureTransport;
using testing::MakeTempDir;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::WriteFile;

struct Fixture {
  std::string dir = MakeTempDir();
  Registry registry;
  std::unique_ptr<Store> store = NewMemoryStore();
  CaptureTransport transport;

  Fixture() { RegisterMailComponents(&registry); }
  ~Fixture() { RunCommand("rm -rf " + dir); }

  MailJobSpec Spec(const std::string& csv) {
    WriteFile(dir + "/list.csv", csv);
    MailJobSpec spec;
    spec.item_id = "newsletter";
    spec.base_dir = dir;
    v1::DirectMail& m = spec.mail;
    m.mutable_recipients()->set_csv_path("list.csv");
    auto* t = m.mutable_message()->mutable_template_();
    t->set_subject("{{first_name}}, winter gear is here");
    t->set_text("Hello {{first_name}},\nyour code is {{code}}.\nUnsubscribe: {{unsubscribe_url}}\n");
    t->set_html("<p>Hello {{first_name}}</p>");
    m.set_format(v1::MAIL_FORMAT_MIME);
    m.set_from("Contoso Outdoor <news@contoso.example.com>");
    m.set_reply_to("help@contoso.example.com");
    m.set_unsubscribe_url("https://contoso.example.com/unsubscribe");
    m.set_unsubscribe_mailto("unsubscribe@contoso.example.com");
    return spec;
  }
  MailerOptions Options() {
    MailerOptions o;
    o.registry = &registry;
    o.store = store.get();
    o.transport = &transport;
    o.unsubscribe_secret = "0123456789abcdef0123456789abcdef";
    return o;
  }
};

const char kList[] =
    "id,email,first_name,code\n"
    "1,ann@example.org,Ann,A1\n"
    "2, Bob@Example.ORG ,Bob <b>,B2\n"
    "3,not-an-address,Nobody,C3\n"
    "4,carl@example.org,Carl,D4\n"
    "5,Bob@example.org ,Bob again,E5\n"
    "6,dora@EXAMPLE.org,Dora,F6\n";

TEST_CASE("A job sends each distinct valid address once - minus the opt-out lists", "[mail][job]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  WriteFile(f.dir + "/site-optout.txt", "# site\n  carl@EXAMPLE.org \n");
  WriteFile(f.dir + "/item-optout.txt", "dora@example.org\n");
  spec.site_opt_out_list = "site-optout.txt";
  spec.mail.set_opt_out_list("item-optout.txt");
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->state == "completed");
  CHECK(report->recipients == 5);  // bob twice counts once
  CHECK(report->sent == 2);
  CHECK(report->skipped == 3);
  CHECK(report->opted_out == 2);
  CHECK(report->invalid_addresses == 1);
  CHECK(report->skipped_by_reason["opted_out"] == 2);
  CHECK(report->skipped_by_reason["invalid_address"] == 1);
  auto sent = f.transport.sent();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].recipient == "ann@example.org");
  CHECK(sent[1].recipient == "Bob@example.org");
  CHECK(sent[0].envelope_from == "news@contoso.example.com");
  const std::string& bob = sent[1].data;
  CHECK(bob.find("Subject: Bob <b>, winter gear is here\r\n") != std::string::npos);
  CHECK(bob.find("<p>Hello Bob &lt;b&gt;</p>") != std::string::npos);  // HTML-escaped
  CHECK(bob.find("your code is B2.") != std::string::npos);           // text: not escaped
  CHECK(bob.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") != std::string::npos);
  // Running again sends nothing: the job is completed.
  auto again = MailJob::Create(spec, f.Options());
  REQUIRE(again.ok());
  auto report2 = (*again)->Run();
  REQUIRE(report2.ok());
  CHECK(report2->sent_this_run == 0);
  CHECK(f.transport.sent().size() == 2);
}

TEST_CASE("Unsubscribe tokens are unguessable and turn into an opt-out", "[mail][job][optout]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  spec.mail.set_opt_out_list("item-optout.txt");
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(job.ok());
  REQUIRE((*job)->Run().ok());
  auto sent = f.transport.sent();
  REQUIRE(!sent.empty());
  const std::string& data = sent[0].data;
  size_t at = data.find("unsubscribe?token=");
  REQUIRE(at != std::string::npos);
  size_t end = data.find('>', at);
  std::string token = data.substr(at + 18, end - at - 18);
  UnsubscribeTokens tokens("0123456789abcdef0123456789abcdef");
  auto verified = tokens.Verify(token);
  REQUIRE(verified.ok());
  CHECK(verified->item_id == "newsletter");
  CHECK(verified->address == "ann@example.org");
  // The same token in the mailto and in the text body ({{unsubscribe_url}}).
  CHECK(data.find("subject=unsubscribe%20" + token) != std::string::npos);
  // Forged, damaged or foreign tokens are refused.
  std::string forged = token;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  CHECK(tokens.Verify(forged).status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(UnsubscribeTokens("another secret").Verify(token).status().code() == absl::StatusCode::kPermissionDenied);
  std::string other = tokens.Issue("newsletter", "carl@example.org");
  CHECK(other != token);
  CHECK(!tokens.Verify("garbage").ok());
  // The API: the token opts ann out of the item; a new run skips her.
  auto list = OptOutList::Open(f.dir + "/item-optout.txt");
  REQUIRE(list.ok());
  auto applied = ApplyUnsubscribe(tokens, token, **list);
  REQUIRE(applied.ok());
  CHECK((*list)->Contains("  ann@EXAMPLE.ORG "));  // domain case-insensitive, trimmed
  CHECK((*list)->Contains("ann@example.org"));
  CHECK(ReadWholeFile(f.dir + "/item-optout.txt") == "ann@example.org\n");
  MailJobSpec second = spec;
  second.job_id = "newsletter-2";
  auto job2 = MailJob::Create(second, f.Options());
  REQUIRE(job2.ok());
  auto report = (*job2)->Run();
  REQUIRE(report.ok());
  CHECK(report->skipped_by_reason["opted_out"] == 1);
  CHECK(report->opted_out == 1);
}

TEST_CASE("Test sends ignore opt-out - use the first recipient's data and leave no ledger", "[mail][job]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  WriteFile(f.dir + "/item-optout.txt", "qa@contoso.example.com\n");
  spec.mail.set_opt_out_list("item-optout.txt");
  spec.test_to = {"qa@contoso.example.com", "boss@contoso.example.com"};
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->state == "test");
  auto sent = f.transport.sent();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].recipient == "qa@contoso.example.com");
  CHECK(sent[0].data.find("Subject: Ann, winter gear is here") != std::string::npos);
  CHECK(f.store->mail_ledgers().GetJobState("newsletter").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("4xx answers are retried with backoff - 5xx answers are permanent failures", "[mail][job]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  spec.mail.set_retries(2);
  spec.mail.set_max_error_percent(100);
  f.transport.answer = [](const OutgoingMessage& m, int tries) -> SendResult {
    if (m.recipient == "ann@example.org" && tries < 2) return {SendOutcome::kTemporary, 451, "try later"};
    if (m.recipient == "carl@example.org") return {SendOutcome::kTemporary, 421, "busy"};
    if (m.recipient == "dora@example.org") return {SendOutcome::kPermanent, 550, "no such user"};
    if (m.recipient == "Bob@example.org") return {SendOutcome::kInvalidAddress, 553, "bad address"};
    return {};
  };
  v1::PipelineDefinition def = DefaultMailPipeline();
  v1::SendMessageConfig send;
  send.set_backoff_ms(10);
  for (auto& stage : *def.mutable_stages()) {
    if (stage.name() == "send") stage.mutable_components(0)->mutable_config()->PackFrom(send);
  }
  MailerOptions options = f.Options();
  options.pipeline = &def;
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  INFO(report->ToText());
  CHECK(report->sent == 1);  // ann on her third try
  CHECK(report->failed == 2);
  CHECK(report->failed_by_reason["smtp 421 (retries exhausted)"] == 1);
  CHECK(report->failed_by_reason["smtp 550"] == 1);
  CHECK(report->skipped_by_reason["invalid_address"] == 2);  // not-an-address, and bob's 553
  CHECK(report->state == "completed");
}

TEST_CASE("Passing the maximum error percentage aborts the job", "[mail][job]") {
  Fixture f;
  std::string csv = "email\n";
  for (int i = 0; i < 200; ++i) csv += "user" + std::to_string(i) + "@example.org\n";
  MailJobSpec spec = f.Spec(csv);
  spec.mail.mutable_message()->mutable_template_()->set_subject("hello");
  spec.mail.mutable_message()->mutable_template_()->set_text("hi {{email}}");
  spec.mail.mutable_message()->mutable_template_()->clear_html();
  spec.mail.set_max_error_percent(20);
  f.transport.answer = [](const OutgoingMessage& m, int) -> SendResult {
    return m.recipient[4] == '1' ? SendResult{} : SendResult{SendOutcome::kPermanent, 554, "rejected"};
  };
  MailerOptions options = f.Options();
  options.batch_size = 10;
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->state == "aborted");
  CHECK(report->pending > 100);
  CHECK(f.store->mail_ledgers().GetJobState("newsletter").value() == "aborted");
}

TEST_CASE("A paused job resumes where it stopped and sends nobody twice", "[mail][job]") {
  Fixture f;
  std::string csv = "email\n";
  for (int i = 0; i < 500; ++i) csv += "user" + std::to_string(i) + "@example.org\n";
  MailJobSpec spec = f.Spec(csv);
  spec.mail.mutable_message()->mutable_template_()->set_subject("hello");
  spec.mail.mutable_message()->mutable_template_()->set_text("hi");
  spec.mail.mutable_message()->mutable_template_()->clear_html();
  MailerOptions options = f.Options();
  options.batch_size = 16;
  options.workers = 3;
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  MailJob* j = job->get();
  f.transport.after_each = [&](size_t n) {
    if (n == 100) j->Pause();
  };
  auto report = j->Run();
  REQUIRE(report.ok());
  CHECK(report->state == "paused");
  CHECK(report->sent >= 100);
  CHECK(report->sent < 500);
  f.transport.after_each = nullptr;
  // Resumed by a new MailJob on the same ledger.
  auto resumed = MailJob::Create(spec, options);
  REQUIRE(resumed.ok());
  auto report2 = (*resumed)->Run();
  REQUIRE(report2.ok());
  CHECK(report2->state == "completed");
  CHECK(report2->sent == 500);
  auto sent = f.transport.sent();
  std::map<std::string, int> per;
  for (const auto& m : sent) ++per[m.recipient];
  CHECK(per.size() == 500);
  for (const auto& [r, n] : per) CHECK(n == 1);
}

TEST_CASE("Recipients left in flight by a dead run are sent again on resume", "[mail][job]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(job.ok());
  // A "dead" worker claimed two recipients and never recorded them. Its
  // claims are fresh, so they are requeued because the operator names it
  // (stale claims: test/mail/store_source_test.cc).
  auto claimed = f.store->mail_ledgers().ClaimPending("newsletter", "dead-worker/0", 2);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  MailerOptions options = f.Options();
  options.requeue_claims_of = {"dead-worker"};
  job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->requeued_in_flight == 2);
  CHECK(report->state == "completed");
  CHECK(report->pending == 0);
}

// A third party's filter component, registered and used like a built-in.
class DropDomain final : public MailComponent {
 public:
  explicit DropDomain(std::string domain) : domain_(std::move(domain)) {}
  absl::Status Run(MailContext& ctx) const override {
    for (MailItem& item : ctx.items) {
      if (item.state == MailItemState::kLive && item.address.ends_with("@" + domain_)) {
        item.Skip("filtered", "domain dropped by DropDomain");
        if (ctx.trace != nullptr) ctx.trace->Note(item.address, "skipped", "DropDomain");
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string domain_;
};

TEST_CASE("A third party adds a filter component and a transport", "[mail][job][extension]") {
  Fixture f;
  Registry mine(&f.registry);
  REQUIRE(mine.Register(MakeFactory<MailComponent, v1::ValidateRecipientConfig>(
                            "DropDomain", "drops recipients of the first blocked domain",
                            [](const v1::ValidateRecipientConfig& c, const CreateContext&)
                                -> absl::StatusOr<std::unique_ptr<MailComponent>> {
                              return std::unique_ptr<MailComponent>(std::make_unique<DropDomain>(
                                  c.blocked_domains().empty() ? "" : c.blocked_domains(0)));
                            }))
              .ok());
  auto* captured = new CaptureTransport();
  REQUIRE(mine.Register(MakeFactory<Transport, v1::NullTransportConfig>(
                            "capture", "keeps messages in memory",
                            [captured](const v1::NullTransportConfig&, const CreateContext&)
                                -> absl::StatusOr<std::unique_ptr<Transport>> {
                              return std::unique_ptr<Transport>(captured);
                            }))
              .ok());
  auto transport = mine.CreateDefault<Transport>("capture", CreateContext{&mine});
  REQUIRE(transport.ok());
  auto def = ParsePipelineDefinition(
      R"(name: "mine" family: "mail"
         stages { name: "preprocess" components { name: "ValidateRecipient" } }
         stages { name: "filter" components { name: "OptOutFilter" }
                  components { name: "DropDomain" json_config: "{\"blockedDomains\": [\"example.org\"]}" } }
         stages { name: "compose" components { name: "ComposeMessage" } }
         stages { name: "send" components { name: "SendMessage" } }
         stages { name: "postprocess" components { name: "RecordOutcome" } })",
      "mine.textproto");
  REQUIRE(def.ok());
  std::string csv = std::string(kList) + "7,eve@other.example,Eve,G7\n";
  MailJobSpec spec = f.Spec(csv);
  MailerOptions options = f.Options();
  options.registry = &mine;
  options.transport = transport->get();
  options.pipeline = &*def;
  options.trace = true;
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->skipped_by_reason["filtered"] == 4);
  REQUIRE(captured->sent().size() == 1);
  CHECK(captured->sent()[0].recipient == "eve@other.example");
  CHECK(report->trace.find("DropDomain") != std::string::npos);
  CHECK(report->transport == "capture");
}

TEST_CASE("The maildir transport drops one file per message - atomically", "[mail][transport]") {
  Fixture f;
  v1::MaildirTransportConfig config;
  config.set_path("maildir");
  auto transport = f.registry.Create<Transport>("maildir", config, CreateContext{&f.registry, f.dir});
  REQUIRE(transport.ok());
  MailJobSpec spec = f.Spec(kList);
  MailerOptions options = f.Options();
  options.transport = transport->get();
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->sent == 4);
  std::string listing = RunCommand("ls " + f.dir + "/maildir/new | wc -l; ls " + f.dir + "/maildir/tmp | wc -l");
  CHECK(listing == "4\n0\n");
  std::string first = RunCommand("cat " + f.dir + "/maildir/new/* | head -3");
  CHECK(first.find("Return-Path: <news@contoso.example.com>\n") == 0);
  CHECK(first.find('\r') == std::string::npos);  // Maildir files use LF
}

TEST_CASE("A URL message source is fetched once per recipient with its id", "[mail][job]") {
  Fixture f;
  httplib::Server server;
  std::atomic<int> fetches{0};
  server.Get("/mail", [&](const httplib::Request& req, httplib::Response& res) {
    ++fetches;
    std::string id = req.get_param_value("recipient");
    if (id == "4") {
      res.status = 404;
      return;
    }
    res.set_content("<p>Personal page for recipient " + id + "</p>", "text/html; charset=utf-8");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  MailJobSpec spec = f.Spec(kList);
  spec.mail.mutable_message()->set_url("http://127.0.0.1:" + std::to_string(port) + "/mail");
  spec.mail.set_subject("For {{first_name}}");
  spec.mail.set_max_error_percent(100);
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  server.stop();
  thread.join();
  REQUIRE(report.ok());
  CHECK(fetches.load() == 4);
  CHECK(report->sent == 3);
  CHECK(report->failed_by_reason["fetch_error"] == 1);
  auto sent = f.transport.sent();
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].data.find("Personal page for recipient 1") != std::string::npos);
  CHECK(sent[0].data.find("Content-Type: text/html") != std::string::npos);
}

TEST_CASE("Job settings are checked when the job is created", "[mail][job]") {
  Fixture f;
  MailJobSpec spec = f.Spec(kList);
  spec.mail.mutable_message()->mutable_template_()->set_text("Hi {{nickname}}");
  auto job = MailJob::Create(spec, f.Options());
  REQUIRE(!job.ok());
  CHECK_THAT(std::string(job.status().message()), Catch::Contains("unknown placeholder {{nickname}}"));
  spec = f.Spec("name\nx\n");
  job = MailJob::Create(spec, f.Options());
  CHECK_THAT(std::string(job.status().message()), Catch::Contains("no \"email\" column"));
  spec = f.Spec(kList);
  spec.mail.set_from("not an address");
  CHECK(!MailJob::Create(spec, f.Options()).ok());
  spec = f.Spec(kList);
  spec.mail.set_unsubscribe_url("http://insecure.example.com/u");
  CHECK(!MailJob::Create(spec, f.Options()).ok());
  spec = f.Spec(kList);
  spec.mail.set_format(v1::MAIL_FORMAT_MHTML);
  spec.mail.mutable_message()->mutable_template_()->clear_html();
  CHECK(!MailJob::Create(spec, f.Options()).ok());
}

TEST_CASE("Addresses are normalized and validated", "[mail][address]") {
  CHECK(NormalizeAddress("  Bob.Smith@Example.ORG ") == "Bob.Smith@example.org");
  CHECK(NormalizeAddress("<ann@EXAMPLE.org>") == "ann@example.org");
  CHECK(ValidateAddress("ann@example.org").ok());
  CHECK(ValidateAddress("o'brien+tag@mail.example.co.uk").ok());
  for (const char* bad : {"", "ann", "ann@", "@example.org", "a@@example.org", "a b@example.org",
                          ".a@example.org", "a..b@example.org", "a@example", "a@-x.example.org",
                          "a@exa_mple.org", "j\xC3\xBCrgen@example.org"}) {
    INFO(bad);
    CHECK_FALSE(ValidateAddress(bad).ok());
  }
}

TEST_CASE("Recipient CSV follows RFC 4180", "[mail][csv]") {
  auto t = ParseRecipientCsv("\xEF\xBB\xBF" "email,name\r\n\"a@x.org\",\"Smith, \"\"Jo\"\"\"\r\n\r\nb@x.org,\"multi\nline\"\n",
                             "list.csv");
  REQUIRE(t.ok());
  REQUIRE(t->rows.size() == 2);
  CHECK(t->rows[0][1] == "Smith, \"Jo\"");
  CHECK(t->rows[1][1] == "multi\nline");
  auto bad = ParseRecipientCsv("email,name\na@x.org\n", "list.csv");
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("list.csv:2: expected 2 fields, got 1"));
}

TEST_CASE("Job state changes follow the table: every pair, and pausing a completed job is refused",
          "[mail][job][states]") {
  const std::vector<std::string> states = {"created", "running", "paused", "stopped", "completed", "aborted"};
  // Written out independently of the library's table: from (row) -> to (column).
  const char* const expected[6] = {
      // cr ru pa st co ab
      "YY.Y..",  // created
      ".YYYYY",  // running
      ".YYY..",  // paused
      ".Y.Y..",  // stopped
      ".Y..Y.",  // completed
      ".Y...Y",  // aborted
  };
  const char* const verbs[6] = {"reset", "run", "pause", "stop", "complete", "abort"};
  std::unique_ptr<Store> store = NewMemoryStore();
  for (size_t f = 0; f < 6; ++f) {
    for (size_t t = 0; t < 6; ++t) {
      INFO(states[f] << " -> " << states[t]);
      absl::Status s = CheckMailJobTransition("newsletter", states[f], states[t]);
      const bool allowed = expected[f][t] == 'Y';
      CHECK(s.ok() == allowed);
      if (!allowed) {
        CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
        CHECK_THAT(std::string(s.message()),
                   Catch::StartsWith(std::string("cannot ") + verbs[t] + " job \"newsletter\": it is " + states[f]));
      }
      // The operator's API, on a stored job: only pause and stop, as the table says.
      const std::string job = "job-" + states[f] + "-" + states[t];
      REQUIRE(store->mail_ledgers().AddRecipients(job, std::vector<std::string>{"ann@example.org"}).ok());
      REQUIRE(store->mail_ledgers().SetJobState(job, states[f]).ok());
      absl::Status set = SetMailJobState(*store, job, states[t]);
      if (states[t] == "paused" || states[t] == "stopped") {
        CHECK(set.ok() == allowed);
        if (!allowed) CHECK(set.code() == absl::StatusCode::kFailedPrecondition);
      } else {
        CHECK(set.code() == absl::StatusCode::kInvalidArgument);
      }
      auto now = store->mail_ledgers().GetJobState(job);
      REQUIRE(now.ok());
      CHECK(*now == (set.ok() ? states[t] : states[f]));  // a refused change leaves the state alone
    }
  }
  CHECK(std::string(CheckMailJobTransition("newsletter", "completed", "paused").message()) ==
        "cannot pause job \"newsletter\": it is completed (pause applies to a job that is running)");
  CHECK(SetMailJobState(*store, "no-such-job", "paused").code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(SetMailJobState(*store, "job-running-running", "sleeping").message()),
             Catch::Contains("unknown job state \"sleeping\""));
}

TEST_CASE("A finished job keeps its state when a late Pause arrives", "[mail][job][states]") {
  Fixture f;
  auto job = MailJob::Create(f.Spec(kList), f.Options());
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  REQUIRE(report->state == "completed");
  // The operator's pause comes too late: refused, the job stays completed.
  absl::Status late = SetMailJobState(*f.store, "newsletter", "paused");
  CHECK(late.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(*f.store->mail_ledgers().GetJobState("newsletter") == "completed");
  // Running it again is allowed and changes nothing.
  auto rerun = MailJob::Create(f.Spec(kList), f.Options());
  REQUIRE(rerun.ok());
  auto again = (*rerun)->Run();
  REQUIRE(again.ok());
  CHECK(again->state == "completed");
  CHECK(again->sent_this_run == 0);
}

TEST_CASE("A recipient list that names a column twice is refused", "[mail][csv]") {
  // Two email columns: which one is the address? Never guessed.
  auto twice = ParseRecipientCsv("id,email,name,email\n1,a@x.org,Ann,b@x.org\n", "list.csv");
  CHECK(twice.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(twice.status().message()),
             Catch::Contains("list.csv:1: column \"email\" appears twice (columns 2 and 4)"));
  // Also once trimmed, and for any column a template could name.
  auto spaced = ParseRecipientCsv("email, name,name \na@x.org,A,B\n", "list.csv");
  CHECK_THAT(std::string(spaced.status().message()), Catch::Contains("column \"name\" appears twice (columns 2 and 3)"));
  // A job over such a list fails at creation, naming the file.
  Fixture f;
  auto job = MailJob::Create(f.Spec("email,first_name,code,email\nann@example.org,Ann,A1,bob@example.org\n"),
                             f.Options());
  CHECK_THAT(std::string(job.status().message()), Catch::Contains("list.csv:1: column \"email\" appears twice"));
}

// The built-in pipeline with `name`'s config replaced by `json` (a component
// alone would be refused: SendMessage reads what ComposeMessage writes).
absl::Status BuildComponent(const Registry& registry, const std::string& stage, const std::string& name,
                            const std::string& json) {
  v1::PipelineDefinition def = DefaultMailPipeline();
  int found = 0;
  for (auto& s : *def.mutable_stages()) {
    for (auto& c : *s.mutable_components()) {
      if (s.name() != stage || c.name() != name) continue;
      c.set_json_config(json);
      ++found;
    }
  }
  REQUIRE(found == 1);
  return Pipeline<MailContext>::Create(def, CreateContext{&registry}, "config_test").status();
}

TEST_CASE("Built-in mail components accept valid and empty configs and refuse invalid ones", "[mail][config]") {
  Registry registry;
  RegisterMailComponents(&registry);
  RegisterMailComponents(&registry);  // idempotent
  struct Case {
    std::string stage, name, valid, invalid, error;
  };
  std::vector<Case> cases = {
      {"throttle", "Throttle", R"({"messagesPerHour": 3600})", R"({"messagesPerHour": -1})", "messages_per_hour must be >= 0"},
      {"preprocess", "ValidateRecipient", R"({"blockedDomains": ["example.invalid"]})", R"({"blockedDomains": ["a@b"]})", "must be a bare domain"},
      {"filter", "OptOutFilter", R"({"ignoreSiteList": true})", R"({"ignoreSiteList": "x"})", "not a valid herald.v1.OptOutFilterConfig"},
      {"compose", "FetchMessageBody", R"({"timeoutMs": 500, "idParameter": "uid"})", R"({"idParameter": "a b"})", "id_parameter must be"},
      {"compose", "ComposeMessage", R"({"extraHeaders": ["X-Campaign: winter"]})", R"({"extraHeaders": ["X-Bad: a\r\nBcc: x"]})", "must be \"Name: value\" on one line"},
      {"send", "SendMessage", R"({"retries": 5, "backoffMs": 200})", R"({"backoffMs": -1})", "must be >= 0"},
      {"postprocess", "RecordOutcome", R"({"minMessagesBeforeAbort": 100})", R"({"minMessagesBeforeAbort": -5})", "min_messages_before_abort must be >= 0"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(BuildComponent(registry, c.stage, c.name, c.valid).ok());
    CHECK(BuildComponent(registry, c.stage, c.name, "").ok());
    absl::Status bad = BuildComponent(registry, c.stage, c.name, c.invalid);
    CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(bad.message()), Catch::Contains(c.error));
  }
  CHECK(registry.Names("mail").size() == cases.size());
}

TEST_CASE("Built-in transports and recipient sources check their configs", "[mail][config]") {
  Registry registry;
  RegisterMailComponents(&registry);
  CHECK(registry.Names("transport") == std::vector<std::string>{"maildir", "null", "smtp"});
  CHECK(registry.Names("recipient_source") == std::vector<std::string>{"csv"});
  v1::SmtpTransportConfig smtp;
  CHECK(!registry.Create<Transport>("smtp", smtp, CreateContext{&registry}).ok());  // empty: url required
  smtp.set_url("http://x");
  CHECK(!registry.Create<Transport>("smtp", smtp, CreateContext{&registry}).ok());
  smtp.set_url("smtp://127.0.0.1:2525");
  smtp.set_connections(4);
  auto made = registry.Create<Transport>("smtp", smtp, CreateContext{&registry});
  REQUIRE(made.ok());
  CHECK((*made)->Describe() == "smtp://127.0.0.1:2525 (4 connections)");
  smtp.set_tls(v1::SMTP_TLS_IMPLICIT);
  CHECK(!registry.Create<Transport>("smtp", smtp, CreateContext{&registry}).ok());
  // Credentials never go in a URL: refused, and the error does not repeat it.
  smtp.set_tls(v1::SMTP_TLS_STARTTLS);
  for (const char* url : {"smtp://mailer:hunter2@127.0.0.1:2525", "smtps://mailer@127.0.0.1:465",
                          "smtp://mailer:hun/ter2@127.0.0.1:2525"}) {
    smtp.set_url(url);
    auto with_user = registry.Create<Transport>("smtp", smtp, CreateContext{&registry});
    INFO(url);
    CHECK(with_user.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(with_user.status().message()),
               Catch::Contains("must not carry credentials") && Catch::Contains("password_env") &&
                   Catch::Contains("password_file"));
    CHECK(std::string(with_user.status().message()).find("hun") == std::string::npos);
  }
  smtp.set_url("smtp://127.0.0.1:2525");
  // AUTH without TLS: refused unless the insecure opt-in says so.
  {
    v1::SmtpTransportConfig plain = smtp;
    plain.set_tls(v1::SMTP_TLS_NONE);
    plain.set_username("mailer");
    plain.set_password("hunter2");
    auto refused = registry.Create<Transport>("smtp", plain, CreateContext{&registry});
    CHECK_THAT(std::string(refused.status().message()),
               Catch::Contains("clear text") && Catch::Contains("allow_plaintext_auth_insecure"));
    plain.set_allow_plaintext_auth_insecure(true);
    auto allowed = registry.Create<Transport>("smtp", plain, CreateContext{&registry});
    REQUIRE(allowed.ok());
    CHECK((*allowed)->Describe() == "smtp://127.0.0.1:2525 (4 connections, INSECURE: AUTH allowed without TLS)");
    // Password sources: the environment or a file, errors name them and never the value.
    v1::SmtpTransportConfig env = smtp;
    env.set_username("mailer");
    env.set_password_env("HERALD_TEST_UNSET_PASSWORD_VARIABLE");
    auto unset = registry.Create<Transport>("smtp", env, CreateContext{&registry});
    CHECK_THAT(std::string(unset.status().message()),
               Catch::Contains("HERALD_TEST_UNSET_PASSWORD_VARIABLE is not set or empty"));
    setenv("HERALD_TEST_SET_PASSWORD_VARIABLE", "hunter2", 1);
    env.set_password_env("HERALD_TEST_SET_PASSWORD_VARIABLE");
    CHECK(registry.Create<Transport>("smtp", env, CreateContext{&registry}).ok());
    env.set_password_file("/nonexistent/password");
    auto two = registry.Create<Transport>("smtp", env, CreateContext{&registry});
    CHECK_THAT(std::string(two.status().message()), Catch::Contains("only one of"));
    env.clear_password_env();
    auto missing = registry.Create<Transport>("smtp", env, CreateContext{&registry});
    CHECK_THAT(std::string(missing.status().message()), Catch::Contains("password_file \"/nonexistent/password\""));
    v1::SmtpTransportConfig none = smtp;
    none.set_username("mailer");
    auto no_password = registry.Create<Transport>("smtp", none, CreateContext{&registry});
    CHECK_THAT(std::string(no_password.status().message()), Catch::Contains("needs a password"));
  }
  smtp.set_password("hunter2");
  auto no_user = registry.Create<Transport>("smtp", smtp, CreateContext{&registry});
  CHECK_THAT(std::string(no_user.status().message()), Catch::Contains("a password is set but no username"));
  CHECK(std::string(no_user.status().message()).find("hunter2") == std::string::npos);
  smtp.set_username("mailer");
  smtp.set_ca_file("/nonexistent/ca.pem");
  auto no_ca = registry.Create<Transport>("smtp", smtp, CreateContext{&registry});
  CHECK_THAT(std::string(no_ca.status().message()), Catch::Contains("ca_file \"/nonexistent/ca.pem\": cannot read it"));
  v1::MaildirTransportConfig maildir;
  CHECK(!registry.Create<Transport>("maildir", maildir, CreateContext{&registry}).ok());
  CHECK(registry.CreateDefault<Transport>("null", CreateContext{&registry}).ok());
  v1::CsvRecipientSourceConfig csv;
  CHECK(!registry.Create<RecipientSource>("csv", csv, CreateContext{&registry}).ok());
  csv.set_path("x.csv");
  csv.set_delimiter(";;");
  CHECK(!registry.Create<RecipientSource>("csv", csv, CreateContext{&registry}).ok());
}

TEST_CASE("pipelines/mail.textproto is the built-in mail pipeline", "[mail][config]") {
  auto def = LoadPipelineDefinition(HERALD_SOURCE_DIR "/pipelines/mail.textproto");
  REQUIRE(def.ok());
  CHECK(def->SerializeAsString() == DefaultMailPipeline().SerializeAsString());
}

TEST_CASE("A mail pipeline missing a stage the next one reads is refused when the job is created",
          "[mail][pipeline][contract]") {
  Fixture f;
  v1::PipelineDefinition def = DefaultMailPipeline();
  def.set_name("no-compose");
  auto component = [&](const std::string& name) -> v1::ComponentSpec& {
    for (auto& stage : *def.mutable_stages()) {
      for (auto& c : *stage.mutable_components()) {
        if (c.name() == name) return c;
      }
    }
    FAIL("no " << name);
    return *def.mutable_stages(0)->mutable_components(0);
  };
  MailerOptions options = f.Options();
  options.pipeline = &def;
  // Without ComposeMessage there is nothing to send.
  component("ComposeMessage").set_disabled(true);
  auto job = MailJob::Create(f.Spec(kList), options);
  REQUIRE(job.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(job.status().message()),
             Catch::Contains("no-compose: stage \"send\" component \"SendMessage\": reads \"messages\", "
                             "which no earlier component writes"));
  // Without SendMessage there are no outcomes to record.
  component("ComposeMessage").set_disabled(false);
  component("SendMessage").set_disabled(true);
  job = MailJob::Create(f.Spec(kList), options);
  REQUIRE_FALSE(job.ok());
  CHECK_THAT(std::string(job.status().message()),
             Catch::Contains("stage \"postprocess\" component \"RecordOutcome\": reads \"outcomes\", "
                             "which no earlier component writes"));
  // Template sources need no FetchMessageBody; the built-in pipeline builds.
  component("SendMessage").set_disabled(false);
  component("FetchMessageBody").set_disabled(true);
  CHECK(MailJob::Create(f.Spec(kList), options).ok());
  CHECK(MailJob::Create(f.Spec(kList), f.Options()).ok());
}

}  // namespace
}  // namespace herald
