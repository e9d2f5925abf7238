// Internal: checks applied to every input Herald reads (catalogs, baskets,
// responses, recipient lists, command-line values) before anything uses it.
//
// Why: a string that is not UTF-8 passes protobuf's text parser (an escape
// such as "\xff" in a textproto string, or \udc00 in JSON) and then aborts
// whatever prints it as JSON; a number near the int64 or double limits
// overflows the arithmetic done on it. Rejecting both at the input, with the
// field named, keeps every later step total.
//
// Lifetime: plain functions over caller-owned data. Thread-safety: reentrant.
#ifndef HERALD_LIB_CORE_INPUT_CHECK_H_
#define HERALD_LIB_CORE_INPUT_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "herald/model/basket.pb.h"

namespace herald {

// The documented bounds of input numbers (docs/catalog-limits in docs/cli.md).
// Each keeps the arithmetic done on it inside int64 (and doubles finite).
inline constexpr int64_t kMaxMinorUnits = 1'000'000'000'000'000;  // 10^15 minor units: money
inline constexpr int64_t kMaxQuantity = 1'000'000'000;              // 10^9: units, per-basket counts
inline constexpr int64_t kMaxGoal = 1'000'000'000'000;              // 10^12 events ordered
inline constexpr double kMaxWeight = 1'000'000;                     // ad weights, target boosts

// Offset of the first byte that does not start or continue a well-formed
// UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), or npos when `s` is valid.
size_t FindInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }

// `s` with every byte of an ill-formed sequence written as \xNN, so that a
// message quoting untrusted text is itself valid UTF-8 (JSON-printable).
std::string EscapeInvalidUtf8(std::string_view s);

// One string field of a message that is not UTF-8.
struct InvalidString {
  std::string path;  // object path: campaigns[1].items[0].id, values["tier"].value.string_value
                     // (a map entry whose key is not UTF-8: values[?].key)
  int line = 0;      // 1-based textproto line of the field; 0 = unknown
  size_t offset = 0; // first bad byte in the value
  unsigned char byte = 0;

  // "<path>: not valid UTF-8 (byte 0xFF at offset 4)"
  std::string Message() const;
};

// Walks every string field of `message` by reflection (nested messages,
// repeated fields, map keys and values, unknown-free) and returns each one
// that is not valid UTF-8. `locations`, when the message came from the text
// parser, gives each its line. `root` prefixes the paths ("basket").
std::vector<InvalidString> FindInvalidStrings(
    const google::protobuf::Message& message,
    const google::protobuf::TextFormat::ParseInfoTree* locations = nullptr,
    std::string_view root = "");

// InvalidArgument "<source>: <path>: not valid UTF-8 ..." for the first
// invalid string of `message` (and a count of the others), else OK.
absl::Status CheckStringsAreUtf8(const google::protobuf::Message& message, std::string_view source);

// The same check as CheckStringsAreUtf8(basket, "basket"), without
// reflection: pricing runs it on every basket, and reflection over the
// `properties` maps costs more than the pricing itself. Paths read as the
// walk's; test/core/input_check_test.cc proves it covers every string field.
absl::Status CheckBasketStrings(const v1::Basket& basket);

// InvalidArgument "<source>:<line>:<column>: not valid UTF-8 (byte 0xFF)"
// for raw input text (a JSON file, a CSV list), else OK.
absl::Status CheckTextIsUtf8(std::string_view text, std::string_view source);

}  // namespace herald

#endif  // HERALD_LIB_CORE_INPUT_CHECK_H_
