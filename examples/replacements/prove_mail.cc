// Mail: a MailJob over recipients.csv through the built-in mail pipeline
// with SkipDomains in the filter stage (pipelines/mail.textproto), sending
// to a transport that records what it is given. Nobody at northwind.example
// or fourth-coffee.example (any case) may get mail; a subdomain of a listed
// domain and everyone else must; the report must count the skipped under
// the configured reason.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "driver.h"
#include "herald/mail.h"
#include "herald/store.h"

namespace site::driver {
namespace {

// Accepts every message and remembers its envelope recipient.
class RecordingTransport final : public herald::Transport {
 public:
  std::vector<herald::SendResult> Send(std::span<const herald::OutgoingMessage> messages) override {
    absl::MutexLock lock(&mu_);
    for (const herald::OutgoingMessage& m : messages) recipients_.push_back(m.recipient);
    return std::vector<herald::SendResult>(messages.size());  // kSent each
  }
  std::string Describe() const override { return "the driver's recording transport"; }
  std::vector<std::string> recipients() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> sorted = recipients_;
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> recipients_ ABSL_GUARDED_BY(mu_);
};

herald::MailJobSpec MakeSpec(const std::string& dir) {
  herald::MailJobSpec spec;
  spec.item_id = "spring-newsletter";
  spec.base_dir = dir;
  herald::v1::DirectMail& mail = spec.mail;
  mail.mutable_recipients()->set_csv_path("recipients.csv");
  mail.mutable_message()->mutable_template_()->set_subject("{{first_name}}, spring is here");
  mail.mutable_message()->mutable_template_()->set_text("Hello {{first_name}},\nour spring range is in.\n");
  mail.set_format(herald::v1::MAIL_FORMAT_TEXT);
  mail.set_from("Contoso Outdoor <news@contoso.example>");
  mail.set_unsubscribe_url("https://contoso.example/unsubscribe");
  return spec;
}

}  // namespace

absl::StatusOr<std::string> ProveMail(const std::string& dir, const Variant& variant) {
  auto pipeline = herald::LoadPipelineDefinition(dir + "/pipelines/mail.textproto");
  if (!pipeline.ok()) return pipeline.status();
  *pipeline = variant.Renamed(*std::move(pipeline));
  herald::Registry registry;
  if (absl::Status s = RegisterAll(&registry); !s.ok()) return s;
  std::unique_ptr<herald::Store> ledger = herald::NewMemoryStore();
  RecordingTransport transport;
  herald::MailerOptions options;
  options.registry = &registry;
  options.store = ledger.get();
  options.transport = &transport;
  options.pipeline = &*pipeline;
  options.unsubscribe_secret = "replacements-example-secret-0123456789";
  auto job = herald::MailJob::Create(MakeSpec(dir), options);
  if (!job.ok()) return job.status();
  auto report = (*job)->Run();
  if (!report.ok()) return report.status();

  const std::vector<std::string> expected = {"ann@contoso.example", "erin@mail.northwind.example",
                                             "frank@example.org"};
  const std::vector<std::string> mailed = transport.recipients();
  if (mailed != expected) {
    return absl::FailedPreconditionError(absl::StrCat("mailed [", absl::StrJoin(mailed, ", "), "], expected [",
                                                      absl::StrJoin(expected, ", "), "]\n", report->ToText()));
  }
  const int64_t skipped = report->skipped_by_reason.count("competitor_domain") == 0
                              ? 0
                              : report->skipped_by_reason.at("competitor_domain");
  if (skipped != 3 || report->sent != 3 || report->state != herald::kJobCompleted) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected 3 sent and 3 skipped as competitor_domain:\n", report->ToText()));
  }
  return absl::StrCat(variant.Name("SkipDomains"), " skipped ", skipped, " of ", report->recipients,
                      " recipients (competitor_domain); mail went only to the other ", report->sent);
}

}  // namespace site::driver
