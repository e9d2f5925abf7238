// herald components [--family F]: lists registered factories by family.
#include <iostream>

#include "commands.h"
#include "fmt/format.h"

namespace herald::cli {

void AddComponentsCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("components", "list registered components and backends by family");
  auto family = std::make_shared<std::string>();
  cmd->add_option("--family", *family, "only this family (selection, basket, mail, conversion, store, ...)");
  cmd->callback([family, &env] {
    const Registry& registry = *env.registry;
    bool any = false;
    for (const std::string& f : registry.Families()) {
      if (!family->empty() && f != *family) continue;
      any = true;
      std::cout << f << ":\n";
      for (const FactoryBase* factory : registry.All()) {
        if (factory->family() != f) continue;
        std::cout << fmt::format("  {:<20} {:<38} {}\n", factory->name(),
                                 factory->CreateEmptyConfig()->GetDescriptor()->full_name(),
                                 factory->description());
      }
    }
    if (!any) {
      std::cerr << "no components" << (family->empty() ? "" : " in family " + *family) << "\n";
      env.exit_code = 1;
    }
  });
}

}  // namespace herald::cli
