// herald report NAME --store URI [--catalog FILE] [--from DATE] [--to DATE]
//                    [--campaign NAME] [--format table|csv|json|html] [-o FILE]
//
// Runs one of the campaign reports (herald/report.h) over a store's events.
// Dates are "YYYY-MM-DD" (whole days, --to inclusive), "YYYY-MM-DDTHH:MM" or
// RFC 3339, in the catalog's time zone (--time-zone overrides; UTC without a
// catalog). A SQLite store is opened read-only and must exist; a PostgreSQL
// store needs a CLI built with herald_store_postgres
// (HERALD_CLI_WITH_POSTGRES).
#include <fstream>
#include <iostream>
#include <sys/stat.h>

#include "catalog_source.h"
#include "commands.h"
#include "core/strings.h"
#include "core/time_util.h"
#include "herald/catalog.h"
#include "herald/report.h"
#include "herald/store.h"
#include "json_output.h"
#ifdef HERALD_CLI_WITH_POSTGRES
#include "herald/store_postgres.h"
#endif

namespace herald::cli {
namespace {

struct ReportArgs {
  std::string name;
  std::string store;
  std::string catalog;
  std::string from, to;
  std::string campaign;
  std::string format = "table";
  std::string output;
  std::string time_zone;
  bool json = false;  // --json: --format json, and errors as JSON
};

absl::Status RunReportCommand(const ReportArgs& args, CommandEnv& env) {
  v1::Catalog catalog;
  ReportOptions options;
  // The catalog file, else the store's current catalog when it holds one.
  bool have_catalog = false;
  {
    auto source = LoadCommandCatalog(args.catalog, args.store, *env.registry);
    if (source.ok()) {
      catalog = std::move(source->catalog);
      options.catalog = &catalog;
      have_catalog = true;
    } else if (!args.catalog.empty() || !absl::IsNotFound(source.status())) {
      return source.status();
    }
  }
  if (!args.campaign.empty() && !have_catalog) {
    // Without the catalog an unknown campaign and one without events look the same.
    return absl::InvalidArgumentError(
        "--campaign needs a catalog (--catalog, or a store holding one) to tell an unknown campaign from one "
        "without events");
  }
  if (!have_catalog && args.time_zone.empty()) {
    std::cerr << "herald report: no catalog or --time-zone: days are cut in UTC\n";
  }
  options.campaign = args.campaign;
  options.time_zone = args.time_zone;
  auto zone = LoadZone(!args.time_zone.empty() ? args.time_zone : catalog.time_zone());
  if (!zone.ok()) return zone.status();
  if (!args.from.empty()) {
    auto t = ParseCatalogTime(args.from, *zone, /*end_of_day=*/false);
    if (!t.ok()) return absl::InvalidArgumentError(Cat("--from: ", t.status().message()));
    options.from = *t;
  }
  if (!args.to.empty()) {
    auto t = ParseCatalogTime(args.to, *zone, /*end_of_day=*/true);
    if (!t.ok()) return absl::InvalidArgumentError(Cat("--to: ", t.status().message()));
    options.to = *t;
  }
  if (options.from >= options.to) {
    return absl::InvalidArgumentError("--from must be before --to");
  }

  const bool postgres = args.store.starts_with("postgresql://") || args.store.starts_with("postgres://");
#ifdef HERALD_CLI_WITH_POSTGRES
  if (postgres) {
    if (absl::Status s = RegisterPostgresStore(env.registry); !s.ok()) return s;
  }
#endif
  OpenStoreOptions open;
  open.read_only = true;  // reports never create or migrate a store
  if (!postgres && args.store != "memory") {
    std::string path = args.store.starts_with("sqlite:") ? args.store.substr(7) : args.store;
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) {
      return absl::NotFoundError(Cat("store ", path, ": no such file"));
    }
  }
  auto store = OpenStore(args.store, *env.registry, open);
  if (!store.ok()) return store.status();

  auto table = RunReport(args.name, **store, options);
  if (!table.ok()) return table.status();
  ReportCharts charts;
  if (args.format == "html") {
    auto built = BuildReportCharts((*store)->events(), options);
    if (!built.ok()) return built.status();
    charts = std::move(*built);
  }
  auto rendered = RenderReport(*table, args.json ? "json" : args.format, &charts);
  if (!rendered.ok()) return rendered.status();
  if (args.output.empty() || args.output == "-") {
    std::cout << *rendered;
    std::cout.flush();
    return absl::OkStatus();
  }
  std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
  out << *rendered;
  out.close();
  if (!out) return absl::UnavailableError(Cat("cannot write ", args.output));
  return absl::OkStatus();
}

}  // namespace

void AddReportCommand(CLI::App& app, CommandEnv& env) {
  std::string names;
  for (const ReportInfo& r : ReportNames()) CatTo(names, "\n  ", r.name, "  ", r.title);
  auto* cmd = app.add_subcommand(
      "report", Cat("a campaign report from stored events; NAME is one of:", names));
  auto args = std::make_shared<ReportArgs>();
  std::vector<std::string> valid;
  for (const ReportInfo& r : ReportNames()) valid.emplace_back(r.name);
  cmd->add_option("NAME", args->name, "the report")->required()->check(CLI::IsMember(valid));
  cmd->add_option("--store", args->store,
                  "the store: a SQLite file (sqlite:PATH) or postgresql://...")
      ->required();
  cmd->add_option("--catalog", args->catalog, "the catalog, for names and goals (default: the store's, if any)");
  cmd->add_option("--from", args->from, "first day (YYYY-MM-DD) or time included");
  cmd->add_option("--to", args->to, "last day included (YYYY-MM-DD), or a time excluded");
  cmd->add_option("--campaign", args->campaign, "one campaign, by id or name");
  cmd->add_option("--format", args->format, "table, csv, json or html")
      ->check(CLI::IsMember({"table", "csv", "json", "html"}));
  cmd->add_option("-o,--output", args->output, "write to this file instead of stdout");
  cmd->add_option("--time-zone", args->time_zone, "IANA zone cutting days (default: the catalog's)");
  cmd->add_flag("--json", args->json, "JSON output (--format json); errors as JSON too");
  cmd->callback([args, &env] {
    absl::Status s = RunReportCommand(*args, env);
    if (!s.ok()) {
      env.exit_code = ReportError("report", s, args->json, ExitCodeOf(s));
      return;
    }
    env.exit_code = 0;
  });
}

}  // namespace herald::cli
