// UTF-8 decoding shared by herald serve's JSON printer and reader.
// Thread-safety: pure functions.
#ifndef HERALD_LIB_SERVER_UTF8_H_
#define HERALD_LIB_SERVER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::server_internal {

// The next code point of well-formed UTF-8 at s[*i] (advancing *i), or -1
// where the bytes are not well-formed (overlong, surrogate, beyond U+10FFFF).
inline int32_t DecodeUtf8(std::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(*i);
  int n = 0;
  uint32_t cp = 0, min = 0;
  if (b0 < 0x80) {
    ++*i;
    return b0;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 1, cp = b0 & 0x1f, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 2, cp = b0 & 0x0f, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (*i + n >= s.size()) return -1;
  for (int k = 1; k <= n; ++k) {
    if ((byte(*i + k) & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (byte(*i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  *i += n + 1;
  return static_cast<int32_t>(cp);
}

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_UTF8_H_
