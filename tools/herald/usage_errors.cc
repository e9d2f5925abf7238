#include "usage_errors.h"

#include <cctype>

#include "herald/spelling.h"

namespace herald::cli {

namespace {

bool LooksLikeNumber(const std::string& arg) {
  return arg.size() > 1 && arg[0] == '-' && (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
}

// Every spelling of the options of `cmd`: --long and -s.
std::vector<std::string> FlagNames(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* option : cmd.get_options()) {
    for (const std::string& l : option->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : option->get_snames()) names.push_back("-" + s);
  }
  return names;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : names) {
    if (n == name) return true;
  }
  return false;
}

// Hints for the arguments of subcommand `cmd` (args[first..]) that name no flag of it.
std::string FlagHints(const CLI::App& cmd, const std::vector<std::string>& args, size_t first) {
  const std::vector<std::string> names = FlagNames(cmd);
  std::string hints;
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-' || LooksLikeNumber(arg)) continue;
    const std::string name = arg.substr(0, arg.find('='));
    if (Contains(names, name)) continue;
    if (!hints.empty()) hints += "\n";
    hints += "herald: unknown flag " + name + " for \"herald " + cmd.get_name() + "\"" + DidYouMean(name, names);
  }
  return hints;
}

}  // namespace

std::string ExplainParseError(const CLI::App& app, const CLI::ParseError& error,
                              const std::vector<std::string>& args) {
  const std::string plain = std::string("herald: ") + error.what();
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
  }
  const std::vector<std::string> global_flags = FlagNames(app);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() > 1 && arg[0] == '-') {
      // A global option's value is not a subcommand (--plugin FILE).
      const std::string name = arg.substr(0, arg.find('='));
      if (name == "--plugin" && arg.find('=') == std::string::npos) ++i;
      else if (!Contains(global_flags, name) && !Contains(commands, name)) {
        return "herald: unknown flag " + name + DidYouMean(name, global_flags) +
               " (flags of a command come after its name)";
      }
      continue;
    }
    if (Contains(commands, arg)) {
      const CLI::App* cmd = app.get_subcommand(arg);
      std::string hints = cmd == nullptr ? std::string() : FlagHints(*cmd, args, i + 1);
      return hints.empty() ? plain : hints;
    }
    std::string near = DidYouMean(arg, commands);
    return "herald: unknown command \"" + arg + "\"" + near + " (commands: " + [&] {
      std::string list;
      for (const std::string& c : commands) list += (list.empty() ? "" : ", ") + c;
      return list;
    }() + ")";
  }
  return plain;
}

}  // namespace herald::cli
