// MailJob: loads a direct-mail job, fills its ledger and runs workers that
// claim batches of recipients and push them through the mail pipeline.
//
// Ledger order per batch (the duplicate bound of herald/mail.h):
//   1. ClaimPending   recipients pending -> sending (durable) for this worker
//   2. pipeline       throttle, validate, opt-out, compose, send
//   3. MarkRecipients sending -> sent / failed / skipped (or pending when
//                     stopped mid-retry)
// A crash between 1 and 3 leaves the batch in `sending`, each claim with its
// owner (this instance's worker id) and time. Any later run (of any process)
// requeues claims older than claim_timeout, and at its start the claims of
// the owners the operator names (requeue_claims_of): they are sent again (the
// only possible duplicates) and nobody is lost. Live claims of other
// processes are younger than claim_timeout and are left alone.
#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/process_owner.h"
#include "core/strings.h"
#include "herald/mail.h"
#include "herald/store.h"
#include "mail/runtime.h"
#include "nlohmann/json.hpp"

namespace herald {

namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return Cat(base_dir, "/", path);
}

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat(what, " \"", path, "\": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string DefaultWorkerId() { return Cat(internal::HostName(), ":", getpid()); }

// The instances ("<host>:<pid>/<nonce>") among `in_flight`'s owners that ran
// on this host in a process that no longer exists: default worker ids only
// (a custom --worker-id carries no pid). A pid reused by a live process
// counts as alive, so the claim waits for claim_timeout instead.
std::vector<std::string> DeadLocalOwners(const std::vector<LedgerEntry>& in_flight) {
  std::vector<std::string> dead;
  for (const LedgerEntry& e : in_flight) {
    std::string_view w = e.worker;
    const size_t slash = w.find('/');
    if (slash == std::string_view::npos) continue;
    std::string_view instance = w.substr(0, w.find('/', slash + 1));
    if (!internal::IsDeadLocalOwner(instance)) continue;
    if (std::find(dead.begin(), dead.end(), instance) == dead.end()) dead.emplace_back(instance);
  }
  return dead;
}

// "<base>/<8 hex>": unique per MailJob instance, so that its claims can be
// told from those of an earlier instance with the same base (a restarted
// process, a reused pid).
std::string InstanceWorkerId(const std::string& base) {
  unsigned char nonce[4];
  RAND_bytes(nonce, sizeof nonce);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = base + "/";
  for (unsigned char b : nonce) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// A recipient table read from the store (recipients.store_table), page by page.
absl::StatusOr<RecipientTable> LoadStoreTable(Store& store, const std::string& table,
                                              std::string_view what) {
  RecipientTableStore* tables = store.recipient_tables();
  if (tables == nullptr) {
    return absl::UnimplementedError(Cat(what, ": recipients.store_table '", table, "': store ",
                                        store.Describe(), " has no recipient tables"));
  }
  RecipientTable out;
  absl::Status s = tables->ScanTable(
      table,
      [&](std::span<const std::string> columns) -> absl::Status {
        out.columns.assign(columns.begin(), columns.end());
        return absl::OkStatus();
      },
      [&](std::span<const std::string> values) -> absl::Status {
        out.rows.emplace_back(values.begin(), values.end());
        return absl::OkStatus();
      });
  if (!s.ok()) return absl::Status(s.code(), Cat(what, ": recipients: ", s.message()));
  if (auto c = mail::ResolveRecipientColumns(out, Cat("store table '", table, "'")); !c.ok()) {
    return absl::Status(c.code(), Cat(what, ": ", c.message()));
  }
  return out;
}

}  // namespace

namespace {

// The list `name` of the store's List Manager, checked to be of `kind`.
absl::StatusOr<MailListStore*> ListOfKind(Store& store, std::string_view name, v1::MailListKind kind) {
  MailListStore* lists = store.mail_lists();
  if (lists == nullptr) {
    return absl::UnimplementedError(Cat("list '", name, "': store ", store.Describe(), " has no List Manager lists"));
  }
  auto list = lists->GetList(name);
  if (!list.ok()) return list.status();
  if (!list->has_value()) return absl::NotFoundError(Cat("list '", name, "' not found"));
  if ((*list)->kind() != kind) {
    return absl::FailedPreconditionError(Cat("list '", name, "' is ",
                                              kind == v1::MAIL_LIST_KIND_OPT_OUT ? "a recipient list, not an opt-out list"
                                                                                 : "an opt-out list, not a recipient list"));
  }
  return lists;
}

}  // namespace

absl::StatusOr<RecipientTable> LoadStoreRecipientList(Store& store, std::string_view name) {
  auto lists = ListOfKind(store, name, v1::MAIL_LIST_KIND_RECIPIENTS);
  if (!lists.ok()) return lists.status();
  auto info = (*lists)->GetList(name);
  if (!info.ok()) return info.status();
  if (!info->has_value()) return absl::NotFoundError(Cat("list '", name, "' not found"));
  RecipientTable out;
  out.columns.assign((*info)->columns().begin(), (*info)->columns().end());
  absl::Status s = (*lists)->ScanList(name, [&](std::span<const std::string> values) -> absl::Status {
    // The columns and the rows are two reads: a list replaced in between
    // shows as rows of another width.
    if (values.size() != out.columns.size()) {
      return absl::AbortedError(Cat("list '", name, "' was replaced while it was read; try again"));
    }
    out.rows.emplace_back(values.begin(), values.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (auto c = mail::ResolveRecipientColumns(out, Cat("list '", name, "'")); !c.ok()) return c;
  return out;
}

absl::StatusOr<std::unique_ptr<OptOutList>> LoadStoreOptOutList(Store& store, std::string_view name) {
  auto lists = ListOfKind(store, name, v1::MAIL_LIST_KIND_OPT_OUT);
  if (!lists.ok()) return lists.status();
  auto out = std::make_unique<OptOutList>();
  absl::Status s = (*lists)->ScanList(name, [&](std::span<const std::string> values) -> absl::Status {
    if (values.empty() || values[0].empty()) return absl::OkStatus();
    return out->Add(values[0]);  // no path: memory only
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<const v1::CampaignItem*> FindDirectMailItem(const v1::Catalog& catalog,
                                                           std::string_view name_or_id) {
  std::vector<std::string> known;
  for (const auto& campaign : catalog.campaigns()) {
    for (const auto& item : campaign.items()) {
      if (!item.has_direct_mail()) continue;
      if (item.id() == name_or_id || item.name() == name_or_id) return &item;
      known.push_back(item.id());
    }
  }
  return absl::NotFoundError(Cat("no direct-mail item \"", name_or_id, "\" (direct-mail items: ",
                                 known.empty() ? std::string("none") : Join(known, ", "), ")"));
}

namespace {

constexpr std::string_view kJobStates[] = {kJobCreated, kJobRunning, kJobPaused,
                                           kJobStopped, kJobCompleted, kJobAborted};

int JobStateIndex(std::string_view state) {
  for (int i = 0; i < 6; ++i) {
    if (kJobStates[i] == state) return i;
  }
  return -1;
}

// kAllowed[from][to], in kJobStates order (the table of herald/mail.h).
constexpr bool kAllowed[6][6] = {
    // created running paused stopped completed aborted
    {true, true, false, true, false, false},   // created
    {false, true, true, true, true, true},     // running
    {false, true, true, true, false, false},   // paused
    {false, true, false, true, false, false},  // stopped
    {false, true, false, false, true, false},  // completed
    {false, true, false, false, false, true},  // aborted
};

// The action that leads to each state, for errors.
constexpr std::string_view kActions[] = {"reset", "run", "pause", "stop", "complete", "abort"};

}  // namespace

absl::Status CheckMailJobTransition(std::string_view job_id, std::string_view from, std::string_view to) {
  const int f = JobStateIndex(from), t = JobStateIndex(to);
  if (f < 0 || t < 0) {
    return absl::InvalidArgumentError(Cat("job \"", job_id, "\": unknown job state \"", f < 0 ? from : to,
                                          "\" (states: ", Join(kJobStates, ", "), ")"));
  }
  if (kAllowed[f][t]) return absl::OkStatus();
  std::vector<std::string_view> from_states;
  for (int i = 0; i < 6; ++i) {
    if (kAllowed[i][t] && i != t) from_states.push_back(kJobStates[i]);
  }
  return absl::FailedPreconditionError(Cat("cannot ", kActions[t], " job \"", job_id, "\": it is ", from,
                                           " (", kActions[t], " applies to a job that is ",
                                           Join(from_states, " or "), ")"));
}

absl::Status SetMailJobState(Store& store, std::string_view job_id, std::string_view state) {
  if (state != kJobPaused && state != kJobStopped) {
    if (JobStateIndex(state) < 0) return CheckMailJobTransition(job_id, kJobCreated, state);
    return absl::InvalidArgumentError(Cat("job \"", job_id, "\": only paused or stopped can be set; ", state,
                                          " is the job's own state (running: run the job)"));
  }
  auto current = store.mail_ledgers().GetJobState(job_id);
  if (!current.ok()) return current.status();
  if (auto s = CheckMailJobTransition(job_id, *current, state); !s.ok()) return s;
  return store.mail_ledgers().SetJobState(job_id, state);
}

MailJob::MailJob(std::unique_ptr<MailJobRuntime> runtime) : runtime_(std::move(runtime)) {}
MailJob::~MailJob() = default;
const std::string& MailJob::job_id() const { return runtime_->job_id; }
void MailJob::Pause() {
  int expected = 0;
  runtime_->control.compare_exchange_strong(expected, 1);
}
void MailJob::Stop() {
  int expected = 0;
  runtime_->control.compare_exchange_strong(expected, 2);
}

namespace {

// The job's recipient table, from the item's recipient source.
absl::StatusOr<RecipientTable> LoadRecipients(const MailJobSpec& spec, const MailerOptions& options,
                                              std::string_view what) {
  const v1::DirectMail& mail = spec.mail;
  RecipientTable out;
  switch (mail.recipients().kind_case()) {
    case v1::RecipientSource::kCsvPath: {
      std::string path = Resolve(spec.base_dir, mail.recipients().csv_path());
      auto text = ReadFile(path, "recipient list");
      if (!text.ok()) return text.status();
      auto table = ParseRecipientCsv(*text, path);
      if (!table.ok()) return table.status();
      return std::move(*table);
    }
    case v1::RecipientSource::kPlugin: {
      auto source = options.registry->CreateDefault<RecipientSource>(
          mail.recipients().plugin(), CreateContext{options.registry, spec.base_dir, options.store});
      if (!source.ok()) return source.status();
      auto table = (*source)->Load();
      if (!table.ok()) return table.status();
      out = std::move(*table);
      if (out.email_column < 0) {
        // Same column rules as a CSV file or a store table.
        std::string source = Cat(what, ": recipient source \"", mail.recipients().plugin(), "\"");
        if (auto s = mail::ResolveRecipientColumns(out, source); !s.ok()) return s;
      }
      if (out.email_column < 0) {
        return absl::InvalidArgumentError(Cat(what, ": recipient source \"", mail.recipients().plugin(),
                                              "\" gave no email column"));
      }
      return out;
    }
    case v1::RecipientSource::kStoreTable: {
      auto table = LoadStoreTable(*options.store, mail.recipients().store_table(), what);
      if (!table.ok()) return table.status();
      return std::move(*table);
    }
    case v1::RecipientSource::kStoreList: {
      auto table = LoadStoreRecipientList(*options.store, mail.recipients().store_list());
      if (!table.ok()) return absl::Status(table.status().code(), Cat(what, ": recipients: ", table.status().message()));
      return std::move(*table);
    }
    default:
      return absl::InvalidArgumentError(Cat(what, ": recipients are not set"));
  }
}

// The job's opt-out lists: files (site and item level) and List Manager
// lists in the store; a level may have both.
absl::Status LoadOptOutLists(const MailJobSpec& spec, const MailerOptions& options, std::string_view what,
                             MailJobRuntime& r) {
  const v1::DirectMail& mail = spec.mail;
  if (!spec.site_opt_out_list.empty()) {
    auto list = OptOutList::Open(Resolve(spec.base_dir, spec.site_opt_out_list));
    if (!list.ok()) return list.status();
    r.site_opt_out = std::move(*list);
  }
  if (!mail.opt_out_list().empty()) {
    auto list = OptOutList::Open(Resolve(spec.base_dir, mail.opt_out_list()));
    if (!list.ok()) return list.status();
    r.item_opt_out = std::move(*list);
  }
  if (!spec.site_opt_out_store_list.empty()) {
    auto list = LoadStoreOptOutList(*options.store, spec.site_opt_out_store_list);
    if (!list.ok()) return absl::Status(list.status().code(), Cat(what, ": site opt-out list: ", list.status().message()));
    r.site_store_opt_out = std::move(*list);
    r.site_store_list_name = spec.site_opt_out_store_list;
  }
  if (!mail.opt_out_store_list().empty()) {
    auto list = LoadStoreOptOutList(*options.store, mail.opt_out_store_list());
    if (!list.ok()) return absl::Status(list.status().code(), Cat(what, ": opt-out list: ", list.status().message()));
    r.item_store_opt_out = std::move(*list);
    r.item_store_list_name = mail.opt_out_store_list();
  }
  absl::MutexLock lock(&r.store_opt_out_mu);
  r.store_opt_outs_read = absl::Now();
  return absl::OkStatus();
}

// Reads the job's List Manager opt-out lists again when they are older than
// `every`, adding what was opted out since (on any server). One worker reads;
// the others go on with the lists as they are. A list that cannot be read
// now keeps what it had: the next refresh tries again.
void RefreshStoreOptOuts(MailJobRuntime& r, absl::Duration every) {
  if (r.site_store_opt_out == nullptr && r.item_store_opt_out == nullptr) return;
  if (!r.store_opt_out_mu.TryLock()) return;
  const absl::Time now = absl::Now();
  if (now - r.store_opt_outs_read >= every) {
    r.store_opt_outs_read = now;
    for (auto [list, name] : {std::pair{r.site_store_opt_out.get(), &r.site_store_list_name},
                              std::pair{r.item_store_opt_out.get(), &r.item_store_list_name}}) {
      if (list == nullptr || r.store->mail_lists() == nullptr) continue;
      OptOutList* target = list;  // a structured binding cannot be captured before C++20 in clang 14
      (void)r.store->mail_lists()->ScanList(*name, [target](std::span<const std::string> values) {
        return values.empty() || values[0].empty() ? absl::OkStatus() : target->Add(values[0]);
      });
    }
  }
  r.store_opt_out_mu.Unlock();
}

}  // namespace

absl::StatusOr<MailAudience> CountMailAudience(const MailJobSpec& spec, const MailerOptions& options) {
  if (options.registry == nullptr || options.store == nullptr) {
    return absl::InvalidArgumentError("CountMailAudience: options.registry and options.store are required");
  }
  const std::string what = Cat("direct-mail item \"", spec.item_id.empty() ? spec.job_id : spec.item_id, "\"");
  auto table = LoadRecipients(spec, options, what);
  if (!table.ok()) return table.status();
  MailJobRuntime lists;
  if (auto s = LoadOptOutLists(spec, options, what, lists); !s.ok()) return s;
  MailAudience out;
  out.rows = static_cast<int64_t>(table->rows.size());
  absl::flat_hash_set<std::string> seen;
  for (const auto& row : table->rows) {
    std::string address = NormalizeAddress(row[table->email_column]);
    if (!ValidateAddress(address).ok()) {
      ++out.invalid_addresses;
      continue;
    }
    if (!seen.insert(address).second) {
      ++out.duplicates;
      continue;
    }
    ++out.recipients;
    const bool site = lists.OptedOutSite(address), item = lists.OptedOutItem(address);
    out.opted_out_site += site;
    out.opted_out_item += item;
    out.opted_out += site || item;
  }
  out.will_receive = out.recipients - out.opted_out;
  return out;
}

namespace {

// MailJob::Create's parts, in the order it runs them.

absl::Status CheckMailerOptions(const MailerOptions& options) {
  if (options.registry == nullptr) return absl::InvalidArgumentError("MailJob: options.registry is required");
  if (options.store == nullptr) return absl::InvalidArgumentError("MailJob: options.store is required");
  if (options.transport == nullptr) return absl::InvalidArgumentError("MailJob: options.transport is required");
  if (options.workers < 1 || options.workers > 64) return absl::InvalidArgumentError("MailJob: workers must be within 1..64");
  if (options.batch_size < 1 || options.batch_size > 10000) {
    return absl::InvalidArgumentError("MailJob: batch_size must be within 1..10000");
  }
  if (options.claim_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("MailJob: claim_timeout must be positive");
  }
  return absl::OkStatus();
}

// The recipients (a test send's addresses get the first recipient's data),
// each row's normalized address, and the columns the composer reads.
absl::Status LoadAudience(const MailJobSpec& spec, const MailerOptions& options, const std::string& what,
                          MailJobRuntime& r) {
  const v1::DirectMail& mail = spec.mail;
  auto table = LoadRecipients(spec, options, what);
  if (!table.ok()) return table.status();
  r.table = std::move(*table);
  if (!spec.test_to.empty()) {
    // A test send: the test addresses get the first recipient's data.
    if (r.table.rows.empty()) r.table.rows.push_back(std::vector<std::string>(r.table.columns.size()));
    std::vector<std::string> first = r.table.rows[0];
    r.table.rows.clear();
    for (const std::string& to : spec.test_to) {
      r.table.rows.push_back(first);
      r.table.rows.back()[r.table.email_column] = to;
    }
  }
  r.addresses.reserve(r.table.rows.size());
  for (size_t i = 0; i < r.table.rows.size(); ++i) {
    std::string a = NormalizeAddress(r.table.rows[i][r.table.email_column]);
    if (a.empty()) a = Cat("#row", i + 2);  // a blank cell: its own key, skipped as invalid
    r.row_by_address.try_emplace(a, static_cast<uint32_t>(i));
    r.addresses.push_back(std::move(a));
  }
  r.name_column = r.table.ColumnIndex("name");
  if (!mail.charset_column().empty()) {
    r.charset_column = r.table.ColumnIndex(mail.charset_column());
    if (r.charset_column < 0) {
      return absl::InvalidArgumentError(Cat(what, ": charset_column \"", mail.charset_column(),
                                            "\" is not a recipient column"));
    }
  }

  return absl::OkStatus();
}

// The message source (template, URL or file), subject, format and
// attachments, compiled against the recipient columns.
absl::Status CompileMessage(const MailJobSpec& spec, const std::string& what, MailJobRuntime& r) {
  const v1::DirectMail& mail = spec.mail;
  std::string subject_text = mail.subject();
  const v1::MailFormat format = mail.format() == v1::MAIL_FORMAT_UNSPECIFIED ? v1::MAIL_FORMAT_MIME : mail.format();
  bool has_text = false, has_html = false;
  switch (mail.message().kind_case()) {
    case v1::MessageSource::kTemplate: {
      const auto& t = mail.message().template_();
      if (!t.subject().empty()) subject_text = t.subject();
      auto text = mail::CompiledTemplate::Compile(t.text(), r.table, Cat(what, " template text"));
      if (!text.ok()) return text.status();
      auto html = mail::CompiledTemplate::Compile(t.html(), r.table, Cat(what, " template html"));
      if (!html.ok()) return html.status();
      r.text = std::move(*text);
      r.html = std::move(*html);
      has_text = !t.text().empty();
      has_html = !t.html().empty();
      r.source = MailJobRuntime::SourceKind::kTemplate;
      break;
    }
    case v1::MessageSource::kUrl: {
      const std::string& url = mail.message().url();
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return absl::InvalidArgumentError(Cat(what, ": message url must be http:// or https://"));
      }
      r.url = url;
      r.source = MailJobRuntime::SourceKind::kUrl;
      has_text = has_html = true;  // known per recipient
      break;
    }
    case v1::MessageSource::kFile: {
      std::string path = Resolve(spec.base_dir, mail.message().file());
      auto body = mail::ReadConfinedFile(Cat(what, ": message file"), mail.message().file(), spec.base_dir,
                                         spec.allowed_dirs);
      if (!body.ok()) return body.status();
      r.file_body = std::move(*body);
      std::string_view p = path;
      r.file_is_html = p.ends_with(".html") || p.ends_with(".htm");
      has_text = !r.file_is_html;
      has_html = r.file_is_html;
      r.source = MailJobRuntime::SourceKind::kFile;
      break;
    }
    default:
      return absl::InvalidArgumentError(Cat(what, ": message is not set"));
  }
  if (subject_text.empty()) return absl::InvalidArgumentError(Cat(what, ": no subject"));
  auto subject = mail::CompiledTemplate::Compile(subject_text, r.table, Cat(what, " subject"));
  if (!subject.ok()) return subject.status();
  r.subject = std::move(*subject);
  if (format == v1::MAIL_FORMAT_TEXT && !has_text) {
    return absl::InvalidArgumentError(Cat(what, ": format TEXT needs a text body"));
  }
  if (format == v1::MAIL_FORMAT_MHTML && !has_html) {
    return absl::InvalidArgumentError(Cat(what, ": format MHTML needs an HTML body"));
  }
  for (const auto& a : mail.attachments()) {
    auto prepared = PrepareAttachment(a, spec.base_dir, spec.allowed_dirs);
    if (!prepared.ok()) return absl::Status(prepared.status().code(), Cat(what, ": ", prepared.status().message()));
    r.attachments.push_back(std::move(*prepared));
  }

  return absl::OkStatus();
}

// The sender (envelope and header), reply-to, unsubscribe URL and the job's
// rate, error and retry limits.
absl::Status ReadSender(const v1::DirectMail& mail, const std::string& what, MailJobRuntime& r) {
  if (mail.from().empty()) return absl::InvalidArgumentError(Cat(what, ": from is required"));
  {
    std::string_view from = mail.from();
    size_t lt = from.rfind('<');
    std::string_view address = lt != std::string_view::npos && from.back() == '>'
                                   ? from.substr(lt + 1, from.size() - lt - 2)
                                   : from;
    r.envelope_from = NormalizeAddress(address);
    if (auto s = ValidateAddress(r.envelope_from); !s.ok()) {
      return absl::InvalidArgumentError(Cat(what, ": from: ", s.message()));
    }
    if (from.find_first_of("\r\n") != std::string_view::npos ||
        mail.reply_to().find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(Cat(what, ": from / reply_to contain a line break"));
    }
    r.message_id_domain = r.envelope_from.substr(r.envelope_from.rfind('@') + 1);
  }
  r.from = mail.from();
  r.reply_to = mail.reply_to();
  if (!mail.unsubscribe_url().empty() && mail.unsubscribe_url().rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(Cat(what, ": unsubscribe_url must be https:// (RFC 8058)"));
  }
  if (mail.messages_per_hour() < 0) return absl::InvalidArgumentError(Cat(what, ": messages_per_hour must be >= 0"));
  if (mail.max_error_percent() < 0 || mail.max_error_percent() > 100) {
    return absl::InvalidArgumentError(Cat(what, ": max_error_percent must be within 0..100"));
  }
  if (mail.retries() < 0) return absl::InvalidArgumentError(Cat(what, ": retries must be >= 0"));
  r.messages_per_hour = mail.messages_per_hour();
  r.max_error_percent = mail.max_error_percent() == 0 ? 10 : mail.max_error_percent();
  r.retries = mail.retries() == 0 ? 3 : mail.retries();

  return absl::OkStatus();
}

// Every distinct address into the job's ledger, in list order, in chunks
// (idempotent for a resumed job); a test send has no ledger.
absl::Status SeedLedger(MailJobRuntime& r) {
  if (r.spec.test_to.empty()) {
    MailLedgerStore& ledger = r.store->mail_ledgers();
    std::vector<std::string> chunk;
    StringMap<bool> seen;
    for (const std::string& a : r.addresses) {
      if (!seen.try_emplace(a, true).second) continue;
      chunk.push_back(a);
      if (chunk.size() == 5000) {
        if (auto s = ledger.AddRecipients(r.job_id, chunk); !s.ok()) return s;
        chunk.clear();
      }
    }
    if (!chunk.empty() || seen.empty()) {
      if (auto s = ledger.AddRecipients(r.job_id, chunk); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MailJob>> MailJob::Create(MailJobSpec spec, MailerOptions options) {
  if (absl::Status s = CheckMailerOptions(options); !s.ok()) return s;
  auto rt = std::make_unique<MailJobRuntime>();
  MailJobRuntime& r = *rt;
  r.item_id = spec.item_id.empty() ? spec.job_id : spec.item_id;
  r.job_id = spec.job_id.empty() ? r.item_id : spec.job_id;
  if (r.job_id.empty()) return absl::InvalidArgumentError("MailJob: job_id or item_id is required");
  const std::string what = Cat("direct-mail item \"", r.item_id, "\"");
  r.worker_id = InstanceWorkerId(options.worker_id.empty() ? DefaultWorkerId() : options.worker_id);

  if (absl::Status s = LoadAudience(spec, options, what, r); !s.ok()) return s;
  if (auto s = LoadOptOutLists(spec, options, what, r); !s.ok()) return s;
  std::string secret = options.unsubscribe_secret;
  if (secret.empty()) {
    secret.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32);
  }
  r.tokens = std::make_unique<UnsubscribeTokens>(secret);
  if (absl::Status s = CompileMessage(spec, what, r); !s.ok()) return s;
  if (absl::Status s = ReadSender(spec.mail, what, r); !s.ok()) return s;

  const v1::PipelineDefinition& def = options.pipeline != nullptr ? *options.pipeline : DefaultMailPipeline();
  auto pipeline = Pipeline<MailContext>::Create(def, CreateContext{options.registry, spec.base_dir, options.store},
                                                def.name().empty() ? "mail pipeline" : def.name());
  if (!pipeline.ok()) return pipeline.status();
  r.pipeline = std::move(*pipeline);
  r.transport = options.transport;
  r.store = options.store;
  r.spec = std::move(spec);
  r.options = std::move(options);
  if (absl::Status s = SeedLedger(r); !s.ok()) return s;
  return std::unique_ptr<MailJob>(new MailJob(std::move(rt)));
}

namespace {

absl::StatusOr<MailReport> BuildReport(MailJobRuntime& r, absl::Duration duration, int64_t requeued,
                                       std::string trace) {
  MailReport report;
  report.job_id = r.job_id;
  report.transport = r.transport->Describe();
  report.trace = std::move(trace);
  report.requeued_in_flight = requeued;
  report.worker_id = r.worker_id;
  StringMap<bool> seen;
  for (const std::string& a : r.addresses) {
    if (!seen.try_emplace(a, true).second) continue;
    ++report.recipients;
    if (!ValidateAddress(a).ok()) {
      ++report.invalid_addresses;
    } else if (r.OptedOut(a)) {
      ++report.opted_out;
    }
  }
  if (r.spec.test_to.empty()) {
    auto state = r.store->mail_ledgers().GetJobState(r.job_id);
    report.state = state.ok() ? *state : std::string(kJobCreated);
    auto counts = r.store->mail_ledgers().CountStates(r.job_id);
    if (!counts.ok()) return counts.status();
    for (const auto& [state_value, n] : *counts) {
      switch (state_value) {
        case RecipientState::kPending:
        case RecipientState::kSending: report.pending += n; break;
        case RecipientState::kSent: report.sent = n; break;
        case RecipientState::kFailed: report.failed = n; break;
        case RecipientState::kSkipped: report.skipped = n; break;
      }
    }
  } else {
    report.state = "test";
    report.sent = r.sent.load();
    report.failed = r.failed.load();
    report.skipped = r.skipped.load();
  }
  {
    absl::MutexLock lock(&r.report_mu);
    report.failed_by_reason = r.failed_by_reason;
    report.skipped_by_reason = r.skipped_by_reason;
  }
  report.sent_this_run = r.sent.load();
  report.duration = duration;
  double seconds = absl::ToDoubleSeconds(duration);
  report.rate = seconds > 0 ? double(report.sent_this_run) / seconds : 0;
  return report;
}

}  // namespace

namespace {

// A test send: the test addresses through the pipeline once, no ledger.
absl::StatusOr<MailReport> RunTestSend(MailJobRuntime& r, absl::Time start) {
  MailContext ctx;
  ctx.job = &r;
  ctx.test_send = true;
  mail::WorkerScratch scratch;
  ctx.scratch = &scratch;
  Trace trace;
  if (r.options.trace) ctx.trace = &trace;
  for (uint32_t i = 0; i < r.table.rows.size(); ++i) {
    MailItem item;
    item.row = i;
    item.address = r.addresses[i];
    ctx.items.push_back(std::move(item));
  }
  absl::Status s = r.pipeline->Run(ctx);
  if (!s.ok()) return s;
  return BuildReport(r, absl::Now() - start, 0, r.options.trace ? trace.ToText(false) : "");
}

// What the worker threads of one MailJob::Run share.
struct MailRun {
  MailRun(MailJobRuntime& runtime, MailLedgerStore& ledger) : r(runtime), ledger(ledger) {}
  MailJobRuntime& r;
  MailLedgerStore& ledger;
  int limit = 1;                     // recipients claimed at a time
  std::atomic<int64_t> requeued{0};  // claims of dead runs given back
  std::atomic<int> running{0};       // workers still sending
  std::atomic<bool> traced{false};   // one batch is traced
  std::string first_trace;           // by the worker that traced, read after the join
  absl::Mutex error_mu;
  absl::Status error ABSL_GUARDED_BY(error_mu);

  void Fail(absl::Status s) {
    absl::MutexLock lock(&error_mu);
    error = std::move(s);
  }
  absl::Status Error() {
    absl::MutexLock lock(&error_mu);
    return error;
  }
};

// Claims of dead runs back to pending: stale ones (older than claim_timeout)
// and, at the start only (before this instance claims anything), those of
// the owners the operator resumes and of this host's runs whose process is
// gone (killed, crashed: no timeout needed).
absl::Status RequeueDeadClaims(MailRun& run, bool at_start) {
  MailJobRuntime& r = run.r;
  if (!r.options.recover_in_flight) return absl::OkStatus();
  ClaimRequeue which;
  which.older_than = r.options.claim_timeout;
  if (at_start) {
    which.owners = r.options.requeue_claims_of;
    auto in_flight = run.ledger.InFlight(r.job_id);
    if (!in_flight.ok()) return in_flight.status();
    for (std::string& owner : DeadLocalOwners(*in_flight)) which.owners.push_back(std::move(owner));
  }
  auto done = run.ledger.RequeueClaims(
      r.job_id, which,
      Cat("requeued: in flight when its run ended (stale after ", absl::FormatDuration(r.options.claim_timeout),
          at_start && !which.owners.empty() ? ", or resumed by the operator" : "", ")"));
  if (!done.ok()) return done.status();
  run.requeued += static_cast<int64_t>(done->size());
  return absl::OkStatus();
}

// Whether another process paused, stopped or aborted the job; if so, this
// run's control signal says which.
bool StoppedElsewhere(MailRun& run) {
  auto stored = run.ledger.GetJobState(run.r.job_id);
  if (!stored.ok() || (*stored != kJobPaused && *stored != kJobStopped && *stored != kJobAborted)) return false;
  int expected = 0;
  run.r.control.compare_exchange_strong(expected, *stored == kJobPaused ? 1 : (*stored == kJobStopped ? 2 : 3));
  return true;
}

// One claimed batch through the pipeline; a recipient no longer in the list
// is skipped. The first batch of the run is traced when asked.
absl::Status SendBatch(MailRun& run, mail::WorkerScratch& scratch, std::vector<std::string>& claimed) {
  MailJobRuntime& r = run.r;
  MailContext ctx;
  ctx.job = &r;
  ctx.scratch = &scratch;
  Trace trace;
  const bool tracing = r.options.trace && !run.traced.exchange(true);
  if (tracing) ctx.trace = &trace;
  ctx.items.reserve(claimed.size());
  for (std::string& a : claimed) {
    MailItem item;
    auto it = r.row_by_address.find(std::string_view(a));
    item.address = std::move(a);
    if (it == r.row_by_address.end()) {
      item.row = UINT32_MAX;
      item.Skip("not_in_list", "the recipient is no longer in the list");
    } else {
      item.row = it->second;
    }
    ctx.items.push_back(std::move(item));
  }
  absl::Status s = r.pipeline->Run(ctx);
  if (tracing) run.first_trace = trace.ToText(false);
  return s;
}

// One worker thread: claims batches until nothing is pending (after giving
// back stale claims) or the job is told to stop, here or elsewhere.
void SendWorker(MailRun& run, int index) {
  MailJobRuntime& r = run.r;
  mail::WorkerScratch scratch;
  const std::string worker_id = r.options.workers == 1 ? r.worker_id : Cat(r.worker_id, "/", index);
  while (r.control.load() == 0 && !StoppedElsewhere(run)) {
    RefreshStoreOptOuts(r, r.options.store_opt_out_refresh);
    auto claimed = run.ledger.ClaimPending(r.job_id, worker_id, run.limit);
    if (!claimed.ok()) {
      run.Fail(claimed.status());
      break;
    }
    if (claimed->empty()) {
      // Nothing pending: claims of a dead process may have gone stale meanwhile.
      const int64_t before = run.requeued.load();
      if (absl::Status s = RequeueDeadClaims(run, false); !s.ok()) {
        run.Fail(s);
        break;
      }
      if (run.requeued.load() > before) continue;
      break;
    }
    if (absl::Status s = SendBatch(run, scratch, *claimed); !s.ok()) {
      run.Fail(s);
      int expected = 0;
      r.control.compare_exchange_strong(expected, 2);
      break;
    }
  }
  run.running.fetch_sub(1);
}

// Records the job's state after a run that ended on `control`: aborted,
// paused or stopped, or completed when nobody is left pending or in flight
// (else other processes are still sending and the state stays). A state set
// by another process (paused, stopped) is kept, and so is one this run may
// not change (a job another process completed is not "paused" by this
// one's Pause()).
absl::Status RecordFinalState(MailRun& run, int control) {
  std::string_view final_state;
  if (control == 3) {
    final_state = kJobAborted;
  } else if (control == 1) {
    final_state = kJobPaused;
  } else if (control == 2) {
    final_state = kJobStopped;
  } else {
    auto counts = run.ledger.CountStates(run.r.job_id);
    bool left = false;
    if (counts.ok()) {
      for (const auto& [state_value, n] : *counts) {
        left = left || ((state_value == RecipientState::kPending || state_value == RecipientState::kSending) && n > 0);
      }
    }
    if (!left && run.Error().ok()) final_state = kJobCompleted;
  }
  if (final_state.empty()) return absl::OkStatus();
  auto stored = run.ledger.GetJobState(run.r.job_id);
  const bool keep = stored.ok() && ((control != 0 && *stored != kJobRunning) ||
                                    !CheckMailJobTransition(run.r.job_id, *stored, final_state).ok());
  if (keep) return absl::OkStatus();
  return run.ledger.SetJobState(run.r.job_id, final_state);
}

}  // namespace

absl::StatusOr<MailReport> MailJob::Run() {
  MailJobRuntime& r = *runtime_;
  const absl::Time start = absl::Now();
  if (!r.spec.test_to.empty()) return RunTestSend(r, start);

  MailRun run(r, r.store->mail_ledgers());
  if (auto s = RequeueDeadClaims(run, true); !s.ok()) return s;
  if (auto s = run.ledger.SetJobState(r.job_id, kJobRunning); !s.ok()) return s;
  // control is not reset here: a Pause() or Stop() made before this run
  // started (the desk's Abort right after its Start) stops it before it
  // claims anyone. The end of a run consumes the signal it ended on.

  int64_t done_before = 0, total = 0;
  if (auto counts = run.ledger.CountStates(r.job_id); counts.ok()) {
    for (const auto& [state_value, n] : *counts) {
      total += n;
      if (state_value != RecipientState::kPending && state_value != RecipientState::kSending) done_before += n;
    }
  }
  // Batches of about one second's worth when throttled: keeps the in-flight set small.
  run.limit = r.options.batch_size;
  if (r.messages_per_hour > 0) {
    run.limit = static_cast<int>(std::clamp<int64_t>(r.messages_per_hour / 3600, 1, run.limit));
  }
  run.running = r.options.workers;
  std::vector<std::thread> threads;
  for (int i = 0; i < r.options.workers; ++i) threads.emplace_back(SendWorker, std::ref(run), i);
  auto progress = [&] {
    r.options.progress(MailProgress{total, done_before + r.sent + r.failed + r.skipped, r.sent.load(),
                                    absl::Now() - start});
  };
  absl::Time last_progress = absl::InfinitePast();
  while (run.running.load() > 0) {
    absl::SleepFor(std::min(r.options.progress_interval, absl::Milliseconds(50)));
    if (r.options.progress && absl::Now() - last_progress >= r.options.progress_interval) {
      last_progress = absl::Now();
      progress();
    }
  }
  for (auto& t : threads) t.join();
  if (r.options.progress) progress();

  // The signal is consumed, so that Run() again resumes.
  const int control = r.control.exchange(0);
  if (auto s = RecordFinalState(run, control); !s.ok()) return s;
  if (absl::Status error = run.Error(); !error.ok()) return error;
  auto report = BuildReport(r, absl::Now() - start, run.requeued.load(), run.first_trace);
  if (report.ok() && control == 3 && !r.abort_reason.empty()) {
    report->failed_by_reason["(job aborted: " + r.abort_reason + ")"] = 0;
  }
  return report;
}

std::string MailReport::ToText() const {
  std::string out = Cat("job ", job_id, ": ", state, "\n");
  CatTo(out, "  recipients        ", recipients, "\n");
  CatTo(out, "  sent              ", sent, " (", sent_this_run, " this run)\n");
  CatTo(out, "  failed            ", failed, "\n");
  for (const auto& [reason, n] : failed_by_reason) CatTo(out, "    ", reason, ": ", n, "\n");
  CatTo(out, "  skipped           ", skipped, "\n");
  for (const auto& [reason, n] : skipped_by_reason) CatTo(out, "    ", reason, ": ", n, "\n");
  CatTo(out, "  opted out         ", opted_out, "\n");
  CatTo(out, "  invalid addresses ", invalid_addresses, "\n");
  CatTo(out, "  pending           ", pending, "\n");
  if (requeued_in_flight > 0) CatTo(out, "  requeued in flight ", requeued_in_flight, "\n");
  CatTo(out, "  duration          ", absl::FormatDuration(duration), "\n");
  CatTo(out, "  rate              ", static_cast<int64_t>(rate), " messages/s\n");
  CatTo(out, "  transport         ", transport, "\n");
  if (!worker_id.empty()) CatTo(out, "  worker id         ", worker_id, "\n");
  if (!trace.empty()) CatTo(out, "trace of the first batch:\n", trace);
  return out;
}

std::string MailReport::ToJson() const {
  nlohmann::json j;
  j["job_id"] = job_id;
  j["state"] = state;
  j["recipients"] = recipients;
  j["sent"] = sent;
  j["sent_this_run"] = sent_this_run;
  j["failed"] = failed;
  j["failed_by_reason"] = failed_by_reason;
  j["skipped"] = skipped;
  j["skipped_by_reason"] = skipped_by_reason;
  j["opted_out"] = opted_out;
  j["invalid_addresses"] = invalid_addresses;
  j["pending"] = pending;
  j["requeued_in_flight"] = requeued_in_flight;
  j["worker_id"] = worker_id;
  j["duration_seconds"] = absl::ToDoubleSeconds(duration);
  j["rate"] = rate;
  j["transport"] = transport;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace herald
