// RFC 3339 timestamps and CEL durations as text (internal), shared by the
// compiler (literals) and the interpreter (timestamp(s), string(t)).
//
// Timestamps are strict RFC 3339 as CEL's implementations read them: a
// four-digit year 0001..9999, seconds 00..59 (no leap second 60), an
// optional fraction of 1 to 9 digits, and "Z" or a "+hh:mm" offset. Printing
// always writes four-digit years and trims trailing zeros of the fraction
// (1970-01-01T00:00:00.5Z), so every printed timestamp parses back.
#ifndef HERALD_LIB_EXPR_TIME_TEXT_H_
#define HERALD_LIB_EXPR_TIME_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::expr::internal {

// CEL's timestamp range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

// False when `text` is not an RFC 3339 instant in CEL's range.
bool ParseRfc3339(std::string_view text, int64_t* seconds, int32_t* nanos);

// Longest text FormatRfc3339 writes.
inline constexpr size_t kMaxRfc3339Size = 40;
// Writes the instant as RFC 3339 in UTC to `out` (at least kMaxRfc3339Size
// bytes) and returns its length. Does not allocate.
size_t FormatRfc3339(int64_t seconds, uint32_t nanos, char* out);

// A duration such as "1h30m", "-1.5s", "100ms" (h, m, s, ms, us, ns); false
// when malformed or beyond int64 nanoseconds.
bool ParseCelDuration(std::string_view text, int64_t* nanos);

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_TIME_TEXT_H_
