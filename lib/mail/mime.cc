// MessageComposer and PrepareAttachment (herald/mail.h).
//
// Message layout by format (attachments without a Content-ID, or any
// attachment outside MHTML, wrap the body in multipart/mixed):
//   TEXT   text/plain
//   MIME   multipart/alternative { text/plain, text/html } (or the one that is present)
//   MHTML  multipart/related; type=... { alternative or text/html, inline parts by Content-ID }
// Boundaries are "=_hb<level>_<16 hex>": they contain "=_", which neither
// quoted-printable (every '=' is encoded) nor base64 output can contain, so
// they cannot collide with any encoded content.
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/strings.h"
#include "herald/mail.h"
#include "mail/mime_codec.h"
#include "mail/runtime.h"

namespace herald {

namespace {

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void AppendHex64(std::string& out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = kHex[v & 15];
    v >>= 4;
  }
  out.append(buf, 16);
}

bool HasHeaderBreak(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

bool IsUtf8Name(std::string_view charset) {
  if (charset.size() != 5 && charset.size() != 4) return charset.empty();
  std::string lower;
  for (char c : charset) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  return lower == "utf-8" || lower == "utf8";
}

bool ValidCharsetName(std::string_view charset) {
  if (charset.empty() || charset.size() > 40) return false;
  for (char c : charset) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == ':')) {
      return false;
    }
  }
  return true;
}

std::string GuessContentType(std::string_view filename) {
  size_t dot = filename.rfind('.');
  std::string ext;
  if (dot != std::string_view::npos) {
    for (char c : filename.substr(dot + 1)) ext.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  }
  static const std::pair<const char*, const char*> kTypes[] = {
      {"png", "image/png"},        {"jpg", "image/jpeg"},     {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},        {"webp", "image/webp"},    {"svg", "image/svg+xml"},
      {"pdf", "application/pdf"},  {"txt", "text/plain"},     {"html", "text/html"},
      {"htm", "text/html"},        {"csv", "text/csv"},       {"ics", "text/calendar"},
      {"zip", "application/zip"},  {"json", "application/json"}};
  for (const auto& [e, t] : kTypes) {
    if (ext == e) return t;
  }
  return "application/octet-stream";
}

}  // namespace

// ---------------------------------------------------------------- attachments

namespace {

std::string RealPath(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return {};
  std::string out(real);
  std::free(real);
  return out;
}

bool Inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

}  // namespace

namespace mail {

absl::StatusOr<std::string> ReadConfinedFile(std::string_view what, const std::string& path,
                                             const std::string& base_dir,
                                             std::span<const std::string> allowed_dirs) {
  if (path.empty()) return absl::InvalidArgumentError(Cat(what, ": path is empty"));
  std::string full = path[0] != '/' && !base_dir.empty() ? Cat(base_dir, "/", path) : path;
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(Cat(what, " \"", full, "\": cannot open: ", std::strerror(errno)));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  // The file actually opened, every symlink resolved: checked after open, so
  // that a link swapped in between cannot slip past the check.
  char link[PATH_MAX + 1];
  ssize_t n = ::readlink(Cat("/proc/self/fd/", fd).c_str(), link, PATH_MAX);
  std::string real = n > 0 ? std::string(link, size_t(n)) : RealPath(full);
  std::vector<std::string> roots;
  roots.push_back(RealPath(base_dir.empty() ? "." : base_dir));
  for (const std::string& dir : allowed_dirs) {
    std::string root = RealPath(dir);
    if (root.empty()) return absl::InvalidArgumentError(Cat("allowed directory \"", dir, "\": cannot resolve it"));
    roots.push_back(std::move(root));
  }
  bool allowed = false;
  for (const std::string& root : roots) allowed = allowed || (!root.empty() && Inside(real, root));
  if (!allowed) {
    return absl::PermissionDeniedError(
        Cat(what, " \"", path, "\" is \"", real, "\", outside the catalog's directory \"", roots[0],
            "\": files sent with a message are read only from there unless a directory is allowed "
            "explicitly (MailJobSpec::allowed_dirs, herald mail --allow-attachments-from DIR)"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(Cat(what, " \"", full, "\": not a regular file"));
  }
  std::string data;
  data.resize(size_t(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == data.size()) data.resize(data.size() + 65536);
    ssize_t got = ::read(fd, data.data() + done, data.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return absl::UnavailableError(Cat(what, " \"", full, "\": read failed: ", std::strerror(errno)));
    if (got == 0) break;
    done += size_t(got);
  }
  data.resize(done);
  return data;
}

std::string SanitizeFilename(std::string_view name) {
  size_t cut = name.find_last_of("/\\");
  if (cut != std::string_view::npos) name.remove_prefix(cut + 1);
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  for (size_t i = 0; i < name.size();) {
    unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = len > 0 && i + len <= name.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xC0) == 0x80;
    if (!valid) {
      out.push_back('_');
      ++i;
      continue;
    }
    std::string_view ch = name.substr(i, len);
    bool control = (len == 1 && (c < 0x20 || c == 0x7F)) ||
                   (len == 2 && c == 0xC2 && p[i + 1] < 0xA0);  // C1 controls
    // Bidirectional overrides and isolates (U+202A-202E, U+2066-2069) can make
    // "invoice\u202Efdp.exe" display as "invoiceexe.pdf".
    bool bidi = len == 3 && c == 0xE2 &&
                ((p[i + 1] == 0x80 && p[i + 2] >= 0xAA && p[i + 2] <= 0xAE) ||
                 (p[i + 1] == 0x81 && p[i + 2] >= 0xA6 && p[i + 2] <= 0xA9));
    if (control || bidi) {
      out.push_back('_');
    } else {
      out.append(ch);
    }
    i += len;
  }
  // No hidden or relative names (".", "..", ".profile"), nothing that
  // Windows would silently trim.
  size_t start = out.find_first_not_of(". ");
  out.erase(0, start == std::string::npos ? out.size() : start);
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  return out.empty() ? std::string("attachment") : out;
}

}  // namespace mail

absl::StatusOr<PreparedAttachment> PrepareAttachment(const v1::Attachment& attachment,
                                                     const std::string& base_dir,
                                                     std::span<const std::string> allowed_dirs) {
  auto read = mail::ReadConfinedFile("attachment", attachment.path(), base_dir, allowed_dirs);
  if (!read.ok()) return read.status();
  std::string data = std::move(*read);
  std::string path = attachment.path();
  // The name the recipient sees: given, or the path's; never a path itself.
  std::string filename =
      mail::SanitizeFilename(attachment.filename().empty() ? attachment.path() : attachment.filename());
  std::string content_type =
      attachment.content_type().empty() ? GuessContentType(filename) : attachment.content_type();
  for (const std::string* v : std::initializer_list<const std::string*>{&filename, &content_type, &attachment.content_id()}) {
    if (HasHeaderBreak(*v)) {
      return absl::InvalidArgumentError(Cat("attachment \"", path, "\": CR or LF in a header value"));
    }
  }
  if (filename.size() > 255) {
    return absl::InvalidArgumentError(Cat("attachment \"", path, "\": file name longer than 255 bytes"));
  }
  // Header lines must stay within 998 octets (RFC 5322 2.1.1).
  if (content_type.size() > 255 || attachment.content_id().size() > 255) {
    return absl::InvalidArgumentError(Cat("attachment \"", path, "\": content_type and content_id must be at most 255 octets"));
  }
  for (char c : content_type) {
    if (c == ' ' || c == '"' || c == ';' || static_cast<unsigned char>(c) > 126) {
      return absl::InvalidArgumentError(Cat("attachment \"", path, "\": bad content type \"", content_type, "\""));
    }
  }
  for (char c : attachment.content_id()) {
    if (c == '<' || c == '>' || c == ' ' || static_cast<unsigned char>(c) > 126 ||
        static_cast<unsigned char>(c) < 33) {
      return absl::InvalidArgumentError(
          Cat("attachment \"", path, "\": content_id must be printable ASCII without <, > or spaces"));
    }
  }
  PreparedAttachment out;
  out.content_id = attachment.content_id();
  std::string& part = out.part;
  part.reserve(data.size() * 4 / 3 + data.size() / 38 + 512);
  part.append("Content-Type: ");
  part.append(content_type);
  part.append(";\r\n ");
  mail::AppendMimeParameter(part, "name", filename);
  part.append("\r\nContent-Transfer-Encoding: base64\r\n");
  if (!out.content_id.empty()) {
    part.append("Content-ID: <");
    part.append(out.content_id);
    part.append(">\r\nContent-Disposition: inline;\r\n ");
  } else {
    part.append("Content-Disposition: attachment;\r\n ");
  }
  mail::AppendMimeParameter(part, "filename", filename);
  part.append("\r\n\r\n");
  mail::AppendBase64(part, data);
  return out;
}

// ---------------------------------------------------------------- composer

namespace {

// The multiparts a message's body needs (see the file comment): a boundary
// per multipart, empty when that multipart is left out.
struct BodyLayout {
  bool mhtml = false;
  bool want_text = false;
  bool want_html = false;
  bool alternative = false;  // both text and HTML: multipart/alternative
  bool single = false;       // one text part and nothing else
  std::string b_mixed, b_related, b_alt;
};

}  // namespace

struct MessageComposer::Impl {
  std::string domain;
  uint64_t rng_state = 0;
  uint64_t counter = 0;
  int64_t date_second = -1;
  std::string date_header;  // "Date: ...\r\n" of date_second
  // Rendered address headers, cached by their source text.
  std::string from_src, from_header, from_address;
  std::string reply_src, reply_header;
  // iconv descriptors from UTF-8, by charset name; (iconv_t)-1 = unknown charset.
  std::vector<std::pair<std::string, iconv_t>> converters;
  std::string converted_text, converted_html;

  ~Impl() {
    for (auto& [name, cd] : converters) {
      if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
    }
  }

  iconv_t Converter(std::string_view charset) {
    for (auto& [name, cd] : converters) {
      if (name == charset) return cd;
    }
    std::string name(charset);
    iconv_t cd = iconv_open(name.c_str(), "UTF-8");
    converters.emplace_back(std::move(name), cd);
    return cd;
  }

  // Converts UTF-8 `in` to the charset of `cd`; false when some character
  // cannot be represented (or the input is not UTF-8).
  static bool Convert(iconv_t cd, std::string_view in, std::string& out) {
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
    out.resize(in.size() * 2 + 16);
    char* src = const_cast<char*>(in.data());
    size_t src_left = in.size();
    size_t used = 0;
    while (true) {
      char* dst = out.data() + used;
      size_t dst_left = out.size() - used;
      size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
      used = out.size() - dst_left;
      if (r != static_cast<size_t>(-1)) {
        // Flush any shift state.
        dst = out.data() + used;
        dst_left = out.size() - used;
        if (iconv(cd, nullptr, nullptr, &dst, &dst_left) == static_cast<size_t>(-1)) return false;
        used = out.size() - dst_left;
        out.resize(used);
        return true;
      }
      if (errno == E2BIG) {
        out.resize(out.size() * 2);
        continue;
      }
      return false;  // EILSEQ / EINVAL
    }
  }

  void Boundary(std::string& out, int level, uint64_t salt) {
    out.append("=_hb");
    out.push_back(char('0' + level));
    out.push_back('_');
    AppendHex64(out, salt);
  }

  // "Date: ...\r\n", rendered once per second.
  void AppendDate(std::string& out, int64_t now) {
    if (now != date_second) {
      date_second = now;
      date_header = "Date: ";
      mail::AppendRfc5322Date(date_header, now);
      date_header.append("\r\n");
    }
    out.append(date_header);
  }

  // From, and Reply-To when given; rendered again only when their text changes.
  void AppendSenders(std::string& out, std::string_view from, std::string_view reply_to) {
    if (from != from_src) {
      from_src.assign(from);
      std::string name;
      std::string_view address;
      mail::SplitMailbox(from, name, address);
      from_address.assign(address);
      from_header = "From: ";
      size_t col = 6;
      mail::AppendMailbox(from_header, name, address, col);
      from_header.append("\r\n");
    }
    out.append(from_header);
    if (!reply_to.empty()) {
      if (reply_to != reply_src) {
        reply_src.assign(reply_to);
        std::string name;
        std::string_view address;
        mail::SplitMailbox(reply_to, name, address);
        reply_header = "Reply-To: ";
        size_t col = 10;
        mail::AppendMailbox(reply_header, name, address, col);
        reply_header.append("\r\n");
      }
      out.append(reply_header);
    }
  }

  // Bodies in the recipient's charset, or UTF-8: points `text` and `html` at
  // their converted forms and returns the charset they are in.
  std::string_view ConvertBodies(std::string_view wanted, std::string_view& text,
                                 std::string_view& html) {
    if (!wanted.empty() && !IsUtf8Name(wanted) && ValidCharsetName(wanted)) {
      iconv_t cd = Converter(wanted);
      if (cd != reinterpret_cast<iconv_t>(-1) &&
          (text.empty() || Convert(cd, text, converted_text)) &&
          (html.empty() || Convert(cd, html, converted_html))) {
        if (!text.empty()) text = converted_text;
        if (!html.empty()) html = converted_html;
        return wanted;
      }
    }
    return "utf-8";
  }

  // Which multiparts the body needs, with their boundaries (salted like the Message-ID).
  BodyLayout PlanBody(const MessageContent& c, std::string_view text, std::string_view html,
                      uint64_t salt) {
    BodyLayout l;
    l.mhtml = c.format == v1::MAIL_FORMAT_MHTML && !html.empty();
    l.want_text = !text.empty();
    l.want_html = !html.empty() && c.format != v1::MAIL_FORMAT_TEXT;
    size_t inline_count = 0;
    for (const auto& a : c.attachments) inline_count += (l.mhtml && !a.content_id.empty()) ? 1 : 0;
    const size_t mixed_count = c.attachments.size() - inline_count;
    l.alternative = l.want_text && l.want_html;
    if (mixed_count > 0) Boundary(l.b_mixed, 1, salt);
    if (l.mhtml && inline_count > 0) Boundary(l.b_related, 2, salt);
    if (l.alternative) Boundary(l.b_alt, 3, salt);
    l.single = l.b_mixed.empty() && l.b_related.empty() && l.b_alt.empty();
    return l;
  }
};

MessageComposer::MessageComposer(std::string message_id_domain) : impl_(std::make_unique<Impl>()) {
  impl_->domain = std::move(message_id_domain);
  std::random_device rd;
  impl_->rng_state = (uint64_t(rd()) << 32) ^ rd() ^
                     uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
}

MessageComposer::~MessageComposer() = default;

namespace {

// One text part: headers and quoted-printable body, without a final CRLF
// unless `single` (then the body ends with a line break of its own).
void AppendTextPart(std::string& out, std::string_view subtype, std::string_view charset,
                    std::string_view body, bool single) {
  out.append("Content-Type: text/");
  out.append(subtype);
  out.append("; charset=");
  out.append(charset);
  out.append("\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  size_t before = out.size();
  mail::AppendQuotedPrintable(out, body);
  if (single && (out.size() == before || out.back() != '\n')) {
    // A soft break keeps the decoded text exact and the message CRLF-terminated.
    out.append("=\r\n");
  }
}

// Refuses what could not be written as a well-formed message: header breaks,
// lines over 998 octets, no recipient or no body for the format.
absl::Status CheckMessageContent(const MessageContent& c) {
  if (HasHeaderBreak(c.to) || HasHeaderBreak(c.to_name) || HasHeaderBreak(c.subject) ||
      HasHeaderBreak(c.from) || HasHeaderBreak(c.reply_to) || HasHeaderBreak(c.list_unsubscribe)) {
    return absl::InvalidArgumentError("header value contains CR, LF or NUL");
  }
  if (c.to.empty()) return absl::InvalidArgumentError("no recipient address");
  // An address cannot be folded: it must fit a line of 998 octets (RFC 5322 2.1.1).
  if (c.to.size() > 990) return absl::InvalidArgumentError("recipient address longer than 990 octets");
  if (c.list_unsubscribe.size() + 18 > 998) {
    // Folded between URIs below: each URI must fit a line.
    for (size_t pos = 0; pos < c.list_unsubscribe.size();) {
      size_t end = c.list_unsubscribe.find(">,", pos);
      end = end == std::string_view::npos ? c.list_unsubscribe.size() : end + 2;
      if (end - pos + 18 > 998) {
        return absl::InvalidArgumentError("a List-Unsubscribe URI is longer than a header line (998 octets)");
      }
      pos = end;
    }
  }
  if (c.format == v1::MAIL_FORMAT_TEXT ? c.text.empty() : (c.text.empty() && c.html.empty())) {
    return absl::InvalidArgumentError(c.format == v1::MAIL_FORMAT_TEXT
                                          ? "TEXT format needs a text body"
                                          : "message has neither text nor HTML");
  }
  return absl::OkStatus();
}

// "Message-ID: <time.salt@domain>"; the id, with its angle brackets, also goes to `id`.
void AppendMessageId(std::string& out, int64_t now, uint64_t salt, std::string_view domain,
                     std::string& id) {
  out.append("Message-ID: <");
  size_t id_start = out.size();
  AppendHex64(out, uint64_t(now));
  out.push_back('.');
  AppendHex64(out, salt);
  out.push_back('@');
  out.append(domain);
  id.assign(out.data() + id_start - 1, out.size() - id_start + 1);
  id.push_back('>');
  out.append(">\r\n");
}

// List-Unsubscribe (folded between its URIs when long), and the one-click
// List-Unsubscribe-Post (RFC 8058) when there is an https URI.
void AppendListUnsubscribe(std::string& out, std::string_view v) {
  out.append("List-Unsubscribe: ");
  // Fold between the URIs when the line would be long.
  if (v.size() + 18 > 78) {
    size_t pos = 0;
    bool first = true;
    while (pos < v.size()) {
      size_t comma = v.find(">,", pos);
      size_t end = comma == std::string_view::npos ? v.size() : comma + 2;
      std::string_view uri = v.substr(pos, end - pos);
      while (!uri.empty() && uri.front() == ' ') uri.remove_prefix(1);
      if (!first) out.append("\r\n ");
      out.append(uri);
      first = false;
      pos = end;
    }
  } else {
    out.append(v);
  }
  out.append("\r\n");
  if (v.find("<https:") != std::string_view::npos) {
    out.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  }
}

void OpenMultipart(std::string& out, std::string_view subtype, const std::string& boundary,
                   std::string_view extra) {
  out.append("Content-Type: multipart/");
  out.append(subtype);
  out.append(";\r\n boundary=\"");
  out.append(boundary);
  out.push_back('"');
  out.append(extra);
  out.append("\r\n\r\n");
}

void AppendDelimiter(std::string& out, const std::string& boundary) {
  out.append("\r\n--");
  out.append(boundary);
  out.append("\r\n");
}

void AppendCloseDelimiter(std::string& out, const std::string& boundary) {
  out.append("\r\n--");
  out.append(boundary);
  out.append("--\r\n");
}

// The text parts: multipart/alternative { text/plain, text/html }, or the one present.
void ComposeTextParts(std::string& out, const BodyLayout& l, std::string_view charset,
                      std::string_view text, std::string_view html) {
  if (l.alternative) {
    OpenMultipart(out, "alternative", l.b_alt, {});
    out.append("--").append(l.b_alt).append("\r\n");
    AppendTextPart(out, "plain", charset, text, false);
    AppendDelimiter(out, l.b_alt);
    AppendTextPart(out, "html", charset, html, false);
    AppendCloseDelimiter(out, l.b_alt);
  } else if (l.want_html) {
    AppendTextPart(out, "html", charset, html, l.single);
  } else if (l.want_text) {
    AppendTextPart(out, "plain", charset, text, l.single);
  }
}

// MHTML: the inline parts (those with a Content-ID) after the HTML, closing multipart/related.
void ComposeRelatedParts(std::string& out, const BodyLayout& l,
                         std::span<const PreparedAttachment> attachments) {
  // The alternative's close ends with CRLF already.
  bool after_close = l.alternative;
  for (const auto& a : attachments) {
    if (a.content_id.empty()) continue;
    if (after_close) {
      out.append("--").append(l.b_related).append("\r\n");
    } else {
      AppendDelimiter(out, l.b_related);
    }
    out.append(a.part);
    after_close = true;  // parts end with CRLF
  }
  out.append("--").append(l.b_related).append("--\r\n");
}

// The attachments not sent inline, closing multipart/mixed.
void ComposeMixedParts(std::string& out, const BodyLayout& l,
                       std::span<const PreparedAttachment> attachments) {
  bool after_crlf = !l.b_related.empty() || l.alternative;
  for (const auto& a : attachments) {
    if (l.mhtml && !a.content_id.empty() && !l.b_related.empty()) continue;
    if (after_crlf) {
      out.append("--").append(l.b_mixed).append("\r\n");
    } else {
      AppendDelimiter(out, l.b_mixed);
    }
    out.append(a.part);
    after_crlf = true;
  }
  out.append("--").append(l.b_mixed).append("--\r\n");
}

// The body after the headers: multiparts opened outermost first, closed innermost first.
void ComposeBody(std::string& out, const BodyLayout& l, std::string_view charset,
                 std::string_view text, std::string_view html,
                 std::span<const PreparedAttachment> attachments) {
  if (!l.b_mixed.empty()) {
    OpenMultipart(out, "mixed", l.b_mixed, {});
    out.append("This is a multi-part message in MIME format.\r\n");
    out.append("--").append(l.b_mixed).append("\r\n");
  }
  if (!l.b_related.empty()) {
    OpenMultipart(out, "related", l.b_related,
                  l.alternative ? "; type=\"multipart/alternative\"" : "; type=\"text/html\"");
    out.append("--").append(l.b_related).append("\r\n");
  }
  ComposeTextParts(out, l, charset, text, html);
  if (!l.b_related.empty()) ComposeRelatedParts(out, l, attachments);
  if (!l.b_mixed.empty()) ComposeMixedParts(out, l, attachments);
}

}  // namespace

absl::Status MessageComposer::Compose(const MessageContent& c, std::string& out) {
  Impl& m = *impl_;
  out.clear();
  if (absl::Status s = CheckMessageContent(c); !s.ok()) return s;
  out.reserve(512 + c.text.size() * 11 / 10 + c.html.size() * 11 / 10 +
              (c.attachments.empty() ? 0 : c.attachments[0].part.size() * c.attachments.size()));

  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  m.AppendDate(out, now);
  m.AppendSenders(out, c.from, c.reply_to);
  out.append("To: ");
  size_t col = 4;
  mail::AppendMailbox(out, c.to_name, c.to, col);
  out.append("\r\nSubject: ");
  col = 9;
  mail::AppendUnstructured(out, c.subject, col);
  out.append("\r\n");
  uint64_t salt = SplitMix(m.rng_state);
  AppendMessageId(out, now, salt, m.domain, last_message_id_);
  if (!c.list_unsubscribe.empty()) AppendListUnsubscribe(out, c.list_unsubscribe);
  for (const std::string& h : c.extra_headers) {
    out.append(h);
    out.append("\r\n");
  }
  out.append("MIME-Version: 1.0\r\n");

  std::string_view text = c.text, html = c.html;
  std::string_view charset = m.ConvertBodies(c.charset, text, html);
  last_charset_.assign(charset);
  BodyLayout layout = m.PlanBody(c, text, html, salt);
  ComposeBody(out, layout, charset, text, html, c.attachments);
  return absl::OkStatus();
}

}  // namespace herald
