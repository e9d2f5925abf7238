// The `--json` convention of every herald command: results as one JSON
// document on stdout; errors as text on stderr and, with --json, also as
// {"error":{"command":"select","code":"INVALID_ARGUMENT","message":"..."}} on
// stdout, so a script reads one document whatever happened.
#ifndef HERALD_TOOLS_JSON_OUTPUT_H_
#define HERALD_TOOLS_JSON_OUTPUT_H_

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace herald::cli {

// Prints `value` indented by two spaces, and a newline, on stdout. Invalid
// UTF-8 in strings is replaced (U+FFFD), never thrown.
void PrintJson(const nlohmann::json& value);

// A message in proto3 JSON (field names as in the .proto, enums by full name).
nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// "herald COMMAND: message" on stderr, and with `json` the error object on
// stdout. Returns `exit_code` (1: the input or the work failed; 2: usage).
int ReportError(std::string_view command, const absl::Status& status, bool json, int exit_code = 1);

// The exit code of a failed status: 2 for InvalidArgument (bad usage or
// input named on the command line), else 1.
int ExitCodeOf(const absl::Status& status);

}  // namespace herald::cli

#endif  // HERALD_TOOLS_JSON_OUTPUT_H_
