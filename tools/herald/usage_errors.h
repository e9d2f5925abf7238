// Command-line usage errors with "did you mean": CLI11's parse errors for an
// unknown subcommand or flag, rewritten to name the nearest valid one.
#ifndef HERALD_TOOLS_USAGE_ERRORS_H_
#define HERALD_TOOLS_USAGE_ERRORS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace herald::cli {

// The message for `error` thrown by app.parse(): CLI11's own, plus for each
// unexpected argument the nearest subcommand (at the top level) or flag (of
// the subcommand being parsed), e.g.
//   herald: unknown flag --ctalog for "herald select"; did you mean --catalog?
// `args` are the arguments as given (without the program name).
std::string ExplainParseError(const CLI::App& app, const CLI::ParseError& error,
                              const std::vector<std::string>& args);

}  // namespace herald::cli

#endif  // HERALD_TOOLS_USAGE_ERRORS_H_
