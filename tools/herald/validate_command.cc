// herald validate FILE... [--pipeline] [--selection-pipeline P] [--json]: checks catalogs (and
// pipeline definitions). Text: one line per file ("FILE: ok: ..." on stdout,
// every issue with its line on stderr). --json: one document on stdout,
//   {"ok": false, "files": [{"file": F, "ok": true, "summary": "..."},
//                           {"file": G, "ok": false, "issues": [{"line": 3, "path": "...", "message": "..."}]}]}
#include <iostream>

#include "commands.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/pipeline.h"
#include "herald/selection.h"
#include "herald/privacy.h"
#include "json_output.h"

namespace herald::cli {

namespace {

struct FileResult {
  bool ok = false;
  std::string summary;              // when ok
  std::vector<CatalogIssue> issues;  // when not ok, as values when known
  std::string error;                // when not ok and no issue values
  std::vector<std::string> warnings;  // the file is valid, but ...
};

// The advertising pipeline a catalog is checked against.
struct AdsPipeline {
  v1::PipelineDefinition definition = DefaultAdvertisingPipeline();
  std::string name = "the built-in advertising pipeline";
};

// Warnings when rendered ads or discount ads would link straight to the
// advertiser, so that a site showing their html records no clicks.
void WarnAboutClickTracking(const v1::Catalog& catalog, const AdsPipeline& ads,
                            std::vector<std::string>* warnings) {
  for (bool discounts : {false, true}) {
    const v1::PipelineDefinition& pipeline = discounts ? DefaultDiscountPipeline() : ads.definition;
    std::vector<std::string> items = ItemsLinkingPastTheSite(catalog, pipeline, discounts);
    if (items.empty()) continue;
    warnings->push_back(
        std::to_string(items.size()) + (discounts ? " discount ads" : " ads") + " (\"" + items.front() + "\"" +
        (items.size() > 1 ? ", ..." : "") + ") link straight to their click_url: " +
        (discounts ? std::string("the built-in discount pipeline") : ads.name) +
        " has no click redirect, so clicks on the rendered html are never recorded (click-goaled pacing, "
        "reports); set FormatTemplate's click_redirect (docs/pipelines.md, \"Recording clicks\")");
  }
}

FileResult ValidatePipeline(const std::string& file, CommandEnv& env) {
  FileResult result;
  PipelineLines lines;
  auto def = LoadPipelineDefinition(file, &lines);
  if (!def.ok()) {
    result.error = std::string(def.status().message());
    return result;
  }
  if (const FamilyInfo* family = FindFamily(def->family()); family != nullptr) {
    CreateContext cc;
    cc.registry = env.registry;
    auto slots = internal::BuildPipeline(*def, *family, cc, file, &lines);
    if (!slots.ok()) {
      result.error = std::string(slots.status().message());
      return result;
    }
  }
  int components = 0;
  for (const auto& stage : def->stages()) components += stage.components_size();
  result.ok = true;
  result.summary = def->family() + " pipeline \"" + def->name() + "\", " + std::to_string(def->stages_size()) +
                   " stages, " + std::to_string(components) + " components";
  return result;
}

FileResult ValidateCatalogFile(const std::string& file, const AdsPipeline& ads) {
  FileResult result;
  auto catalog = LoadCatalog(file, &result.issues);
  if (!catalog.ok()) {
    result.error = std::string(catalog.status().message());
    return result;
  }
  // Compiling catches what only the compiled form checks (finite pacing schedules).
  auto compiled = CompiledCatalog::Compile(*catalog);
  if (!compiled.ok()) {
    result.error = file + ": " + std::string(compiled.status().message());
    return result;
  }
  result.ok = true;
  result.summary = SummarizeCatalog(*catalog);
  WarnAboutClickTracking(*catalog, ads, &result.warnings);
  for (const CatalogIssue& w : CatalogWarnings(*catalog, file)) {  // SPONSOR entries (docs/pacing.md)
    std::string_view message = w.message;
    if (message.starts_with("warning: ")) message.remove_prefix(9);
    result.warnings.push_back(w.path + ": " + std::string(message));
  }
  return result;
}

nlohmann::json ToJson(const std::string& file, const FileResult& r) {
  nlohmann::json out = {{"file", file}, {"ok", r.ok}};
  if (r.ok) {
    out["summary"] = r.summary;
    if (!r.warnings.empty()) out["warnings"] = r.warnings;
    return out;
  }
  nlohmann::json issues = nlohmann::json::array();
  for (const CatalogIssue& issue : r.issues) {
    issues.push_back({{"line", issue.line}, {"path", issue.path}, {"message", issue.message}});
  }
  if (issues.empty()) issues.push_back({{"line", 0}, {"path", ""}, {"message", r.error}});
  out["issues"] = std::move(issues);
  return out;
}

}  // namespace

void AddValidateCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("validate", "check catalogs or pipeline definitions; print every error");
  auto files = std::make_shared<std::vector<std::string>>();
  auto pipeline = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  cmd->add_option("FILE", *files, "catalog (.textproto or .json)")->required();
  cmd->add_flag("--pipeline", *pipeline, "the files are pipeline definitions");
  cmd->add_flag("--json", *json, "one JSON document: every file's summary or issues");
  auto ads_file = std::make_shared<std::string>();
  cmd->add_option("--selection-pipeline", *ads_file,
                  "check the catalogs against this advertising pipeline, as select/simulate --pipeline "
                  "run it (default: the built-in one)");
  cmd->callback([files, pipeline, json, ads_file, &env] {
    AdsPipeline ads;
    if (!ads_file->empty()) {
      auto loaded = LoadSelectionPipeline(*ads_file, *env.registry);
      if (!loaded.ok()) {
        env.exit_code = ReportError("validate", loaded.status(), *json);
        return;
      }
      ads.definition = *std::move(loaded);
      ads.name = "the pipeline " + *ads_file;
    }
    int failed = 0;
    nlohmann::json results = nlohmann::json::array();
    for (const std::string& file : *files) {
      FileResult r = *pipeline ? ValidatePipeline(file, env) : ValidateCatalogFile(file, ads);
      if (!r.ok) ++failed;
      if (*json) {
        results.push_back(ToJson(file, r));
      } else if (r.ok) {
        std::cout << file << ": ok: " << r.summary << "\n";
        for (const std::string& w : r.warnings) std::cerr << file << ": warning: " << w << "\n";
      } else {
        std::cerr << r.error << "\n";
      }
    }
    // A broken personal-data key ring is an error here, before a store is opened with it; the
    // plaintext mode is a warning. The default (hashes only) is a note where stores open, not here:
    // validating a catalog says nothing about the catalog when all is well (docs/operations.md).
    auto personal = PersonalDataOptionsFromEnvironment();
    if (!personal.ok()) {
      std::cerr << "herald validate: personal data: " << personal.status().message() << "\n";
      ++failed;
    } else if (std::string w = PersonalDataWarning(*personal, {}); w.starts_with("WARNING")) {
      std::cerr << "herald validate: " << w << "\n";
    }
    if (*json) PrintJson({{"ok", failed == 0}, {"files", std::move(results)}});
    env.exit_code = failed == 0 ? 0 : 1;
  });
}

}  // namespace herald::cli
