// Phone numbers with libphonenumber: NormalizePhone and its memo, PhoneNormalizer.
// Plain numbers take FastPhoneParser (phone_fast.h), which gives
// libphonenumber's answer without its ICU regular expressions or declines.
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "conversion/phone_fast.h"
#include "herald/conversion.h"

namespace herald {

namespace {

constexpr size_t kE164MaxDigits = 15;  // ITU-T E.164: at most 15 digits with the country code

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// "GB" from "gb" / "GB"; "" unless an ISO 3166-1 alpha-2 code.
std::string RegionOf(std::string_view country) {
  std::string lower = NormalizeCountry(country);
  for (char& c : lower) c = static_cast<char>(c - 32);
  return lower;
}

// A parse that libphonenumber calls valid, else nullopt-like false.
bool ParseValid(const PhoneNumberUtil& util, const std::string& text, const std::string& region, PhoneNumber* out) {
  out->Clear();
  if (util.Parse(text, region, out) != PhoneNumberUtil::NO_PARSING_ERROR) return false;
  return util.IsValidNumber(*out);
}

// Parse + IsValidNumber + Format(E164) into *e164: the fast path's answer
// when it has one (the same as libphonenumber's), else libphonenumber's
// (~40 us with Debian's ICU regular expressions) - or, with `fast_only`,
// nullopt.
std::optional<bool> ParseValidE164(const std::string& text, const std::string& region, bool fast_only,
                                   std::string* e164) {
  switch (conversion::FastPhoneParser::Get().Parse(text, region, e164)) {
    case conversion::FastPhoneParser::Result::kValid:
      return true;
    case conversion::FastPhoneParser::Result::kInvalid:
      return false;
    case conversion::FastPhoneParser::Result::kDecline:
      break;
  }
  if (fast_only) return std::nullopt;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (!ParseValid(util, text, region, &number)) return false;
  number.clear_extension();
  e164->clear();
  util.Format(number, PhoneNumberUtil::E164, e164);
  return true;
}

// NormalizePhone into *out, with the reason of an empty result in *drop.
// With `fast_only`, false (and nothing set) when libphonenumber itself
// would be needed.
bool NormalizeNumber(std::string_view phone, PhoneFormat format, std::string_view country,
                     std::string_view default_region, bool fast_only, std::string* out, uint32_t* drop) {
  std::string text(TrimSpace(phone));
  // The region for a number written without its country code: the person's
  // country, else the configured default; "ZZ" (unknown) parses only
  // numbers that carry their country code.
  std::string region = RegionOf(country);
  if (region.empty()) region = RegionOf(default_region);
  const bool has_region = !region.empty();
  if (!has_region) region = "ZZ";
  std::optional<bool> valid = ParseValidE164(text, region, fast_only, out);
  if (!valid.has_value()) return false;
  // "00" is the international prefix in most of the world but not in the
  // region's (the US dials 011): read "0044 ..." as "+44 ...".
  if (!*valid && text.size() > 2 && text[0] == '0' && text[1] == '0') {
    std::string plus = text.substr(1);
    plus[0] = '+';
    valid = ParseValidE164(plus, region, fast_only, out);
    if (!valid.has_value()) return false;
  }
  *drop = 0;
  // The drop reason depends on the text and the region only, so the fast
  // path's kInvalid and libphonenumber's failure give the same one.
  if (!*valid) {
    bool international = !text.empty() && (text[0] == '+' || (text.size() > 1 && text[0] == '0' && text[1] == '0'));
    *drop = has_region || international ? kDropPhoneInvalid : kDropPhoneNoRegion;
    out->clear();
    return true;
  }
  // libphonenumber's metadata accepts some national numbers (German ones)
  // long enough to exceed E.164's 15 digits; no platform matches those.
  if (out->size() > 1 + kE164MaxDigits) {
    *drop = kDropPhoneInvalid;
    out->clear();
    return true;
  }
  if (format == PhoneFormat::kDigits && !out->empty() && (*out)[0] == '+') out->erase(0, 1);
  return true;
}

}  // namespace

std::string NormalizePhone(std::string_view phone, PhoneFormat format, std::string_view country,
                           std::string_view default_region) {
  uint32_t drop = 0;
  std::string out;
  NormalizeNumber(phone, format, country, default_region, /*fast_only=*/false, &out, &drop);
  return out;
}

struct PhoneNormalizer::Memo {
  struct Entry {
    std::string normalized;
    uint32_t drop = 0;
  };
  size_t capacity;
  std::string key;   // reused: region, format, input
  std::string fast;  // the last answer of the fast path
  absl::flat_hash_map<std::string, Entry> entries;
};

PhoneNormalizer::PhoneNormalizer(size_t capacity) : memo_(std::make_unique<Memo>()) {
  memo_->capacity = capacity > 0 ? capacity : 1;
}
PhoneNormalizer::~PhoneNormalizer() = default;

std::string_view PhoneNormalizer::Normalize(std::string_view phone, PhoneFormat format, std::string_view country,
                                            std::string_view default_region, uint32_t* drop) {
  Memo& m = *memo_;
  // The fast path (~0.2 us) costs less than a memo miss; only the numbers
  // it leaves to libphonenumber (~40 us) are memoized.
  if (NormalizeNumber(phone, format, country, default_region, /*fast_only=*/true, &m.fast, drop)) return m.fast;
  m.key.clear();
  m.key.append(country).push_back('\x1f');
  m.key.append(default_region).push_back('\x1f');
  m.key.push_back(format == PhoneFormat::kE164 ? '+' : 'd');
  m.key.append(phone);
  auto it = m.entries.find(m.key);
  if (it == m.entries.end()) {
    if (m.entries.size() >= m.capacity) m.entries.clear();
    Memo::Entry e;
    NormalizeNumber(phone, format, country, default_region, /*fast_only=*/false, &e.normalized, &e.drop);
    it = m.entries.emplace(m.key, std::move(e)).first;
  }
  *drop = it->second.drop;
  return it->second.normalized;
}

}  // namespace herald
