#include "core/strings.h"
#include "core/time_util.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace herald {

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  absl::TimeZone zone;
  if (name.empty() || name == "UTC") return absl::UTCTimeZone();
  if (!absl::LoadTimeZone(std::string(name), &zone)) {
    return absl::InvalidArgumentError(Cat("unknown time zone \"", name, "\""));
  }
  return zone;
}

absl::StatusOr<absl::Time> ParseCatalogTime(std::string_view text, absl::TimeZone zone,
                                            bool end_of_day) {
  std::string s(text);
  absl::Time t;
  std::string err;
  if (s.size() == 10) {
    if (absl::ParseTime("%Y-%m-%d", s, zone, &t, &err)) {
      return end_of_day ? absl::FromCivil(absl::ToCivilDay(t, zone) + 1, zone) : t;
    }
  } else {
    for (const char* format : {"%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                               "%Y-%m-%d %H:%M:%S", absl::RFC3339_full}) {
      if (absl::ParseTime(format, s, zone, &t, &err)) return t;
    }
  }
  return absl::InvalidArgumentError(Cat(
      "\"", text, "\" is not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339)"));
}

absl::StatusOr<int> ParseClockMinutes(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        Cat("\"", text, "\" is not a time of day (HH:MM, 00:00 to 24:00)"));
  };
  if (text.size() != 5 || text[2] != ':') return bad();
  int hours = 0, minutes = 0;
  if (!absl::ascii_isdigit(text[0]) || !absl::ascii_isdigit(text[1]) ||
      !absl::ascii_isdigit(text[3]) || !absl::ascii_isdigit(text[4])) {
    return bad();
  }
  hours = (text[0] - '0') * 10 + (text[1] - '0');
  minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return bad();
  return hours * 60 + minutes;
}

std::string FormatRfc3339(absl::Time t, absl::TimeZone zone) {
  return absl::FormatTime(absl::RFC3339_sec, t, zone);
}

}  // namespace herald
