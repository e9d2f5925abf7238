// Identifier normalization (Meta's and Google's rules) and SHA-256 hashing.
#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "herald/conversion.h"

namespace herald {

namespace {

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool IsAsciiPunct(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u < 0x80 && !IsAlpha(c) && !IsDigit(c) && !IsSpace(c) && u >= 0x20;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string NormalizeEmail(std::string_view email, bool gmail_rule) {
  email = Trim(email);
  std::string out;
  out.reserve(email.size());
  for (char c : email) out.push_back(Lower(c));
  if (gmail_rule) {
    size_t at = out.rfind('@');
    if (at != std::string::npos) {
      std::string_view domain = std::string_view(out).substr(at + 1);
      if (domain == "gmail.com" || domain == "googlemail.com") {
        std::string local;
        for (size_t i = 0; i < at; ++i) {
          if (out[i] == '+') break;
          if (out[i] != '.') local.push_back(out[i]);
        }
        out = local + out.substr(at);
      }
    }
  }
  return out;
}

std::string NormalizePhone(std::string_view phone, bool e164_plus, std::string_view default_country_code) {
  phone = Trim(phone);
  bool international = !phone.empty() && phone.front() == '+';
  std::string digits;
  digits.reserve(phone.size() + 1);
  if (e164_plus) digits.push_back('+');
  const size_t start = digits.size();
  for (char c : phone) {
    if (IsDigit(c)) digits.push_back(c);
  }
  // Leading zeros: an international "00" prefix or a trunk zero.
  size_t zeros = 0;
  while (start + zeros < digits.size() && digits[start + zeros] == '0') ++zeros;
  if (zeros >= 2) international = true;
  if (zeros > 0) digits.erase(start, zeros);
  if (digits.size() == start) return {};
  if (!international && !default_country_code.empty() && digits.size() - start <= 10) {
    digits.insert(start, default_country_code.data(), default_country_code.size());
  }
  return digits;
}

std::string NormalizeName(std::string_view name) {
  name = Trim(name);
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (IsSpace(c) || IsAsciiPunct(c)) continue;
    out.push_back(Lower(c));
  }
  return out;
}

std::string NormalizeCity(std::string_view city) { return NormalizeName(city); }

std::string NormalizeState(std::string_view state) {
  std::string out;
  out.reserve(state.size());
  for (char c : Trim(state)) {
    if (IsAlpha(c)) out.push_back(Lower(c));
    else if (static_cast<unsigned char>(c) >= 0x80) out.push_back(c);
  }
  return out;
}

std::string NormalizeZip(std::string_view zip, std::string_view country) {
  zip = Trim(zip);
  std::string out;
  out.reserve(zip.size());
  for (char c : zip) {
    if (IsSpace(c) || c == '-') continue;
    out.push_back(Lower(c));
  }
  // US: the first 5 digits (ZIP+4 dropped).
  bool us = country.empty() || NormalizeCountry(country) == "us";
  if (us && out.size() == 9) {
    bool all_digits = true;
    for (char c : out) all_digits = all_digits && IsDigit(c);
    if (all_digits) out.resize(5);
  }
  return out;
}

std::string NormalizeCountry(std::string_view country) {
  std::string out;
  for (char c : Trim(country)) {
    if (!IsAlpha(c)) return {};
    out.push_back(Lower(c));
  }
  return out.size() == 2 ? out : std::string();
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

}  // namespace herald
