// ConversionExporter (the prepare-and-sync run), ExportSchedule and reports.
#include <algorithm>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "conversion/run.h"
#include "core/process_owner.h"
#include "core/strings.h"
#include "google/protobuf/util/json_util.h"
#include "herald/conversion.h"
#include "herald/spelling.h"
#include "herald/store.h"

namespace herald {

namespace {

// Takes the lease `name` for `owner`; a holder that is a process of this
// host that no longer exists is released first (the mail ledger's rule for
// claims, core/process_owner.h), so a killed exporter's successor needs not
// wait for the ttl. Sets `taken_from` to the dead holder.
absl::StatusOr<bool> TakeLease(WatermarkStore& marks, const std::string& name, const std::string& owner,
                               absl::Duration ttl, std::string& taken_from) {
  auto held = marks.TryLease(name, owner, ttl);
  if (!held.ok() || *held) return held;
  auto holder = marks.LeaseHolder(name);
  if (!holder.ok()) return holder.status();
  if (holder->empty() || !internal::IsDeadLocalOwner(*holder)) return false;
  // Conditional on the owner: a live process that took it meanwhile keeps it.
  if (absl::Status s = marks.ReleaseLease(name, *holder); !s.ok()) return s;
  held = marks.TryLease(name, owner, ttl);
  if (held.ok() && *held) taken_from = *holder;
  return held;
}

}  // namespace

std::string ExportReport::ToText() const {
  std::string out;
  CatTo(out, "destination ", destination, ": ", state, "\n");
  CatTo(out, "  watermark        ", watermark_before, " -> ", watermark_after, "\n");
  CatTo(out, "  interactions     ", interactions_read, "\n");
  CatTo(out, "  conversions      ", conversions, "\n");
  CatTo(out, "  delivered        ", delivered, "\n");
  CatTo(out, "  duplicates       ", duplicates, " (counted as delivered)\n");
  CatTo(out, "  invalid          ", invalid, "\n");
  for (const auto& [k, v] : invalid_by_reason) CatTo(out, "    ", k, ": ", v, "\n");
  CatTo(out, "  failed           ", failed, "\n");
  for (const auto& [k, v] : failed_by_reason) CatTo(out, "    ", k, ": ", v, "\n");
  CatTo(out, "  no consent       ", no_consent, " (not sent: the person's consent does not allow this destination)\n");
  for (const auto& [k, v] : no_consent_by_reason) CatTo(out, "    ", k, ": ", v, "\n");
  if (!identifiers_dropped.empty()) {
    CatTo(out, "  identifiers dropped (not sent, the rest of the event was)\n");
    for (const auto& [k, v] : identifiers_dropped) CatTo(out, "    ", k, ": ", v, "\n");
  }
  CatTo(out, "  pending          ", transient, " (transient failures: sent again next run)\n");
  CatTo(out, "  requests         ", requests, " (", retries, " retries, ", splits, " splits)\n");
  CatTo(out, "  audience members ", audience_members, "\n");
  if (audience_no_consent > 0) {
    CatTo(out, "  audience no consent ", audience_no_consent, " (delivered, kept out of the audience by their consent)\n");
  }
  if (!stop_reason.empty()) CatTo(out, "  stopped because  ", stop_reason, "\n");
  if (!lease_taken_over_from.empty()) {
    CatTo(out, "  lease taken over from ", lease_taken_over_from, " (process gone)\n");
  }
  CatTo(out, "  duration         ", absl::FormatDuration(duration), "\n");
  for (const std::string& r : rejects) CatTo(out, "  reject: ", r, "\n");
  if (!trace.empty()) CatTo(out, "trace:\n", trace);
  return out;
}

std::string ExportReport::ToJson() const {
  nlohmann::json j;
  j["destination"] = destination;
  j["state"] = state;
  j["watermark_before"] = watermark_before;
  j["watermark_after"] = watermark_after;
  j["interactions_read"] = interactions_read;
  j["conversions"] = conversions;
  j["delivered"] = delivered;
  j["duplicates"] = duplicates;
  j["invalid"] = invalid;
  j["invalid_by_reason"] = invalid_by_reason;
  j["failed"] = failed;
  j["failed_by_reason"] = failed_by_reason;
  j["no_consent"] = no_consent;
  j["no_consent_by_reason"] = no_consent_by_reason;
  j["identifiers_dropped"] = identifiers_dropped;
  j["pending"] = transient;
  j["requests"] = requests;
  j["retries"] = retries;
  j["splits"] = splits;
  j["audience_members"] = audience_members;
  j["audience_no_consent"] = audience_no_consent;
  j["rejects"] = rejects;
  j["stop_reason"] = stop_reason;
  if (!lease_taken_over_from.empty()) j["lease_taken_over_from"] = lease_taken_over_from;
  j["duration_seconds"] = absl::ToDoubleSeconds(duration);
  if (!trace.empty()) j["trace"] = trace;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct ConversionExporter::Runner {
  std::unique_ptr<Pipeline<ExportContext>> pipeline;
  absl::Mutex mu;  // serializes RunOnce in this process (the lease does across processes)
};

ConversionExporter::ConversionExporter(ExporterOptions options)
    : options_(std::move(options)), runner_(std::make_unique<Runner>()) {}
ConversionExporter::~ConversionExporter() = default;

absl::StatusOr<std::unique_ptr<ConversionExporter>> ConversionExporter::Create(ExporterOptions options) {
  if (options.registry == nullptr) return absl::InvalidArgumentError("ConversionExporter: registry is required");
  if (options.store == nullptr) return absl::InvalidArgumentError("ConversionExporter: store is required");
  if (options.destination == nullptr) {
    return absl::InvalidArgumentError("ConversionExporter: destination is required");
  }
  if (options.destination_name.empty()) {
    return absl::InvalidArgumentError("ConversionExporter: destination_name is required");
  }
  if (options.page_size <= 0) return absl::InvalidArgumentError("ConversionExporter: page_size must be positive");
  if (options.lease_ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ConversionExporter: lease_ttl must be positive");
  }
  if (options.owner.empty()) options.owner = internal::NewLocalOwnerId();
  const v1::PipelineDefinition& def =
      options.pipeline != nullptr ? *options.pipeline : DefaultConversionPipeline();
  auto pipeline = Pipeline<ExportContext>::Create(def, CreateContext{options.registry, {}, options.store},
                                                  def.name().empty() ? "conversion pipeline" : def.name());
  if (!pipeline.ok()) return pipeline.status();
  auto exporter = std::unique_ptr<ConversionExporter>(new ConversionExporter(std::move(options)));
  exporter->runner_->pipeline = std::move(*pipeline);
  return exporter;
}

namespace {

// The new watermark after a page: the last record before the first event
// still unfinished (transient or live), which sets `held_back`.
int64_t NextWatermark(const ExportContext& ctx, int64_t watermark, bool& held_back) {
  int64_t next = watermark;
  size_t ev = 0;
  for (const v1::InteractionRecord& r : ctx.records) {
    while (ev < ctx.events.size() && ctx.events[ev].sequence < r.sequence()) ++ev;
    if (ev < ctx.events.size() && ctx.events[ev].sequence == r.sequence() &&
        (ctx.events[ev].state == EventState::kTransient || ctx.events[ev].state == EventState::kLive)) {
      held_back = true;
      break;
    }
    next = r.sequence();
  }
  return next;
}

enum class PageOutcome { kNextPage, kDone };

// Exports page `page`, the records after `watermark`, through the pipeline,
// and moves the watermark (stored and in the report) past those finished.
// kDone when the run ends here: no more records, a short page, a stop, or an
// error (then in `failure`).
PageOutcome ExportPage(Pipeline<ExportContext>& pipeline, ExportRun& run, WatermarkStore& marks,
                       int64_t page, int64_t total, int64_t& watermark, absl::Status& failure) {
  const ExporterOptions& o = *run.options;
  ExportReport& report = run.report;
  auto records = o.store->interactions().ReadInteractions(watermark, o.page_size);
  if (!records.ok()) {
    failure = records.status();
    return PageOutcome::kDone;
  }
  if (records->empty()) return PageOutcome::kDone;
  report.interactions_read += static_cast<int64_t>(records->size());
  ExportContext ctx;
  Trace trace;
  if (o.trace && page == 0) ctx.trace = &trace;
  ctx.run = &run;
  ctx.destination = o.destination;
  ctx.records = std::move(*records);
  ctx.now = o.clock ? o.clock() : absl::Now();
  absl::Status status = pipeline.Run(ctx);
  if (ctx.trace != nullptr) report.trace = trace.ToText(false);
  if (o.progress) o.progress(report.interactions_read, total > 0 ? std::max(total, report.interactions_read) : 0);
  if (!status.ok()) {
    failure = status;
    return PageOutcome::kDone;
  }
  bool held_back = false;
  const int64_t next = NextWatermark(ctx, watermark, held_back);
  if (next > watermark) {
    if (absl::Status s = marks.SetWatermark(o.destination_name, next); !s.ok()) {
      failure = s;
      return PageOutcome::kDone;
    }
    watermark = next;
    report.watermark_after = next;
  }
  if (held_back || ctx.stop) {
    report.state = "pending";
    report.stop_reason = ctx.stop_reason.empty() ? "transient failures hold the watermark" : ctx.stop_reason;
    return PageOutcome::kDone;
  }
  if (static_cast<int>(ctx.records.size()) < o.page_size) return PageOutcome::kDone;
  return PageOutcome::kNextPage;
}

}  // namespace

absl::StatusOr<ExportReport> ConversionExporter::RunOnce() {
  absl::MutexLock serialized(&runner_->mu);
  const ExporterOptions& o = options_;
  const absl::Time started = absl::Now();
  ExportRun run;
  run.options = &o;
  run.sleep = o.sleep ? o.sleep : [](absl::Duration d) { absl::SleepFor(d); };
  for (const v1::ConversionAction& a : o.actions) {
    run.actions.try_emplace(ExportRun::ActionKey(a.issue(), a.group(), a.name()), &a);
  }
  ExportReport& report = run.report;
  report.destination = o.destination_name;
  WatermarkStore& marks = o.store->watermarks();
  const std::string lease = Cat("conversion-export/", o.destination_name);

  auto held = TakeLease(marks, lease, o.owner, o.lease_ttl, report.lease_taken_over_from);
  if (!held.ok()) return held.status();
  auto wm = marks.GetWatermark(o.destination_name);
  if (!wm.ok()) {
    (void)marks.ReleaseLease(lease, o.owner);
    return wm.status();
  }
  report.watermark_before = report.watermark_after = *wm;
  if (!*held) {
    report.state = "busy";
    report.stop_reason = "another exporter holds the lease of this destination";
    report.duration = absl::Now() - started;
    return report;
  }
  int64_t watermark = *wm;
  absl::Status failure;
  report.state = "completed";
  // The work of this run, for the progress line only: records appended while
  // it runs are exported too, so `read` may end above `total`.
  int64_t total = 0;
  if (o.progress) {
    auto pending = o.store->interactions().CountInteractions(watermark);
    if (pending.ok()) total = *pending;
  }
  for (int64_t page = 0; o.max_pages == 0 || page < o.max_pages; ++page) {
    if (page > 0) {
      auto renewed = marks.TryLease(lease, o.owner, o.lease_ttl);
      if (!renewed.ok()) {
        failure = renewed.status();
        break;
      }
      if (!*renewed) {
        report.state = "stopped";
        report.stop_reason = "lost the lease to another exporter";
        break;
      }
    }
    if (ExportPage(*runner_->pipeline, run, marks, page, total, watermark, failure) == PageOutcome::kDone) break;
  }
  (void)marks.ReleaseLease(lease, o.owner);
  report.duration = absl::Now() - started;
  if (!failure.ok()) {
    return absl::Status(failure.code(), Cat("export to ", o.destination_name, ": ", failure.message()));
  }
  return report;
}

struct ExportSchedule::Thread {
  absl::Notification stop;
  std::thread thread;
};

ExportSchedule::ExportSchedule(ConversionExporter* exporter, absl::Duration interval)
    : exporter_(exporter), interval_(interval) {}

ExportSchedule::~ExportSchedule() { Stop(); }

void ExportSchedule::Start() {
  if (thread_ != nullptr) return;
  thread_ = std::make_unique<Thread>();
  thread_->thread = std::thread([this, stop = &thread_->stop] {
    do {
      absl::StatusOr<ExportReport> report = exporter_->RunOnce();
      runs_.fetch_add(1);
      if (on_report_) on_report_(report);
    } while (!stop->WaitForNotificationWithTimeout(interval_));
  });
}

void ExportSchedule::Stop() {
  if (thread_ == nullptr) return;
  thread_->stop.Notify();
  thread_->thread.join();
  thread_.reset();
}

absl::StatusOr<std::unique_ptr<Destination>> CreateDestination(const v1::ExportJobConfig& job,
                                                               const CreateContext& context) {
  if (context.registry == nullptr) return absl::InvalidArgumentError("CreateDestination: no registry");
  if (job.destination_type().empty()) {
    return absl::InvalidArgumentError(Cat("export job ", job.destination(), ": destination_type is required"));
  }
  auto factory = context.registry->Find("destination", job.destination_type());
  if (!factory.ok()) return factory.status();
  auto config = (*factory)->CreateEmptyConfig();
  if (!job.destination_json_config().empty()) {
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = false;
    // Enum values as in flags too ("jsonl" for FILE_FORMAT_JSONL: herald/spelling.h).
    auto st = google::protobuf::util::JsonStringToMessage(
        NormalizeJsonEnums(job.destination_json_config(), *config->GetDescriptor()), config.get(), opts);
    if (!st.ok()) {
      return absl::InvalidArgumentError(Cat("export job ", job.destination(), ": destination config: ",
                                            std::string(st.message().data(), st.message().size())));
    }
  }
  return context.registry->Create<Destination>(job.destination_type(), *config, context);
}

IdentifierHasher* RunHasher(ExportContext& ctx) { return ctx.run == nullptr ? nullptr : &ctx.run->hasher; }

}  // namespace herald
