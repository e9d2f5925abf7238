// herald export: sends the conversions recorded since a destination's
// watermark to that destination (the prepare-and-sync job), once or on its
// schedule.
//
//   herald export --destination NAME --store PATH --catalog FILE --jobs FILE
//                 [--once] [--pipeline FILE] [--base-url URL] [--json] [--trace]
// The jobs file is a herald.v1.ExportJobs textproto; NAME picks one job
// (destination, destination_type, destination_json_config, schedule).
// --base-url replaces the base_url of the job's destination config (a
// sandbox, a proxy or a local stand-in instead of the platform), for any
// destination type whose config has a base_url field (meta, google_ads).
// Without --once the job runs every interval_seconds until interrupted, and
// only when its schedule_enabled is true (the schedule is off by default).
// Credentials come from the environment variables or files the destination
// config names; they are never printed. With --once, exit status 1 also when
// the run delivered nothing because of transient failures (the conversions
// stay pending and the next run sends them).
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/synchronization/notification.h"
#include "catalog_source.h"
#include "commands.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "herald/catalog.h"
#include "herald/conversion.h"
#include "herald/privacy.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"
#include "progress.h"

namespace herald::cli {

namespace {

struct ExportArgs {
  std::string destination, store, catalog, jobs, pipeline, base_url;
  bool once = false, json = false, trace = false;
  ProgressFlags progress;
};

int Fail(std::string_view message, int code = 1) {
  std::cerr << "herald export: " << message << "\n";
  return code;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The job with its destination config's base_url replaced by `base_url`.
absl::StatusOr<v1::ExportJobConfig> WithBaseUrl(const v1::ExportJobConfig& job, const std::string& base_url,
                                                const Registry& registry) {
  auto factory = registry.Find("destination", job.destination_type());
  if (!factory.ok()) return factory.status();
  auto config = (*factory)->CreateEmptyConfig();
  if (config->GetDescriptor()->FindFieldByName("base_url") == nullptr) {
    return absl::InvalidArgumentError("--base-url: destination type \"" + job.destination_type() +
                                      "\" has no base_url");
  }
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError("--base-url must start with http:// or https://");
  }
  auto json = nlohmann::json::parse(job.destination_json_config().empty() ? std::string("{}")
                                                                           : job.destination_json_config(),
                                    nullptr, false);
  if (!json.is_object()) {
    return absl::InvalidArgumentError("export job " + job.destination() + ": destination_json_config is not a JSON object");
  }
  json.erase("base_url");
  json["baseUrl"] = base_url;
  v1::ExportJobConfig out = job;
  out.set_destination_json_config(json.dump());
  return out;
}

// After a run: raw identifiers past the retention that every job's
// destination has exported become hashes (docs/operations.md, "Retention").
// A failure is reported and does not fail the export.
void ExpireAfterExport(Store& store, const v1::ExportJobs& jobs) {
  int64_t lowest = INT64_MAX;
  for (const auto& job : jobs.jobs()) {
    auto mark = store.watermarks().GetWatermark(job.destination());
    if (!mark.ok()) {
      std::cerr << "herald export: retention: " << mark.status().message() << "\n";
      return;
    }
    lowest = std::min(lowest, *mark);
  }
  auto options = PersonalDataOptionsFromEnvironment(jobs.personal_data());
  if (!options.ok() || store.personal_data() == nullptr) return;
  auto expired = ExpireRawIdentifiers(store, *options, lowest);
  if (!expired.ok()) std::cerr << "herald export: retention: " << expired.status().message() << "\n";
}

absl::Notification* g_stop = nullptr;
extern "C" void OnSignal(int) {
  if (g_stop != nullptr && !g_stop->HasBeenNotified()) g_stop->Notify();
}

int Run(const ExportArgs& a, CommandEnv& env) {
  RegisterConversionComponents(env.registry);
  if (a.destination.empty() || a.store.empty() || a.jobs.empty()) {
    return Fail("--destination, --store and --jobs are required", 2);
  }
  std::ifstream in(a.jobs);
  if (!in) return Fail("cannot read " + a.jobs);
  std::stringstream text;
  text << in.rdbuf();
  v1::ExportJobs jobs;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &jobs)) {
    return Fail(a.jobs + ": not a herald.v1.ExportJobs textproto");
  }
  const v1::ExportJobConfig* job = nullptr;
  std::string names;
  for (const auto& j : jobs.jobs()) {
    names += (names.empty() ? "" : ", ") + j.destination();
    if (j.destination() == a.destination) job = &j;
  }
  if (job == nullptr) return Fail("no job for destination \"" + a.destination + "\" in " + a.jobs + " (jobs: " + names + ")");
  if (!a.once && !job->schedule_enabled()) {
    return Fail("the schedule of \"" + a.destination + "\" is not enabled (set schedule_enabled: true, or use --once)", 2);
  }
  v1::ExportJobConfig overridden;
  if (!a.base_url.empty()) {
    auto with = WithBaseUrl(*job, a.base_url, *env.registry);
    if (!with.ok()) return Fail(std::string(with.status().message()), 2);
    overridden = *std::move(with);
    job = &overridden;
  }
  auto source = LoadCommandCatalog(a.catalog, a.store, *env.registry);
  if (!source.ok()) return Fail(std::string(source.status().message()));
  absl::StatusOr<v1::Catalog> catalog = std::move(source->catalog);
  OpenStoreOptions open;
  open.personal_data = jobs.personal_data();
  auto store = OpenStore(a.store, *env.registry, open);
  if (!store.ok()) return Fail(std::string(store.status().message()));
  auto destination = CreateDestination(*job, CreateContext{env.registry, DirOf(a.jobs), store->get()});
  if (!destination.ok()) return Fail(std::string(destination.status().message()));
  v1::PipelineDefinition pipeline;
  ExporterOptions options;
  if (!a.pipeline.empty()) {
    auto def = LoadPipelineDefinition(a.pipeline);
    if (!def.ok()) return Fail(std::string(def.status().message()));
    pipeline = *def;
    options.pipeline = &pipeline;
  }
  options.registry = env.registry;
  options.store = store->get();
  options.destination = destination->get();
  options.destination_name = job->destination();
  options.actions.assign(catalog->actions().begin(), catalog->actions().end());
  if (job->page_size() > 0) options.page_size = job->page_size();
  if (job->lease_seconds() > 0) options.lease_ttl = absl::Seconds(job->lease_seconds());
  options.trace = a.trace;
  // The exporter reports interactions read of those pending after the
  // watermark when the run began (InteractionStore::CountInteractions), so the
  // line shows the rate and the time left; a store that cannot count gives no
  // total and the line shows the count and the rate.
  ProgressMeter meter("exporting", "interactions", a.progress);
  if (meter.enabled()) {
    options.progress = [&meter](int64_t read, int64_t total) { meter.Update(read, total); };
  }
  auto exporter = ConversionExporter::Create(std::move(options));
  if (!exporter.ok()) return Fail(std::string(exporter.status().message()));
  auto print = [&](const absl::StatusOr<ExportReport>& report) {
    meter.Finish();
    if (!report.ok()) {
      std::cerr << "herald export: " << report.status().message() << "\n";
      return;
    }
    std::cout << (a.json ? report->ToJson() + "\n" : report->ToText()) << std::flush;
    ExpireAfterExport(**store, jobs);
  };
  if (a.once) {
    auto report = (*exporter)->RunOnce();
    print(report);
    if (!report.ok()) return 1;
    if (report->DeliveredNothingForFaults()) {
      // A scheduler must see that the platform (or the way to it) is down.
      return Fail("nothing delivered: " + std::to_string(report->transient) +
                  " conversions pending after transient failures (" + report->stop_reason +
                  "); they are sent again next run");
    }
    return 0;
  }
  absl::Notification stop;
  g_stop = &stop;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ExportSchedule schedule(exporter->get(),
                          absl::Seconds(job->interval_seconds() > 0 ? job->interval_seconds() : 3600));
  schedule.OnReport(print);
  schedule.Start();
  stop.WaitForNotification();
  schedule.Stop();
  g_stop = nullptr;
  return 0;
}

}  // namespace

void AddExportCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "send new conversions to an ad platform or a file (once or on schedule)");
  cmd->add_option("--destination", a->destination, "the job's destination name (in --jobs)");
  cmd->add_option("--store", a->store, "store: sqlite path or postgresql://");
  cmd->add_option("--catalog", a->catalog,
                  "catalog (its actions say what counts as a conversion; default: the current catalog of --store)");
  cmd->add_option("--jobs", a->jobs, "export jobs (herald.v1.ExportJobs textproto)");
  cmd->add_option("--pipeline", a->pipeline, "conversion pipeline definition (default: the built-in)");
  cmd->add_option("--base-url", a->base_url,
                  "send to this base URL instead of the destination config's (a sandbox or a local stand-in)");
  cmd->add_flag("--once", a->once, "run once now instead of on the schedule");
  cmd->add_flag("--json", a->json, "JSON report");
  cmd->add_flag("--trace", a->trace, "include the first page's trace");
  AddProgressFlags(cmd, &a->progress);
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
