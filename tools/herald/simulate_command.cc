// herald simulate: a whole storefront on synthetic traffic (herald/simulation.h),
// then the reports.
//
//   herald simulate --catalog FILE [--out DIR] [--page-views N] [--days D]
//                   [--store URI] [--start YYYY-MM-DD] [--users N] [--click-rate R]
//                   [--checkout-rate R] [--purchase-rate R] [--seed N]
//                   [--lanes N] [--threads N]
//                   [--no-mail] [--no-export] [--json] [--html FILE]
//                   [--pipeline FILE]
//
// Progress (rate, time left) goes to stderr when it is a terminal, or with --progress. The same options
// and seed print the same reports (the closing "Time:" line aside).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "herald/simulation.h"
#include "json_output.h"
#include "progress.h"

namespace herald::cli {
namespace {

struct SimulateArgs {
  SimulationOptions options;
  std::string html;
  std::string pipeline;  // --pipeline FILE: the advertising pipeline; empty = built-in
  bool json = false, no_mail = false, no_export = false;
  ProgressFlags progress;
};

int Run(SimulateArgs& a, CommandEnv& env) {
  SimulationOptions options = a.options;
  options.registry = env.registry;
  options.send_mail = !a.no_mail;
  options.export_conversions = !a.no_export;
  options.charts = !a.html.empty();
  v1::PipelineDefinition pipeline;
  if (!a.pipeline.empty()) {
    auto loaded = LoadSelectionPipeline(a.pipeline, *env.registry);
    if (!loaded.ok()) return ReportError("simulate", loaded.status(), a.json);
    pipeline = *std::move(loaded);
    options.advertising_pipeline = &pipeline;
  }
  ProgressMeter meter("simulating", "page views", a.progress);
  if (meter.enabled()) options.progress = [&meter](int64_t done, int64_t total) { meter.Update(done, total); };
  auto report = RunSimulation(options);
  meter.Finish();
  if (!report.ok()) return ReportError("simulate", report.status(), a.json);
  if (!a.html.empty()) {
    std::ofstream out(a.html, std::ios::binary | std::ios::trunc);
    out << RenderSimulationHtml(*report);
    out.close();
    if (!out) {
      std::cerr << "herald simulate: cannot write " << a.html << "\n";
      return 1;
    }
  }
  std::cout << (a.json ? RenderSimulationJson(*report) : RenderSimulationText(*report));
  if (!a.html.empty() && !a.json) std::cout << "HTML report with charts: " << a.html << "\n";
  return 0;
}

}  // namespace

void AddSimulateCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<SimulateArgs>();
  a->options.out_dir = "herald-simulation";
  auto* cmd = app.add_subcommand(
      "simulate", "run a storefront on synthetic traffic (ads, clicks, baskets, capture, export, mail), then report");
  cmd->add_option("--catalog", a->options.catalog_path, "catalog file (default: the current catalog of --store)");
  cmd->add_option("--out", a->options.out_dir,
                  "directory for the SQLite store, Maildir and conversions file (only a previous simulation's outputs are replaced)")
      ->capture_default_str();
  cmd->add_option("--store", a->options.store_uri,
                  "store URI instead of DIR/herald.db: memory, sqlite:PATH, postgresql://...");
  cmd->add_option("--page-views", a->options.page_views, "page views to simulate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  cmd->add_option("--days", a->options.days, "simulated days")->capture_default_str()->check(CLI::Range(1, 366));
  cmd->add_option("--start", a->options.start, "first day, YYYY-MM-DD in the catalog's time zone")
      ->capture_default_str();
  cmd->add_option("--users", a->options.users, "distinct visitors")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  cmd->add_option("--click-rate", a->options.click_rate, "probability an ad shown is clicked")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--checkout-rate", a->options.checkout_rate, "share of page views that price a basket")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--purchase-rate", a->options.purchase_rate, "share of priced baskets bought")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", a->options.seed, "random seed: the same seed, the same reports")->capture_default_str();
  cmd->add_option("--lanes", a->options.lanes,
                  "lanes of traffic, each served like one server of the site (users partitioned); the reports "
                  "depend on the lanes, not on the threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--threads", a->options.threads, "threads serving the lanes (0 = one per core, at most --lanes)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_flag("--no-mail", a->no_mail, "skip the direct-mail jobs");
  cmd->add_flag("--no-export", a->no_export, "skip the conversion export");
  cmd->add_flag("--json", a->json, "print the reports as JSON");
  cmd->add_option("--pipeline", a->pipeline,
                  "serve the ads with this selection pipeline definition (textproto) instead of the "
                  "built-in one; see docs/pipelines.md");
  cmd->add_option("--html", a->html, "also write the reports with charts to this HTML file");
  AddProgressFlags(cmd, &a->progress);
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
