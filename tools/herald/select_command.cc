// herald select: one ad (or discount-ad) decision, with TraceScores.
#include <iostream>

#include "absl/time/clock.h"
#include "catalog_source.h"
#include "commands.h"
#include "fmt/format.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/selection.h"
#include "herald/spelling.h"
#include "herald/store.h"
#include "json_output.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace herald::cli {

namespace {

struct SelectArgs {
  std::string catalog;
  std::vector<std::string> page_groups;
  std::string size;
  int count = 1;
  std::string user, session;
  std::vector<std::string> profile, context, page_history;
  std::string at;
  std::string store;
  std::string pipeline;  // --pipeline FILE; empty = the built-in pipeline
  bool trace = false, json = false, discounts = false;
  int repeat = 1;
};

// A page group or size the catalog does not declare would select nothing,
// silently: it is a usage error naming the nearest declared one.
absl::Status CheckRequestNames(const v1::Catalog& catalog, const SelectArgs& a, const std::string& where) {
  std::vector<std::string> groups, sizes;
  for (const auto& g : catalog.reference_tables().page_groups()) groups.push_back(g.name());
  for (const auto& z : catalog.reference_tables().content_sizes()) sizes.push_back(z.name());
  for (const std::string& group : a.page_groups) {
    if (absl::Status s = CheckKnownName("page group", group, groups); !s.ok()) {
      return absl::InvalidArgumentError(Cat("--page-group: ", s.message(), " in ", where));
    }
  }
  if (!a.size.empty()) {
    if (absl::Status s = CheckKnownName("content size", a.size, sizes); !s.ok()) {
      return absl::InvalidArgumentError(Cat("--size: ", s.message(), " in ", where));
    }
  }
  return absl::OkStatus();
}

int Run(const SelectArgs& a, CommandEnv& env) {
  auto source = LoadCommandCatalog(a.catalog, a.store, *env.registry);
  if (!source.ok()) {
    std::cerr << source.status().message() << "\n";
    return absl::IsInvalidArgument(source.status()) && a.catalog.empty() ? 2 : 1;
  }
  absl::StatusOr<v1::Catalog> catalog = std::move(source->catalog);
  auto user = ParseProfileAssignments(*catalog, "user", a.profile);
  auto context = ParseProfileAssignments(*catalog, "context", a.context);
  if (!user.ok() || !context.ok()) {
    std::cerr << "herald select: " << (!user.ok() ? user.status() : context.status()).message() << "\n";
    return 2;
  }
  if (absl::Status known = CheckRequestNames(*catalog, a, source->name); !known.ok()) {
    return ReportError("select", known, a.json, 2);
  }
  auto compiled = CompiledCatalog::Compile(*catalog);
  if (!compiled.ok()) {
    std::cerr << source->name << ": " << compiled.status().message() << "\n";
    return 1;
  }
  SelectionRequest request;
  request.page_groups = a.page_groups;
  request.size = a.size;
  request.count = a.count;
  request.user_id = a.user;
  request.session_id = a.session;
  request.user = &*user;
  request.context = &*context;
  request.page_history = a.page_history;
  request.trace = a.trace;
  request.discounts = a.discounts;
  request.record = !a.store.empty();
  if (!a.at.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, a.at, &request.time, &err)) {
      std::cerr << "herald select: --at \"" << a.at << "\" is not an RFC 3339 time (2026-06-01T17:00:00Z)\n";
      return 2;
    }
  }
  std::unique_ptr<Store> store;
  if (!a.store.empty()) {
    auto opened = OpenStore(a.store, *env.registry);
    if (!opened.ok()) {
      std::cerr << "herald select: " << opened.status().message() << "\n";
      return 1;
    }
    store = std::move(*opened);
  }
  SelectorConfig config;
  config.registry = env.registry;
  config.store = store.get();
  v1::PipelineDefinition pipeline;
  if (!a.pipeline.empty()) {
    auto loaded = LoadSelectionPipeline(a.pipeline, *env.registry);
    if (!loaded.ok()) {
      std::cerr << "herald select: " << loaded.status().message() << "\n";
      return 1;
    }
    pipeline = *std::move(loaded);
    (a.discounts ? config.discounts : config.advertising) = &pipeline;
  }
  auto selector = NewContentSelector(*compiled, config);
  if (!selector.ok()) {
    std::cerr << "herald select: " << selector.status().message() << "\n";
    return 1;
  }
  nlohmann::json out = nlohmann::json::array();
  for (int r = 0; r < a.repeat; ++r) {
    auto result = (*selector)->Select(request);
    if (!result.ok()) {
      std::cerr << "herald select: " << result.status().message() << "\n";
      return 1;
    }
    if (a.json) {
      nlohmann::json decision;
      decision["winners"] = nlohmann::json::array();
      for (const auto& w : result->winners) {
        decision["winners"].push_back({{"item_id", w.item_id}, {"name", w.name},
                                       {"campaign_id", w.campaign_id}, {"kind", w.kind},
                                       {"score", w.score}, {"click_url", w.click_url},
                                       {"html", w.html}});
      }
      if (a.trace) decision["trace"] = nlohmann::json::parse(result->trace.ToJson(), nullptr, false);
      out.push_back(std::move(decision));
      continue;
    }
    if (a.repeat > 1) std::cout << "request " << r + 1 << ":\n";
    if (result->winners.empty()) std::cout << "no winners\n";
    for (size_t i = 0; i < result->winners.size(); ++i) {
      const auto& w = result->winners[i];
      std::cout << fmt::format("{}. {} \"{}\" ({}, campaign {}) score {:.4f}\n   {}\n", i + 1,
                               w.item_id, w.name, w.kind, w.campaign_id, w.score, w.html);
    }
    if (a.trace) std::cout << "trace:\n" << result->trace.ToText();
  }
  if (a.json) std::cout << (a.repeat == 1 ? out[0] : out).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (absl::Status s = (*selector)->Flush(); !s.ok()) {
    std::cerr << "herald select: recording failed: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void AddSelectCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<SelectArgs>();
  auto* cmd = app.add_subcommand("select", "choose ads for a page and explain the decision (TraceScores)");
  cmd->add_option("--catalog", a->catalog, "catalog file (default: the current catalog of --store)");
  cmd->add_option("--page-group", a->page_groups, "page group(s) of the page");
  cmd->add_option("--size", a->size, "content size name");
  cmd->add_option("--count", a->count, "winners wanted")->check(CLI::Range(1, 100));
  cmd->add_option("--user", a->user, "user id (history, exposure limits)");
  cmd->add_option("--session", a->session, "session id");
  cmd->add_option("--profile", a->profile, "user attribute name=value (repeatable)");
  cmd->add_option("--context", a->context, "context attribute name=value (repeatable)");
  cmd->add_option("--page-history", a->page_history, "item ids already on the page");
  cmd->add_option("--at", a->at, "request time, RFC 3339 (default: now)");
  cmd->add_option("--store", a->store, "record into this store (sqlite path or postgresql://); default: a dry run");
  cmd->add_option("--repeat", a->repeat, "run the same request N times")->check(CLI::Range(1, 1000000));
  cmd->add_option("--pipeline", a->pipeline,
                  "run this selection pipeline definition (textproto) instead of the built-in one "
                  "(the discount pipeline with --discounts); see docs/pipelines.md");
  cmd->add_flag("--discounts", a->discounts, "select discount ads instead of ads");
  cmd->add_flag("--trace", a->trace, "print every candidate's fate and scores");
  cmd->add_flag("--json", a->json, "JSON output");
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
