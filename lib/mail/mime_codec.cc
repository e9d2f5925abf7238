// Encoders of the MIME composer: base64, quoted-printable, RFC 2047 encoded
// words, RFC 2231 parameters, RFC 5322 dates. Written for speed: each
// encoder sizes the output once and writes through a pointer.
#include "mail/mime_codec.h"

#include <cstring>
#include <ctime>
#include <vector>

namespace herald::mail {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kHex[] = "0123456789ABCDEF";

// Quoted-printable byte classes.
enum : uint8_t { kLiteral = 0, kEncode = 1, kSpace = 2, kBreak = 3 };

struct QpTable {
  uint8_t cls[256];
  constexpr QpTable() : cls{} {
    for (int c = 0; c < 256; ++c) {
      if (c >= 33 && c <= 126 && c != '=') {
        cls[c] = kLiteral;
      } else if (c == ' ' || c == '\t') {
        cls[c] = kSpace;
      } else if (c == '\r' || c == '\n') {
        cls[c] = kBreak;
      } else {
        cls[c] = kEncode;
      }
    }
  }
};
constexpr QpTable kQp;

inline char* Base64Group(char* o, const unsigned char* p, const char* alphabet) {
  uint32_t v = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
  o[0] = alphabet[(v >> 18) & 63];
  o[1] = alphabet[(v >> 12) & 63];
  o[2] = alphabet[(v >> 6) & 63];
  o[3] = alphabet[v & 63];
  return o + 4;
}

// Encodes `n` bytes (a multiple of 3 except at the very end) without breaks.
char* Base64Run(char* o, const unsigned char* p, size_t n, const char* alphabet, bool pad) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) o = Base64Group(o, p + i, alphabet);
  size_t rest = n - i;
  if (rest == 1) {
    uint32_t v = uint32_t(p[i]) << 16;
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    if (pad) { *o++ = '='; *o++ = '='; }
  } else if (rest == 2) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8);
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    if (pad) *o++ = '=';
  }
  return o;
}

bool IsAtext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr && c != 0;
}

}  // namespace

void AppendBase64(std::string& out, std::string_view data, bool line_breaks) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  size_t chars = (n + 2) / 3 * 4;
  size_t lines = line_breaks ? (chars + 75) / 76 : 0;
  size_t old = out.size();
  out.resize(old + chars + lines * 2);
  char* o = out.data() + old;
  if (!line_breaks) {
    o = Base64Run(o, p, n, kBase64, true);
  } else {
    while (n > 0) {
      size_t take = n < 57 ? n : 57;
      o = Base64Run(o, p, take, kBase64, true);
      *o++ = '\r';
      *o++ = '\n';
      p += take;
      n -= take;
    }
  }
  out.resize(o - out.data());
}

void AppendBase64Url(std::string& out, std::string_view data) {
  size_t old = out.size();
  out.resize(old + (data.size() + 2) / 3 * 4);
  char* o = Base64Run(out.data() + old, reinterpret_cast<const unsigned char*>(data.data()),
                      data.size(), kBase64Url, false);
  out.resize(o - out.data());
}

bool DecodeBase64Url(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-') v = 62;
    else if (ch == '_') v = 63;
    else return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return bits < 6;  // a lone 6-bit group is not a valid encoding
}

void AppendQuotedPrintable(std::string& out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  size_t old = out.size();
  // Worst case: every byte encoded (3x), a soft break per 25 bytes, CRLF per LF.
  out.resize(old + text.size() * 3 + (text.size() / 25 + 2) * 3 + 8);
  char* const base = out.data() + old;
  char* o = base;
  size_t col = 0;
  while (p < end) {
    unsigned char c = *p;
    uint8_t cls = kQp.cls[c];
    if (cls == kLiteral) {
      // Fast path: a run of literal bytes in the middle of a line.
      if (col != 0 || (c != '.' && c != 'F')) {
        if (col < 75) {
          *o++ = char(c);
          ++col;
          ++p;
          continue;
        }
      }
    }
    if (cls == kBreak) {
      if (c == '\r' && p + 1 < end && p[1] == '\n') ++p;
      *o++ = '\r';
      *o++ = '\n';
      col = 0;
      ++p;
      continue;
    }
    bool encode;
    if (cls == kEncode) {
      encode = true;
    } else if (cls == kSpace) {
      const unsigned char* n = p + 1;
      encode = (n == end || kQp.cls[*n] == kBreak);
    } else {
      encode = false;
    }
    size_t need = encode ? 3 : 1;
    if (col + need > 75) {
      *o++ = '=';
      *o++ = '\r';
      *o++ = '\n';
      col = 0;
    }
    if (!encode && col == 0 &&
        (c == '.' || (c == 'F' && end - p >= 5 && std::memcmp(p, "From ", 5) == 0))) {
      encode = true;
      need = 3;
    }
    if (encode) {
      o[0] = '=';
      o[1] = kHex[c >> 4];
      o[2] = kHex[c & 15];
      o += 3;
    } else {
      *o++ = char(c);
    }
    col += need;
    ++p;
  }
  out.resize(old + size_t(o - base));
}

bool IsPlainHeaderText(std::string_view value) {
  for (size_t i = 0; i < value.size(); ++i) {
    unsigned char c = value[i];
    if (c < 32 || c > 126) return false;
    if (c == '=' && i + 1 < value.size() && value[i + 1] == '?') return false;
  }
  return true;
}

void AppendEncodedWords(std::string& out, std::string_view value, size_t& column) {
  constexpr std::string_view kPrefix = "=?utf-8?B?";
  constexpr size_t kOverhead = 12;  // prefix + "?="
  constexpr size_t kMaxLine = 76;
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  size_t remaining = value.size();
  bool first = true;
  if (remaining == 0) return;
  while (remaining > 0) {
    size_t room = column + kOverhead + 4 <= kMaxLine ? (kMaxLine - column - kOverhead) / 4 * 3 : 0;
    if (room < 6) {  // not even two UTF-8 characters: fold first
      out.append("\r\n ");
      column = 1;
      continue;
    }
    if (!first && column > 1) {
      // Adjacent words on one line need a space between them.
      out.push_back(' ');
      ++column;
      room = column + kOverhead + 4 <= kMaxLine ? (kMaxLine - column - kOverhead) / 4 * 3 : 0;
      if (room < 6) {
        out.append("\r\n ");
        column = 1;
        continue;
      }
    }
    size_t take = remaining < room ? remaining : room;
    while (take < remaining && take > 0 && (p[take] & 0xC0) == 0x80) --take;
    if (take == 0) take = remaining < room ? remaining : room;  // not UTF-8: split anyway
    size_t old = out.size();
    out.append(kPrefix);
    out.resize(out.size() + (take + 2) / 3 * 4);
    char* o = Base64Run(out.data() + old + kPrefix.size(), p, take, kBase64, true);
    out.resize(o - out.data());
    out.append("?=");
    column += out.size() - old;
    p += take;
    remaining -= take;
    first = false;
    if (remaining > 0) {
      out.append("\r\n ");
      column = 1;
    }
  }
}

void AppendUnstructured(std::string& out, std::string_view value, size_t& column) {
  bool plain = IsPlainHeaderText(value);
  if (plain) {
    // Words longer than a line cannot be folded: encode instead.
    size_t run = 0;
    for (char c : value) {
      run = c == ' ' ? 0 : run + 1;
      if (run > 900) {
        plain = false;
        break;
      }
    }
  }
  if (!plain) {
    AppendEncodedWords(out, value, column);
    return;
  }
  if (column + value.size() <= 78) {
    out.append(value);
    column += value.size();
    return;
  }
  size_t start = 0;
  bool first = true;
  while (start <= value.size()) {
    size_t space = value.find(' ', start);
    if (space == std::string_view::npos) space = value.size();
    std::string_view word = value.substr(start, space - start);
    if (!first) {
      if (!word.empty() && column + 1 + word.size() > 78 && column > 1) {
        out.append("\r\n ");
        column = 1;
      } else {
        out.push_back(' ');
        ++column;
      }
    }
    out.append(word);
    column += word.size();
    first = false;
    start = space + 1;
    if (space == value.size()) break;
  }
}

void SplitMailbox(std::string_view mailbox, std::string_view& name, std::string_view& address) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  mailbox = trim(mailbox);
  size_t lt = mailbox.rfind('<');
  if (lt != std::string_view::npos && !mailbox.empty() && mailbox.back() == '>') {
    address = trim(mailbox.substr(lt + 1, mailbox.size() - lt - 2));
    name = trim(mailbox.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
  } else {
    name = {};
    address = mailbox;
  }
}

void AppendMailbox(std::string& out, std::string_view name, std::string_view address,
                   size_t& column) {
  if (!name.empty()) {
    bool atoms = IsPlainHeaderText(name);
    bool printable = atoms;
    if (atoms) {
      for (unsigned char c : name) {
        if (c != ' ' && !IsAtext(c)) {
          atoms = false;
          break;
        }
      }
    }
    if (atoms) {
      out.append(name);
      column += name.size();
    } else if (printable) {
      out.push_back('"');
      for (char c : name) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
      column += name.size() + 2;
    } else {
      AppendEncodedWords(out, name, column);
    }
    if (column + address.size() + 3 > 78) {
      out.append("\r\n <");
      column = 2;
    } else {
      out.append(" <");
      column += 2;
    }
    out.append(address);
    out.push_back('>');
    column += address.size() + 1;
  } else {
    out.append(address);
    column += address.size();
  }
}

void AppendMimeParameter(std::string& out, std::string_view name, std::string_view value) {
  bool plain = true;
  for (unsigned char c : value) {
    if (c < 32 || c > 126 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  // The value as it goes on the wire (quoted ASCII, or RFC 2231 percent-
  // encoding), cut into chunks of at most kChunk characters that never split
  // a %XX or a UTF-8 character.
  constexpr size_t kChunk = 50;  // + up to 5 of a UTF-8 character: " filename*12*=utf-8''<chunk>;" fits 78 columns
  std::vector<std::string> chunks(1);
  for (unsigned char c : value) {
    char token[3];
    size_t len = 1;
    if (plain || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      token[0] = char(c);
    } else {
      token[0] = '%';
      token[1] = kHex[c >> 4];
      token[2] = kHex[c & 15];
      len = 3;
    }
    if (chunks.back().size() + len > kChunk && (c & 0xC0) != 0x80) chunks.emplace_back();
    chunks.back().append(token, len);
  }
  if (chunks.size() == 1) {
    out.append(name);
    out.append(plain ? "=\"" : "*=utf-8''");
    out.append(chunks[0]);
    if (plain) out.push_back('"');
    return;
  }
  for (size_t n = 0; n < chunks.size(); ++n) {
    if (n > 0) out.append(";\r\n ");
    out.append(name);
    out.push_back('*');
    out.append(std::to_string(n));
    if (plain) {
      out.append("=\"");
      out.append(chunks[n]);
      out.push_back('"');
    } else {
      out.append(n == 0 ? "*=utf-8''" : "*=");
      out.append(chunks[n]);
    }
  }
}

void AppendRfc5322Date(std::string& out, int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                        tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
  out.append(buf, size_t(n));
}

void AppendHtmlEscaped(std::string& out, std::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char* rep;
    switch (text[i]) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default: continue;
    }
    out.append(text.data() + start, i - start);
    out.append(rep);
    start = i + 1;
  }
  out.append(text.data() + start, text.size() - start);
}

void AppendUrlEncoded(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

}  // namespace herald::mail
