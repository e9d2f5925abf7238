#include "json_output.h"

#include <iostream>

#include "google/protobuf/util/json_util.h"

namespace herald::cli {

void PrintJson(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  std::cout.flush();
}

nlohmann::json ProtoToJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

int ReportError(std::string_view command, const absl::Status& status, bool json, int exit_code) {
  const std::string message(status.message().data(), status.message().size());
  std::cerr << "herald " << command << ": " << message << "\n";
  if (json) {
    PrintJson({{"error",
                {{"command", std::string(command)},
                 {"code", absl::StatusCodeToString(status.code())},
                 {"message", message}}}});
  }
  return exit_code;
}

int ExitCodeOf(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace herald::cli
