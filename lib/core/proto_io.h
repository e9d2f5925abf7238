// Internal: reading protobuf messages from textproto and JSON files with
// errors that name the file, line and column.
#ifndef HERALD_LIB_CORE_PROTO_IO_H_
#define HERALD_LIB_CORE_PROTO_IO_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace herald {

// Reads a whole file. NotFound / PermissionDenied name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses textproto `text` into `message`. Errors read
// "<source>:<line>:<column>: <message>" (1-based), all of them, one a line.
// When `locations` is given it receives the parse locations of every field.
absl::Status ParseTextProto(std::string_view text, std::string_view source,
                            google::protobuf::Message* message,
                            google::protobuf::TextFormat::ParseInfoTree* locations = nullptr);

// Parses JSON (proto3 JSON mapping) into `message`; unknown fields are errors.
absl::Status ParseJsonProto(std::string_view text, std::string_view source,
                            google::protobuf::Message* message);

// True when `path` ends in ".json" (case-insensitive).
bool IsJsonPath(std::string_view path);

}  // namespace herald

#endif  // HERALD_LIB_CORE_PROTO_IO_H_
