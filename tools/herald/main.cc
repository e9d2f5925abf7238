// herald: the command-line program. See docs/cli.md.
#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "commands.h"
#include "core/input_check.h"
#include "herald/builtins.h"
#include "herald/plugin.h"
#include "herald/store_postgres.h"
#include "usage_errors.h"

int main(int argc, char** argv) {
  using herald::cli::ExplainParseError;
#ifdef NDEBUG
  // absl::Mutex's lock-order graph is a debugging aid (Debian's abseil keeps
  // it on); a release build does not pay for it on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  // Every argument is text that Herald may store, compare with catalog ids
  // or print as JSON: one that is not UTF-8 is refused here, once for all
  // commands, naming the option it belongs to.
  for (int i = 1; i < argc; ++i) {
    if (herald::IsValidUtf8(argv[i])) continue;
    std::string option = i > 1 && argv[i - 1][0] == '-' ? std::string(argv[i - 1]) : "argument";
    std::cerr << "herald: " << option << " \"" << herald::EscapeInvalidUtf8(argv[i])
              << "\" is not valid UTF-8 (argument " << i << ")\n";
    return 2;
  }
  CLI::App app{"herald: campaigns for storefronts (ads, discounts, direct mail, conversions)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "herald 0.1.0");
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins, "load a plugin .so before running (repeatable)");

  herald::Registry registry;
  herald::cli::CommandEnv env;
  env.registry = &registry;
  if (absl::Status s = herald::RegisterBuiltins(&registry); !s.ok()) {
    std::cerr << "herald: " << s.message() << "\n";
    return 1;
  }
  // The CLI ships the PostgreSQL store (a separate library; see docs/operations.md).
  if (absl::Status s = herald::RegisterPostgresStore(&registry); !s.ok()) {
    std::cerr << "herald: " << s.message() << "\n";
    return 1;
  }
  // Plugins load before any subcommand callback runs.
  app.parse_complete_callback([&] {
    for (const std::string& path : plugins) {
      auto loaded = herald::LoadPlugin(path, &registry);
      if (!loaded.ok()) {
        throw CLI::RuntimeError(std::string("herald: ") + std::string(loaded.status().message()), 1);
      }
    }
  });

  herald::cli::AddValidateCommand(app, env);
  herald::cli::AddComponentsCommand(app, env);
  herald::cli::AddExprCommand(app, env);
  herald::cli::AddSelectCommand(app, env);
  herald::cli::AddReportCommand(app, env);
  herald::cli::AddPriceCommand(app, env);
  herald::cli::AddMailCommand(app, env);
  herald::cli::AddCaptureCommand(app, env);
  herald::cli::AddExportCommand(app, env);
  herald::cli::AddSimulateCommand(app, env);
  herald::cli::AddServeCommand(app, env);
  herald::cli::AddClickCommand(app, env);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    std::cerr << e.what() << "\n";
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::vector<std::string> args(argv + 1, argv + argc);
    std::cerr << ExplainParseError(app, e, args) << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::exception& e) {
    // The commands return errors as statuses; this is the last guard so
    // that a missed exception is an error message, never an abort.
    std::cerr << "herald: internal error: " << herald::EscapeInvalidUtf8(e.what()) << "\n";
    return 1;
  }
  return env.exit_code;
}
