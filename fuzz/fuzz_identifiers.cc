// libFuzzer target for identifier normalization (outside input: whatever a
// storefront captured): ICU lowercasing and NFC of names, cities, e-mails;
// libphonenumber parsing with a region; ISO 3166 country and subdivision
// lookups; the whole Meta and Google identity preparation. The input is cut
// into fields at '\n'. No input may crash, hang or leak; every phone that
// comes out is E.164 digits (with '+' for Google); every digest is 64
// lowercase hex digits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "herald/conversion.h"

namespace {

bool LowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace herald;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> f;
  size_t start = 0;
  while (f.size() < 9) {
    size_t nl = input.find('\n', start);
    f.emplace_back(input.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  f.resize(9);
  (void)NormalizeEmail(f[0], true);
  (void)NormalizeName(f[2]);
  (void)NormalizeCity(f[3]);
  (void)NormalizeState(f[4], f[5]);
  (void)NormalizeZip(f[6], f[5]);
  for (PhoneFormat format : {PhoneFormat::kDigits, PhoneFormat::kE164}) {
    std::string phone = NormalizePhone(f[1], format, f[5], f[7].substr(0, 2));
    if (phone.empty()) continue;
    size_t i = 0;
    if (format == PhoneFormat::kE164 && phone[i++] != '+') std::abort();
    if (phone.size() - i > 15) std::abort();
    for (; i < phone.size(); ++i) {
      if (phone[i] < '0' || phone[i] > '9') std::abort();
    }
  }
  v1::Subject s;
  s.set_email(f[0]);
  s.set_phone(f[1]);
  s.set_first_name(f[2]);
  s.set_city(f[3]);
  s.set_state(f[4]);
  s.set_country(f[5]);
  s.set_zip(f[6]);
  s.set_date_of_birth(f[8]);
  static IdentifierHasher hasher;
  for (IdentityRules rules : {kMetaIdentityRules, kGoogleIdentityRules}) {
    rules.default_region = "US";
    HashedIdentity id;
    PrepareIdentity(s, rules, id, hasher);
    for (const std::string* v : {&id.em, &id.ph, &id.fn, &id.ct, &id.st, &id.zp, &id.country, &id.db}) {
      if (!v->empty() && !LowerHex64(*v)) std::abort();
    }
  }
  return 0;
}
