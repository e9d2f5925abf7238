// Phone numbers with libphonenumber: NormalizePhone and its memo, PhoneNormalizer.
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <string>

#include "absl/container/flat_hash_map.h"
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

// NormalizePhone, with the reason of an empty result in `drop`.
std::string NormalizeNumber(std::string_view phone, PhoneFormat format, std::string_view country,
                      std::string_view default_region, uint32_t* drop) {
  *drop = 0;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::string text(TrimSpace(phone));
  // The region for a number written without its country code: the person's
  // country, else the configured default; "ZZ" (unknown) parses only
  // numbers that carry their country code.
  std::string region = RegionOf(country);
  if (region.empty()) region = RegionOf(default_region);
  const bool has_region = !region.empty();
  if (!has_region) region = "ZZ";
  PhoneNumber number;
  bool valid = ParseValid(util, text, region, &number);
  // "00" is the international prefix in most of the world but not in the
  // region's (the US dials 011): read "0044 ..." as "+44 ...".
  if (!valid && text.size() > 2 && text[0] == '0' && text[1] == '0') {
    valid = ParseValid(util, "+" + text.substr(2), region, &number);
  }
  if (!valid) {
    bool international = !text.empty() && (text[0] == '+' || (text.size() > 1 && text[0] == '0' && text[1] == '0'));
    *drop = has_region || international ? kDropPhoneInvalid : kDropPhoneNoRegion;
    return {};
  }
  number.clear_extension();
  std::string out;
  util.Format(number, PhoneNumberUtil::E164, &out);
  // libphonenumber's metadata accepts some national numbers (German ones)
  // long enough to exceed E.164's 15 digits; no platform matches those.
  if (out.size() > 1 + kE164MaxDigits) {
    *drop = kDropPhoneInvalid;
    return {};
  }
  if (format == PhoneFormat::kDigits && !out.empty() && out[0] == '+') out.erase(0, 1);
  return out;
}

}  // namespace

std::string NormalizePhone(std::string_view phone, PhoneFormat format, std::string_view country,
                           std::string_view default_region) {
  uint32_t drop = 0;
  return NormalizeNumber(phone, format, country, default_region, &drop);
}

struct PhoneNormalizer::Memo {
  struct Entry {
    std::string normalized;
    uint32_t drop = 0;
  };
  size_t capacity;
  std::string key;  // reused: region, format, input
  absl::flat_hash_map<std::string, Entry> entries;
};

PhoneNormalizer::PhoneNormalizer(size_t capacity) : memo_(std::make_unique<Memo>()) {
  memo_->capacity = capacity > 0 ? capacity : 1;
}
PhoneNormalizer::~PhoneNormalizer() = default;

std::string_view PhoneNormalizer::Normalize(std::string_view phone, PhoneFormat format, std::string_view country,
                                            std::string_view default_region, uint32_t* drop) {
  Memo& m = *memo_;
  m.key.clear();
  m.key.append(country).push_back('\x1f');
  m.key.append(default_region).push_back('\x1f');
  m.key.push_back(format == PhoneFormat::kE164 ? '+' : 'd');
  m.key.append(phone);
  auto it = m.entries.find(m.key);
  if (it == m.entries.end()) {
    if (m.entries.size() >= m.capacity) m.entries.clear();
    Memo::Entry e;
    e.normalized = NormalizeNumber(phone, format, country, default_region, &e.drop);
    it = m.entries.emplace(m.key, std::move(e)).first;
  }
  *drop = it->second.drop;
  return it->second.normalized;
}

}  // namespace herald
