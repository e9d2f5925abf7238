#include "expr/time_text.h"

#include <cstdio>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace herald::expr::internal {
namespace {

// Reads exactly `n` digits at text[*at]; false otherwise.
bool Digits(std::string_view text, size_t* at, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (*at >= text.size() || text[*at] < '0' || text[*at] > '9') return false;
    v = v * 10 + (text[*at] - '0');
    ++*at;
  }
  *out = v;
  return true;
}

bool Expect(std::string_view text, size_t* at, char c) {
  if (*at >= text.size() || text[*at] != c) return false;
  ++*at;
  return true;
}

}  // namespace

bool ParseRfc3339(std::string_view text, int64_t* seconds, int32_t* nanos) {
  size_t at = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(text, &at, 4, &year) || !Expect(text, &at, '-') ||
      !Digits(text, &at, 2, &month) || !Expect(text, &at, '-') ||
      !Digits(text, &at, 2, &day)) {
    return false;
  }
  if (at >= text.size() || (text[at] != 'T' && text[at] != 't')) return false;
  ++at;
  if (!Digits(text, &at, 2, &hour) || !Expect(text, &at, ':') ||
      !Digits(text, &at, 2, &minute) || !Expect(text, &at, ':') ||
      !Digits(text, &at, 2, &second)) {
    return false;
  }
  int32_t fraction = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    int digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits == 9) return false;
      fraction = fraction * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 9; ++i) fraction *= 10;
  }
  int offset = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int sign = text[at] == '-' ? -1 : 1;
    ++at;
    int oh, om;
    if (!Digits(text, &at, 2, &oh) || !Expect(text, &at, ':') || !Digits(text, &at, 2, &om) ||
        oh > 23 || om > 59) {
      return false;
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (at != text.size()) return false;
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  absl::CivilSecond cs(year, month, day, hour, minute, second);
  if (cs.day() != day || cs.month() != month) return false;  // 2023-02-30
  int64_t s = absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone())) - offset;
  if (s < kMinTimestampSeconds || s > kMaxTimestampSeconds) return false;
  *seconds = s;
  *nanos = fraction;
  return true;
}

size_t FormatRfc3339(int64_t seconds, uint32_t nanos, char* out) {
  absl::CivilSecond cs = absl::UTCTimeZone().At(absl::FromUnixSeconds(seconds)).cs;
  int n = std::snprintf(out, kMaxRfc3339Size, "%04d-%02d-%02dT%02d:%02d:%02d",
                        static_cast<int>(cs.year()), cs.month(), cs.day(), cs.hour(),
                        cs.minute(), cs.second());
  size_t size = n < 0 ? 0 : static_cast<size_t>(n);
  if (nanos != 0 && nanos < 1000000000u) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), "%09u", nanos);
    int digits = 9;
    while (digits > 0 && frac[digits - 1] == '0') --digits;
    out[size++] = '.';
    for (int i = 0; i < digits; ++i) out[size++] = frac[i];
  }
  out[size++] = 'Z';
  return size;
}

bool ParseCelDuration(std::string_view text, int64_t* nanos) {
  absl::Duration d;
  if (text.empty() || !absl::ParseDuration(std::string(text), &d) ||
      d == absl::InfiniteDuration() || d == -absl::InfiniteDuration() ||
      d > absl::Nanoseconds(INT64_MAX) || d < absl::Nanoseconds(INT64_MIN)) {
    return false;
  }
  *nanos = absl::ToInt64Nanoseconds(d);
  return true;
}

}  // namespace herald::expr::internal
