#include "core/strings.h"
#include "core/proto_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/util/json_util.h"
#include "herald/spelling.h"

namespace herald {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = err != 0 ? std::strerror(err) : "cannot open";
    if (err == ENOENT) return absl::NotFoundError(Cat(path, ": ", why));
    if (err == EACCES) return absl::PermissionDeniedError(Cat(path, ": ", why));
    return absl::InvalidArgumentError(Cat(path, ": ", why));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(Cat(path, ": read failed"));
  return buffer.str();
}

namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string_view source) : source_(source) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(Cat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {}
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::Status ParseTextProto(std::string_view text, std::string_view source,
                            google::protobuf::Message* message,
                            google::protobuf::TextFormat::ParseInfoTree* locations) {
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors(source);
  parser.RecordErrorsTo(&errors);
  if (locations != nullptr) parser.WriteLocationsTo(locations);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (!parser.Parse(&input, message)) {
    if (errors.errors().empty()) {
      return absl::InvalidArgumentError(Cat(source, ": cannot parse as ",
                                                     message->GetDescriptor()->full_name()));
    }
    return absl::InvalidArgumentError(Join(errors.errors(), "\n"));
  }
  return absl::OkStatus();
}

absl::Status ParseJsonProto(std::string_view text, std::string_view source,
                            google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  // Enum values may be spelled as in flags ("accepted" for OUTCOME_ACCEPTED).
  const std::string normalized = NormalizeJsonEnums(text, *message->GetDescriptor());
  auto status = google::protobuf::util::JsonStringToMessage(normalized, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        Cat(source, ": invalid JSON for ", message->GetDescriptor()->full_name(), ": ",
                     std::string(status.message())));
  }
  return absl::OkStatus();
}

bool IsJsonPath(std::string_view path) {
  return absl::EndsWithIgnoreCase(AbslView(path), ".json");
}

}  // namespace herald
