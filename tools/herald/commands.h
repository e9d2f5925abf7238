// The `herald` CLI's subcommands. Each Add*Command registers one subcommand on
// `app`; its callback runs the work and stores the process exit code in
// env.exit_code (0 success, 1 the input or the work failed, 2 usage).
#ifndef HERALD_TOOLS_COMMANDS_H_
#define HERALD_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "herald/model/pipeline.pb.h"
#include "herald/registry.h"

namespace herald::cli {

struct CommandEnv {
  Registry* registry = nullptr;   // built-ins plus --plugin files, loaded before any callback runs
  int exit_code = 0;
};

void AddValidateCommand(CLI::App& app, CommandEnv& env);    // validate_command.cc
void AddCatalogCommand(CLI::App& app, CommandEnv& env);     // catalog_command.cc
void AddComponentsCommand(CLI::App& app, CommandEnv& env);  // components_command.cc
void AddExprCommand(CLI::App& app, CommandEnv& env);        // expr_command.cc
void AddSelectCommand(CLI::App& app, CommandEnv& env);      // select_command.cc
void AddReportCommand(CLI::App& app, CommandEnv& env);      // report_command.cc
void AddPriceCommand(CLI::App& app, CommandEnv& env);       // price_command.cc
void AddMailCommand(CLI::App& app, CommandEnv& env);        // mail_command.cc
void AddCaptureCommand(CLI::App& app, CommandEnv& env);     // capture_command.cc
void AddExportCommand(CLI::App& app, CommandEnv& env);      // export_command.cc
void AddSimulateCommand(CLI::App& app, CommandEnv& env);  // simulate_command.cc
void AddServeCommand(CLI::App& app, CommandEnv& env);     // serve_command.cc
void AddClickCommand(CLI::App& app, CommandEnv& env);     // click_command.cc
void AddForgetCommand(CLI::App& app, CommandEnv& env);        // privacy_command.cc
void AddPersonalDataCommand(CLI::App& app, CommandEnv& env);  // privacy_command.cc

// --pipeline FILE of select and simulate (pipeline_option.cc): loads a
// selection pipeline definition and builds it once with `registry`, so that
// every error names FILE:line before a selector is made.
absl::StatusOr<v1::PipelineDefinition> LoadSelectionPipeline(const std::string& path,
                                                             const Registry& registry);

}  // namespace herald::cli

#endif  // HERALD_TOOLS_COMMANDS_H_
