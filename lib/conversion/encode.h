// Internal: fast JSON / CSV writing and money formatting for event payloads.
#ifndef HERALD_LIB_CONVERSION_ENCODE_H_
#define HERALD_LIB_CONVERSION_ENCODE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "herald/model/common.pb.h"

namespace herald::conversion {

// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 bytes
// are passed through (the platforms reject them with a message).
inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

// `"key":"value"` preceded by a comma unless `first`.
inline void AppendJsonField(std::string& out, bool& first, std::string_view key, std::string_view value) {
  if (!first) out.push_back(',');
  first = false;
  out.push_back('"');
  out.append(key);
  out.append("\":");
  AppendJsonString(out, value);
}

// Decimal places of an ISO 4217 currency (0 for JPY, KRW, ...; 3 for BHD, ...).
inline int CurrencyExponent(std::string_view currency) {
  static constexpr std::string_view kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                               "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::string_view kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  for (auto c : kZero) if (c == currency) return 0;
  for (auto c : kThree) if (c == currency) return 3;
  return 2;
}

// "19.99" from 1999 minor units of USD.
inline void AppendMoney(std::string& out, const v1::Money& money) {
  int exp = CurrencyExponent(money.currency());
  int64_t units = money.minor_units();
  if (units < 0) {
    out.push_back('-');
    units = -units;
  }
  int64_t scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  out.append(std::to_string(units / scale));
  if (exp > 0) {
    out.push_back('.');
    std::string frac = std::to_string(units % scale);
    out.append(static_cast<size_t>(exp) - frac.size(), '0');
    out.append(frac);
  }
}

// A CSV field (RFC 4180 quoting when needed).
inline void AppendCsvField(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(s);
    return;
  }
  out.push_back('"');
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_ENCODE_H_
