// Identifier normalization (Meta's and Google's documented rules, see
// docs/conversions.md), ISO 3166 checks and SHA-256 hashing. Text that is
// not ASCII goes through ICU (root-locale lowercase, NFC); ASCII text takes
// a fast path that gives the same result (ASCII is NFC, and its Unicode
// lowercase is its ASCII lowercase).
#include <openssl/evp.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "herald/conversion.h"

namespace herald {

namespace {

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
inline bool IsAsciiPunct(char c) {  // punctuation and symbols: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F && !IsAlpha(c) && !IsDigit(c);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Unicode lowercase (root locale: no Turkish dotless i) then NFC, in UTF-8.
// Ill-formed UTF-8 becomes U+FFFD.
std::string LowerNfc(std::string_view s) {
  if (IsAscii(s)) {
    std::string out(s);
    for (char& c : out) c = Lower(c);
    return out;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  u.toLower(icu::Locale::getRoot());
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  std::string out;
  if (U_FAILURE(status)) {
    u.toUTF8String(out);
    return out;
  }
  icu::UnicodeString normalized = nfc->normalize(u, status);
  (U_SUCCESS(status) ? normalized : u).toUTF8String(out);
  return out;
}

// `text` lowercased and NFC, without whitespace and punctuation (Unicode
// categories P*, and ASCII symbols), and without any symbol (S*) when
// `drop_symbols`.
std::string LowerWithout(std::string_view text, bool drop_symbols) {
  text = Trim(text);
  std::string out;
  out.reserve(text.size());
  if (IsAscii(text)) {
    for (char c : text) {
      if (IsSpace(c) || IsAsciiPunct(c)) continue;
      out.push_back(Lower(c));
    }
    return out;
  }
  std::string lowered = LowerNfc(text);
  const char* p = lowered.data();
  const int32_t n = static_cast<int32_t>(lowered.size());
  uint32_t mask = U_GC_P_MASK | (drop_symbols ? U_GC_S_MASK : 0);
  for (int32_t i = 0; i < n;) {
    int32_t start = i;
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) continue;
    if (c < 0x80 && (IsSpace(static_cast<char>(c)) || IsAsciiPunct(static_cast<char>(c)))) continue;
    if (u_isUWhiteSpace(c) || (U_GET_GC_MASK(c) & mask) != 0) continue;
    out.append(p + start, static_cast<size_t>(i - start));
  }
  return out;
}

constexpr char kHex[] = "0123456789abcdef";

// ISO 3166-1 alpha-2: ICU's list of current country codes.
const std::bitset<26 * 26>& Countries() {
  static const std::bitset<26 * 26> kCountries = [] {
    std::bitset<26 * 26> set;
    for (const char* const* c = uloc_getISOCountries(); *c != nullptr; ++c) {
      if (std::strlen(*c) == 2 && IsAlpha((*c)[0]) && IsAlpha((*c)[1])) {
        set.set((Upper((*c)[0]) - 'A') * 26 + (Upper((*c)[1]) - 'A'));
      }
    }
    return set;
  }();
  return kCountries;
}

// ISO 3166-2, compiled in from Debian's iso-codes (gen_subdivisions.py):
// {"US-CA", "California"}, sorted by code.
struct Subdivision {
  const char* code;
  const char* name;
};
constexpr Subdivision kSubdivisions[] = {
#include "subdivisions.inc"
};

bool IsSubdivision(const std::string& code) {
  auto it = std::lower_bound(std::begin(kSubdivisions), std::end(kSubdivisions), code,
                             [](const Subdivision& s, const std::string& c) { return std::strcmp(s.code, c.c_str()) < 0; });
  return it != std::end(kSubdivisions) && code == it->code;
}

// "us\x1fcalifornia" -> "US-CA": the English names, normalized as cities.
const absl::flat_hash_map<std::string, std::string>& SubdivisionNames() {
  static const auto* kNames = [] {
    auto* names = new absl::flat_hash_map<std::string, std::string>();
    for (const Subdivision& s : kSubdivisions) {
      std::string_view code(s.code);
      size_t dash = code.find('-');
      if (dash == std::string_view::npos) continue;
      std::string key = LowerNfc(code.substr(0, dash));
      key.push_back('\x1f');
      key.append(LowerWithout(s.name, /*drop_symbols=*/true));
      names->emplace(std::move(key), std::string(code));
    }
    return names;
  }();
  return *kNames;
}

}  // namespace

std::string NormalizeEmail(std::string_view email, bool gmail_rule) {
  std::string out = LowerNfc(Trim(email));
  size_t at = out.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 >= out.size()) return {};
  if (gmail_rule) {
    std::string_view domain = std::string_view(out).substr(at + 1);
    if (domain == "gmail.com" || domain == "googlemail.com") {
      size_t removed = static_cast<size_t>(std::count(out.begin(), out.begin() + at, '.'));
      out.erase(std::remove(out.begin(), out.begin() + at, '.'), out.begin() + at);
      if (removed == at) return {};  // nothing but dots before the '@'
    }
  }
  return out;
}

std::string NormalizeName(std::string_view name) { return LowerWithout(name, /*drop_symbols=*/false); }

std::string NormalizeCity(std::string_view city) { return LowerWithout(city, /*drop_symbols=*/true); }

std::string NormalizeCountry(std::string_view country) {
  country = Trim(country);
  if (country.size() != 2 || !IsAlpha(country[0]) || !IsAlpha(country[1])) return {};
  if (!Countries().test((Upper(country[0]) - 'A') * 26 + (Upper(country[1]) - 'A'))) return {};
  return {Lower(country[0]), Lower(country[1])};
}

std::string NormalizeState(std::string_view state, std::string_view country) {
  std::string cc = NormalizeCountry(country);
  if (cc.empty()) return NormalizeCity(state);
  state = Trim(state);
  // A code: "CA", "ca" or "US-CA".
  std::string code = {Upper(cc[0]), Upper(cc[1]), '-'};
  std::string_view part = state;
  if (part.size() > 3 && part[2] == '-' && Lower(part[0]) == cc[0] && Lower(part[1]) == cc[1]) part.remove_prefix(3);
  if (!part.empty() && part.size() <= 3 && IsAscii(part)) {
    for (char c : part) code.push_back(Upper(c));
    if (IsSubdivision(code)) return LowerNfc(std::string_view(code).substr(3));
  }
  // An English name: "California", "Baden-Württemberg".
  std::string key = cc;
  key.push_back('\x1f');
  key.append(NormalizeCity(state));
  const auto& names = SubdivisionNames();
  auto it = names.find(key);
  if (it == names.end()) return {};
  return LowerNfc(std::string_view(it->second).substr(3));
}

std::string NormalizeZip(std::string_view zip, std::string_view country) {
  std::string lowered = LowerNfc(Trim(zip));
  std::string out;
  out.reserve(lowered.size());
  for (char c : lowered) {
    if (!IsSpace(c) && c != '-') out.push_back(c);
  }
  std::string cc = NormalizeCountry(country);
  auto digits = [&](size_t from, size_t n) {
    if (out.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i) {
      if (!IsDigit(out[i])) return false;
    }
    return true;
  };
  if (cc == "us") {
    if (digits(0, 5)) out.resize(5);  // ZIP+4 and anything after it dropped
  } else if (cc.empty()) {
    if (out.size() == 9 && digits(0, 9)) out.resize(5);  // a ZIP+4 without a country
  } else if (cc == "gb") {
    // Outward code (area + district) and the sector, the inward code's digit:
    // "sw1a1aa" -> "sw1a1". An inward code is a digit and two letters.
    size_t n = out.size();
    if (n >= 5 && n <= 7 && IsDigit(out[n - 3]) && IsAlpha(out[n - 2]) && IsAlpha(out[n - 1])) out.resize(n - 2);
  }
  return out;
}

std::string NormalizeDateOfBirth(std::string_view date) {
  date = Trim(date);
  std::string digits;
  if (date.size() == 10 && (date[4] == '-' || date[4] == '/') && date[7] == date[4]) {
    digits.append(date.substr(0, 4)).append(date.substr(5, 2)).append(date.substr(8, 2));
  } else if (date.size() == 8) {
    digits.assign(date);
  } else {
    return {};
  }
  for (char c : digits) {
    if (!IsDigit(c)) return {};
  }
  int year = std::atoi(digits.substr(0, 4).c_str());
  int month = std::atoi(digits.substr(4, 2).c_str());
  int day = std::atoi(digits.substr(6, 2).c_str());
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1]) return {};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return {};
  return digits;
}

std::string NormalizeGender(std::string_view gender) {
  gender = Trim(gender);
  if (gender.empty()) return {};
  char c = Lower(gender.front());
  if (c == 'f' || c == 'm') return std::string(1, c);
  return {};
}

std::string NormalizeExternalId(std::string_view id) { return std::string(Trim(id)); }

bool IsSha256Hex(std::string_view value) {
  if (value.size() != 64) return false;
  for (char c : value) {
    if (!IsDigit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::string_view IdentifierDropName(uint32_t drop) {
  switch (drop) {
    case kDropEmailInvalid: return "email_invalid";
    case kDropPhoneInvalid: return "phone_invalid";
    case kDropPhoneNoRegion: return "phone_no_region";
    case kDropCountryUnknown: return "country_unknown";
    case kDropStateUnknown: return "state_unknown";
    case kDropDateOfBirthInvalid: return "date_of_birth_invalid";
    case kDropGenderUnknown: return "gender_unknown";
    default: return {};
  }
}

IdentifierHasher::IdentifierHasher()
    : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {}

IdentifierHasher::~IdentifierHasher() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
  EVP_MD_free(static_cast<EVP_MD*>(md_));
}

void IdentifierHasher::HashTo(std::string_view normalized, char* out) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex2(ctx, static_cast<EVP_MD*>(md_), nullptr);
  EVP_DigestUpdate(ctx, normalized.data(), normalized.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  static const auto kPairs = [] {
    std::array<char, 512> t{};
    for (int i = 0; i < 256; ++i) {
      t[2 * i] = kHex[i >> 4];
      t[2 * i + 1] = kHex[i & 15];
    }
    return t;
  }();
  for (unsigned i = 0; i < 32; ++i) std::memcpy(out + 2 * i, &kPairs[2 * digest[i]], 2);
}

std::string IdentifierHasher::Hash(std::string_view normalized) {
  std::string out(64, '\0');
  HashTo(normalized, out.data());
  return out;
}

std::string IdentifierHasher::HashUnlessHashed(std::string_view value, std::string_view normalized) {
  std::string out;
  HashUnlessHashedInto(out, value, normalized);
  return out;
}

void IdentifierHasher::HashUnlessHashedInto(std::string& out, std::string_view value, std::string_view normalized) {
  std::string_view trimmed = Trim(value);
  if (IsSha256Hex(trimmed)) {
    out.assign(trimmed);
    for (char& c : out) c = Lower(c);
    return;
  }
  if (normalized.empty()) {
    out.clear();
    return;
  }
  out.resize(64);
  HashTo(normalized, out.data());
}

namespace {

// One field: passed through when already hashed; else normalized by
// `normalize` and hashed, and `drop` noted when a given value normalizes to "".
template <typename Normalize>
void HashField(std::string& out, std::string_view value, IdentifierHasher& h, uint32_t& dropped, uint32_t drop,
               Normalize&& normalize) {
  std::string_view trimmed = Trim(value);
  if (trimmed.empty()) {
    out.clear();
    return;
  }
  if (IsSha256Hex(trimmed)) {
    h.HashUnlessHashedInto(out, trimmed, {});
    return;
  }
  std::string normalized = normalize(trimmed);
  if (normalized.empty()) dropped |= drop;
  h.HashUnlessHashedInto(out, trimmed, normalized);
}

}  // namespace

void PrepareIdentity(const v1::Subject& s, const IdentityRules& rules, HashedIdentity& id, IdentifierHasher& h) {
  id.dropped = 0;
  // The person's country decides the phone's region, the state's
  // subdivisions and the zip's format; a hashed country decides nothing.
  std::string_view country = Trim(s.country());
  const bool country_known = !NormalizeCountry(country).empty();
  // A subject stored in HASH_ONLY form (herald/privacy.h) carries Google's
  // hashes of the e-mail and phone where they differ from Meta's.
  const bool google_email = rules.email_gmail_rule && !s.email_sha256_google().empty();
  HashField(id.em, google_email ? s.email_sha256_google() : s.email(), h, id.dropped, kDropEmailInvalid,
            [&](std::string_view v) { return NormalizeEmail(v, rules.email_gmail_rule); });
  {
    const bool google_phone = rules.phone_format == PhoneFormat::kE164 && !s.phone_sha256_google().empty();
    std::string_view phone = Trim(google_phone ? s.phone_sha256_google() : s.phone());
    if (phone.empty()) {
      id.ph.clear();
    } else if (IsSha256Hex(phone)) {
      h.HashUnlessHashedInto(id.ph, phone, {});
    } else {
      uint32_t drop = 0;
      std::string_view normalized = h.phones().Normalize(phone, rules.phone_format, country_known ? country : "",
                                                         rules.default_region, &drop);
      id.dropped |= drop;
      h.HashUnlessHashedInto(id.ph, phone, normalized);
    }
  }
  if (rules.contact_only) {
    for (std::string* f : {&id.fn, &id.ln, &id.ct, &id.st, &id.zp, &id.country, &id.db, &id.ge, &id.external_id}) {
      f->clear();
    }
    return;
  }
  HashField(id.fn, s.first_name(), h, id.dropped, 0, NormalizeName);
  HashField(id.ln, s.last_name(), h, id.dropped, 0, NormalizeName);
  HashField(id.ct, s.city(), h, id.dropped, 0, NormalizeCity);
  HashField(id.st, s.state(), h, id.dropped, kDropStateUnknown,
            [&](std::string_view v) { return NormalizeState(v, country); });
  HashField(id.zp, s.zip(), h, id.dropped, 0, [&](std::string_view v) { return NormalizeZip(v, country); });
  HashField(id.country, country, h, id.dropped, kDropCountryUnknown, NormalizeCountry);
  HashField(id.db, s.date_of_birth(), h, id.dropped, kDropDateOfBirthInvalid, NormalizeDateOfBirth);
  HashField(id.ge, s.gender(), h, id.dropped, kDropGenderUnknown, NormalizeGender);
  HashField(id.external_id, s.external_id(), h, id.dropped, 0, NormalizeExternalId);
}

}  // namespace herald
