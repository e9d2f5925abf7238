// Mail jobs from the desk: a direct-mail item's job started, paused, resumed
// and aborted on this server, in background threads; its progress read from
// the job's ledger in the store, so that every server shows the same.
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "desk/desk_internal.h"
#include "herald/mail.h"

namespace herald::desk_internal {

namespace {

// A path a desk job may read: relative, inside the files folder.
absl::Status CheckDeskPath(std::string_view what, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  const bool escapes = path.front() == '/' || path == ".." || absl::StartsWith(path, "../") ||
                       absl::StrContains(path, "/../") || absl::EndsWith(path, "/..");
  if (escapes) {
    return absl::InvalidArgumentError(absl::StrCat(AV(what), " \"", path,
                                                   "\": a desk job reads files only by relative paths inside "
                                                   "desk_mail.files_dir"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MailJobSpec> DeskMailJobSpec(const v1::Catalog& catalog, const v1::CampaignItem& item,
                                            const DeskOptions& options) {
  MailJobSpec spec;
  spec.item_id = item.id();
  spec.job_id = item.id();
  spec.mail = item.direct_mail();
  spec.site_opt_out_list = catalog.site_opt_out_list();
  spec.site_opt_out_store_list = catalog.site_opt_out_store_list();
  spec.base_dir = options.mail_files_dir;
  const v1::DirectMail& mail = spec.mail;
  if (mail.message().has_url() && !options.mail_url_messages) {
    return absl::FailedPreconditionError(absl::StrCat(
        "direct-mail item \"", item.id(), "\" fetches its message from a URL; desk jobs do that only when the "
        "server allows it (desk_mail.allow_url_messages)"));
  }
  std::vector<std::pair<std::string_view, std::string>> files = {
      {"recipients.csv_path", mail.recipients().csv_path()},
      {"opt_out_list", mail.opt_out_list()},
      {"the catalog's site_opt_out_list", catalog.site_opt_out_list()},
      {"message.file", mail.message().file()}};
  for (const v1::Attachment& a : mail.attachments()) files.push_back({"attachments.path", a.path()});
  for (const auto& [what, path] : files) {
    if (path.empty()) continue;
    if (options.mail_files_dir.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "direct-mail item \"", item.id(), "\": ", AV(what), " names a file (\"", path,
          "\"); desk jobs read files only from the server's desk_mail.files_dir, which is not set (or use List "
          "Manager lists)"));
    }
    if (absl::Status s = CheckDeskPath(what, path); !s.ok()) return s;
  }
  return spec;
}

// One job run on this server.
struct MailJobRunner::Run {
  std::unique_ptr<MailJob> job;
  std::thread thread;
  std::string started_by;
  absl::Time started;
  bool done = false;                  // guarded by MailJobRunner::mu_
  std::string error;                  // guarded by MailJobRunner::mu_
  std::optional<MailReport> report;   // guarded by MailJobRunner::mu_
};

MailJobRunner::MailJobRunner(Store& store, const DeskOptions& options) : store_(store), options_(options) {}

MailJobRunner::~MailJobRunner() {
  std::map<std::string, std::unique_ptr<Run>> runs;
  {
    absl::MutexLock lock(&mu_);
    runs.swap(runs_);
  }
  // Pausing leaves the job resumable here or on any server: the recipients
  // of the batches in flight are recorded before the threads end.
  for (auto& [id, run] : runs) run->job->Pause();
  for (auto& [id, run] : runs) {
    if (run->thread.joinable()) run->thread.join();
  }
}

absl::Status MailJobRunner::Start(const v1::Catalog& catalog, const v1::CampaignItem& item, std::string_view user) {
  if (options_.mail_transport == nullptr || options_.registry == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no mail transport for the desk's jobs: start it with --mail-maildir DIR or "
        "--mail-smtp URL (desk_mail in the server config)");
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(item.id());
    if (it != runs_.end() && !it->second->done) {
      return absl::FailedPreconditionError(
          absl::StrCat("mail job \"", item.id(), "\" is already running on this server"));
    }
  }
  auto spec = DeskMailJobSpec(catalog, item, options_);
  if (!spec.ok()) return spec.status();
  MailerOptions mailer;
  mailer.registry = options_.registry;
  mailer.store = &store_;
  mailer.transport = options_.mail_transport;
  mailer.workers = options_.mail_workers;
  mailer.batch_size = options_.mail_batch_size;
  mailer.unsubscribe_secret = options_.unsubscribe_secret;
  // The last run's report stays until this one exists.
  auto job = MailJob::Create(std::move(*spec), std::move(mailer));
  if (!job.ok()) return job.status();
  auto run = std::make_unique<Run>();
  run->job = std::move(*job);
  run->started_by = std::string(user);
  run->started = absl::Now();
  Run* raw = run.get();
  std::unique_ptr<Run> finished;  // the last run here, joined outside the lock
  {
    absl::MutexLock lock(&mu_);
    if (auto it = runs_.find(item.id()); it != runs_.end()) {
      if (!it->second->done) {  // another start won the race
        return absl::FailedPreconditionError(
            absl::StrCat("mail job \"", item.id(), "\" is already running on this server"));
      }
      finished = std::move(it->second);
    }
    runs_[item.id()] = std::move(run);
    raw->thread = std::thread([this, raw] {
      absl::StatusOr<MailReport> report = raw->job->Run();
      absl::MutexLock done_lock(&mu_);
      raw->done = true;
      if (report.ok()) {
        raw->report = std::move(*report);
      } else {
        raw->error = std::string(report.status().message());
      }
    });
  }
  if (finished != nullptr && finished->thread.joinable()) finished->thread.join();
  return absl::OkStatus();
}

absl::Status MailJobRunner::Signal(std::string_view item_id, std::string_view state) {
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(std::string(item_id));
    if (it != runs_.end() && !it->second->done) {
      if (state == kJobPaused) it->second->job->Pause();
      if (state == kJobStopped) it->second->job->Stop();
    }
  }
  // The stored state tells every other server running the job too.
  return SetMailJobState(store_, item_id, state);
}

MailJobRunner::Local MailJobRunner::Status(std::string_view item_id) {
  absl::MutexLock lock(&mu_);
  Local out;
  auto it = runs_.find(std::string(item_id));
  if (it == runs_.end()) return out;
  const Run& run = *it->second;
  out.known = true;
  out.running = !run.done;
  out.error = run.error;
  out.report = run.report;
  out.started_by = run.started_by;
  out.started = run.started;
  return out;
}

namespace {

absl::StatusOr<nlohmann::json> JobStatus(const DeskEnv& env, const v1::CampaignItem& item) {
  MailLedgerStore& ledger = env.store.mail_ledgers();
  nlohmann::json out = {{"item", item.id()}, {"name", item.name()}, {"job", item.id()}};
  auto state = ledger.GetJobState(item.id());
  if (!state.ok() && !absl::IsNotFound(state.status())) return state.status();
  out["state"] = state.ok() ? *state : std::string("none");
  int64_t total = 0, sent = 0, failed = 0, skipped = 0, pending = 0;
  if (state.ok()) {
    auto counts = ledger.CountStates(item.id());
    if (!counts.ok()) return counts.status();
    for (const auto& [s, n] : *counts) {
      total += n;
      switch (s) {
        case RecipientState::kSent: sent += n; break;
        case RecipientState::kFailed: failed += n; break;
        case RecipientState::kSkipped: skipped += n; break;
        case RecipientState::kPending:
        case RecipientState::kSending: pending += n; break;
      }
    }
  }
  MailJobRunner::Local local = env.mail.Status(item.id());
  out.update({{"running", local.running},
              {"total", total},
              {"sent", sent},
              {"failed", failed},
              {"skipped", skipped},
              {"pending", pending},
              {"transport", env.options.mail_transport != nullptr ? env.options.mail_transport->Describe() : ""},
              {"error", local.error}});
  if (local.known) {
    out["startedBy"] = local.started_by;
    out["started"] = absl::FormatTime(absl::RFC3339_sec, local.started, absl::UTCTimeZone());
  }
  if (local.report.has_value()) out["report"] = nlohmann::json::parse(local.report->ToJson(), nullptr, false);
  return out;
}

struct ItemInCatalog {
  v1::Catalog catalog;
  const v1::CampaignItem* item = nullptr;
};

absl::StatusOr<ItemInCatalog> FindItem(const DeskEnv& env, std::string_view id) {
  ItemInCatalog out;
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return catalog.status();
  out.catalog = std::move(*catalog);
  auto item = FindDirectMailItem(out.catalog, id);
  if (!item.ok()) return item.status();
  out.item = *item;
  return out;
}

WebReply StatusReply(const DeskEnv& env, const v1::CampaignItem& item, int http_status) {
  auto status = JobStatus(env, item);
  if (!status.ok()) return ErrorReply(status.status());
  return JsonReply(http_status, *status);
}

}  // namespace

WebReply ListMailJobs(const DeskEnv& env, Call& call) {
  (void)call;
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return ErrorReply(catalog.status());
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& campaign : catalog->campaigns()) {
    for (const auto& item : campaign.items()) {
      if (!item.has_direct_mail()) continue;
      auto status = JobStatus(env, item);
      if (!status.ok()) return ErrorReply(status.status());
      jobs.push_back(std::move(*status));
    }
  }
  return JsonReply(200, {{"jobs", jobs}});
}

WebReply GetMailJob(const DeskEnv& env, Call& call) {
  auto found = FindItem(env, call.params[0]);
  if (!found.ok()) return ErrorReply(found.status());
  return StatusReply(env, *found->item, 200);
}

WebReply StartMailJob(const DeskEnv& env, Call& call) {
  auto found = FindItem(env, call.params[0]);
  if (!found.ok()) return ErrorReply(found.status());
  if (absl::Status s = env.mail.Start(found->catalog, *found->item, call.user()); !s.ok()) return ErrorReply(s);
  (void)Audit(env.accounts, call.user(), "mail_job.start", absl::StrCat("mail job \"", found->item->id(), "\""), "",
              call.now);
  return StatusReply(env, *found->item, 202);
}

namespace {

// Pauses or stops the job (`state`), audited as `action`.
WebReply SignalJob(const DeskEnv& env, const Call& call, std::string_view state, std::string_view action) {
  auto found = FindItem(env, call.params[0]);
  if (!found.ok()) return ErrorReply(found.status());
  if (absl::Status s = env.mail.Signal(found->item->id(), state); !s.ok()) return ErrorReply(s);
  (void)Audit(env.accounts, call.user(), action, absl::StrCat("mail job \"", found->item->id(), "\""), "", call.now);
  return StatusReply(env, *found->item, 200);
}

}  // namespace

WebReply PauseMailJob(const DeskEnv& env, Call& call) { return SignalJob(env, call, kJobPaused, "mail_job.pause"); }

WebReply AbortMailJob(const DeskEnv& env, Call& call) { return SignalJob(env, call, kJobStopped, "mail_job.abort"); }

}  // namespace herald::desk_internal
