// Internal: the catalog's date, time-of-day and time-zone formats.
#ifndef HERALD_LIB_CORE_TIME_UTIL_H_
#define HERALD_LIB_CORE_TIME_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald {

// Loads an IANA zone; "" and "UTC" are UTC. InvalidArgument names the zone.
absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS" (local time in
// `zone`) or an RFC 3339 time with an offset. With `end_of_day` a bare date
// means the end of that day (the start of the next one), so that end dates
// are inclusive.
absl::StatusOr<absl::Time> ParseCatalogTime(std::string_view text, absl::TimeZone zone,
                                            bool end_of_day = false);

// Parses "HH:MM" (00:00 to 24:00) into minutes since midnight.
absl::StatusOr<int> ParseClockMinutes(std::string_view text);

// Formats `t` as RFC 3339 in `zone` ("2026-06-01T17:00:00-07:00").
std::string FormatRfc3339(absl::Time t, absl::TimeZone zone);

}  // namespace herald

#endif  // HERALD_LIB_CORE_TIME_UTIL_H_
