// herald components [--family F] [--json]: lists registered factories by
// family. --json: {"families": [{"family": F, "components": [{"name": N,
// "config": "herald.v1.X", "description": D}]}]}.
#include <iostream>

#include "commands.h"
#include "fmt/format.h"
#include "herald/spelling.h"
#include "json_output.h"

namespace herald::cli {

void AddComponentsCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("components", "list registered components and backends by family");
  auto family = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--family", *family, "only this family (selection, basket, mail, conversion, store, ...)");
  cmd->add_flag("--json", *json, "JSON output");
  cmd->callback([family, json, &env] {
    const Registry& registry = *env.registry;
    const std::vector<std::string> families = registry.Families();
    if (!family->empty()) {
      if (absl::Status known = CheckKnownName("family", *family, families); !known.ok()) {
        env.exit_code = ReportError("components", known, *json, 2);
        return;
      }
    }
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& f : families) {
      if (!family->empty() && f != *family) continue;
      nlohmann::json components = nlohmann::json::array();
      if (!*json) std::cout << f << ":\n";
      for (const FactoryBase* factory : registry.All()) {
        if (factory->family() != f) continue;
        const std::string config = factory->CreateEmptyConfig()->GetDescriptor()->full_name();
        if (*json) {
          components.push_back({{"name", factory->name()}, {"config", config}, {"description", factory->description()}});
        } else {
          std::cout << fmt::format("  {:<20} {:<38} {}\n", factory->name(), config, factory->description());
        }
      }
      out.push_back({{"family", f}, {"components", std::move(components)}});
    }
    if (*json) PrintJson({{"families", std::move(out)}});
    env.exit_code = 0;
  });
}

}  // namespace herald::cli
