// herald: the command-line program. See docs/cli.md.
#include <cstdio>
#include <iostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "commands.h"
#include "core/input_check.h"
#include "herald/builtins.h"
#include "herald/plugin.h"
#include "herald/store_postgres.h"
#include "herald/version.h"
#include "json_output.h"
#include "usage_errors.h"

namespace {

// Passes what a stream writes through, noting that it wrote and keeping the
// last few kilobytes: with --json, an error printed only as text on std::cerr
// (a usage error found before the command ran, a path that does not build a
// status) still becomes the error document on stdout that scripts read,
// unless the command already wrote its document there.
class StreamTap : public std::streambuf {
 public:
  explicit StreamTap(std::streambuf* out) : out_(out) {}
  bool written() const {
    absl::MutexLock lock(&mu_);
    return written_;
  }
  std::string text() const {
    absl::MutexLock lock(&mu_);
    return kept_;
  }

 protected:
  int overflow(int c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    absl::MutexLock lock(&mu_);  // mail's worker threads may write at once
    Keep(std::string_view(&ch, 1));
    return out_->sputc(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    absl::MutexLock lock(&mu_);
    Keep(std::string_view(s, static_cast<size_t>(n)));
    return out_->sputn(s, n);
  }
  int sync() override {
    absl::MutexLock lock(&mu_);
    return out_->pubsync();
  }

 private:
  static constexpr size_t kKeep = 4096;
  void Keep(std::string_view s) {
    written_ = written_ || !s.empty();
    kept_.append(s);
    if (kept_.size() > 2 * kKeep) kept_.erase(0, kept_.size() - kKeep);
  }
  mutable absl::Mutex mu_;
  std::streambuf* const out_;
  bool written_ = false;
  std::string kept_;
};

// The subcommand named in argv ("herald" when none is), for the error document.
std::string CommandIn(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == argv[i]) return sub->get_name();
    }
  }
  return "herald";
}

int Run(int argc, char** argv, CLI::App& app);

}  // namespace

// With --json anywhere on the command line, a failure always ends with one
// {"error":{...}} document on stdout, whichever path reported it.
int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) json = json || std::string_view(argv[i]) == "--json";
  std::streambuf* const stderr_buf = std::cerr.rdbuf();
  std::streambuf* const stdout_buf = std::cout.rdbuf();
  StreamTap err(stderr_buf), out(stdout_buf);
  if (json) {
    std::cerr.rdbuf(&err);
    std::cout.rdbuf(&out);
  }
  CLI::App app{"herald: campaigns for storefronts (ads, discounts, direct mail, conversions)"};
  int code = Run(argc, argv, app);
  std::cout.flush();
  std::cerr.rdbuf(stderr_buf);
  std::cout.rdbuf(stdout_buf);
  if (json && code != 0 && !out.written()) {
    std::string message = err.text();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (message.empty()) message = "failed with exit code " + std::to_string(code);
    herald::cli::PrintJson({{"error",
                             {{"command", CommandIn(app, argc, argv)},
                              {"code", code == 2 ? "INVALID_ARGUMENT" : "UNKNOWN"},
                              {"message", message}}}});
  }
  return code;
}

namespace {

int Run(int argc, char** argv, CLI::App& app) {
  using herald::cli::ExplainParseError;
#ifdef NDEBUG
  // absl::Mutex's lock-order graph is a debugging aid (Debian's abseil keeps
  // it on); a release build does not pay for it on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  app.require_subcommand(1);
  app.set_version_flag("--version", "herald " HERALD_VERSION_STRING);
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
  herald::cli::AddCatalogCommand(app, env);
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
  herald::cli::AddForgetCommand(app, env);
  herald::cli::AddPersonalDataCommand(app, env);

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

}  // namespace
