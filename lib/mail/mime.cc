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

}  // namespace

absl::Status MessageComposer::Compose(const MessageContent& c, std::string& out) {
  Impl& m = *impl_;
  out.clear();
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
  out.reserve(512 + c.text.size() * 11 / 10 + c.html.size() * 11 / 10 +
              (c.attachments.empty() ? 0 : c.attachments[0].part.size() * c.attachments.size()));

  // Date, cached per second.
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (now != m.date_second) {
    m.date_second = now;
    m.date_header = "Date: ";
    mail::AppendRfc5322Date(m.date_header, now);
    m.date_header.append("\r\n");
  }
  out.append(m.date_header);

  if (c.from != m.from_src) {
    m.from_src.assign(c.from);
    std::string name;
    std::string_view address;
    mail::SplitMailbox(c.from, name, address);
    m.from_address.assign(address);
    m.from_header = "From: ";
    size_t col = 6;
    mail::AppendMailbox(m.from_header, name, address, col);
    m.from_header.append("\r\n");
  }
  out.append(m.from_header);
  if (!c.reply_to.empty()) {
    if (c.reply_to != m.reply_src) {
      m.reply_src.assign(c.reply_to);
      std::string name;
      std::string_view address;
      mail::SplitMailbox(c.reply_to, name, address);
      m.reply_header = "Reply-To: ";
      size_t col = 10;
      mail::AppendMailbox(m.reply_header, name, address, col);
      m.reply_header.append("\r\n");
    }
    out.append(m.reply_header);
  }
  out.append("To: ");
  size_t col = 4;
  mail::AppendMailbox(out, c.to_name, c.to, col);
  out.append("\r\nSubject: ");
  col = 9;
  mail::AppendUnstructured(out, c.subject, col);
  out.append("\r\nMessage-ID: <");
  size_t id_start = out.size();
  uint64_t salt = SplitMix(m.rng_state);
  AppendHex64(out, uint64_t(now));
  out.push_back('.');
  AppendHex64(out, salt);
  out.push_back('@');
  out.append(m.domain);
  last_message_id_.assign(out.data() + id_start - 1, out.size() - id_start + 1);
  last_message_id_.push_back('>');
  out.append(">\r\n");
  if (!c.list_unsubscribe.empty()) {
    out.append("List-Unsubscribe: ");
    // Fold between the URIs when the line would be long.
    std::string_view v = c.list_unsubscribe;
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
  for (const std::string& h : c.extra_headers) {
    out.append(h);
    out.append("\r\n");
  }
  out.append("MIME-Version: 1.0\r\n");

  // Bodies in the recipient's charset, or UTF-8.
  std::string_view charset = "utf-8";
  std::string_view text = c.text, html = c.html;
  if (!c.charset.empty() && !IsUtf8Name(c.charset) && ValidCharsetName(c.charset)) {
    iconv_t cd = m.Converter(c.charset);
    if (cd != reinterpret_cast<iconv_t>(-1) &&
        (text.empty() || Impl::Convert(cd, text, m.converted_text)) &&
        (html.empty() || Impl::Convert(cd, html, m.converted_html))) {
      charset = c.charset;
      if (!text.empty()) text = m.converted_text;
      if (!html.empty()) html = m.converted_html;
    }
  }
  last_charset_.assign(charset);

  // Structure.
  const bool mhtml = c.format == v1::MAIL_FORMAT_MHTML && !html.empty();
  const bool want_text = !text.empty();
  const bool want_html = !html.empty() && c.format != v1::MAIL_FORMAT_TEXT;
  size_t inline_count = 0;
  for (const auto& a : c.attachments) inline_count += (mhtml && !a.content_id.empty()) ? 1 : 0;
  const size_t mixed_count = c.attachments.size() - inline_count;
  const bool alternative = want_text && want_html;

  std::string b_mixed, b_related, b_alt;
  if (mixed_count > 0) m.Boundary(b_mixed, 1, salt);
  if (mhtml && inline_count > 0) m.Boundary(b_related, 2, salt);
  if (alternative) m.Boundary(b_alt, 3, salt);

  auto open_multipart = [&](std::string_view subtype, const std::string& boundary,
                            std::string_view extra) {
    out.append("Content-Type: multipart/");
    out.append(subtype);
    out.append(";\r\n boundary=\"");
    out.append(boundary);
    out.push_back('"');
    out.append(extra);
    out.append("\r\n\r\n");
  };
  auto delimiter = [&](const std::string& boundary) {
    out.append("\r\n--");
    out.append(boundary);
    out.append("\r\n");
  };
  auto close = [&](const std::string& boundary) {
    out.append("\r\n--");
    out.append(boundary);
    out.append("--\r\n");
  };
  const bool single = b_mixed.empty() && b_related.empty() && b_alt.empty();

  if (!b_mixed.empty()) {
    open_multipart("mixed", b_mixed, {});
    out.append("This is a multi-part message in MIME format.\r\n");
    out.append("--").append(b_mixed).append("\r\n");
  }
  if (!b_related.empty()) {
    open_multipart("related", b_related, alternative ? "; type=\"multipart/alternative\"" : "; type=\"text/html\"");
    out.append("--").append(b_related).append("\r\n");
  }
  if (alternative) {
    open_multipart("alternative", b_alt, {});
    out.append("--").append(b_alt).append("\r\n");
    AppendTextPart(out, "plain", charset, text, false);
    delimiter(b_alt);
    AppendTextPart(out, "html", charset, html, false);
    close(b_alt);
  } else if (want_html) {
    AppendTextPart(out, "html", charset, html, single);
  } else if (want_text) {
    AppendTextPart(out, "plain", charset, text, single);
  }
  if (!b_related.empty()) {
    // The alternative's close ends with CRLF already.
    bool after_close = alternative;
    for (const auto& a : c.attachments) {
      if (a.content_id.empty()) continue;
      if (after_close) {
        out.append("--").append(b_related).append("\r\n");
      } else {
        delimiter(b_related);
      }
      out.append(a.part);
      after_close = true;  // parts end with CRLF
    }
    out.append("--").append(b_related).append("--\r\n");
  }
  if (!b_mixed.empty()) {
    bool after_crlf = !b_related.empty() || alternative;
    for (const auto& a : c.attachments) {
      if (mhtml && !a.content_id.empty() && !b_related.empty()) continue;
      if (after_crlf) {
        out.append("--").append(b_mixed).append("\r\n");
      } else {
        delimiter(b_mixed);
      }
      out.append(a.part);
      after_crlf = true;
    }
    out.append("--").append(b_mixed).append("--\r\n");
  }
  return absl::OkStatus();
}

}  // namespace herald
