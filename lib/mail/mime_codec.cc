// Encoders of the MIME composer: base64, quoted-printable, RFC 2047 encoded
// words, RFC 2231 parameters, RFC 5322 dates. Written for speed: each
// encoder sizes the output once and writes through a pointer.
#include "mail/mime_codec.h"

#include <cctype>
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

namespace {

// The length of the UTF-8 character starting at p[0] (1 for a stray byte).
size_t Utf8Length(const unsigned char* p, size_t left) {
  size_t n = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3 : (p[0] >> 3) == 30 ? 4 : 1;
  if (n > left) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 1;
  }
  return n;
}

// Q encoding (RFC 2047 4.2) restricted to what a phrase allows (5(3)).
size_t QLength(unsigned char c) {
  return (std::isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/' || c == ' ') ? 1 : 3;
}

void AppendQ(std::string& out, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c == ' ') {
      out.push_back('_');
    } else if (QLength(c) == 1) {
      out.push_back(char(c));
    } else {
      out.push_back('=');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

}  // namespace

// Each word holds whole UTF-8 characters (RFC 2047 5: a word must decode on
// its own). A "B" word followed by another holds a multiple of 3 octets, so
// that it needs no "=" padding: decoders that join adjacent words before
// decoding them (GMime) would stop at padding in the middle. When no
// character boundary allows that within the line, that word is written in
// "Q" form instead (rare: only some mixes of 1-, 2- and 4-octet characters).
void AppendEncodedWords(std::string& out, std::string_view value, size_t& column) {
  constexpr std::string_view kB = "=?utf-8?B?", kQ = "=?utf-8?Q?";
  constexpr size_t kOverhead = 12;  // prefix + "?="
  constexpr size_t kMaxLine = 76;
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  size_t remaining = value.size();
  bool first = true;
  auto boundary = [&](size_t at) { return at == remaining || (p[at] & 0xC0) != 0x80; };
  while (remaining > 0) {
    if (!first) {
      out.append("\r\n ");
      column = 1;
    }
    size_t chars = column + kOverhead < kMaxLine ? kMaxLine - column - kOverhead : 0;
    if (chars < 16 && column > 1) {  // not even a few characters: fold first
      out.append("\r\n ");
      column = 1;
      chars = kMaxLine - 1 - kOverhead;
    }
    const size_t room = chars / 4 * 3;
    size_t take = remaining <= room ? remaining : room;
    bool b_form = true;
    if (take < remaining) {
      while (take >= 3 && !boundary(take)) take -= 3;
      if (take < room / 2) b_form = false;
    } else {
      while (take > 0 && !boundary(take)) --take;  // only for a stray byte at the end
      if (take == 0) take = remaining;
    }
    size_t old = out.size();
    if (b_form) {
      out.append(kB);
      out.resize(out.size() + (take + 2) / 3 * 4);
      char* o = Base64Run(out.data() + old + kB.size(), p, take, kBase64, true);
      out.resize(o - out.data());
    } else {
      take = 0;
      size_t used = 0;
      while (take < remaining) {
        size_t n = Utf8Length(p + take, remaining - take);
        size_t len = 0;
        for (size_t k = 0; k < n; ++k) len += QLength(p[take + k]);
        if (used + len > chars && take > 0) break;
        used += len;
        take += n;
      }
      out.append(kQ);
      AppendQ(out, p, take);
    }
    out.append("?=");
    column += out.size() - old;
    p += take;
    remaining -= take;
    first = false;
  }
}

namespace {

constexpr size_t kFoldAt = 78;  // RFC 5322 2.1.1: lines SHOULD be at most 78 characters

// True when `value` (plain header text) can be folded at its spaces so that
// every line fits kFoldAt, starting at `column`: no word longer than a line,
// no long runs of spaces (they would make lines of white space).
bool FoldsAtSpaces(std::string_view value, size_t column) {
  size_t word = 0, spaces = 0;
  bool first = true;
  for (char c : value) {
    if (c == ' ') {
      if (word > 0) first = false;
      word = 0;
      if (++spaces > 16) return false;
      continue;
    }
    spaces = 0;
    ++word;
    if ((first ? column : 1) + word > kFoldAt) return false;
  }
  return true;
}

// Appends plain text, folding (CRLF SP) before a space where the next word
// would pass kFoldAt. Unfolding (removing the CRLFs) gives `value` back.
void AppendFoldedAtSpaces(std::string& out, std::string_view value, size_t& column) {
  size_t start = 0;
  bool first = true;
  while (start <= value.size()) {
    size_t space = value.find(' ', start);
    if (space == std::string_view::npos) space = value.size();
    std::string_view word = value.substr(start, space - start);
    if (!first) {
      if (!word.empty() && column + 1 + word.size() > kFoldAt && column > 1) {
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
    if (space == value.size()) break;
    start = space + 1;
  }
}

}  // namespace

void AppendUnstructured(std::string& out, std::string_view value, size_t& column) {
  if (!IsPlainHeaderText(value) || !FoldsAtSpaces(value, column)) {
    AppendEncodedWords(out, value, column);
    return;
  }
  if (column + value.size() <= kFoldAt) {
    out.append(value);
    column += value.size();
    return;
  }
  AppendFoldedAtSpaces(out, value, column);
}

void SplitMailbox(std::string_view mailbox, std::string& name, std::string_view& address) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  name.clear();
  mailbox = trim(mailbox);
  // The address is the last "<" outside a quoted string.
  size_t lt = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 0; i < mailbox.size(); ++i) {
    char c = mailbox[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '<' && !quoted) {
      lt = i;
    }
  }
  if (lt == std::string_view::npos || mailbox.back() != '>') {
    address = mailbox;
    return;
  }
  address = trim(mailbox.substr(lt + 1, mailbox.size() - lt - 2));
  // The display name: quoted strings lose their quotes, quoted pairs their
  // backslash (RFC 5322 3.2.4), so "Contoso \"Outdoor\"" is Contoso "Outdoor".
  std::string_view phrase = trim(mailbox.substr(0, lt));
  quoted = false;
  for (size_t i = 0; i < phrase.size(); ++i) {
    char c = phrase[i];
    if (quoted && c == '\\' && i + 1 < phrase.size()) {
      name.push_back(phrase[++i]);
    } else if (c == '"') {
      quoted = !quoted;
    } else {
      name.push_back(c);
    }
  }
}

void AppendMailbox(std::string& out, std::string_view name, std::string_view address,
                   size_t& column) {
  // Space around a display name means nothing and parsers disagree on it.
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (!name.empty()) {
    // Atoms (atext words separated by single spaces) go out as they are and
    // other printable names as one quoted-string, when they fit the line.
    // Anything else, or too long to fit, becomes encoded words, which fold
    // between words and decode to the exact name. (A display name is not
    // folded at its own spaces: GMime keeps such a fold's CRLF in the name.)
    bool printable = IsPlainHeaderText(name);
    bool atoms = printable && name.front() != ' ' && name.back() != ' ';
    for (size_t i = 0; atoms && i < name.size(); ++i) {
      unsigned char c = name[i];
      atoms = c == ' ' ? name[i - 1] != ' ' : IsAtext(c);
    }
    size_t escapes = 0;
    for (char c : name) escapes += (c == '"' || c == '\\') ? 1 : 0;
    if (atoms && column + name.size() <= kFoldAt) {
      out.append(name);
      column += name.size();
    } else if (printable && !atoms && column + name.size() + escapes + 2 <= kFoldAt) {
      out.push_back('"');
      for (char c : name) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
      column += name.size() + escapes + 2;
    } else {
      AppendEncodedWords(out, name, column);
    }
    if (column + address.size() + 3 > kFoldAt) {
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
