// The proto3 JSON mapping of a message, as google::protobuf::util::
// MessageToJsonString prints it with default options (compact, lowerCamelCase
// names, fields with default values left out, 64-bit integers as strings,
// enums by name), written straight from reflection into a string.
//
// Why: protobuf 3.21's printer serializes the message to binary and converts
// that through a stream of objects, a tenth of a decision's cost in
// `herald serve`. This walks the message once. Well-known types
// (google.protobuf.*: Timestamp, Struct, Any, wrappers, ...) and messages
// with a string that is not valid UTF-8 are printed by protobuf itself, so
// the output is protobuf's in every case; proto_json_test compares both on
// randomly filled messages of every type in the model.
//
// Thread-safety: a pure function of its arguments.
#ifndef HERALD_LIB_SERVER_PROTO_JSON_H_
#define HERALD_LIB_SERVER_PROTO_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace herald::server_internal {

// Appends the JSON of `message` to *out. An error only where protobuf's own
// printer fails (then *out is unspecified).
absl::Status AppendMessageJson(const google::protobuf::Message& message, std::string* out);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_PROTO_JSON_H_
