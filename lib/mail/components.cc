// The built-in components of the mail pipeline (herald/mail.h) and their
// registration, with the built-in transports and the "csv" recipient source.
#include <curl/curl.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "core/component_factory.h"
#include "absl/time/clock.h"
#include "core/strings.h"
#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"
#include "herald/store.h"
#include "mail/mime_codec.h"
#include "mail/runtime.h"

namespace herald {

void RegisterMailTransports(Registry* registry);  // transports.cc

void MailItem::Skip(std::string_view why, std::string_view text) {
  state = MailItemState::kSkipped;
  reason.assign(why);
  detail.assign(text);
}

void MailItem::Fail(std::string_view why, std::string_view text) {
  state = MailItemState::kFailed;
  reason.assign(why);
  detail.assign(text);
}

std::string_view MailContext::Field(const MailItem& item, std::string_view name) const {
  if (job == nullptr || item.row >= job->table.rows.size()) return {};
  if (name == "email") return item.address;
  int column = job->table.ColumnIndex(name);
  if (column < 0) return {};
  return job->table.rows[item.row][column];
}

namespace mail {
WorkerScratch::~WorkerScratch() {
  if (curl != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl));
}
}  // namespace mail

namespace {

using Comp = MailComponent;

template <typename Config, typename Impl>
std::unique_ptr<FactoryBase> Factory(std::string name, std::string description) {
  return internal::ComponentFactory<Comp, Config, Impl>(std::move(name), std::move(description));
}

using internal::ConfigError;

absl::Status NoJob(std::string_view component) {
  return absl::FailedPreconditionError(Cat(component, ": the context has no job (run it through MailJob)"));
}

void Note(MailContext& ctx, const MailItem& item, std::string_view verdict, std::string_view reason) {
  if (ctx.trace != nullptr) ctx.trace->Note(item.address, verdict, reason);
}

// ---------------------------------------------------------------- throttle

class Throttle final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<Throttle>> Make(const v1::ThrottleConfig& config) {
    if (config.messages_per_hour() < 0) return ConfigError("Throttle", "messages_per_hour must be >= 0");
    auto c = std::make_unique<Throttle>();
    c->override_ = config.messages_per_hour();
    return c;
  }

  // Works on the batch as the job hands it over: reads and writes no fact.
  ComponentContract Contract() const override { return {{}, {}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("Throttle");
    int64_t mph = override_ > 0 ? override_ : ctx.job->messages_per_hour;
    if (mph <= 0 || ctx.test_send) return absl::OkStatus();
    int64_t n = 0;
    for (const MailItem& item : ctx.items) n += item.state == MailItemState::kLive ? 1 : 0;
    if (n == 0) return absl::OkStatus();
    absl::Duration interval = absl::Hours(1) / mph;
    absl::Time now = absl::Now(), slot;
    {
      absl::MutexLock lock(&ctx.job->throttle_mu);
      slot = std::max(ctx.job->next_slot, now);
      ctx.job->next_slot = slot + interval * n;
    }
    absl::Duration wait = slot - now;
    while (slot > absl::Now() && ctx.job->control.load() == 0) {
      absl::SleepFor(std::min(slot - absl::Now(), absl::Milliseconds(100)));
    }
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "throttle", Cat("waited ", absl::FormatDuration(wait), " for ", n, " messages at ",
                                          mph, "/h"), absl::ToDoubleSeconds(wait));
    }
    return absl::OkStatus();
  }

 private:
  int64_t override_ = 0;
};

// ---------------------------------------------------------------- preprocess

class ValidateRecipient final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<ValidateRecipient>> Make(const v1::ValidateRecipientConfig& config) {
    if (config.max_address_length() < 0 || config.max_address_length() > 998) {
      return ConfigError("ValidateRecipient", "max_address_length must be within 0..998");
    }
    auto c = std::make_unique<ValidateRecipient>();
    c->max_length_ = config.max_address_length() == 0 ? 254 : config.max_address_length();
    for (const std::string& d : config.blocked_domains()) {
      if (d.empty() || d.find('@') != std::string::npos) {
        return ConfigError("ValidateRecipient", Cat("blocked domain \"", d, "\" must be a bare domain"));
      }
      c->blocked_.push_back(NormalizeAddress(Cat("x@", d)).substr(2));
    }
    return c;
  }

  // Works on the batch as the job hands it over: reads and writes no fact.
  ComponentContract Contract() const override { return {{}, {}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("ValidateRecipient");
    const MailJobRuntime& job = *ctx.job;
    for (MailItem& item : ctx.items) {
      if (item.state != MailItemState::kLive) continue;
      absl::Status valid = ValidateAddress(item.address, max_length_);
      if (!valid.ok()) {
        item.Skip("invalid_address", std::string(valid.message()));
        Note(ctx, item, "skipped", item.detail);
        continue;
      }
      std::string_view domain = std::string_view(item.address).substr(item.address.rfind('@') + 1);
      bool blocked = false;
      for (const std::string& d : blocked_) blocked = blocked || domain == d;
      if (blocked) {
        item.Skip("invalid_address", Cat("domain ", domain, " is blocked"));
        Note(ctx, item, "skipped", item.detail);
        continue;
      }
      // Data that goes into headers must not carry line breaks.
      if (item.row < job.table.rows.size()) {
        const auto& row = job.table.rows[item.row];
        auto unsafe = [&](int column) {
          return column >= 0 && row[column].find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos;
        };
        int bad = -1;
        if (unsafe(job.name_column)) bad = job.name_column;
        for (const auto& seg : job.subject.segments()) {
          if (bad < 0 && seg.kind == mail::CompiledTemplate::Special::kColumn && unsafe(seg.column)) {
            bad = seg.column;
          }
        }
        if (bad >= 0) {
          item.Skip("invalid_data", Cat("column \"", job.table.columns[bad],
                                        "\" has a line break and goes into a header"));
          Note(ctx, item, "skipped", item.detail);
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  int max_length_ = 254;
  std::vector<std::string> blocked_;
};

// ---------------------------------------------------------------- filter

class OptOutFilter final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<OptOutFilter>> Make(const v1::OptOutFilterConfig& config) {
    auto c = std::make_unique<OptOutFilter>();
    c->ignore_site_ = config.ignore_site_list();
    return c;
  }

  // Works on the batch as the job hands it over: reads and writes no fact.
  ComponentContract Contract() const override { return {{}, {}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("OptOutFilter");
    if (ctx.test_send) return absl::OkStatus();  // test sends ignore opt-out
    const MailJobRuntime& job = *ctx.job;
    for (MailItem& item : ctx.items) {
      if (item.state != MailItemState::kLive) continue;
      bool site = !ignore_site_ && job.OptedOutSite(item.address);
      bool own = job.OptedOutItem(item.address);
      if (site || own) {
        item.Skip("opted_out", site ? "site-level opt-out list" : "item-level opt-out list");
        Note(ctx, item, "skipped", item.detail);
      }
    }
    return absl::OkStatus();
  }

 private:
  bool ignore_site_ = false;
};

// ---------------------------------------------------------------- compose

size_t CollectBody(char* data, size_t size, size_t n, void* userdata) {
  auto* out = static_cast<std::pair<std::string*, size_t>*>(userdata);
  if (out->first->size() + size * n > out->second) return 0;  // too large: abort the transfer
  out->first->append(data, size * n);
  return size * n;
}

class FetchMessageBody final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<FetchMessageBody>> Make(const v1::FetchMessageBodyConfig& config) {
    if (config.timeout_ms() < 0 || config.max_body_bytes() < 0) {
      return ConfigError("FetchMessageBody", "timeout_ms and max_body_bytes must be >= 0");
    }
    for (char c : config.id_parameter()) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
        return ConfigError("FetchMessageBody", "id_parameter must be letters, digits, _ or -");
      }
    }
    auto c = std::make_unique<FetchMessageBody>();
    c->timeout_ms_ = config.timeout_ms() == 0 ? 10000 : config.timeout_ms();
    c->parameter_ = config.id_parameter().empty() ? "recipient" : config.id_parameter();
    c->max_bytes_ = config.max_body_bytes() == 0 ? (4 << 20) : config.max_body_bytes();
    return c;
  }

  ComponentContract Contract() const override { return {{}, {"bodies"}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("FetchMessageBody");
    const MailJobRuntime& job = *ctx.job;
    if (job.source != MailJobRuntime::SourceKind::kUrl) return absl::OkStatus();
    auto* scratch = static_cast<mail::WorkerScratch*>(ctx.scratch);
    mail::WorkerScratch local;
    if (scratch == nullptr) scratch = &local;
    if (scratch->curl == nullptr) scratch->curl = curl_easy_init();
    CURL* curl = static_cast<CURL*>(scratch->curl);
    for (MailItem& item : ctx.items) {
      if (item.state != MailItemState::kLive) continue;
      std::string_view id = job.table.id_column >= 0 && item.row < job.table.rows.size()
                                ? std::string_view(job.table.rows[item.row][job.table.id_column])
                                : std::string_view(item.address);
      std::string encoded;
      mail::AppendUrlEncoded(encoded, id);
      std::string url = job.url;
      size_t pos = url.find("{{id}}");
      if (pos != std::string::npos) {
        url.replace(pos, 6, encoded);
      } else {
        CatTo(url, url.find('?') == std::string::npos ? "?" : "&", parameter_, "=", encoded);
      }
      item.fetched_body.clear();
      std::pair<std::string*, size_t> sink{&item.fetched_body, size_t(max_bytes_)};
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(timeout_ms_));
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
      CURLcode rc = curl_easy_perform(curl);
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (rc != CURLE_OK || status != 200) {
        item.Fail("fetch_error", rc != CURLE_OK ? Cat(url, ": ", curl_easy_strerror(rc))
                                                : Cat(url, ": HTTP ", status));
        Note(ctx, item, "error", item.detail);
        continue;
      }
      char* type = nullptr;
      curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
      item.fetched_is_html = type != nullptr && std::string_view(type).find("html") != std::string_view::npos;
      Note(ctx, item, "fetched", Cat(url, " (", item.fetched_body.size(), " bytes)"));
    }
    return absl::OkStatus();
  }

 private:
  int timeout_ms_ = 10000;
  std::string parameter_;
  int max_bytes_ = 4 << 20;
};

// `line` ("Name: value") folded before white space so that lines stay
// within 78 characters where the words allow (RFC 5322 2.2.3): a fold only
// adds CRLF before existing white space, which unfolding removes again.
std::string FoldHeaderLine(std::string_view line) {
  if (line.size() <= 78) return std::string(line);
  std::string out;
  size_t column = 0;
  size_t pos = 0;
  const size_t colon = line.find(':');
  while (pos < line.size()) {
    size_t space = line.find_first_of(" \t", pos + 1);
    if (space == std::string_view::npos) space = line.size();
    std::string_view word = line.substr(pos, space - pos);  // starts with its white space, if any
    if (pos > colon + 1 && column > 1 && column + word.size() > 78) {
      out.append("\r\n");
      column = 0;
    }
    out.append(word);
    column += word.size();
    pos = space;
  }
  return out;
}

class ComposeMessage final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<ComposeMessage>> Make(const v1::ComposeMessageConfig& config) {
    auto c = std::make_unique<ComposeMessage>();
    for (const std::string& h : config.extra_headers()) {
      size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0 || h.size() > 998 ||
          h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        return ConfigError("ComposeMessage", Cat("extra header \"", h, "\" must be \"Name: value\" on one line"));
      }
      for (char ch : h.substr(0, colon)) {
        if (ch <= 32 || ch >= 127) {
          return ConfigError("ComposeMessage", Cat("extra header \"", h, "\": bad field name"));
        }
      }
      c->extra_headers_.push_back(FoldHeaderLine(h));
    }
    for (char ch : config.message_id_domain()) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-')) {
        return ConfigError("ComposeMessage", "message_id_domain must be a host name");
      }
    }
    c->domain_ = config.message_id_domain();
    c->omit_unsubscribe_ = config.omit_list_unsubscribe();
    return c;
  }

  // Reads no "bodies": only URL sources need them, and a pipeline for
  // template and file sources may leave FetchMessageBody out.
  ComponentContract Contract() const override { return {{}, {"messages"}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("ComposeMessage");
    const MailJobRuntime& job = *ctx.job;
    auto* scratch = static_cast<mail::WorkerScratch*>(ctx.scratch);
    mail::WorkerScratch local;
    if (scratch == nullptr) scratch = &local;
    if (scratch->composer == nullptr) {
      scratch->composer = std::make_unique<MessageComposer>(domain_.empty() ? job.message_id_domain : domain_);
    }
    MessageComposer& composer = *scratch->composer;
    MessageContent content;
    content.from = job.from;
    content.reply_to = job.reply_to;
    content.format = job.spec.mail.format() == v1::MAIL_FORMAT_UNSPECIFIED ? v1::MAIL_FORMAT_MIME
                                                                            : job.spec.mail.format();
    content.extra_headers = extra_headers_;
    content.attachments = job.attachments;
    for (MailItem& item : ctx.items) {
      if (item.state != MailItemState::kLive) continue;
      job.UnsubscribeValues(item.address, scratch->unsubscribe_url, scratch->list_unsubscribe);
      job.Render(job.subject, ctx, item, false, scratch->unsubscribe_url, scratch->subject);
      content.subject = scratch->subject;
      content.text = {};
      content.html = {};
      switch (job.source) {
        case MailJobRuntime::SourceKind::kTemplate:
          if (!job.text.empty()) {
            job.Render(job.text, ctx, item, false, scratch->unsubscribe_url, scratch->text);
            content.text = scratch->text;
          }
          if (!job.html.empty()) {
            job.Render(job.html, ctx, item, true, scratch->unsubscribe_url, scratch->html);
            content.html = scratch->html;
          }
          break;
        case MailJobRuntime::SourceKind::kUrl:
          (item.fetched_is_html ? content.html : content.text) = item.fetched_body;
          break;
        case MailJobRuntime::SourceKind::kFile:
          (job.file_is_html ? content.html : content.text) = job.file_body;
          break;
      }
      content.to = item.address;
      const auto& row = job.table.rows[item.row];
      content.to_name = job.name_column >= 0 ? std::string_view(row[job.name_column]) : std::string_view();
      content.charset = job.charset_column >= 0 ? std::string_view(row[job.charset_column]) : std::string_view();
      content.list_unsubscribe = omit_unsubscribe_ ? std::string_view() : std::string_view(scratch->list_unsubscribe);
      absl::Status s = composer.Compose(content, item.message.data);
      if (!s.ok()) {
        std::string message(s.message());
        if (absl::IsInvalidArgument(s) && message.find("CR, LF") != std::string::npos) {
          item.Skip("invalid_data", message);
        } else {
          item.Fail("compose_error", message);
        }
        Note(ctx, item, "error", item.detail);
        continue;
      }
      item.message.envelope_from = job.envelope_from;
      item.message.recipient = item.address;
      if (ctx.trace != nullptr) {
        ctx.trace->Note(item.address, "composed",
                        Cat(composer.last_message_id(), " ", item.message.data.size(), " bytes, charset ",
                            composer.last_charset()),
                        double(item.message.data.size()));
      }
    }
    return absl::OkStatus();
  }

 private:
  std::vector<std::string> extra_headers_;
  std::string domain_;
  bool omit_unsubscribe_ = false;
};

// ---------------------------------------------------------------- send

class SendMessage final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<SendMessage>> Make(const v1::SendMessageConfig& config) {
    if (config.retries() < 0 || config.backoff_ms() < 0 || config.max_backoff_ms() < 0) {
      return ConfigError("SendMessage", "retries, backoff_ms and max_backoff_ms must be >= 0");
    }
    auto c = std::make_unique<SendMessage>();
    c->retries_ = config.retries();
    c->backoff_ = absl::Milliseconds(config.backoff_ms() == 0 ? 1000 : config.backoff_ms());
    c->max_backoff_ = absl::Milliseconds(config.max_backoff_ms() == 0 ? 60000 : config.max_backoff_ms());
    return c;
  }

  // Without composed messages it sends nothing: RecordOutcome gives the live
  // recipients back to pending and the job claims them again, endlessly.
  ComponentContract Contract() const override { return {{"messages"}, {"outcomes"}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("SendMessage");
    MailJobRuntime& job = *ctx.job;
    if (job.transport == nullptr) return absl::FailedPreconditionError("SendMessage: the job has no transport");
    int retries = retries_ > 0 ? retries_ : job.retries;
    absl::Duration backoff = backoff_;
    std::vector<size_t> pending;
    for (size_t i = 0; i < ctx.items.size(); ++i) {
      if (ctx.items[i].state == MailItemState::kLive && !ctx.items[i].message.data.empty()) pending.push_back(i);
    }
    std::vector<OutgoingMessage> batch;
    for (int attempt = 0; !pending.empty(); ++attempt) {
      batch.clear();
      for (size_t i : pending) batch.push_back(std::move(ctx.items[i].message));
      std::vector<SendResult> results = job.transport->Send(batch);
      std::vector<size_t> again;
      for (size_t k = 0; k < pending.size(); ++k) {
        MailItem& item = ctx.items[pending[k]];
        item.message = std::move(batch[k]);
        ++item.attempts;
        const SendResult& r = k < results.size() ? results[k]
                                                 : SendResult{SendOutcome::kTemporary, 0, "transport returned too few results"};
        switch (r.outcome) {
          case SendOutcome::kSent:
            item.state = MailItemState::kSent;
            item.detail = r.detail;
            Note(ctx, item, "sent", r.detail);
            break;
          case SendOutcome::kPermanent:
            item.Fail(r.code > 0 ? Cat("smtp ", r.code) : std::string("permanent"), r.detail);
            Note(ctx, item, "failed", r.detail);
            break;
          case SendOutcome::kInvalidAddress:
            item.Skip("invalid_address", r.detail);
            Note(ctx, item, "skipped", r.detail);
            break;
          case SendOutcome::kTemporary:
            if (attempt < retries) {
              item.detail = r.detail;
              again.push_back(pending[k]);
              Note(ctx, item, "retry", r.detail);
            } else {
              item.Fail(r.code > 0 ? Cat("smtp ", r.code, " (retries exhausted)")
                                   : std::string("temporary (retries exhausted)"),
                        r.detail);
              Note(ctx, item, "failed", r.detail);
            }
            break;
        }
      }
      pending.swap(again);
      if (pending.empty()) break;
      // Back off, but give up the wait (leaving them live = back to pending) when stopped.
      absl::Time until = absl::Now() + backoff;
      while (absl::Now() < until && job.control.load() == 0) {
        absl::SleepFor(std::min(until - absl::Now(), absl::Milliseconds(50)));
      }
      if (job.control.load() != 0) break;
      backoff = std::min(backoff * 2, max_backoff_);
    }
    return absl::OkStatus();
  }

 private:
  int retries_ = 0;
  absl::Duration backoff_, max_backoff_;
};

// ---------------------------------------------------------------- postprocess

class RecordOutcome final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<RecordOutcome>> Make(const v1::RecordOutcomeConfig& config) {
    if (config.min_messages_before_abort() < 0) {
      return ConfigError("RecordOutcome", "min_messages_before_abort must be >= 0");
    }
    auto c = std::make_unique<RecordOutcome>();
    c->min_ = config.min_messages_before_abort() == 0 ? 20 : config.min_messages_before_abort();
    return c;
  }

  ComponentContract Contract() const override { return {{"outcomes"}, {}, {}}; }

  absl::Status Run(MailContext& ctx) const override {
    if (ctx.job == nullptr) return NoJob("RecordOutcome");
    MailJobRuntime& job = *ctx.job;
    std::vector<LedgerEntry> entries;
    entries.reserve(ctx.items.size());
    int64_t sent = 0, failed = 0, skipped = 0;
    {
      absl::MutexLock lock(&job.report_mu);
      for (MailItem& item : ctx.items) {
        LedgerEntry e;
        e.recipient = item.address;
        switch (item.state) {
          case MailItemState::kSent:
            e.state = RecipientState::kSent;
            e.detail = item.detail;
            ++sent;
            break;
          case MailItemState::kFailed:
            e.state = RecipientState::kFailed;
            e.detail = Cat(item.reason, ": ", item.detail);
            ++job.failed_by_reason[item.reason];
            ++failed;
            break;
          case MailItemState::kSkipped:
            e.state = RecipientState::kSkipped;
            e.detail = Cat(item.reason, ": ", item.detail);
            ++job.skipped_by_reason[item.reason];
            ++skipped;
            break;
          case MailItemState::kLive:
            e.state = RecipientState::kPending;  // not finished (stopped mid-retry): back to the queue
            break;
        }
        entries.push_back(std::move(e));
      }
    }
    if (!ctx.test_send && job.store != nullptr) {
      absl::Status s = job.store->mail_ledgers().MarkRecipients(job.job_id, entries);
      if (!s.ok()) return s;
    }
    job.sent += sent;
    job.failed += failed;
    job.skipped += skipped;
    int64_t outcomes = (job.outcomes += sent + failed);
    int64_t total_failed = job.failed.load();
    if (outcomes >= min_ && total_failed * 100.0 > job.max_error_percent * double(outcomes)) {
      int expected = 0;
      if (job.control.compare_exchange_strong(expected, 3)) {
        job.abort_reason = Cat(total_failed, " of ", outcomes, " messages failed (over ",
                               job.max_error_percent, "%)");
      }
    }
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "recorded", Cat(sent, " sent, ", failed, " failed, ", skipped, " skipped"));
    }
    return absl::OkStatus();
  }

 private:
  int64_t min_ = 20;
};

// ---------------------------------------------------------------- recipient source "csv"

class CsvRecipientSource final : public RecipientSource {
 public:
  CsvRecipientSource(v1::CsvRecipientSourceConfig config, std::string path)
      : config_(std::move(config)), path_(std::move(path)) {}
  absl::StatusOr<RecipientTable> Load() override {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return absl::NotFoundError(Cat("recipient list \"", path_, "\": cannot open"));
    std::stringstream buffer;
    buffer << in.rdbuf();
    return ParseRecipientCsv(buffer.str(), path_,
                             config_.email_column().empty() ? "email" : config_.email_column(),
                             config_.id_column().empty() ? "id" : config_.id_column(),
                             config_.delimiter().empty() ? ',' : config_.delimiter()[0]);
  }

 private:
  v1::CsvRecipientSourceConfig config_;
  std::string path_;
};

}  // namespace

const v1::PipelineDefinition& DefaultMailPipeline() {
  static const v1::PipelineDefinition* def = [] {
    auto* d = new v1::PipelineDefinition();
    d->set_name("mail");
    d->set_family("mail");
    auto add = [&](const char* stage, std::initializer_list<const char*> names) {
      auto* s = d->add_stages();
      s->set_name(stage);
      for (const char* n : names) s->add_components()->set_name(n);
    };
    add("throttle", {"Throttle"});
    add("preprocess", {"ValidateRecipient"});
    add("filter", {"OptOutFilter"});
    add("compose", {"FetchMessageBody", "ComposeMessage"});
    add("send", {"SendMessage"});
    add("postprocess", {"RecordOutcome"});
    return d;
  }();
  return *def;
}

void RegisterMailComponents(Registry* registry) {
  registry->RegisterIfAbsent(Factory<v1::ThrottleConfig, Throttle>(
      "Throttle", "delays batches to honour messages per hour"));
  registry->RegisterIfAbsent(Factory<v1::ValidateRecipientConfig, ValidateRecipient>(
      "ValidateRecipient", "skips invalid addresses and header-unsafe recipient data"));
  registry->RegisterIfAbsent(Factory<v1::OptOutFilterConfig, OptOutFilter>(
      "OptOutFilter", "skips recipients on the site-level or item-level opt-out list"));
  registry->RegisterIfAbsent(Factory<v1::FetchMessageBodyConfig, FetchMessageBody>(
      "FetchMessageBody", "URL message sources: fetches each recipient's body"));
  registry->RegisterIfAbsent(Factory<v1::ComposeMessageConfig, ComposeMessage>(
      "ComposeMessage", "builds RFC 5322 / MIME messages (text, MIME, MHTML)"));
  registry->RegisterIfAbsent(Factory<v1::SendMessageConfig, SendMessage>(
      "SendMessage", "sends through the job's transport; retries 4xx with backoff"));
  registry->RegisterIfAbsent(Factory<v1::RecordOutcomeConfig, RecordOutcome>(
      "RecordOutcome", "records outcomes in the ledger; aborts past the error percentage"));
  RegisterMailTransports(registry);
  registry->RegisterIfAbsent(MakeFactory<RecipientSource, v1::CsvRecipientSourceConfig>(
      "csv", "a CSV file with a header row",
      [](const v1::CsvRecipientSourceConfig& c, const CreateContext& ctx)
          -> absl::StatusOr<std::unique_ptr<RecipientSource>> {
        if (c.path().empty()) return absl::InvalidArgumentError("csv recipient source: path is required");
        if (c.delimiter().size() > 1) {
          return absl::InvalidArgumentError("csv recipient source: delimiter must be one character");
        }
        std::string path = c.path();
        if (path[0] != '/' && !ctx.base_dir.empty()) path = Cat(ctx.base_dir, "/", path);
        return std::unique_ptr<RecipientSource>(std::make_unique<CsvRecipientSource>(c, path));
      }));
}

}  // namespace herald
