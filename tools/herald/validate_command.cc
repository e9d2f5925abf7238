// herald validate FILE...: checks catalogs (and pipeline definitions).
#include <iostream>

#include "commands.h"
#include "herald/catalog.h"
#include "herald/pipeline.h"
#include "herald/campaign_cache.h"

namespace herald::cli {

void AddValidateCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("validate", "check catalogs or pipeline definitions; print every error");
  auto files = std::make_shared<std::vector<std::string>>();
  auto pipeline = std::make_shared<bool>(false);
  cmd->add_option("FILE", *files, "catalog (.textproto or .json)")->required();
  cmd->add_flag("--pipeline", *pipeline, "the files are pipeline definitions");
  cmd->callback([files, pipeline, &env] {
    int failed = 0;
    for (const std::string& file : *files) {
      if (*pipeline) {
        auto def = LoadPipelineDefinition(file);
        if (!def.ok()) {
          std::cerr << def.status().message() << "\n";
          ++failed;
          continue;
        }
        const FamilyInfo* family = FindFamily(def->family());
        CreateContext cc;
        cc.registry = env.registry;
        absl::Status built = absl::OkStatus();
        if (family != nullptr) {
          auto slots = internal::BuildPipeline(*def, *family, cc, file);
          if (!slots.ok()) built = slots.status();
        }
        if (!built.ok()) {
          std::cerr << built.message() << "\n";
          ++failed;
          continue;
        }
        int components = 0;
        for (const auto& stage : def->stages()) components += stage.components_size();
        std::cout << file << ": ok: " << def->family() << " pipeline \"" << def->name() << "\", "
                  << def->stages_size() << " stages, " << components << " components\n";
        continue;
      }
      std::vector<CatalogIssue> issues;
      auto catalog = LoadCatalog(file, &issues);
      if (!catalog.ok()) {
        std::cerr << catalog.status().message() << "\n";
        ++failed;
        continue;
      }
      // Compiling catches what only the compiled form checks (finite pacing schedules).
      auto compiled = CompiledCatalog::Compile(*catalog);
      if (!compiled.ok()) {
        std::cerr << file << ": " << compiled.status().message() << "\n";
        ++failed;
        continue;
      }
      std::cout << file << ": ok: " << SummarizeCatalog(*catalog) << "\n";
    }
    env.exit_code = failed == 0 ? 0 : 1;
  });
}

}  // namespace herald::cli
