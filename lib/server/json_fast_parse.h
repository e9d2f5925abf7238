// A fast path for reading request bodies in the proto3 JSON mapping.
//
// protobuf 3.21's JsonStringToMessage converts JSON to binary through a
// stream of objects and type lookups, a fifth of a decision's cost in
// `herald serve`. FastParseJson reads the plain bodies storefronts send
// (objects, strings, integers, numbers, booleans, enums by name, repeated
// fields, google.protobuf.Struct / Value / ListValue) straight into the
// message through reflection, and declines anything else: null, quoted
// numbers, enum numbers, maps, other well-known types, unknown or repeated
// keys, escapes outside printable ASCII, invalid UTF-8, "-0", numbers that
// overflow. A declined body is parsed by protobuf, whose answer (and error
// message) is then the one given. So the result is always protobuf's:
// json_fast_parse_test and the fuzz target fuzz_server_json compare both.
//
// Thread-safety: a pure function of its arguments.
#ifndef HERALD_LIB_SERVER_JSON_FAST_PARSE_H_
#define HERALD_LIB_SERVER_JSON_FAST_PARSE_H_

#include <string_view>

#include "google/protobuf/message.h"

namespace herald::server_internal {

// True when `body` was read into *out (which must start empty), giving what
// JsonStringToMessage (unknown fields refused) gives; false when it declined,
// leaving *out unspecified (Clear() it before parsing another way).
bool FastParseJson(std::string_view body, google::protobuf::Message* out);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_JSON_FAST_PARSE_H_
