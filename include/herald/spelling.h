// herald/spelling.h: names as users type them. "Did you mean" suggestions
// (edit distance) and one spelling of protobuf enums for flags and JSON.
//
// Every place that takes a name from a user (a CLI flag, a subcommand, a page
// group, a campaign, an enum in a flag or a JSON file) resolves it through
// these functions, so that the same spellings work everywhere and a near miss
// names the likely intended word.
//
// Enum spellings: a value of enum `Outcome` named OUTCOME_ACCEPTED may be
// given as its full name ("OUTCOME_ACCEPTED") or as its short name, the full
// name without the enum's upper-snake prefix, in any case ("accepted",
// "Accepted"); hyphens and underscores are the same ("smtp-tls" for a value
// SMTP_TLS). JSON output keeps protobuf's full names.
//
// Lifetime: returned string_views point into the given candidates or into the
// descriptor (which lives as long as its pool; generated enums: forever).
// Thread-safety: all functions are pure and safe to call concurrently.
#ifndef HERALD_SPELLING_H_
#define HERALD_SPELLING_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace herald {

// Levenshtein distance between `a` and `b`, capped: any distance above `cap`
// is returned as `cap` + 1 (the work stops early).
int EditDistance(std::string_view a, std::string_view b, int cap);

// The candidate nearest to `name` when it is close enough (distance at most
// max(1, size/3), at most 3; ties go to the first), else empty.
std::string_view NearestName(std::string_view name, absl::Span<const std::string_view> candidates);
std::string_view NearestName(std::string_view name, absl::Span<const std::string> candidates);

// "; did you mean \"x\"?" for the nearest candidate, or "" when none is close.
std::string DidYouMean(std::string_view name, absl::Span<const std::string> candidates);

// OK when `name` is one of `known`; else InvalidArgument
// `unknown <what> "Hme"; did you mean "Home"? (known: Home, Search, ...)`
// (the list is cut after 20 names).
absl::Status CheckKnownName(std::string_view what, std::string_view name, absl::Span<const std::string> known);

// "accepted" for OUTCOME_ACCEPTED: the full name without the enum's
// upper-snake prefix (OUTCOME_), lower-case.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

// The short names of every value of `type`, in declaration order,
// "accepted, rejected, ...": for help texts and error messages.
std::string EnumSpellings(const google::protobuf::EnumDescriptor& type);

// The value of `type` spelled `text` (full or short name, see above).
// InvalidArgument naming the enum, the text, the nearest spelling and every
// valid one: `unknown outcome "acepted"; did you mean "accepted"? (one of:
// unspecified, accepted, ...)`.
absl::StatusOr<const google::protobuf::EnumValueDescriptor*> FindEnumValue(
    const google::protobuf::EnumDescriptor& type, std::string_view text);

// FindEnumValue for a generated enum: ParseEnum<v1::Outcome>("accepted").
template <typename E>
absl::StatusOr<E> ParseEnum(std::string_view text) {
  auto value = FindEnumValue(*google::protobuf::GetEnumDescriptor<E>(), text);
  if (!value.ok()) return value.status();
  return static_cast<E>((*value)->number());
}

// Rewrites, in the proto3 JSON `json` of a message of type `type`, every enum
// value given by a short name (or in another case) to its full name, so that
// protobuf's JSON parser accepts it. Values that name no enum value are left
// as they are (the parser then reports them). Invalid JSON is left unchanged
// and reported by the parser. Never fails.
std::string NormalizeJsonEnums(std::string_view json, const google::protobuf::Descriptor& type);

}  // namespace herald

#endif  // HERALD_SPELLING_H_
